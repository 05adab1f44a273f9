#include "common/eval_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/json_errors.h"
#include "common/status_macros.h"
#include "common/verdict_json.h"

namespace crucible {
namespace {

using nlohmann::json;

constexpr v1::VerdictCode kAllVerdicts[] = {v1::OK,  v1::WA, v1::TLE, v1::MLE,
                                            v1::OLE, v1::RE, v1::CE,  v1::SE};
constexpr char kUnknown[] = "unknown";
constexpr int kHardestShown = 20;

// ---------------------------------------------------------------------------------------
// Parsing one sample.

// Each getter returns the key's value, or null when the key is absent or JSON null; a
// required key that is absent is an error (a null one is a type error, so the message
// says what was there).
absl::StatusOr<const json*> Find(const json& obj, const char* key, absl::string_view where,
                                 bool required) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return JsonFieldError(where, key, "missing");
    return nullptr;
  }
  if (it->is_null() && !required) return nullptr;
  return &*it;
}

absl::Status GetString(const json& obj, const char* key, absl::string_view where, bool required,
                       std::string* out) {
  CRUCIBLE_ASSIGN_OR_RETURN(const json* v, Find(obj, key, where, required));
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_string()) return JsonTypeError(where, key, "a string", *v);
  *out = v->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetInt(const json& obj, const char* key, absl::string_view where, bool required,
                    std::optional<int64_t>* out) {
  CRUCIBLE_ASSIGN_OR_RETURN(const json* v, Find(obj, key, where, required));
  if (v == nullptr) return absl::OkStatus();
  if (v->is_number_integer()) {
    *out = v->get<int64_t>();
  } else if (v->is_number_unsigned() && v->get<uint64_t>() <= INT64_MAX) {
    *out = static_cast<int64_t>(v->get<uint64_t>());
  } else {
    return JsonTypeError(where, key, "an integer", *v);
  }
  if (**out < 0) return JsonFieldError(where, key, absl::StrCat("expected >= 0, got ", **out));
  return absl::OkStatus();
}

absl::Status GetDouble(const json& obj, const char* key, absl::string_view where, bool required,
                       std::optional<double>* out) {
  CRUCIBLE_ASSIGN_OR_RETURN(const json* v, Find(obj, key, where, required));
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_number()) return JsonTypeError(where, key, "a number", *v);
  *out = v->get<double>();
  return absl::OkStatus();
}

// The difficulty is a string in samples files; an integer rating (as the problem format
// allows) is read as its decimal string.
absl::Status GetDifficulty(const json& obj, absl::string_view where, std::string* out) {
  CRUCIBLE_ASSIGN_OR_RETURN(const json* v, Find(obj, "difficulty", where, false));
  if (v == nullptr) return absl::OkStatus();
  if (v->is_string()) {
    *out = v->get<std::string>();
  } else if (v->is_number_integer() || v->is_number_unsigned()) {
    *out = v->dump();
  } else {
    return JsonTypeError(where, "difficulty", "a string or an integer rating", *v);
  }
  return absl::OkStatus();
}

const std::set<std::string>& TypedKeys() {
  static const auto* keys = new std::set<std::string>{
      "problem_id", "sample",        "language", "program",      "verdict",
      "reward",     "passed_public", "subtype",  "difficulty",   "log_prob",
      "tokens",     "pass_fraction", "search",   "critic_score", "reward_model_score"};
  return *keys;
}

absl::Status InvalidJson(absl::string_view line, absl::string_view where) {
  try {
    json reparsed = json::parse(line.begin(), line.end());
    (void)reparsed;
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid JSON: ", e.what()));
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": invalid JSON"));
}

// ---------------------------------------------------------------------------------------
// Per-problem statistics and the report's blocks.

std::string MetricKeyPass(int k) { return absl::StrCat("pass@", k); }
std::string MetricKeyN(int n, int k) { return absl::StrCat(n, "@", k); }

json Optional(std::optional<double> v) { return v ? json(*v) : json(nullptr); }

json ZeroVerdicts() {
  json verdicts = json::object();
  for (v1::VerdictCode code : kAllVerdicts) verdicts[std::string(VerdictName(code))] = 0;
  return verdicts;
}

// ks and n_submit sorted and deduplicated, so the report does not depend on flag order.
ReportOptions Normalized(const ReportOptions& options) {
  ReportOptions out = options;
  for (std::vector<int>* v : {&out.ks, &out.n_submit}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  return out;
}

// The metric keys a problem and a group carry, in report order.
std::vector<std::string> MetricKeys(const ReportOptions& options) {
  std::vector<std::string> keys;
  for (int k : options.ks) keys.push_back(MetricKeyPass(k));
  for (int n : options.n_submit) {
    for (int k : options.ks) {
      if (n <= k) keys.push_back(MetricKeyN(n, k));
    }
  }
  keys.push_back("compile_rate");
  return keys;
}

struct ProblemCounts {
  std::string difficulty;
  int n = 0;  // SE excluded, as in every count below
  int correct = 0;
  int compile_errors = 0;
  int pass_public = 0;
  int pass_public_and_correct = 0;
  int system_errors = 0;
  json verdicts = ZeroVerdicts();
  json re_subtypes = json::object();
};

void Tally(const EvalSample& s, ProblemCounts* p) {
  if (p->difficulty.empty()) p->difficulty = s.difficulty;
  const std::string name(VerdictName(s.verdict));
  p->verdicts[name] = p->verdicts[name].get<int64_t>() + 1;
  if (s.verdict == v1::SE) {
    ++p->system_errors;
    return;
  }
  ++p->n;
  if (s.verdict == v1::OK) ++p->correct;
  if (s.verdict == v1::CE) ++p->compile_errors;
  if (s.passed_public) {
    ++p->pass_public;
    if (s.verdict == v1::OK) ++p->pass_public_and_correct;
  }
  if (s.verdict == v1::RE) {
    const std::string subtype = s.subtype.empty() ? kUnknown : s.subtype;
    p->re_subtypes[subtype] = p->re_subtypes.value(subtype, int64_t{0}) + 1;
  }
}

json ProblemJson(const ProblemCounts& p, const ReportOptions& options) {
  json out = {{"difficulty", p.difficulty}, {"n", p.n},
              {"correct", p.correct},       {"system_errors", p.system_errors},
              {"verdicts", p.verdicts},     {"re_subtypes", p.re_subtypes}};
  for (int k : options.ks) out[MetricKeyPass(k)] = Optional(PassAtK(p.n, p.correct, k));
  for (int n : options.n_submit) {
    for (int k : options.ks) {
      if (n > k) continue;
      out[MetricKeyN(n, k)] = Optional(NAtK(p.n, p.pass_public, p.pass_public_and_correct, n, k));
    }
  }
  out["compile_rate"] =
      p.n == 0 ? json(nullptr)
               : json(static_cast<double>(p.n - p.compile_errors) / static_cast<double>(p.n));
  return out;
}

// Per-problem blocks, keyed by problem id.
std::map<std::string, json> ProblemBlocks(const std::vector<const EvalSample*>& samples,
                                          const ReportOptions& options) {
  std::map<std::string, ProblemCounts> counts;
  for (const EvalSample* s : samples) Tally(*s, &counts[s->problem_id]);
  std::map<std::string, json> out;
  for (const auto& [id, p] : counts) out[id] = ProblemJson(p, options);
  return out;
}

void AddCounts(const json& from, json* into) {
  for (const auto& [key, value] : from.items()) {
    (*into)[key] = into->value(key, int64_t{0}) + value.get<int64_t>();
  }
}

// A group's block from its problems' blocks: macro means, null when any problem lacks the
// metric (or the group is empty), and totals.
json GroupJson(const std::vector<const json*>& problems, const ReportOptions& options) {
  int64_t n = 0, correct = 0, system_errors = 0;
  json verdicts = ZeroVerdicts();
  json re_subtypes = json::object();
  for (const json* p : problems) {
    n += (*p)["n"].get<int64_t>();
    correct += (*p)["correct"].get<int64_t>();
    system_errors += (*p)["system_errors"].get<int64_t>();
    AddCounts((*p)["verdicts"], &verdicts);
    AddCounts((*p)["re_subtypes"], &re_subtypes);
  }
  json out = {{"problems", problems.size()}, {"n", n},
              {"correct", correct},          {"system_errors", system_errors},
              {"verdicts", verdicts},        {"re_subtypes", re_subtypes}};
  for (const std::string& key : MetricKeys(options)) {
    bool available = !problems.empty();
    double sum = 0;
    for (const json* p : problems) {
      const json& v = (*p)[key];
      if (v.is_null()) {
        available = false;
        break;
      }
      sum += v.get<double>();
    }
    out[key] = available ? json(sum / static_cast<double>(problems.size())) : json(nullptr);
  }
  const int64_t compiled = n - verdicts["CE"].get<int64_t>();
  out["micro_compile_rate"] =
      n == 0 ? json(nullptr) : json(static_cast<double>(compiled) / static_cast<double>(n));
  return out;
}

json OverallJson(const std::map<std::string, json>& problems, const ReportOptions& options) {
  std::vector<const json*> all;
  for (const auto& [id, p] : problems) all.push_back(&p);
  return GroupJson(all, options);
}

// ---------------------------------------------------------------------------------------
// Markdown.

const json& Field(const json& obj, const std::string& key) {
  static const json* null_value = new json(nullptr);
  if (!obj.is_object()) return *null_value;
  auto it = obj.find(key);
  return it == obj.end() ? *null_value : *it;
}

std::string Percent(const json& v) {
  if (!v.is_number()) return "n/a";
  return absl::StrFormat("%.1f%%", 100.0 * v.get<double>());
}

std::string Integer(const json& v) {
  if (!v.is_number()) return "n/a";
  return absl::StrCat(v.get<int64_t>());
}

std::string Cell(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"|", "\\|"}, {"\n", " "}, {"\r", " "}});
}

std::string Row(const std::vector<std::string>& cells) {
  return absl::StrCat("| ", absl::StrJoin(cells, " | "), " |\n");
}

// A header row and its alignment row: the first column left, the rest right-aligned.
std::string Header(const std::vector<std::string>& cells) {
  std::vector<std::string> rule(cells.size(), "---:");
  if (!rule.empty()) rule[0] = "---";
  return Row(cells) + Row(rule);
}

std::vector<int> IntList(const json& v) {
  std::vector<int> out;
  if (!v.is_array()) return out;
  for (const json& x : v) {
    if (x.is_number_integer()) out.push_back(x.get<int>());
  }
  return out;
}

// The pass@ and n@ metric keys of a report, from its options.
std::vector<std::string> RateKeys(const json& report) {
  ReportOptions options;
  options.ks = IntList(Field(Field(report, "options"), "k"));
  options.n_submit = IntList(Field(Field(report, "options"), "n_submit"));
  std::vector<std::string> keys = MetricKeys(options);
  keys.pop_back();  // compile_rate, which each table places itself
  return keys;
}

std::string OverallSection(const json& overall, const std::vector<std::string>& rate_keys) {
  std::string md = "## Overall\n\n" + Header({"metric", "value"});
  md += Row({"problems", Integer(Field(overall, "problems"))});
  md += Row({"samples judged (n, SE excluded)", Integer(Field(overall, "n"))});
  md += Row({"correct", Integer(Field(overall, "correct"))});
  md += Row({"system errors (SE)", Integer(Field(overall, "system_errors"))});
  for (const std::string& key : rate_keys) md += Row({key, Percent(Field(overall, key))});
  md += Row({"compile rate (mean over problems)", Percent(Field(overall, "compile_rate"))});
  md += Row({"compile rate (over all samples)", Percent(Field(overall, "micro_compile_rate"))});
  return md;
}

// One row per group: by difficulty, or by search.
std::string GroupTable(const std::string& title, const std::string& label, const json& groups,
                       const std::vector<std::string>& rate_keys) {
  std::vector<std::string> header = {label, "problems", "n"};
  header.insert(header.end(), rate_keys.begin(), rate_keys.end());
  header.push_back("compile rate");
  std::string md = absl::StrCat("## ", title, "\n\n", Header(header));
  if (!groups.is_object()) return md;
  for (const auto& [name, g] : groups.items()) {
    std::vector<std::string> row = {Cell(name), Integer(Field(g, "problems")),
                                    Integer(Field(g, "n"))};
    for (const std::string& key : rate_keys) row.push_back(Percent(Field(g, key)));
    row.push_back(Percent(Field(g, "compile_rate")));
    md += Row(row);
  }
  return md;
}

std::string VerdictSection(const json& overall) {
  const json& verdicts = Field(overall, "verdicts");
  int64_t total = 0;
  for (v1::VerdictCode code : kAllVerdicts) {
    const json& c = Field(verdicts, std::string(VerdictName(code)));
    if (c.is_number()) total += c.get<int64_t>();
  }
  std::string md = "## Verdicts\n\nShares are of every sample, SE included.\n\n" +
                   Header({"verdict", "count", "share"});
  for (v1::VerdictCode code : kAllVerdicts) {
    const json& c = Field(verdicts, std::string(VerdictName(code)));
    json share = total > 0 && c.is_number()
                     ? json(static_cast<double>(c.get<int64_t>()) / static_cast<double>(total))
                     : json(nullptr);
    md += Row({std::string(VerdictName(code)), Integer(c), Percent(share)});
  }
  md += "\n### Runtime errors by subtype\n\n";
  const json& subtypes = Field(overall, "re_subtypes");
  if (!subtypes.is_object() || subtypes.empty()) return md + "No runtime errors.\n";
  md += Header({"RE subtype", "count"});
  for (const auto& [name, c] : subtypes.items()) md += Row({Cell(name), Integer(c)});
  return md;
}

std::string HardestSection(const json& problems, const std::vector<int>& ks) {
  std::string md = "## Hardest problems\n\n";
  if (ks.empty()) return md + "No pass@k was computed.\n";
  const std::string key = MetricKeyPass(*std::min_element(ks.begin(), ks.end()));
  struct Entry {
    std::string id;
    const json* block;
    std::optional<double> rate;
  };
  std::vector<Entry> entries;
  if (problems.is_object()) {
    for (const auto& [id, p] : problems.items()) {
      const json& v = Field(p, key);
      entries.push_back(
          {id, &p, v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt});
    }
  }
  // Lowest rate first; problems without one (every sample SE) after all that have one.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.rate.has_value() != b.rate.has_value()) return a.rate.has_value();
    if (a.rate && *a.rate != *b.rate) return *a.rate < *b.rate;
    return a.id < b.id;
  });
  if (entries.size() > static_cast<size_t>(kHardestShown)) entries.resize(kHardestShown);
  md += absl::StrCat("The ", entries.size(), " problems with the lowest ", key, ".\n\n");
  md += Header({"problem", "difficulty", "n", "correct", key, "compile rate"});
  for (const Entry& e : entries) {
    const json& difficulty = Field(*e.block, "difficulty");
    std::string d = difficulty.is_string() ? difficulty.get<std::string>() : "";
    md += Row({Cell(e.id), Cell(d.empty() ? kUnknown : d), Integer(Field(*e.block, "n")),
               Integer(Field(*e.block, "correct")), Percent(Field(*e.block, key)),
               Percent(Field(*e.block, "compile_rate"))});
  }
  return md;
}

}  // namespace

const std::string& EvalSample::search_or_default() const {
  static const auto* default_search = new std::string(kDefaultSearch);
  return search.empty() ? *default_search : search;
}

absl::StatusOr<EvalSample> ParseSampleJson(absl::string_view line, absl::string_view where) {
  json obj = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return InvalidJson(line, where);
  if (!obj.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected a JSON object, got ", JsonTypeName(obj)));
  }
  EvalSample s;
  CRUCIBLE_RETURN_IF_ERROR(GetString(obj, "problem_id", where, true, &s.problem_id));
  if (s.problem_id.empty()) return JsonFieldError(where, "problem_id", "must not be empty");
  std::optional<int64_t> index;
  CRUCIBLE_RETURN_IF_ERROR(GetInt(obj, "sample", where, true, &index));
  s.sample = *index;
  CRUCIBLE_RETURN_IF_ERROR(GetString(obj, "language", where, true, &s.language));
  CRUCIBLE_RETURN_IF_ERROR(GetString(obj, "program", where, true, &s.program));
  std::string verdict;
  CRUCIBLE_RETURN_IF_ERROR(GetString(obj, "verdict", where, true, &verdict));
  std::optional<v1::VerdictCode> code = ParseVerdictName(verdict);
  if (!code) {
    return JsonFieldError(where, "verdict",
                      absl::StrCat("unknown verdict code \"", verdict,
                                   "\" (expected OK, WA, TLE, MLE, OLE, RE, CE or SE)"));
  }
  s.verdict = *code;
  std::optional<double> reward;
  CRUCIBLE_RETURN_IF_ERROR(GetDouble(obj, "reward", where, true, &reward));
  s.reward = *reward;
  CRUCIBLE_ASSIGN_OR_RETURN(const json* passed, Find(obj, "passed_public", where, true));
  if (!passed->is_boolean()) return JsonTypeError(where, "passed_public", "a boolean", *passed);
  s.passed_public = passed->get<bool>();

  CRUCIBLE_RETURN_IF_ERROR(GetString(obj, "subtype", where, false, &s.subtype));
  CRUCIBLE_RETURN_IF_ERROR(GetDifficulty(obj, where, &s.difficulty));
  CRUCIBLE_RETURN_IF_ERROR(GetString(obj, "search", where, false, &s.search));
  CRUCIBLE_RETURN_IF_ERROR(GetDouble(obj, "log_prob", where, false, &s.log_prob));
  CRUCIBLE_RETURN_IF_ERROR(GetInt(obj, "tokens", where, false, &s.tokens));
  CRUCIBLE_RETURN_IF_ERROR(GetDouble(obj, "pass_fraction", where, false, &s.pass_fraction));
  CRUCIBLE_RETURN_IF_ERROR(GetDouble(obj, "critic_score", where, false, &s.critic_score));
  CRUCIBLE_RETURN_IF_ERROR(
      GetDouble(obj, "reward_model_score", where, false, &s.reward_model_score));
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (TypedKeys().count(it.key()) == 0) s.extra[it.key()] = it.value();
  }
  return s;
}

std::string SampleToJson(const EvalSample& s) {
  json out = s.extra.is_object() ? s.extra : json::object();
  out["problem_id"] = s.problem_id;
  out["sample"] = s.sample;
  out["language"] = s.language;
  out["program"] = s.program;
  out["verdict"] = std::string(VerdictName(s.verdict));
  out["reward"] = s.reward;
  out["passed_public"] = s.passed_public;
  if (!s.subtype.empty()) out["subtype"] = s.subtype;
  if (!s.difficulty.empty()) out["difficulty"] = s.difficulty;
  if (!s.search.empty()) out["search"] = s.search;
  if (s.log_prob) out["log_prob"] = *s.log_prob;
  if (s.tokens) out["tokens"] = *s.tokens;
  if (s.pass_fraction) out["pass_fraction"] = *s.pass_fraction;
  if (s.critic_score) out["critic_score"] = *s.critic_score;
  if (s.reward_model_score) out["reward_model_score"] = *s.reward_model_score;
  // A program is model output and may hold bytes that are not UTF-8; replace them rather
  // than throw.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<std::vector<EvalSample>> ReadSamplesFile(const std::string& path,
                                                        const ReadOptions& options,
                                                        ReadInfo* info) {
  CRUCIBLE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  ReadInfo local;
  ReadInfo& result = info != nullptr ? *info : local;
  result = ReadInfo{};
  std::vector<EvalSample> samples;
  std::map<std::pair<std::string, int64_t>, int> first_line;  // (problem_id, sample) -> line
  size_t pos = 0;
  int line_number = 0;
  while (pos < text.size()) {
    ++line_number;
    const size_t newline = text.find('\n', pos);
    const bool has_newline = newline != std::string::npos;
    const size_t end = has_newline ? newline : text.size();
    absl::string_view line(text.data() + pos, end - pos);
    const std::string where = absl::StrCat(path, ":", line_number);
    const bool blank = absl::StripAsciiWhitespace(line).empty();
    if (!has_newline && !blank && !json::accept(line.begin(), line.end())) {
      if (!options.allow_truncated_tail) {
        return absl::InvalidArgumentError(absl::StrCat(
            where,
            ": the last line is cut off (no trailing newline and not valid JSON), as a "
            "writer killed mid-line leaves it; resuming would drop it"));
      }
      result.truncated_tail = true;
      break;
    }
    if (!blank) {
      CRUCIBLE_ASSIGN_OR_RETURN(EvalSample s, ParseSampleJson(line, where));
      auto [it, inserted] = first_line.emplace(std::make_pair(s.problem_id, s.sample), line_number);
      if (!inserted) {
        return JsonFieldError(where, "sample",
                          absl::StrCat("duplicate (problem_id \"", s.problem_id, "\", sample ",
                                       s.sample, "); first on line ", it->second));
      }
      samples.push_back(std::move(s));
      result.missing_final_newline = !has_newline;
    }
    pos = has_newline ? end + 1 : end;
  }
  result.valid_bytes = pos;
  return samples;
}

std::optional<double> PassAtK(int n, int c, int k) {
  if (n <= 0 || k < 1 || k > n || c < 0 || c > n) return std::nullopt;
  if (c == 0) return 0.0;
  if (n - c < k) return 1.0;
  // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i): every factor in (0, 1), no overflow.
  double fail = 1.0;
  for (int i = n - c + 1; i <= n; ++i) fail *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - fail;
}

std::optional<double> NAtK(int total, int pass_public, int pass_public_and_correct, int n_submit,
                           int k) {
  const int big_n = total, p = pass_public, c = pass_public_and_correct;
  if (big_n <= 0 || k < 1 || k > big_n || n_submit < 1 || p < 0 || p > big_n || c < 0 || c > p) {
    return std::nullopt;
  }
  if (c == 0) return 0.0;
  auto log_choose = [](int n, int r) {
    return std::lgamma(n + 1.0) - std::lgamma(r + 1.0) - std::lgamma(n - r + 1.0);
  };
  const double log_all = log_choose(big_n, k);
  const int x_lo = std::max(0, k - (big_n - p)), x_hi = std::min(k, p);
  double mass = 0, solved = 0;
  // fail = C(P-C, m) / C(P, m) for m = min(n_submit, x), grown one factor at a time:
  // C(P-C, m) / C(P, m) = prod_{j<m} (P-C-j) / (P-j), which reaches exactly 0 once m > P-C.
  double fail = 1.0;
  int m = 0;
  for (int x = 0; x <= x_hi; ++x) {
    for (; m < std::min(n_submit, x); ++m) {
      fail *= static_cast<double>(p - c - m) / static_cast<double>(p - m);
    }
    if (x < x_lo) continue;
    const double pmf = std::exp(log_choose(p, x) + log_choose(big_n - p, k - x) - log_all);
    mass += pmf;
    if (x > 0) solved += pmf * (1.0 - fail);
  }
  // Dividing by the computed total mass cancels most of lgamma's rounding.
  return std::clamp(solved / mass, 0.0, 1.0);
}

json BuildReport(const std::vector<EvalSample>& samples, const ReportOptions& raw_options) {
  const ReportOptions options = Normalized(raw_options);
  std::vector<const EvalSample*> all;
  std::map<std::string, std::vector<const EvalSample*>> by_search;
  for (const EvalSample& s : samples) {
    all.push_back(&s);
    by_search[s.search_or_default()].push_back(&s);
  }
  const std::map<std::string, json> problems = ProblemBlocks(all, options);

  json report = json::object();
  report["options"] = {{"k", options.ks}, {"n_submit", options.n_submit}};
  report["problems"] = json::object();
  for (const auto& [id, p] : problems) report["problems"][id] = p;
  report["overall"] = OverallJson(problems, options);

  std::map<std::string, std::vector<const json*>> by_difficulty;
  for (const auto& [id, p] : problems) {
    const std::string difficulty = p["difficulty"].get<std::string>();
    by_difficulty[difficulty.empty() ? kUnknown : difficulty].push_back(&p);
  }
  report["by_difficulty"] = json::object();
  for (const auto& [difficulty, group] : by_difficulty) {
    report["by_difficulty"][difficulty] = GroupJson(group, options);
  }

  if (by_search.size() > 1) {
    report["by_search"] = json::object();
    for (const auto& [search, subset] : by_search) {
      report["by_search"][search] = OverallJson(ProblemBlocks(subset, options), options);
    }
  }
  return report;
}

absl::StatusOr<json> RerankReport(const std::vector<EvalSample>& samples,
                                  const RerankOptions& options) {
  const std::string& by = options.score;
  if (by != "log_prob" && by != "mean_log_prob" && by != "critic_score" &&
      by != "reward_model_score") {
    return absl::InvalidArgumentError(absl::StrCat(
        "rerank score \"", by,
        "\": expected log_prob, mean_log_prob, critic_score or reward_model_score"));
  }
  auto mean_log_prob = [](const EvalSample& s) -> std::optional<double> {
    if (!s.log_prob.has_value() || !s.tokens.has_value() || *s.tokens <= 0) return std::nullopt;
    return *s.log_prob / static_cast<double>(*s.tokens);
  };
  auto score_of = [&](const EvalSample& s) -> std::optional<double> {
    std::optional<double> base;
    if (by == "log_prob") return s.log_prob;
    if (by == "mean_log_prob") return mean_log_prob(s);
    base = by == "critic_score" ? s.critic_score : s.reward_model_score;
    if (!base.has_value() || options.log_prob_weight == 0) return base;
    std::optional<double> lp = mean_log_prob(s);
    if (!lp.has_value()) return std::nullopt;
    return *base + options.log_prob_weight * *lp;
  };
  std::map<std::string, std::vector<const EvalSample*>> by_problem;
  for (const EvalSample& s : samples) {
    if (s.verdict != v1::SE) by_problem[s.problem_id].push_back(&s);
  }
  int64_t unscored = 0, scored = 0;
  double reranked = 0, random = 0, oracle = 0;
  json chosen = json::object();
  for (auto& [id, list] : by_problem) {
    // Key: (public pass, has a score, score, -sample), largest first.
    auto key = [&](const EvalSample* s) {
      std::optional<double> v = score_of(*s);
      return std::make_tuple(options.public_first && s->passed_public, v.has_value(),
                             v.value_or(0.0), -s->sample);
    };
    const EvalSample* best = nullptr;
    int correct = 0;
    for (const EvalSample* s : list) {
      score_of(*s).has_value() ? ++scored : ++unscored;
      correct += s->verdict == v1::OK;
      if (best == nullptr || key(s) > key(best)) best = s;
    }
    const bool ok = best->verdict == v1::OK;
    chosen[id] = {{"sample", best->sample}, {"correct", ok}};
    reranked += ok;
    random += static_cast<double>(correct) / static_cast<double>(list.size());
    oracle += correct > 0;
  }
  if (scored == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rerank: no judged sample carries ", by == "mean_log_prob" ? "log_prob and tokens" : by));
  }
  const double problems = static_cast<double>(by_problem.size());
  return json{{"score", by},
              {"public_first", options.public_first},
              {"log_prob_weight", options.log_prob_weight},
              {"problems", by_problem.size()},
              {"unscored", unscored},
              {"reranked_pass@1", reranked / problems},
              {"random_pass@1", random / problems},
              {"oracle_pass@1", oracle / problems},
              {"chosen", chosen}};
}

std::string ReportMarkdown(const json& report) {
  const std::vector<std::string> rate_keys = RateKeys(report);
  const json& overall = Field(report, "overall");
  std::string md = "# Evaluation report\n\n";
  md +=
      "Rates are means over problems; `n/a` marks a metric some problem of the group cannot "
      "support (fewer judged samples than k). SE samples (infrastructure failures) are left "
      "out of every rate.\n\n";
  md += OverallSection(overall, rate_keys) + "\n";
  md += GroupTable("By difficulty", "difficulty", Field(report, "by_difficulty"), rate_keys) + "\n";
  md += VerdictSection(overall) + "\n";
  if (Field(report, "by_search").is_object()) {
    md += GroupTable("By search", "search", Field(report, "by_search"), rate_keys) + "\n";
  }
  if (const json& rerank = Field(report, "rerank"); rerank.is_object()) {
    auto pct = [&](const char* key) {
      return rerank.contains(key) && rerank[key].is_number()
                 ? absl::StrFormat("%.1f%%", 100 * rerank[key].get<double>())
                 : std::string("n/a");
    };
    md += absl::StrCat("## Reranking (best of n)\n\nBy `", rerank.value("score", ""), "`",
                       rerank.value("public_first", false) ? ", public tests first" : "",
                       ".\n\n| choice | pass@1 |\n| --- | ---: |\n| reranked | ", pct("reranked_pass@1"),
                       " |\n| random | ", pct("random_pass@1"), " |\n| oracle | ", pct("oracle_pass@1"),
                       " |\n\n");
  }
  if (const json& cs = Field(report, "critic_sampling"); cs.is_object()) {
    const json& without = Field(cs, "without");
    const json& with = Field(cs, "with");
    auto pct = [](const json& group, const std::string& key) {
      return group.is_object() && group.contains(key) && group[key].is_number()
                 ? absl::StrFormat("%.1f%%", 100 * group[key].get<double>())
                 : std::string("n/a");
    };
    md += "## Critic sampling (CodeRL)\n\nThe same N samples per problem, before and after refining and "
          "repairing.\n\n| metric | without | with |\n| --- | ---: | ---: |\n";
    for (const std::string& key : rate_keys) {
      md += absl::StrCat("| ", key, " | ", pct(without, key), " | ", pct(with, key), " |\n");
    }
    const json& problems = Field(cs, "problems");
    auto count = [&](const char* key) {
      return problems.is_object() && problems.contains(key) ? problems[key].dump() : std::string("0");
    };
    md += absl::StrCat("\nProblems refined ", count("refined"), ", repaired ", count("repaired"),
                       ", repaired then refined ", count("repaired_then_refined"), ", unchanged ",
                       count("unchanged"), ".\n\n");
  }
  md += HardestSection(Field(report, "problems"), IntList(Field(Field(report, "options"), "k")));
  return md;
}

absl::Status WriteReport(const std::string& dir, const json& report) {
  CRUCIBLE_RETURN_IF_ERROR(MakeDirs(dir));
  CRUCIBLE_RETURN_IF_ERROR(WriteFileAtomic(
      dir + "/report.json", report.dump(2, ' ', false, json::error_handler_t::replace) + "\n"));
  return WriteFileAtomic(dir + "/report.md", ReportMarkdown(report));
}

absl::StatusOr<std::vector<int>> ParseIntList(absl::string_view text, absl::string_view flag) {
  std::vector<int> out;
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected a comma-separated list of positive integers, got \"\""));
  }
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    int value = 0;
    if (!absl::SimpleAtoi(item, &value) || value <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": \"", item, "\" is not a positive integer"));
    }
    if (std::find(out.begin(), out.end(), value) != out.end()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", value, " is listed twice"));
    }
    out.push_back(value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace crucible
