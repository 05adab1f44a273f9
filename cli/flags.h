// Per-subcommand flag sets for the `crucible` command. Each subcommand owns a FlagSet that
// binds its flags to fields of that subcommand's own options struct; a field's value when
// Add() is called is the flag's default, as Usage() shows it. Parse() accepts
//   --name=value  --name value  --flag  --noflag  --no-flag  --flag=true|false
// with dashed and underscored spellings alike (--top-p and --top_p name one flag; Usage()
// shows the dashed spelling), and "--" ending the flags. A list flag takes comma-separated
// values and may be repeated; the first use on a command line replaces its default. A
// repeated flag (AddRepeated) takes one whole value per use, commas included.
//
// Parse() fails with absl::InvalidArgumentError naming the flag and what was expected:
// unknown flags (with a "did you mean" for a close name), flags of another subcommand (when
// the set was given a lookup of every other command's flags), missing values and bad
// numbers. --help or -h makes it return a status that IsHelpRequest() recognises, so the
// caller prints Usage() and exits 0. Fields are written as flags are parsed: after a failed
// Parse() some may hold new values. Libraries never see a FlagSet; it lives in cli/.
#ifndef CRUCIBLE_CLI_FLAGS_H_
#define CRUCIBLE_CLI_FLAGS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crucible::cli {

class FlagSet {
 public:
  // Given a flag name in canonical (underscored) spelling, the full name of another
  // command that has such a flag ("crucible learner offline"), if any.
  using ForeignFlagLookup = std::function<std::optional<std::string>(const std::string& name)>;

  // `command` is the full name users type, "crucible model generate".
  explicit FlagSet(std::string command, ForeignFlagLookup foreign = nullptr);

  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;
  FlagSet(FlagSet&&) = default;
  FlagSet& operator=(FlagSet&&) = default;

  // Binds flag `name` (either spelling) to `*field`, which must outlive every Parse() call.
  // Declaring one name twice, or "help", is a programming error (logged FATAL: aborts).
  void Add(absl::string_view name, std::string* field, absl::string_view help);
  void Add(absl::string_view name, bool* field, absl::string_view help);
  void Add(absl::string_view name, int* field, absl::string_view help);
  void Add(absl::string_view name, int64_t* field, absl::string_view help);
  void Add(absl::string_view name, uint64_t* field, absl::string_view help);
  void Add(absl::string_view name, double* field, absl::string_view help);
  void Add(absl::string_view name, std::vector<std::string>* field, absl::string_view help);
  // A list flag whose every use appends one value verbatim, commas and all
  // (--set a.b=x,y --set c.d=1).
  void AddRepeated(absl::string_view name, std::vector<std::string>* field, absl::string_view help);

  // A line or two printed above the flags in Usage(), after "usage: <command> [flags]".
  void SetDescription(std::string description) { description_ = std::move(description); }
  void SetForeignFlagLookup(ForeignFlagLookup foreign) { foreign_ = std::move(foreign); }

  // Parses `args` (without the program and command words) into the bound fields and
  // returns the positional arguments in order.
  absl::StatusOr<std::vector<std::string>> Parse(const std::vector<std::string>& args);

  // "usage: crucible model generate [flags]", the description, then one entry per flag in
  // declaration order with its type, default and help.
  std::string Usage() const;

  const std::string& command() const { return command_; }
  // Canonical (underscored) names of the declared flags, sorted.
  std::vector<std::string> Names() const;
  bool Has(absl::string_view name) const;

 private:
  using Field = std::variant<std::string*, bool*, int*, int64_t*, uint64_t*, double*,
                             std::vector<std::string>*>;
  struct Flag {
    std::string display;  // dashed spelling
    Field field;
    bool split = true;  // lists: split values at commas
    std::string default_text;
    std::string help;
    bool seen = false;  // during one Parse(): lists append after their first use
  };

  Flag& AddFlag(absl::string_view name, Field field, absl::string_view help);
  absl::Status Set(Flag& flag, absl::string_view value);
  absl::Status UnknownFlag(absl::string_view spelled, const std::string& canonical) const;

  std::string command_;
  ForeignFlagLookup foreign_;
  std::string description_;
  std::map<std::string, Flag> flags_;  // by canonical name
  std::vector<std::string> order_;     // canonical names in declaration order
};

// The status Parse() returns for --help / -h.
absl::Status HelpRequest(absl::string_view command);
bool IsHelpRequest(const absl::Status& status);

// "top-p" / "--top_p" -> "top_p": the spelling flags are matched by.
std::string CanonicalFlagName(absl::string_view name);

// Levenshtein distance, for "did you mean" suggestions here and in the run config.
int EditDistance(absl::string_view a, absl::string_view b);

// The candidate closest to `word` if it is close enough to be a likely typo, else "".
std::string ClosestMatch(absl::string_view word, const std::vector<std::string>& candidates);

// Shortest text that reads back as exactly `value`: plain decimals from 1e-4 to 1e15
// ("120", "0.0001"), the exponent form outside ("3e-05").
std::string FormatDouble(double value);

}  // namespace crucible::cli

#endif  // CRUCIBLE_CLI_FLAGS_H_
