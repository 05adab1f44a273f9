// RunCommandLine over a pretend table: the longest command name wins, each command parses
// only its own flags (another's is an error naming it), --help prints usage and exits 0,
// unknown commands and groups list the commands and exit 2. And the stop signals.
#include "cli/command.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <memory>
#include <sstream>

#include "absl/strings/match.h"
#include "cli/signals.h"

namespace crucible::cli {
namespace {

// What the runners saw.
struct Calls {
  std::string command;
  std::vector<std::string> positional;
  std::string checkpoint;
  int n = 0;
  std::string algo;
};

std::vector<Command> Table(std::shared_ptr<Calls> calls) {
  return {
      {"model generate", "sample completions",
       [calls](FlagSet& flags) -> CommandRunner {
         auto o = std::make_shared<Calls>();
         o->n = 1;
         flags.Add("checkpoint", &o->checkpoint, "the model directory");
         flags.Add("n", &o->n, "completions");
         return [calls, o](const std::vector<std::string>& positional) {
           *calls = *o;
           calls->command = "model generate";
           calls->positional = positional;
           return 0;
         };
       }},
      {"model init", "write a fresh model",
       [calls](FlagSet& flags) -> CommandRunner {
         auto o = std::make_shared<Calls>();
         flags.Add("checkpoint", &o->checkpoint, "output directory");
         return [calls, o](const std::vector<std::string>& positional) {
           *calls = *o;
           calls->command = "model init";
           return 3;
         };
       }},
      {"learner offline", "train from a file",
       [calls](FlagSet& flags) -> CommandRunner {
         auto o = std::make_shared<Calls>();
         flags.Add("algo", &o->algo, "objective");
         flags.Add("checkpoint", &o->checkpoint, "training checkpoints");
         flags.Add("data", &o->algo, "training data");
         return [calls, o](const std::vector<std::string>& positional) {
           *calls = *o;
           calls->command = "learner offline";
           return 0;
         };
       }},
      {"learner offline extra", "a longer name sharing a prefix",
       [calls](FlagSet& flags) -> CommandRunner {
         auto data = std::make_shared<std::string>();
         flags.Add("data", data.get(), "training data");
         return [calls](const std::vector<std::string>& positional) {
           calls->command = "learner offline extra";
           calls->positional = positional;
           return 0;
         };
       }},
  };
}

struct Result {
  int status;
  std::string out, err;
};

Result Run(const std::vector<std::string>& args, std::shared_ptr<Calls> calls) {
  std::ostringstream out, err;
  const int status = RunCommandLine(Table(calls), args, out, err);
  return {status, out.str(), err.str()};
}

TEST_CASE("command: the longest matching name runs with its own flags", "[flags][command]") {
  auto calls = std::make_shared<Calls>();
  Result r = Run({"model", "generate", "--checkpoint", "/m", "--n=4", "left", "over"}, calls);
  CHECK(r.status == 0);
  CHECK(calls->command == "model generate");
  CHECK(calls->checkpoint == "/m");
  CHECK(calls->n == 4);
  CHECK(calls->positional == std::vector<std::string>{"left", "over"});

  r = Run({"model", "init", "--checkpoint", "/x"}, calls);
  CHECK(r.status == 3);  // the runner's status
  CHECK(calls->command == "model init");

  r = Run({"learner", "offline", "extra", "p"}, calls);
  CHECK(calls->command == "learner offline extra");
  CHECK(calls->positional == std::vector<std::string>{"p"});
  r = Run({"learner", "offline", "--algo", "sft"}, calls);
  CHECK(calls->command == "learner offline");
  CHECK(calls->algo == "sft");
}

TEST_CASE("command: a flag of another command is an error naming that command",
          "[flags][command]") {
  auto calls = std::make_shared<Calls>();
  calls->command = "none";
  Result r = Run({"model", "generate", "--algo", "x"}, calls);
  CHECK(r.status == 2);
  CHECK(calls->command == "none");
  CHECK(r.err ==
        "crucible model generate: --algo is a flag of `crucible learner offline`, not of "
        "`crucible model generate`\n");
  // --n is only model generate's.
  r = Run({"model", "init", "--n", "2"}, calls);
  CHECK(r.status == 2);
  CHECK(absl::StrContains(
      r.err, "--n is a flag of `crucible model generate`, not of `crucible model init`"));
  // A flag of several other commands names them all.
  r = Run({"model", "init", "--data=x"}, calls);
  CHECK(r.err ==
        "crucible model init: --data is a flag of `crucible learner offline` and `crucible learner "
        "offline extra`, not of `crucible model init`\n");
  // Shared names are each command's own.
  r = Run({"learner", "offline", "--checkpoint", "/ck"}, calls);
  CHECK(r.status == 0);
  CHECK(calls->checkpoint == "/ck");
  // A misspelt flag gets a suggestion.
  r = Run({"model", "generate", "--checkpont", "/m"}, calls);
  CHECK(r.status == 2);
  CHECK(absl::StrContains(r.err, "did you mean --checkpoint?"));
}

TEST_CASE("command: --help prints the command's usage and exits 0", "[flags][command]") {
  auto calls = std::make_shared<Calls>();
  calls->command = "none";
  Result r = Run({"model", "generate", "--help"}, calls);
  CHECK(r.status == 0);
  CHECK(calls->command == "none");
  INFO(r.out);
  CHECK(absl::StartsWith(r.out, "usage: crucible model generate [flags]\n"));
  CHECK(absl::StrContains(r.out, "sample completions"));
  CHECK(absl::StrContains(r.out, "--checkpoint (string, default \"\")"));
  CHECK_FALSE(absl::StrContains(r.out, "--algo"));
  CHECK(r.err.empty());
}

TEST_CASE("command: command lists for --help, groups and unknown commands", "[flags][command]") {
  auto calls = std::make_shared<Calls>();
  Result help = Run({"--help"}, calls);
  CHECK(help.status == 0);
  // Names padded to the longest ("learner offline extra") plus two spaces.
  CHECK(absl::StrContains(help.out, "\n  model generate         sample completions\n"));
  CHECK(absl::StrContains(help.out, "\n  learner offline        train from a file\n"));

  Result bare = Run({}, calls);
  CHECK(bare.status == 2);
  CHECK(absl::StrContains(bare.err, "model generate"));

  Result group = Run({"model"}, calls);
  CHECK(group.status == 2);
  CHECK(absl::StrContains(group.err, "crucible model: which command?"));
  CHECK(absl::StrContains(group.err, "model init"));
  CHECK_FALSE(absl::StrContains(group.err, "learner offline"));
  Result group_help = Run({"model", "--help"}, calls);
  CHECK(group_help.status == 0);
  CHECK(absl::StrContains(group_help.out, "model init"));

  Result unknown = Run({"model", "generat", "--n", "2"}, calls);
  CHECK(unknown.status == 2);
  CHECK(absl::StartsWith(unknown.err,
                         "crucible: unknown command \"model generat\" (did you mean \"model "
                         "generate\"?)\n"));
  Result other = Run({"frobnicate"}, calls);
  CHECK(other.status == 2);
  CHECK(absl::StartsWith(other.err, "crucible: unknown command \"frobnicate\"\n"));
}

TEST_CASE("command: NoPositionalArguments", "[command]") {
  CHECK(NoPositionalArguments("crucible x", {}));
  CHECK_FALSE(NoPositionalArguments("crucible x", {"stray"}));
}

TEST_CASE("signals: SIGTERM and SIGINT set the stop flag instead of killing", "[signals]") {
  InstallStopSignals();
  InstallStopSignals();  // idempotent
  const std::atomic<bool>& stop = StopRequested();
  CHECK_FALSE(stop.load());
  CHECK(StopSignal() == 0);
  REQUIRE(raise(SIGTERM) == 0);
  CHECK(stop.load());
  CHECK(StopSignal() == SIGTERM);
  // Repeated SIGTERMs keep the flag; the first signal stays the one reported.
  REQUIRE(raise(SIGTERM) == 0);
  REQUIRE(raise(SIGINT) == 0);
  CHECK(StopSignal() == SIGTERM);
  CHECK(&StopRequested() == &stop);
}

}  // namespace
}  // namespace crucible::cli
