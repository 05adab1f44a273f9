#include "common/datasets.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "common/files.h"
#include "common/json_errors.h"
#include "common/problem_io.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace crucible {
namespace {

using nlohmann::json;

constexpr int64_t kAppsTimeLimitMs = 4000;
constexpr int64_t kFunctionTimeLimitMs = 3000;  // MBPP and HumanEval: small functions
constexpr size_t kMaxIdBodyLength = 200;        // leaves room for the prefix and a suffix

// ---------------------------------------------------------------------------------------
// Reading files, plain or gzip-compressed.

// Reads a file through zlib, which inflates it when it starts with gzip's magic bytes
// (1f 8b) and passes it through unchanged otherwise, whatever the file's name.
class FileReader {
 public:
  static absl::StatusOr<FileReader> Open(const std::string& path) {
    gzFile file = gzopen(path.c_str(), "rb");
    // absl::ErrnoToStatus appends strerror itself.
    if (file == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
    gzbuffer(file, 1 << 17);
    return FileReader(path, file);
  }
  FileReader(FileReader&& other) noexcept
      : path_(std::move(other.path_)), file_(std::exchange(other.file_, nullptr)) {}
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  ~FileReader() {
    if (file_ != nullptr) gzclose(file_);
  }

  // Appends up to `max` bytes to *out; returns the count, 0 at the end.
  absl::StatusOr<size_t> Read(size_t max, std::string* out) {
    const size_t old_size = out->size();
    out->resize(old_size + max);
    const int n = gzread(file_, out->data() + old_size, static_cast<unsigned>(max));
    int errnum = Z_OK;
    const char* message = gzerror(file_, &errnum);
    if (n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
      out->resize(old_size);
      return absl::DataLossError(absl::StrCat(path_, ": cannot read (", message, ")"));
    }
    out->resize(old_size + n);
    return static_cast<size_t>(n);
  }

 private:
  FileReader(std::string path, gzFile file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  gzFile file_;
};

// JSON-lines files are read a line at a time: CodeContests' and APPS's releases run to
// gigabytes.
class LineReader {
 public:
  explicit LineReader(FileReader file) : file_(std::move(file)) {}

  // The next line without its "\n"; false at the end.
  absl::StatusOr<bool> Next(std::string* line) {
    while (true) {
      const size_t newline = buffer_.find('\n', start_);
      if (newline != std::string::npos) {
        line->assign(buffer_, start_, newline - start_);
        start_ = newline + 1;
        return true;
      }
      if (eof_) {
        if (start_ >= buffer_.size()) return false;
        line->assign(buffer_, start_, std::string::npos);
        start_ = buffer_.size();
        return true;
      }
      buffer_.erase(0, start_);
      start_ = 0;
      CRUCIBLE_ASSIGN_OR_RETURN(size_t n, file_.Read(1 << 20, &buffer_));
      eof_ = n == 0;
    }
  }

 private:
  FileReader file_;
  std::string buffer_;
  size_t start_ = 0;
  bool eof_ = false;
};

// ---------------------------------------------------------------------------------------
// Bad records and field access.

absl::Status Bad(absl::string_view where, absl::string_view field, absl::string_view what) {
  if (field.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", field, ": ", what));
}

// One JSON object of a record, with the location and field prefix its errors carry.
class Fields {
 public:
  Fields(const json& obj, std::string where, std::string prefix = "")
      : obj_(obj), where_(std::move(where)), prefix_(std::move(prefix)) {}

  const std::string& where() const { return where_; }
  std::string Name(absl::string_view key) const { return absl::StrCat(prefix_, key); }
  absl::Status Error(absl::string_view key, absl::string_view what) const {
    return Bad(where_, Name(key), what);
  }
  absl::Status TypeError(absl::string_view key, absl::string_view expected, const json& got) const {
    return Error(key, absl::StrCat("expected ", expected, ", got ", JsonTypeName(got)));
  }

  // The value, or null when absent or JSON null.
  const json* Find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }

  absl::StatusOr<std::string> String(const char* key, bool required) const {
    const json* value = Find(key);
    if (value == nullptr) {
      if (required) return Error(key, "missing");
      return std::string();
    }
    if (!value->is_string()) return TypeError(key, "a string", *value);
    return value->get<std::string>();
  }

  absl::StatusOr<std::vector<std::string>> Strings(const char* key, bool required) const {
    const json* value = Find(key);
    if (value == nullptr) {
      if (required) return Error(key, "missing");
      return std::vector<std::string>();
    }
    if (!value->is_array()) return TypeError(key, "an array of strings", *value);
    std::vector<std::string> out;
    for (size_t i = 0; i < value->size(); ++i) {
      if (!(*value)[i].is_string()) {
        return Error(absl::StrCat(key, "[", i, "]"),
                     absl::StrCat("expected a string, got ", JsonTypeName((*value)[i])));
      }
      out.push_back((*value)[i].get<std::string>());
    }
    return out;
  }

  // An integer, or an integer written as a string (protobuf's JSON form of int64).
  absl::StatusOr<int64_t> Int(const char* key, int64_t fallback) const {
    const json* value = Find(key);
    if (value == nullptr) return fallback;
    if (value->is_number_integer() || value->is_number_unsigned()) return value->get<int64_t>();
    int64_t parsed;
    if (value->is_string() && absl::SimpleAtoi(value->get<std::string>(), &parsed)) {
      return parsed;
    }
    return TypeError(key, "an integer", *value);
  }

  // An id-like value: a string or an integer, as text.
  absl::StatusOr<std::string> Id(const char* key) const {
    const json* value = Find(key);
    if (value == nullptr) return Error(key, "missing");
    if (value->is_number_integer() || value->is_number_unsigned()) {
      return std::to_string(value->get<int64_t>());
    }
    if (value->is_string() && !value->get<std::string>().empty()) {
      return value->get<std::string>();
    }
    return TypeError(key, "an integer or a non-empty string", *value);
  }

 private:
  const json& obj_;
  std::string where_;
  std::string prefix_;
};

// Parses `text` as JSON; the error names `where` and `field` ("invalid JSON: ...").
absl::StatusOr<json> ParseJson(absl::string_view text, absl::string_view where,
                               absl::string_view field) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return Bad(where, field, absl::StrCat("invalid JSON: ", e.what()));
  }
}

bool IsIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '/' || c == ':' || c == '+';
}

// The dataset's own id in the id alphabet: each run of other characters becomes one '_'.
std::string SanitizeId(absl::string_view raw) {
  std::string out;
  for (char c : raw) {
    if (IsIdChar(c)) {
      out.push_back(c);
    } else if (out.empty() || out.back() != '_') {
      out.push_back('_');
    }
  }
  if (out.size() > kMaxIdBodyLength) out.resize(kMaxIdBodyLength);
  // "Name!" and "Name" are one name; the dedupe suffix tells them apart.
  while (!out.empty() && out.back() == '_' && raw.back() != '_') out.pop_back();
  if (out.empty()) out = "_";
  return out;
}

// A program worth keeping: the judge rejects empty sources and NUL bytes.
bool UsableSource(const std::string& source) {
  return !absl::StripAsciiWhitespace(source).empty() && source.find('\0') == std::string::npos;
}

void AddProgram(const std::string& language, std::string source,
                google::protobuf::RepeatedPtrField<v1::Program>* out) {
  v1::Program* program = out->Add();
  program->set_language(language);
  program->set_source(std::move(source));
}

void AddTest(std::string input, std::string output,
             google::protobuf::RepeatedPtrField<v1::TestCase>* out) {
  v1::TestCase* test = out->Add();
  test->set_input(std::move(input));
  test->set_output(std::move(output));
}

std::string UnixLineEnds(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\r\n", "\n"}});
}

v1::Problem NewProblem(DatasetFormat format, absl::string_view id_body, int64_t time_limit_ms) {
  v1::Problem p;
  p.set_id(absl::StrCat(DatasetFormatName(format), "/", SanitizeId(id_body)));
  p.set_time_limit_ms(time_limit_ms);
  p.set_memory_limit_mib(kDefaultMemoryLimitMib);
  p.mutable_checker()->set_kind(v1::Checker::TOKENS);
  p.set_source(std::string(DatasetFormatName(format)));
  return p;
}

// ---------------------------------------------------------------------------------------
// Collecting records.

class Importer {
 public:
  Importer(DatasetFormat format, const ImportOptions& options)
      : format_(format), options_(options) {}

  bool Full() const {
    return options_.limit > 0 && static_cast<int>(result_.problems.size()) >= options_.limit;
  }
  int* dropped_solutions() { return &result_.dropped_solutions; }
  int* other_language_solutions() { return &result_.other_language_solutions; }

  // One record's outcome: a problem (made unique, trimmed to max_tests and validated) or
  // the reason it is bad, which fails the import when bad records are refused.
  absl::Status Add(absl::StatusOr<v1::Problem> problem, absl::string_view where) {
    ++records_;
    if (problem.ok()) {
      if (options_.max_tests > 0 && problem->tests_size() > options_.max_tests) {
        problem->mutable_tests()->DeleteSubrange(options_.max_tests,
                                                 problem->tests_size() - options_.max_tests);
      }
      MakeIdUnique(&*problem);
      if (absl::Status valid = ValidateProblem(*problem, where); valid.ok()) {
        ids_.insert(problem->id());
        result_.problems.push_back(*std::move(problem));
        return absl::OkStatus();
      } else {
        problem = valid;
      }
    }
    if (options_.refuse_bad_records) return problem.status();
    result_.skipped.emplace_back(problem.status().message());
    return absl::OkStatus();
  }

  absl::StatusOr<ImportResult> Finish(const std::string& path) && {
    if (records_ == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": no ", DatasetFormatName(format_), " records found"));
    }
    return std::move(result_);
  }

 private:
  void MakeIdUnique(v1::Problem* problem) const {
    if (!ids_.count(problem->id())) return;
    for (int n = 2;; ++n) {
      std::string id = absl::StrCat(problem->id(), "-", n);
      if (!ids_.count(id)) {
        problem->set_id(id);
        return;
      }
    }
  }

  const DatasetFormat format_;
  const ImportOptions options_;
  ImportResult result_;
  std::set<std::string> ids_;
  int records_ = 0;
};

using RecordFn = std::function<absl::StatusOr<v1::Problem>(const Fields& record)>;

// Each non-blank line of a JSON-lines file is one record, located as "<path>:<line>".
absl::Status ImportJsonLines(const std::string& path, Importer& importer, const RecordFn& fn) {
  CRUCIBLE_ASSIGN_OR_RETURN(FileReader file, FileReader::Open(path));
  LineReader lines(std::move(file));
  std::string line;
  for (int number = 1; !importer.Full(); ++number) {
    CRUCIBLE_ASSIGN_OR_RETURN(bool more, lines.Next(&line));
    if (!more) break;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string where = absl::StrCat(path, ":", number);
    absl::StatusOr<json> obj = ParseJson(line, where, "");
    if (obj.ok() && !obj->is_object()) {
      obj = Bad(where, "", absl::StrCat("expected a JSON object, got ", JsonTypeName(*obj)));
    }
    if (!obj.ok()) {
      CRUCIBLE_RETURN_IF_ERROR(importer.Add(obj.status(), where));
      continue;
    }
    CRUCIBLE_RETURN_IF_ERROR(importer.Add(fn(Fields(*obj, where)), where));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// APPS.

// A JSON array of strings read element by element, so that an element that is not valid
// Unicode (APPS has solutions with lone surrogate escapes) costs only itself: such
// elements, and unusable sources, are counted in *dropped. Empty text or null: none.
absl::StatusOr<std::vector<std::string>> ParseSolutionList(absl::string_view text, int* dropped) {
  const absl::string_view stripped = absl::StripAsciiWhitespace(text);
  std::vector<std::string> out;
  if (stripped.empty() || stripped == "null") return out;
  const absl::Status malformed = absl::InvalidArgumentError("expected a JSON array of strings");
  size_t i = 0;
  auto skip_space = [&] {
    while (i < stripped.size() && absl::ascii_isspace(static_cast<unsigned char>(stripped[i]))) {
      ++i;
    }
  };
  if (stripped[i++] != '[') return malformed;
  skip_space();
  if (i < stripped.size() && stripped[i] == ']') {
    if (i + 1 != stripped.size()) return malformed;
    return out;
  }
  while (true) {
    skip_space();
    if (i >= stripped.size() || stripped[i] != '"') return malformed;
    const size_t start = i++;
    while (i < stripped.size() && stripped[i] != '"') i += stripped[i] == '\\' ? 2 : 1;
    if (i >= stripped.size()) return malformed;
    const absl::string_view literal = stripped.substr(start, ++i - start);
    json value = json::parse(literal.begin(), literal.end(), nullptr, /*allow_exceptions=*/false);
    if (value.is_string() && UsableSource(value.get_ref<const std::string&>())) {
      out.push_back(value.get<std::string>());
    } else {
      ++*dropped;
    }
    skip_space();
    if (i < stripped.size() && stripped[i] == ',') {
      ++i;
      continue;
    }
    if (i < stripped.size() && stripped[i] == ']' && i + 1 == stripped.size()) return out;
    return malformed;
  }
}

// One APPS problem's parts, from either layout, with where each part's errors point.
struct AppsParts {
  std::string id;
  std::string where;  // the record: a folder or "<file>:<line>"
  std::string question;
  std::string input_output;  // JSON text; empty: no tests
  std::string io_where, io_field;
  std::string solutions;  // JSON text of a list of strings
  std::string solutions_where, solutions_field;
  std::string difficulty;
  std::string starter_code;
};

// An APPS stdio value: a string, or a list of lines joined as APPS's harness joins them.
absl::StatusOr<std::string> AppsStdioText(const json& value, const Fields& at,
                                          absl::string_view key) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array() &&
      std::all_of(value.begin(), value.end(), [](const json& line) { return line.is_string(); })) {
    std::vector<std::string> lines = value.get<std::vector<std::string>>();
    return lines.empty() ? std::string() : absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
  }
  return at.TypeError(key, "a string or an array of strings (lines)", value);
}

// input_output.json: {"inputs": [...], "outputs": [...], "fn_name"?: "..."}.
absl::Status AppsTests(const AppsParts& parts, v1::Problem* p) {
  if (absl::StripAsciiWhitespace(parts.input_output).empty()) {
    return Bad(parts.io_where, parts.io_field, "empty (the problem has no tests)");
  }
  CRUCIBLE_ASSIGN_OR_RETURN(json io, ParseJson(parts.input_output, parts.io_where, parts.io_field));
  const std::string prefix = parts.io_field.empty() ? "" : absl::StrCat(parts.io_field, ".");
  Fields fields(io, parts.io_where, prefix);
  if (!io.is_object()) {
    return Bad(parts.io_where, parts.io_field,
               absl::StrCat("expected an object {inputs, outputs}, got ", JsonTypeName(io)));
  }
  const json* inputs = fields.Find("inputs");
  const json* outputs = fields.Find("outputs");
  if (inputs == nullptr) return fields.Error("inputs", "missing");
  if (outputs == nullptr) return fields.Error("outputs", "missing");
  if (!inputs->is_array()) return fields.TypeError("inputs", "an array", *inputs);
  if (!outputs->is_array()) return fields.TypeError("outputs", "an array", *outputs);
  if (inputs->size() != outputs->size()) {
    return fields.Error("outputs", absl::StrCat("expected as many entries as inputs (",
                                                inputs->size(), "), got ", outputs->size()));
  }
  if (inputs->empty()) return fields.Error("inputs", "empty (the problem has no tests)");
  CRUCIBLE_ASSIGN_OR_RETURN(std::string fn_name, fields.String("fn_name", false));
  if (!fn_name.empty()) {
    p->mutable_function()->set_style(v1::FunctionCall::CALL);
    p->mutable_function()->set_name(fn_name);
    for (size_t i = 0; i < inputs->size(); ++i) {
      if (!(*inputs)[i].is_array()) {
        return fields.TypeError(absl::StrCat("inputs[", i, "]"), "an array of arguments",
                                (*inputs)[i]);
      }
      AddTest((*inputs)[i].dump(), (*outputs)[i].dump(), p->mutable_tests());
    }
    return absl::OkStatus();
  }
  const std::string question = UnixLineEnds(parts.question);
  for (size_t i = 0; i < inputs->size(); ++i) {
    CRUCIBLE_ASSIGN_OR_RETURN(std::string input,
                              AppsStdioText((*inputs)[i], fields, absl::StrCat("inputs[", i, "]")));
    CRUCIBLE_ASSIGN_OR_RETURN(
        std::string output, AppsStdioText((*outputs)[i], fields, absl::StrCat("outputs[", i, "]")));
    // The statement's examples are its public tests.
    const std::string example = UnixLineEnds(absl::StripAsciiWhitespace(input));
    if (!example.empty() && absl::StrContains(question, example)) {
      AddTest(input, output, p->mutable_public_tests());
    }
    AddTest(std::move(input), std::move(output), p->mutable_tests());
  }
  return absl::OkStatus();
}

std::string AppsDifficulty(absl::string_view raw) {
  for (absl::string_view known : {"introductory", "interview", "competition"}) {
    if (raw == known) return std::string(known);
  }
  return "";
}

absl::StatusOr<v1::Problem> AppsProblem(const AppsParts& parts, int* dropped) {
  v1::Problem p = NewProblem(DatasetFormat::kApps, parts.id, kAppsTimeLimitMs);
  p.set_statement(parts.question);
  p.set_difficulty(AppsDifficulty(parts.difficulty));
  p.set_starter_code(parts.starter_code);
  CRUCIBLE_RETURN_IF_ERROR(AppsTests(parts, &p));
  int dropped_here = 0;
  absl::StatusOr<std::vector<std::string>> solutions =
      ParseSolutionList(parts.solutions, &dropped_here);
  if (!solutions.ok()) {
    return Bad(parts.solutions_where, parts.solutions_field, solutions.status().message());
  }
  *dropped += dropped_here;
  for (std::string& source : *solutions) {
    AddProgram("python3", std::move(source), p.mutable_solutions());
  }
  return p;
}

// A file of an APPS problem folder; absent optional files read as "".
absl::StatusOr<std::string> ReadAppsFile(const std::filesystem::path& folder, const char* name,
                                         bool required) {
  const std::filesystem::path file = folder / name;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    if (required) return Bad(folder.string(), name, "missing");
    return std::string();
  }
  return ReadFile(file.string());
}

absl::StatusOr<v1::Problem> AppsFolderProblem(const std::filesystem::path& folder,
                                              const std::string& id, int* dropped) {
  AppsParts parts;
  parts.id = id;
  parts.where = folder.string();
  CRUCIBLE_ASSIGN_OR_RETURN(parts.question, ReadAppsFile(folder, "question.txt", true));
  std::error_code ec;
  if (!std::filesystem::exists(folder / "input_output.json", ec)) {
    return Bad(parts.where, "input_output.json", "missing (the problem has no tests)");
  }
  CRUCIBLE_ASSIGN_OR_RETURN(parts.input_output, ReadAppsFile(folder, "input_output.json", true));
  parts.io_where = (folder / "input_output.json").string();
  CRUCIBLE_ASSIGN_OR_RETURN(parts.solutions, ReadAppsFile(folder, "solutions.json", false));
  parts.solutions_where = (folder / "solutions.json").string();
  CRUCIBLE_ASSIGN_OR_RETURN(parts.starter_code, ReadAppsFile(folder, "starter_code.py", false));
  CRUCIBLE_ASSIGN_OR_RETURN(std::string metadata, ReadAppsFile(folder, "metadata.json", false));
  if (!absl::StripAsciiWhitespace(metadata).empty()) {
    const std::string where = (folder / "metadata.json").string();
    CRUCIBLE_ASSIGN_OR_RETURN(json meta, ParseJson(metadata, where, ""));
    if (!meta.is_object()) {
      return Bad(where, "", absl::StrCat("expected an object, got ", JsonTypeName(meta)));
    }
    CRUCIBLE_ASSIGN_OR_RETURN(parts.difficulty, Fields(meta, where).String("difficulty", false));
  }
  return AppsProblem(parts, dropped);
}

bool IsAppsProblemFolder(const std::filesystem::path& folder) {
  std::error_code ec;
  return std::filesystem::exists(folder / "question.txt", ec) ||
         std::filesystem::exists(folder / "input_output.json", ec);
}

// Subdirectories, sorted by name.
absl::StatusOr<std::vector<std::filesystem::path>> Subfolders(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) out.push_back(it->path());
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// `root` is one problem folder, a folder of them (train/), or a folder of those (APPS/).
absl::Status ImportAppsTree(const std::string& root, Importer& importer) {
  const std::filesystem::path root_path(root);
  std::vector<std::pair<std::filesystem::path, std::string>> folders;  // (folder, id)
  if (IsAppsProblemFolder(root_path)) {
    std::filesystem::path normal = root_path.lexically_normal();
    if (normal.filename().empty()) normal = normal.parent_path();  // "0000/"
    folders.emplace_back(root_path, normal.filename().string());
  } else {
    CRUCIBLE_ASSIGN_OR_RETURN(auto children, Subfolders(root_path));
    for (const auto& child : children) {
      if (IsAppsProblemFolder(child)) {
        folders.emplace_back(child, child.filename().string());
        continue;
      }
      CRUCIBLE_ASSIGN_OR_RETURN(auto grandchildren, Subfolders(child));
      for (const auto& folder : grandchildren) {
        if (IsAppsProblemFolder(folder)) {
          folders.emplace_back(
              folder, absl::StrCat(child.filename().string(), "/", folder.filename().string()));
        }
      }
    }
  }
  for (const auto& [folder, id] : folders) {
    if (importer.Full()) break;
    CRUCIBLE_RETURN_IF_ERROR(
        importer.Add(AppsFolderProblem(folder, id, importer.dropped_solutions()), folder.string()));
  }
  return absl::OkStatus();
}

// A field of the JSON-lines release that holds JSON, usually encoded as a string.
absl::StatusOr<std::string> JsonTextField(const Fields& record, const char* key) {
  const json* value = record.Find(key);
  if (value == nullptr) return std::string();
  if (value->is_string()) return value->get<std::string>();
  if (value->is_array() || value->is_object()) return value->dump();
  return record.TypeError(key, "JSON text (a string)", *value);
}

absl::StatusOr<v1::Problem> AppsLineProblem(const Fields& record, int* dropped) {
  AppsParts parts;
  parts.where = record.where();
  CRUCIBLE_ASSIGN_OR_RETURN(parts.id, record.Id("problem_id"));
  CRUCIBLE_ASSIGN_OR_RETURN(parts.question, record.String("question", true));
  CRUCIBLE_ASSIGN_OR_RETURN(parts.input_output, JsonTextField(record, "input_output"));
  parts.io_where = parts.solutions_where = record.where();
  parts.io_field = "input_output";
  parts.solutions_field = "solutions";
  CRUCIBLE_ASSIGN_OR_RETURN(parts.solutions, JsonTextField(record, "solutions"));
  CRUCIBLE_ASSIGN_OR_RETURN(parts.difficulty, record.String("difficulty", false));
  CRUCIBLE_ASSIGN_OR_RETURN(parts.starter_code, record.String("starter_code", false));
  return AppsProblem(parts, dropped);
}

absl::Status ImportApps(const std::string& path, Importer& importer) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return ImportAppsTree(path, importer);
  return ImportJsonLines(path, importer, [&](const Fields& record) {
    return AppsLineProblem(record, importer.dropped_solutions());
  });
}

// ---------------------------------------------------------------------------------------
// CodeContests.

// Its enums (contest_problem.proto), as integers or, in protobuf's JSON form, names.
constexpr int kCcPython3 = 3;
constexpr int kCcCpp = 2;
constexpr const char* kCcLanguages[] = {"UNKNOWN_LANGUAGE", "PYTHON", "CPP", "PYTHON3", "JAVA"};
constexpr const char* kCcDifficulties[] = {
    "UNKNOWN_DIFFICULTY", "EASY", "MEDIUM", "HARD", "HARDER", "HARDEST", "EXTERNAL"};
constexpr int kCcFirstLetter = 7;  // A = 7, B = 8, ...: Codeforces problem letters

// An enum value: its integer, its name among `names`, or for difficulties a letter.
absl::StatusOr<int> CcEnum(const json& value, absl::Span<const char* const> names, bool letters,
                           const Fields& at, absl::string_view key) {
  if (value.is_number_integer() || value.is_number_unsigned()) return value.get<int>();
  if (value.is_string()) {
    const std::string name = value.get<std::string>();
    for (size_t i = 0; i < names.size(); ++i) {
      if (name == names[i]) return static_cast<int>(i);
    }
    if (letters && name.size() == 1 && absl::ascii_isupper(static_cast<unsigned char>(name[0]))) {
      return kCcFirstLetter + (name[0] - 'A');
    }
  }
  return at.TypeError(key, "an enum value (integer or name)", value);
}

// {"input": [...], "output": [...]}; absent: none.
absl::Status CcTests(const Fields& record, const char* key,
                     google::protobuf::RepeatedPtrField<v1::TestCase>* out) {
  const json* tests = record.Find(key);
  if (tests == nullptr) return absl::OkStatus();
  if (!tests->is_object()) return record.TypeError(key, "an object {input, output}", *tests);
  Fields fields(*tests, record.where(), absl::StrCat(key, "."));
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<std::string> inputs, fields.Strings("input", false));
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<std::string> outputs, fields.Strings("output", false));
  if (inputs.size() != outputs.size()) {
    return fields.Error("output", absl::StrCat("expected as many entries as input (", inputs.size(),
                                               "), got ", outputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    AddTest(std::move(inputs[i]), std::move(outputs[i]), out);
  }
  return absl::OkStatus();
}

// {"language": [...], "solution": [...]}: PYTHON3 and CPP kept, the rest counted.
absl::Status CcPrograms(const Fields& record, const char* key, int* dropped, int* other_language,
                        google::protobuf::RepeatedPtrField<v1::Program>* out) {
  const json* programs = record.Find(key);
  if (programs == nullptr) return absl::OkStatus();
  if (!programs->is_object()) {
    return record.TypeError(key, "an object {language, solution}", *programs);
  }
  Fields fields(*programs, record.where(), absl::StrCat(key, "."));
  const json* languages = fields.Find("language");
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<std::string> sources, fields.Strings("solution", false));
  const size_t count = languages == nullptr ? 0 : languages->size();
  if (languages != nullptr && !languages->is_array()) {
    return fields.TypeError("language", "an array of language codes", *languages);
  }
  if (count != sources.size()) {
    return fields.Error("solution", absl::StrCat("expected as many entries as language (", count,
                                                 "), got ", sources.size()));
  }
  for (size_t i = 0; i < count; ++i) {
    CRUCIBLE_ASSIGN_OR_RETURN(int language, CcEnum((*languages)[i], kCcLanguages, false, fields,
                                                   absl::StrCat("language[", i, "]")));
    if (language != kCcPython3 && language != kCcCpp) {
      ++*other_language;
    } else if (!UsableSource(sources[i])) {
      ++*dropped;
    } else {
      AddProgram(language == kCcPython3 ? "python3" : "cpp17", std::move(sources[i]), out);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CcDifficulty(const Fields& record) {
  CRUCIBLE_ASSIGN_OR_RETURN(int64_t rating, record.Int("cf_rating", 0));
  if (rating > 0) return std::to_string(rating);
  const json* value = record.Find("difficulty");
  if (value == nullptr) return std::string();
  CRUCIBLE_ASSIGN_OR_RETURN(int difficulty,
                            CcEnum(*value, kCcDifficulties, true, record, "difficulty"));
  switch (difficulty) {
    case 1:
      return std::string("introductory");  // EASY
    case 2:
      return std::string("interview");  // MEDIUM
    case 3:                             // HARD
    case 4:                             // HARDER
    case 5:
      return std::string("competition");  // HARDEST
    default:  // UNKNOWN_DIFFICULTY, EXTERNAL (no grade), or a Codeforces letter
      return std::string(difficulty >= kCcFirstLetter ? "competition" : "");
  }
}

// time_limit: {"seconds", "nanos"} (or protobuf JSON's "1.5s"); absent or zero: default.
absl::StatusOr<int64_t> CcTimeLimitMs(const Fields& record) {
  const json* value = record.Find("time_limit");
  int64_t ms = 0;
  if (value != nullptr && value->is_object()) {
    Fields fields(*value, record.where(), "time_limit.");
    CRUCIBLE_ASSIGN_OR_RETURN(int64_t seconds, fields.Int("seconds", 0));
    CRUCIBLE_ASSIGN_OR_RETURN(int64_t nanos, fields.Int("nanos", 0));
    ms = seconds * 1000 + (nanos + 999'999) / 1'000'000;
  } else if (value != nullptr && value->is_string()) {
    double seconds;
    if (!absl::SimpleAtod(absl::StripSuffix(value->get<std::string>(), "s"), &seconds)) {
      return record.TypeError("time_limit", "{seconds, nanos}", *value);
    }
    ms = static_cast<int64_t>(seconds * 1000 + 0.5);
  } else if (value != nullptr) {
    return record.TypeError("time_limit", "{seconds, nanos}", *value);
  }
  if (ms <= 0) return kDefaultTimeLimitMs;
  return std::clamp<int64_t>(ms, 1, kMaxTimeLimitMs);
}

absl::StatusOr<int64_t> CcMemoryLimitMib(const Fields& record) {
  CRUCIBLE_ASSIGN_OR_RETURN(int64_t bytes, record.Int("memory_limit_bytes", 0));
  if (bytes <= 0) return kDefaultMemoryLimitMib;
  return std::clamp<int64_t>((bytes + (1 << 20) - 1) >> 20, 1, kMaxMemoryLimitMib);
}

absl::StatusOr<v1::Problem> CcProblem(const Fields& record, int* dropped, int* other_language) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::string name, record.String("name", true));
  if (absl::StripAsciiWhitespace(name).empty()) return record.Error("name", "empty");
  for (const char* key : {"input_file", "output_file"}) {
    CRUCIBLE_ASSIGN_OR_RETURN(std::string file, record.String(key, false));
    if (!file.empty()) {
      return record.Error(key, absl::StrCat("the problem uses the file \"", file,
                                            "\"; only stdin/stdout problems are imported"));
    }
  }
  CRUCIBLE_ASSIGN_OR_RETURN(int64_t time_limit_ms, CcTimeLimitMs(record));
  v1::Problem p = NewProblem(DatasetFormat::kCodeContests, name, time_limit_ms);
  CRUCIBLE_ASSIGN_OR_RETURN(int64_t memory_limit_mib, CcMemoryLimitMib(record));
  p.set_memory_limit_mib(memory_limit_mib);
  CRUCIBLE_ASSIGN_OR_RETURN(*p.mutable_statement(), record.String("description", false));
  CRUCIBLE_ASSIGN_OR_RETURN(*p.mutable_difficulty(), CcDifficulty(record));
  CRUCIBLE_RETURN_IF_ERROR(CcTests(record, "public_tests", p.mutable_public_tests()));
  CRUCIBLE_RETURN_IF_ERROR(CcTests(record, "private_tests", p.mutable_tests()));
  CRUCIBLE_RETURN_IF_ERROR(CcTests(record, "generated_tests", p.mutable_tests()));
  // A problem whose only tests are its examples is judged on them.
  if (p.tests_size() == 0) *p.mutable_tests() = p.public_tests();
  CRUCIBLE_RETURN_IF_ERROR(
      CcPrograms(record, "solutions", dropped, other_language, p.mutable_solutions()));
  CRUCIBLE_RETURN_IF_ERROR(CcPrograms(record, "incorrect_solutions", dropped, other_language,
                                      p.mutable_incorrect_solutions()));
  return p;
}

// ---------------------------------------------------------------------------------------
// MBPP.

bool IsIdentifierChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Whether `text` calls `name`: the name, not part of a longer name or an attribute,
// followed by "(".
bool Calls(absl::string_view text, absl::string_view name) {
  for (size_t at = text.find(name); at != absl::string_view::npos; at = text.find(name, at + 1)) {
    if (at > 0 && (IsIdentifierChar(text[at - 1]) || text[at - 1] == '.')) continue;
    size_t next = at + name.size();
    while (next < text.size() && text[next] == ' ') ++next;
    if (next < text.size() && text[next] == '(') return true;
  }
  return false;
}

// The first top-level function of `code` that the tests call: MBPP's asserts do not always
// start with it (`assert math.isclose(area(2), ...)`), and its code may define helpers.
std::string CalledFunction(absl::string_view code, const std::vector<std::string>& tests) {
  for (absl::string_view line : absl::StrSplit(code, '\n')) {
    if (!absl::ConsumePrefix(&line, "def ")) continue;
    line = absl::StripLeadingAsciiWhitespace(line);
    size_t end = 0;
    while (end < line.size() && IsIdentifierChar(line[end])) ++end;
    const absl::string_view name = line.substr(0, end);
    if (name.empty()) continue;
    for (const std::string& test : tests) {
      if (Calls(test, name)) return std::string(name);
    }
  }
  return "";
}

// One MBPP task, from mbpp.jsonl (text, test_setup_code) or, `sanitized`, from
// sanitized-mbpp.json (prompt, test_imports).
absl::StatusOr<v1::Problem> MbppProblem(const Fields& record, bool sanitized) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::string task_id, record.Id("task_id"));
  CRUCIBLE_ASSIGN_OR_RETURN(std::string text, record.String(sanitized ? "prompt" : "text", true));
  CRUCIBLE_ASSIGN_OR_RETURN(std::string code, record.String("code", true));
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<std::string> tests, record.Strings("test_list", true));
  if (tests.empty()) return record.Error("test_list", "empty (the task has no tests)");
  CRUCIBLE_ASSIGN_OR_RETURN(std::vector<std::string> challenge,
                            record.Strings("challenge_test_list", false));
  std::string setup;
  if (sanitized) {
    CRUCIBLE_ASSIGN_OR_RETURN(std::vector<std::string> imports,
                              record.Strings("test_imports", false));
    setup = absl::StrJoin(imports, "\n");
  } else {
    CRUCIBLE_ASSIGN_OR_RETURN(setup, record.String("test_setup_code", false));
  }
  code = UnixLineEnds(code);
  const std::string name = CalledFunction(code, tests);
  if (name.empty()) {
    return record.Error("test_list", "the tests call no function that code defines");
  }
  v1::Problem p = NewProblem(DatasetFormat::kMbpp, task_id, kFunctionTimeLimitMs);
  // The MBPP paper's prompt: the task, then the asserts the code must pass.
  p.set_statement(absl::StrCat(UnixLineEnds(text), "\nYour code should pass these tests:\n",
                               absl::StrJoin(tests, "\n"), "\n"));
  p.mutable_function()->set_style(v1::FunctionCall::ASSERT);
  p.mutable_function()->set_name(name);
  p.mutable_function()->set_setup_code(UnixLineEnds(setup));
  AddTest(absl::StrCat(tests.front(), "\n"), "", p.mutable_public_tests());
  for (const auto* list : {&tests, &challenge}) {
    for (const std::string& test : *list) AddTest(absl::StrCat(test, "\n"), "", p.mutable_tests());
  }
  if (UsableSource(code)) AddProgram("python3", std::move(code), p.mutable_solutions());
  return p;
}

// sanitized-mbpp.json is one array; its elements are located as "<path>: [<index>]".
absl::Status ImportMbppArray(const std::string& path, const std::string& text, Importer& importer) {
  CRUCIBLE_ASSIGN_OR_RETURN(json tasks, ParseJson(text, path, ""));
  if (!tasks.is_array()) {
    return Bad(path, "", absl::StrCat("expected an array of tasks, got ", JsonTypeName(tasks)));
  }
  for (size_t i = 0; i < tasks.size() && !importer.Full(); ++i) {
    const std::string where = absl::StrCat(path, ": [", i, "]");
    if (!tasks[i].is_object()) {
      CRUCIBLE_RETURN_IF_ERROR(importer.Add(
          Bad(where, "", absl::StrCat("expected an object, got ", JsonTypeName(tasks[i]))), where));
      continue;
    }
    CRUCIBLE_RETURN_IF_ERROR(importer.Add(MbppProblem(Fields(tasks[i], where), true), where));
  }
  return absl::OkStatus();
}

absl::Status ImportMbpp(const std::string& path, Importer& importer) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadMaybeGzipFile(path));
  if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(text), "[")) {
    return ImportMbppArray(path, text, importer);
  }
  return ImportJsonLines(path, importer,
                         [](const Fields& record) { return MbppProblem(record, false); });
}

// ---------------------------------------------------------------------------------------
// HumanEval.

absl::StatusOr<v1::Problem> HumanEvalProblem(const Fields& record) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::string task_id, record.String("task_id", true));
  CRUCIBLE_ASSIGN_OR_RETURN(std::string prompt, record.String("prompt", true));
  CRUCIBLE_ASSIGN_OR_RETURN(std::string solution, record.String("canonical_solution", true));
  CRUCIBLE_ASSIGN_OR_RETURN(std::string test, record.String("test", true));
  CRUCIBLE_ASSIGN_OR_RETURN(std::string entry_point, record.String("entry_point", true));
  if (!absl::StrContains(test, "def check(")) {
    return record.Error("test", "expected a `def check(candidate):` function");
  }
  // "HumanEval/12" -> humaneval/12.
  const size_t slash = task_id.rfind('/');
  v1::Problem p = NewProblem(DatasetFormat::kHumanEval,
                             slash == std::string::npos ? task_id : task_id.substr(slash + 1),
                             kFunctionTimeLimitMs);
  p.set_statement(prompt);
  p.set_starter_code(prompt);
  p.mutable_function()->set_style(v1::FunctionCall::ASSERT);
  p.mutable_function()->set_name(entry_point);
  AddTest(absl::StrCat(test, "\ncheck(", entry_point, ")\n"), "", p.mutable_tests());
  std::string reference = prompt + solution;
  if (UsableSource(solution)) AddProgram("python3", std::move(reference), p.mutable_solutions());
  return p;
}

// "1 problem", "3 problems".
std::string Count(size_t n, absl::string_view noun) {
  return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
}

}  // namespace

absl::StatusOr<DatasetFormat> ParseDatasetFormat(absl::string_view name) {
  for (DatasetFormat format : {DatasetFormat::kApps, DatasetFormat::kCodeContests,
                               DatasetFormat::kMbpp, DatasetFormat::kHumanEval}) {
    if (name == DatasetFormatName(format)) return format;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dataset format \"", name, "\"; expected apps, codecontests, mbpp or humaneval"));
}

absl::string_view DatasetFormatName(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kApps:
      return "apps";
    case DatasetFormat::kCodeContests:
      return "codecontests";
    case DatasetFormat::kMbpp:
      return "mbpp";
    case DatasetFormat::kHumanEval:
      return "humaneval";
  }
  return "";
}

absl::StatusOr<ImportResult> ImportDataset(DatasetFormat format, const std::string& path,
                                           const ImportOptions& options) {
  Importer importer(format, options);
  switch (format) {
    case DatasetFormat::kApps:
      CRUCIBLE_RETURN_IF_ERROR(ImportApps(path, importer));
      break;
    case DatasetFormat::kCodeContests:
      CRUCIBLE_RETURN_IF_ERROR(ImportJsonLines(path, importer, [&](const Fields& record) {
        return CcProblem(record, importer.dropped_solutions(), importer.other_language_solutions());
      }));
      break;
    case DatasetFormat::kMbpp:
      CRUCIBLE_RETURN_IF_ERROR(ImportMbpp(path, importer));
      break;
    case DatasetFormat::kHumanEval:
      CRUCIBLE_RETURN_IF_ERROR(ImportJsonLines(path, importer, HumanEvalProblem));
      break;
  }
  return std::move(importer).Finish(path);
}

std::string ImportSummary(DatasetFormat format, const ImportResult& result) {
  constexpr size_t kReasonsShown = 3;
  std::vector<std::string> notes;
  if (!result.skipped.empty()) {
    std::vector<std::string> reasons(
        result.skipped.begin(),
        result.skipped.begin() + std::min(result.skipped.size(), kReasonsShown));
    if (result.skipped.size() > kReasonsShown) reasons.push_back("...");
    notes.push_back(
        absl::StrCat(result.skipped.size(), " skipped: ", absl::StrJoin(reasons, "; ")));
  }
  if (result.dropped_solutions > 0) {
    notes.push_back(absl::StrCat(Count(result.dropped_solutions, "solution"),
                                 " dropped: not valid UTF-8, NUL bytes or empty"));
  }
  if (result.other_language_solutions > 0) {
    notes.push_back(absl::StrCat(Count(result.other_language_solutions, "solution"),
                                 " in other languages left out"));
  }
  std::string summary = absl::StrCat("imported ", Count(result.problems.size(), "problem"),
                                     " from ", DatasetFormatName(format));
  for (const std::string& note : notes) absl::StrAppend(&summary, " (", note, ")");
  return summary;
}

absl::Status WriteProblemsJsonl(const std::string& path, const std::vector<v1::Problem>& problems) {
  std::string text;
  for (const v1::Problem& p : problems) absl::StrAppend(&text, ProblemToJson(p), "\n");
  return WriteFileAtomic(path, text);
}

absl::StatusOr<std::string> ReadMaybeGzipFile(const std::string& path) {
  CRUCIBLE_ASSIGN_OR_RETURN(FileReader file, FileReader::Open(path));
  std::string text;
  while (true) {
    CRUCIBLE_ASSIGN_OR_RETURN(size_t n, file.Read(1 << 20, &text));
    if (n == 0) return text;
  }
}

}  // namespace crucible
