#include "cli/flags.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"

namespace crucible::cli {
namespace {

constexpr absl::string_view kHelpPayload = "type.crucible.dev/cli.HelpRequest";

// Dashed spelling for display: "top_p" -> "top-p".
std::string DisplayName(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

// What a flag of this type expects, for errors and usage.
struct TypeText {
  const char* usage;     // "int"
  const char* expected;  // "an integer"
};

template <typename Field>
TypeText TypeOf(const Field& field) {
  switch (field.index()) {
    case 0:
      return {"string", "a string"};
    case 1:
      return {"bool", "true or false"};
    case 2:
      return {"int", "an integer"};
    case 3:
      return {"int64", "an integer"};
    case 4:
      return {"uint64", "a non-negative integer"};
    case 5:
      return {"double", "a number"};
    default:
      return {"list", "comma-separated values"};
  }
}

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

}  // namespace

std::string CanonicalFlagName(absl::string_view name) {
  while (absl::ConsumePrefix(&name, "-")) {
  }
  return absl::StrReplaceAll(name, {{"-", "_"}});
}

int EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string ClosestMatch(absl::string_view word, const std::vector<std::string>& candidates) {
  // A typo changes a character or two; short words get less slack so that "n" does not
  // suggest "lr".
  const int limit = word.size() <= 4 ? 1 : (word.size() <= 8 ? 2 : 3);
  std::string best;
  int best_distance = limit + 1;
  for (const std::string& candidate : candidates) {
    const int d = EditDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string FormatDouble(double value) {
  char buffer[64];
  auto round_trips = [&] {
    double back = 0;
    return absl::SimpleAtod(buffer, &back) && back == value;
  };
  // Plain decimals where they are short enough to read ("120", "0.0001"), else the
  // shortest exponent form ("3e-05", "1e+20").
  const double magnitude = std::fabs(value);
  if (magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e15)) {
    for (int decimals = 0; decimals <= 20; ++decimals) {
      std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
      if (round_trips()) return buffer;
    }
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (round_trips()) break;
  }
  return buffer;
}

absl::Status HelpRequest(absl::string_view command) {
  absl::Status status(absl::StatusCode::kCancelled,
                      absl::StrCat("help requested for `", command, "`"));
  status.SetPayload(kHelpPayload, absl::Cord(command));
  return status;
}

bool IsHelpRequest(const absl::Status& status) {
  return status.GetPayload(kHelpPayload).has_value();
}

FlagSet::FlagSet(std::string command, ForeignFlagLookup foreign)
    : command_(std::move(command)), foreign_(std::move(foreign)) {}

FlagSet::Flag& FlagSet::AddFlag(absl::string_view name, Field field, absl::string_view help) {
  const std::string canonical = CanonicalFlagName(name);
  if (canonical.empty() || canonical == "help" || canonical == "h") {
    CRUCIBLE_LOG(Fatal) << command_ << ": bad flag name \"" << name << "\" (--help is reserved)";
  }
  Flag flag;
  flag.display = DisplayName(canonical);
  flag.field = field;
  flag.help = std::string(help);
  std::visit(
      [&](auto* f) {
        using T = std::remove_pointer_t<decltype(f)>;
        if (f == nullptr)
          CRUCIBLE_LOG(Fatal) << command_ << " --" << flag.display << ": null field";
        if constexpr (std::is_same_v<T, std::string>) {
          flag.default_text = Quote(*f);
        } else if constexpr (std::is_same_v<T, bool>) {
          flag.default_text = *f ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          flag.default_text = FormatDouble(*f);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          flag.default_text = Quote(absl::StrJoin(*f, ","));
        } else {
          flag.default_text = absl::StrCat(*f);
        }
      },
      field);
  auto [it, inserted] = flags_.emplace(canonical, std::move(flag));
  if (!inserted) {
    CRUCIBLE_LOG(Fatal) << command_ << ": flag --" << DisplayName(canonical) << " declared twice";
  }
  order_.push_back(canonical);
  return it->second;
}

void FlagSet::Add(absl::string_view name, std::string* field, absl::string_view help) {
  AddFlag(name, field, help);
}
void FlagSet::Add(absl::string_view name, bool* field, absl::string_view help) {
  AddFlag(name, field, help);
}
void FlagSet::Add(absl::string_view name, int* field, absl::string_view help) {
  AddFlag(name, field, help);
}
void FlagSet::Add(absl::string_view name, int64_t* field, absl::string_view help) {
  AddFlag(name, field, help);
}
void FlagSet::Add(absl::string_view name, uint64_t* field, absl::string_view help) {
  AddFlag(name, field, help);
}
void FlagSet::Add(absl::string_view name, double* field, absl::string_view help) {
  AddFlag(name, field, help);
}
void FlagSet::Add(absl::string_view name, std::vector<std::string>* field, absl::string_view help) {
  AddFlag(name, field, help);
}
void FlagSet::AddRepeated(absl::string_view name, std::vector<std::string>* field,
                          absl::string_view help) {
  AddFlag(name, field, help).split = false;
}

std::vector<std::string> FlagSet::Names() const {
  std::vector<std::string> names;
  names.reserve(flags_.size());
  for (const auto& [name, flag] : flags_) names.push_back(name);
  return names;
}

bool FlagSet::Has(absl::string_view name) const {
  return flags_.count(CanonicalFlagName(name)) > 0;
}

absl::Status FlagSet::Set(Flag& flag, absl::string_view value) {
  const bool first_use = !flag.seen;
  flag.seen = true;
  bool ok = true;
  std::visit(
      [&](auto* f) {
        using T = std::remove_pointer_t<decltype(f)>;
        if constexpr (std::is_same_v<T, std::string>) {
          *f = std::string(value);
        } else if constexpr (std::is_same_v<T, bool>) {
          ok = absl::SimpleAtob(value, f);
        } else if constexpr (std::is_same_v<T, double>) {
          double parsed = 0;
          ok = absl::SimpleAtod(value, &parsed) && std::isfinite(parsed);
          if (ok) *f = parsed;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          if (first_use) f->clear();
          if (!flag.split) {
            f->emplace_back(value);
            return;
          }
          for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
            f->emplace_back(part);
          }
        } else {
          T parsed = 0;
          ok = absl::SimpleAtoi(value, &parsed);
          if (ok) *f = parsed;
        }
      },
      flag.field);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--", flag.display, ": expected ", TypeOf(flag.field).expected, ", got '", value, "'"));
}

absl::Status FlagSet::UnknownFlag(absl::string_view spelled, const std::string& canonical) const {
  if (foreign_) {
    std::optional<std::string> owner = foreign_(canonical);
    if (!owner.has_value() && absl::StartsWith(canonical, "no")) {
      // --nogreedy / --no-greedy: a negated boolean of another command.
      std::string stripped = canonical.substr(2);
      if (absl::StartsWith(stripped, "_")) stripped = stripped.substr(1);
      if (!stripped.empty()) owner = foreign_(stripped);
    }
    if (owner.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(spelled, " is a flag of `", *owner, "`, not of `", command_, "`"));
    }
  }
  std::string message = absl::StrCat("unknown flag ", spelled, " for `", command_, "`");
  const std::string close = ClosestMatch(canonical, Names());
  if (!close.empty()) absl::StrAppend(&message, " (did you mean --", DisplayName(close), "?)");
  absl::StrAppend(&message, "; see `", command_, " --help`");
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<std::vector<std::string>> FlagSet::Parse(const std::vector<std::string>& args) {
  for (auto& [name, flag] : flags_) flag.seen = false;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    // "--name" and, as abseil accepted, "-name"; "-" and "-5" are positional.
    const bool is_flag =
        absl::StartsWith(arg, "--") ||
        (arg.size() > 1 && arg[0] == '-' && std::isalpha(static_cast<unsigned char>(arg[1])));
    if (!is_flag) {
      positional.push_back(arg);
      continue;
    }
    absl::string_view body = arg;
    const size_t eq = body.find('=');
    const bool has_value = eq != absl::string_view::npos;
    const absl::string_view spelled = body.substr(0, eq);
    const absl::string_view value = has_value ? body.substr(eq + 1) : absl::string_view();
    const std::string canonical = CanonicalFlagName(spelled);
    if (canonical == "help" || canonical == "h") return HelpRequest(command_);

    auto it = flags_.find(canonical);
    if (it != flags_.end()) {
      Flag& flag = it->second;
      if (std::holds_alternative<bool*>(flag.field)) {
        if (absl::Status s = Set(flag, has_value ? value : "true"); !s.ok()) return s;
        continue;
      }
      if (has_value) {
        if (absl::Status s = Set(flag, value); !s.ok()) return s;
        continue;
      }
      if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
        std::string message = absl::StrCat("--", flag.display, ": missing value (expected ",
                                           TypeOf(flag.field).expected, ")");
        if (i + 1 < args.size()) {
          absl::StrAppend(&message, "; for a value that starts with \"--\" write --", flag.display,
                          "=VALUE");
        }
        return absl::InvalidArgumentError(message);
      }
      if (absl::Status s = Set(flag, args[++i]); !s.ok()) return s;
      continue;
    }

    // --noflag / --no-flag for booleans.
    if (absl::StartsWith(canonical, "no")) {
      std::string stripped = canonical.substr(2);
      if (absl::StartsWith(stripped, "_")) stripped = stripped.substr(1);
      auto negated = flags_.find(stripped);
      if (negated != flags_.end() && std::holds_alternative<bool*>(negated->second.field)) {
        if (has_value) {
          return absl::InvalidArgumentError(absl::StrCat(spelled, " takes no value (write --",
                                                         negated->second.display, "=", value, ")"));
        }
        if (absl::Status s = Set(negated->second, "false"); !s.ok()) return s;
        continue;
      }
    }
    return UnknownFlag(spelled, canonical);
  }
  return positional;
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: ", command_, " [flags]\n");
  if (!description_.empty()) {
    absl::StrAppend(&out, "\n", description_);
    if (!absl::EndsWith(description_, "\n")) absl::StrAppend(&out, "\n");
  }
  if (order_.empty()) {
    absl::StrAppend(&out, "\nThis command takes no flags.\n");
    return out;
  }
  absl::StrAppend(&out, "\nflags:\n");
  for (const std::string& name : order_) {
    const Flag& flag = flags_.at(name);
    absl::StrAppend(&out, "  --", flag.display, " (",
                    flag.split ? TypeOf(flag.field).usage : "repeated", ", default ",
                    flag.default_text, ")\n");
    if (!flag.help.empty()) absl::StrAppend(&out, "      ", flag.help, "\n");
  }
  absl::StrAppend(&out,
                  "\nDashed and underscored spellings are alike (--a-b, --a_b); booleans also "
                  "take --noflag; \"--\" ends the flags.\n");
  return out;
}

}  // namespace crucible::cli
