#include "cli/command.h"

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"

namespace crucible::cli {
namespace {

constexpr absl::string_view kProgram = "crucible";

std::vector<std::string> Words(const std::string& name) {
  return absl::StrSplit(name, ' ', absl::SkipEmpty());
}

bool StartsWithWords(const std::vector<std::string>& line, const std::vector<std::string>& words) {
  if (words.size() > line.size()) return false;
  for (size_t i = 0; i < words.size(); ++i) {
    if (line[i] != words[i]) return false;
  }
  return true;
}

// The commands whose names begin with `prefix` (all of them for an empty prefix), listed
// with their summaries.
std::string CommandList(const std::vector<Command>& table, const std::vector<std::string>& prefix) {
  size_t width = 0;
  for (const Command& c : table) {
    if (StartsWithWords(Words(c.name), prefix)) width = std::max(width, c.name.size());
  }
  std::string out = absl::StrCat("usage: ", kProgram, " <command> [flags]; ", kProgram,
                                 " <command> --help lists a command's flags\n\ncommands:\n");
  for (const Command& c : table) {
    if (!StartsWithWords(Words(c.name), prefix)) continue;
    absl::StrAppend(&out, "  ", c.name, std::string(width - c.name.size() + 2, ' '), c.summary,
                    "\n");
  }
  return out;
}

bool IsHelpFlag(const std::string& arg) { return arg == "--help" || arg == "-h" || arg == "-help"; }

}  // namespace

int RunCommandLine(const std::vector<Command>& table, const std::vector<std::string>& args,
                   std::ostream& out, std::ostream& err) {
  // Every command's flags, declared once: the chosen command's set parses, the others say
  // whose a foreign flag is.
  std::map<std::string, std::vector<std::string>> owners;  // canonical flag -> commands
  std::vector<std::unique_ptr<FlagSet>> sets;
  std::vector<CommandRunner> runners;
  for (const Command& c : table) {
    const std::string full = absl::StrCat(kProgram, " ", c.name);
    for (const Command& other : table) {
      if (&other != &c && other.name == c.name) {
        CRUCIBLE_LOG(Fatal) << "two commands named \"" << c.name << "\" in the table";
      }
    }
    auto flags = std::make_unique<FlagSet>(full);
    flags->SetDescription(c.summary);
    runners.push_back(c.declare(*flags));
    for (const std::string& name : flags->Names()) owners[name].push_back(full);
    sets.push_back(std::move(flags));
  }
  for (auto& flags : sets) {
    const std::string self = flags->command();
    flags->SetForeignFlagLookup(
        [&owners, self](const std::string& name) -> std::optional<std::string> {
          auto it = owners.find(name);
          if (it == owners.end()) return std::nullopt;
          std::vector<std::string> others;
          for (const std::string& owner : it->second) {
            if (owner != self) others.push_back(owner);
          }
          if (others.empty()) return std::nullopt;
          // Spliced between backticks by the caller: "`A`, `B` and `C`".
          const std::string last = others.back();
          others.pop_back();
          if (others.empty()) return last;
          return absl::StrCat(absl::StrJoin(others, "`, `"), "` and `", last);
        });
  }

  // The leading words select the command: the longest name they begin with.
  std::vector<std::string> words;
  for (const std::string& arg : args) {
    if (absl::StartsWith(arg, "-")) break;
    words.push_back(arg);
  }
  int chosen = -1;
  size_t chosen_words = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    const std::vector<std::string> name = Words(table[i].name);
    if (StartsWithWords(words, name) && name.size() > chosen_words) {
      chosen = static_cast<int>(i);
      chosen_words = name.size();
    }
  }
  const bool help = [&] {
    for (const std::string& arg : args) {
      if (arg == "--") return false;
      if (IsHelpFlag(arg)) return true;
    }
    return false;
  }();

  if (chosen < 0) {
    // The longest run of words that begins some command's name: a group ("model") or
    // nothing at all.
    std::vector<std::string> group;
    for (const std::string& w : words) {
      std::vector<std::string> candidate = group;
      candidate.push_back(w);
      bool any = false;
      for (const Command& c : table) any = any || StartsWithWords(Words(c.name), candidate);
      if (!any) break;
      group = std::move(candidate);
    }
    const std::string list = CommandList(table, group);
    if (group.size() == words.size() && help) {
      out << list;
      return 0;
    }
    if (group.size() == words.size()) {
      err << kProgram << (group.empty() ? "" : " ") << absl::StrJoin(group, " ")
          << ": which command?\n"
          << list;
      return 2;
    }
    std::vector<std::string> next_words;
    for (const Command& c : table) {
      const std::vector<std::string> name = Words(c.name);
      if (StartsWithWords(name, group) && name.size() > group.size()) {
        next_words.push_back(name[group.size()]);
      }
    }
    const std::string unknown = words[group.size()];
    err << kProgram << ": unknown command \""
        << absl::StrJoin(words.begin(), words.begin() + group.size() + 1, " ") << "\"";
    const std::string close = ClosestMatch(unknown, next_words);
    if (!close.empty()) {
      std::vector<std::string> suggestion = group;
      suggestion.push_back(close);
      err << " (did you mean \"" << absl::StrJoin(suggestion, " ") << "\"?)";
    }
    err << "\n" << list;
    return 2;
  }

  FlagSet& flags = *sets[chosen];
  const std::vector<std::string> rest(args.begin() + chosen_words, args.end());
  absl::StatusOr<std::vector<std::string>> positional = flags.Parse(rest);
  if (!positional.ok() && IsHelpRequest(positional.status())) {
    out << flags.Usage();
    return 0;
  }
  if (!positional.ok()) {
    err << flags.command() << ": " << positional.status().message() << "\n";
    return 2;
  }
  return runners[chosen](*positional);
}

int RunCommandLine(const std::vector<Command>& table, int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  const int status = RunCommandLine(table, args, std::cout, std::cerr);
  std::cout.flush();
  return status;
}

bool NoPositionalArguments(const std::string& command, const std::vector<std::string>& positional) {
  if (positional.empty()) return true;
  std::fprintf(stderr, "%s: unexpected argument '%s'; see `%s --help`\n", command.c_str(),
               positional[0].c_str(), command.c_str());
  return false;
}

}  // namespace crucible::cli
