#include "judge_workers/checker.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace crucible {
namespace {

constexpr size_t kQuoteLimit = 40;

std::string Quote(absl::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, kQuoteLimit)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += "?";
    } else {
      out += c;
    }
  }
  if (text.size() > kQuoteLimit) out += "...";
  return out + "\"";
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Walks whitespace-separated tokens without copying.
class Tokenizer {
 public:
  explicit Tokenizer(absl::string_view text) : text_(text) {}
  bool Next(absl::string_view* token) {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
    if (pos_ >= text_.size()) return false;
    size_t start = pos_;
    while (pos_ < text_.size() && !IsSpace(text_[pos_])) ++pos_;
    *token = text_.substr(start, pos_ - start);
    ++count_;
    return true;
  }
  size_t count() const { return count_; }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
  size_t count_ = 0;
};

std::string NormalizeNewlines(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class ExactChecker : public Checker {
 public:
  CheckOutcome Check(absl::string_view, absl::string_view expected,
                     absl::string_view actual) const override {
    std::string e = NormalizeNewlines(expected), a = NormalizeNewlines(actual);
    if (e == a) return {true, ""};
    size_t i = 0;
    while (i < e.size() && i < a.size() && e[i] == a[i]) ++i;
    size_t line = 1;
    for (size_t k = 0; k < i; ++k) line += e[k] == '\n';
    return {false, absl::StrCat("differs at byte ", i, " (line ", line, "): expected ",
                                Quote(absl::string_view(e).substr(i)), ", got ",
                                Quote(absl::string_view(a).substr(i)))};
  }
};

// Compares token streams; `same` decides whether two tokens match.
template <typename Same>
CheckOutcome CompareTokens(absl::string_view expected, absl::string_view actual, Same same) {
  Tokenizer e(expected), a(actual);
  absl::string_view et, at;
  while (true) {
    bool has_e = e.Next(&et);
    bool has_a = a.Next(&at);
    if (!has_e && !has_a) return {true, ""};
    if (!has_e) {
      return {false, absl::StrCat("extra output from token ", a.count(), ": ", Quote(at))};
    }
    if (!has_a) {
      return {false, absl::StrCat("output ends after ", a.count(), " tokens; expected ",
                                  Quote(et), " next")};
    }
    std::string why;
    if (!same(et, at, &why)) {
      return {false, absl::StrCat("token ", e.count(), ": expected ", Quote(et), ", got ",
                                  Quote(at), why)};
    }
  }
}

class TokensChecker : public Checker {
 public:
  CheckOutcome Check(absl::string_view, absl::string_view expected,
                     absl::string_view actual) const override {
    return CompareTokens(expected, actual,
                         [](absl::string_view e, absl::string_view a, std::string*) {
                           return e == a;
                         });
  }
};

// A finite number spelling the whole token.
bool ParseNumber(absl::string_view token, double* value) {
  if (token.empty() || token.size() > 64) return false;
  char buf[65];
  token.copy(buf, token.size());
  buf[token.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(buf, &end);
  if (end != buf + token.size() || !std::isfinite(v)) return false;
  // strtod accepts hexadecimal floats; a judge does not.
  for (char c : token) {
    if (c == 'x' || c == 'X') return false;
  }
  *value = v;
  return true;
}

class FloatChecker : public Checker {
 public:
  FloatChecker(double abs_tol, double rel_tol) : abs_tol_(abs_tol), rel_tol_(rel_tol) {}
  CheckOutcome Check(absl::string_view, absl::string_view expected,
                     absl::string_view actual) const override {
    return CompareTokens(
        expected, actual, [this](absl::string_view e, absl::string_view a, std::string* why) {
          double ev, av;
          if (!ParseNumber(e, &ev)) return e == a;
          if (!ParseNumber(a, &av)) {
            *why = " (not a number)";
            return false;
          }
          double diff = std::fabs(ev - av);
          if (diff <= abs_tol_ || diff <= rel_tol_ * std::fabs(ev)) return true;
          *why = absl::StrCat(" (difference ", diff, " beyond abs_tol ", abs_tol_,
                              " and rel_tol ", rel_tol_, ")");
          return false;
        });
  }

 private:
  double abs_tol_, rel_tol_;
};

}  // namespace

std::unique_ptr<Checker> MakeExactChecker() { return std::make_unique<ExactChecker>(); }
std::unique_ptr<Checker> MakeTokensChecker() { return std::make_unique<TokensChecker>(); }
std::unique_ptr<Checker> MakeFloatChecker(double abs_tol, double rel_tol) {
  return std::make_unique<FloatChecker>(abs_tol, rel_tol);
}

std::unique_ptr<Checker> MakeBuiltinChecker(const v1::Checker& spec) {
  switch (spec.kind()) {
    case v1::Checker::EXACT: return MakeExactChecker();
    case v1::Checker::FLOAT: return MakeFloatChecker(spec.abs_tol(), spec.rel_tol());
    case v1::Checker::PROGRAM: return nullptr;
    default: return MakeTokensChecker();
  }
}

}  // namespace crucible
