#include "actors/prompt.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace crucible {
namespace {

// Expands the template; with problem == nullptr only checks it.
absl::StatusOr<std::string> Expand(const std::string& t, const v1::Problem* problem, const std::string& language) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '{' && i + 1 < t.size() && t[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    if (c == '}' && i + 1 < t.size() && t[i + 1] == '}') {
      out += '}';
      ++i;
      continue;
    }
    if (c == '}') return absl::InvalidArgumentError(absl::StrCat("prompt template: a lone '}' at offset ", i));
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t end = t.find('}', i);
    if (end == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("prompt template: '{' at offset ", i, " is never closed"));
    }
    const std::string name = t.substr(i + 1, end - i - 1);
    i = end;
    const bool has_example = problem != nullptr && problem->public_tests_size() > 0;
    if (name == "statement") {
      if (problem != nullptr) out += problem->statement();
    } else if (name == "example_input") {
      if (has_example) out += problem->public_tests(0).input();
    } else if (name == "example_output") {
      if (has_example) out += problem->public_tests(0).output();
    } else if (name == "starter_code") {
      if (problem != nullptr) out += problem->starter_code();
    } else if (name == "id") {
      if (problem != nullptr) out += problem->id();
    } else if (name == "language") {
      out += language;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt template: unknown placeholder {", name,
          "} (known: {statement} {example_input} {example_output} {starter_code} {id} {language}; {{ and }} for braces)"));
    }
  }
  return out;
}

}  // namespace

absl::Status ValidatePromptTemplate(const std::string& prompt_template) {
  return Expand(prompt_template, nullptr, "").status();
}

absl::StatusOr<std::string> BuildPrompt(const std::string& prompt_template, const v1::Problem& problem,
                                        const std::string& language) {
  return Expand(prompt_template, &problem, language);
}

std::string ExtractProgram(const std::string& completion) {
  std::string body;
  const size_t fence = completion.find("```");
  if (fence != std::string::npos) {
    // The fence line may name a language: the body starts on the next line.
    size_t start = completion.find('\n', fence);
    start = start == std::string::npos ? completion.size() : start + 1;
    size_t close = completion.find("```", start);
    body = completion.substr(start, close == std::string::npos ? std::string::npos : close - start);
  } else {
    size_t cut = std::string::npos;
    for (size_t pos = 0; pos != std::string::npos;) {
      if (completion.compare(pos, 9, "# Problem") == 0) {
        cut = pos;
        break;
      }
      pos = completion.find('\n', pos);
      if (pos != std::string::npos) ++pos;
    }
    body = completion.substr(0, cut);
  }
  absl::string_view trimmed = absl::StripTrailingAsciiWhitespace(body);
  // Leading blank lines carry nothing; indentation of the first code line does.
  while (!trimmed.empty() && trimmed.front() == '\n') trimmed.remove_prefix(1);
  return trimmed.empty() ? std::string() : absl::StrCat(trimmed, "\n");
}

size_t ProgramOffset(const std::string& completion) {
  size_t start = 0;
  const size_t fence = completion.find("```");
  if (fence != std::string::npos) {
    start = completion.find('\n', fence);
    start = start == std::string::npos ? completion.size() : start + 1;
  }
  while (start < completion.size() && completion[start] == '\n') ++start;
  return start;
}

std::string RepairPrompt(const std::string& prompt, const std::string& program, const std::string& verdict,
                         const std::string& subtype) {
  std::string kind;
  for (char c : subtype.substr(0, 200)) kind.push_back(c == '\n' || c == '\r' ? ' ' : c);
  std::string out = prompt;
  absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(program), "\n# Verdict: ", verdict);
  if (!kind.empty()) absl::StrAppend(&out, " (", kind, ")");
  absl::StrAppend(&out, "\n# Fixed solution\n");
  return out;
}

}  // namespace crucible
