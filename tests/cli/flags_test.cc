// FlagSet: every accepted spelling, the errors (unknown with a suggestion, another
// command's flag, missing value, bad number), --help, and Usage().
#include "cli/flags.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"

namespace crucible::cli {
namespace {

// The options of a pretend `crucible model generate`, with its flags bound.
struct Generate {
  std::string checkpoint;
  std::string device = "cpu";
  bool greedy = false;
  bool json = true;
  int n = 1;
  int64_t top_k = 0;
  uint64_t seed = 0;
  double top_p = 1.0;
  std::vector<std::string> stop = {"\n\n"};
  std::vector<std::string> sets;
  FlagSet flags{"crucible model generate"};

  Generate() {
    flags.Add("checkpoint", &checkpoint, "the model directory");
    flags.Add("device", &device, "cpu, cuda or cuda:N");
    flags.Add("greedy", &greedy, "greedy decoding");
    flags.Add("json", &json, "JSON lines");
    flags.Add("n", &n, "completions");
    flags.Add("top_k", &top_k, "top-k (0: off)");
    flags.Add("seed", &seed, "random seed");
    flags.Add("top-p", &top_p, "nucleus sampling mass");
    flags.Add("stop", &stop, "stop strings");
    flags.AddRepeated("set", &sets, "key=value");
  }
};

std::string ErrorOf(const absl::StatusOr<std::vector<std::string>>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(IsHelpRequest(r.status()));
  return std::string(r.status().message());
}

TEST_CASE("flags: --name=value and --name value, either spelling", "[flags]") {
  Generate g;
  auto r = g.flags.Parse({"--checkpoint=/m", "--device", "cuda:1", "--top_p", "0.95", "--top-k=7",
                          "--n", "3", "--seed=18446744073709551615"});
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK(g.checkpoint == "/m");
  CHECK(g.device == "cuda:1");
  CHECK(g.top_p == 0.95);
  CHECK(g.top_k == 7);
  CHECK(g.n == 3);
  CHECK(g.seed == 18446744073709551615ull);
}

TEST_CASE("flags: booleans take --flag, --noflag, --no-flag and =true|false", "[flags]") {
  Generate g;
  REQUIRE(g.flags.Parse({"--greedy", "--nojson"}).ok());
  CHECK(g.greedy);
  CHECK_FALSE(g.json);
  REQUIRE(g.flags.Parse({"--greedy=false", "--json=true"}).ok());
  CHECK_FALSE(g.greedy);
  CHECK(g.json);
  REQUIRE(g.flags.Parse({"--no-json"}).ok());
  CHECK_FALSE(g.json);
  // A boolean never takes the next word: "false" here is a positional argument.
  auto r = g.flags.Parse({"--greedy", "false"});
  REQUIRE(r.ok());
  CHECK(g.greedy);
  CHECK(*r == std::vector<std::string>{"false"});

  CHECK(ErrorOf(g.flags.Parse({"--greedy=maybe"})) ==
        "--greedy: expected true or false, got 'maybe'");
  CHECK(absl::StrContains(ErrorOf(g.flags.Parse({"--nojson=1"})), "--nojson takes no value"));
}

TEST_CASE("flags: positionals, -- ends the flags, values that look like numbers", "[flags]") {
  Generate g;
  auto r = g.flags.Parse({"a", "--n", "2", "b", "--", "--n", "9", "-x"});
  REQUIRE(r.ok());
  CHECK(*r == std::vector<std::string>{"a", "b", "--n", "9", "-x"});
  CHECK(g.n == 2);
  // A value may start with a single dash.
  REQUIRE(g.flags.Parse({"--n", "-4", "-"}).ok());
  CHECK(g.n == -4);
  // A value starting with "--" needs the = form.
  REQUIRE(g.flags.Parse({"--checkpoint=--odd"}).ok());
  CHECK(g.checkpoint == "--odd");
}

TEST_CASE("flags: lists are comma-separated and repeatable, the first use replaces the default",
          "[flags]") {
  Generate g;
  REQUIRE(g.flags.Parse({}).ok());
  CHECK(g.stop == std::vector<std::string>{"\n\n"});
  REQUIRE(g.flags.Parse({"--stop", "a,b", "--stop=c"}).ok());
  CHECK(g.stop == std::vector<std::string>{"a", "b", "c"});
  // A new Parse starts over from what the field holds, replacing it on first use.
  REQUIRE(g.flags.Parse({"--stop=d"}).ok());
  CHECK(g.stop == std::vector<std::string>{"d"});
  // A repeated flag keeps commas.
  REQUIRE(g.flags.Parse({"--set", "problems.ids=a,b", "--set=run.seed=3"}).ok());
  CHECK(g.sets == std::vector<std::string>{"problems.ids=a,b", "run.seed=3"});
}

TEST_CASE("flags: bad numbers name the flag and what was expected", "[flags]") {
  Generate g;
  CHECK(ErrorOf(g.flags.Parse({"--n", "three"})) == "--n: expected an integer, got 'three'");
  CHECK(ErrorOf(g.flags.Parse({"--n=99999999999"})) ==
        "--n: expected an integer, got '99999999999'");
  CHECK(ErrorOf(g.flags.Parse({"--top-k", "1.5"})) == "--top-k: expected an integer, got '1.5'");
  CHECK(ErrorOf(g.flags.Parse({"--seed=-1"})) ==
        "--seed: expected a non-negative integer, got '-1'");
  CHECK(ErrorOf(g.flags.Parse({"--top_p", "high"})) == "--top-p: expected a number, got 'high'");
  CHECK(ErrorOf(g.flags.Parse({"--top-p", "nan"})) == "--top-p: expected a number, got 'nan'");
}

TEST_CASE("flags: a missing value is an error, also before another flag", "[flags]") {
  Generate g;
  CHECK(ErrorOf(g.flags.Parse({"--checkpoint"})) ==
        "--checkpoint: missing value (expected a string)");
  const std::string before = ErrorOf(g.flags.Parse({"--checkpoint", "--n", "2"}));
  CHECK(absl::StartsWith(before, "--checkpoint: missing value (expected a string)"));
  CHECK(absl::StrContains(before, "--checkpoint=VALUE"));
  CHECK(ErrorOf(g.flags.Parse({"--n"})) == "--n: missing value (expected an integer)");
}

TEST_CASE("flags: an unknown flag, with a suggestion when one is close", "[flags]") {
  Generate g;
  CHECK(ErrorOf(g.flags.Parse({"--topp", "0.9"})) ==
        "unknown flag --topp for `crucible model generate` (did you mean --top-p?); see "
        "`crucible model generate --help`");
  CHECK(absl::StrContains(ErrorOf(g.flags.Parse({"--chekpoint=x"})), "did you mean --checkpoint?"));
  const std::string far = ErrorOf(g.flags.Parse({"--temperature-schedule", "x"}));
  CHECK(absl::StartsWith(far, "unknown flag --temperature-schedule for `crucible model generate`"));
  CHECK_FALSE(absl::StrContains(far, "did you mean"));
  // --noX for a flag that is not a boolean is unknown, not a negation.
  CHECK(absl::StartsWith(ErrorOf(g.flags.Parse({"--non"})), "unknown flag --non"));
}

TEST_CASE("flags: a flag of another command says whose it is", "[flags]") {
  Generate g;
  g.flags.SetForeignFlagLookup([](const std::string& name) -> std::optional<std::string> {
    if (name == "algo" || name == "init_adapter" || name == "shuffle") {
      return "crucible learner offline";
    }
    return std::nullopt;
  });
  CHECK(ErrorOf(g.flags.Parse({"--algo", "x"})) ==
        "--algo is a flag of `crucible learner offline`, not of `crucible model generate`");
  CHECK(ErrorOf(g.flags.Parse({"--init-adapter=/a"})) ==
        "--init-adapter is a flag of `crucible learner offline`, not of `crucible model generate`");
  CHECK(ErrorOf(g.flags.Parse({"--noshuffle"})) ==
        "--noshuffle is a flag of `crucible learner offline`, not of `crucible model generate`");
  // The command's own flags still parse.
  REQUIRE(g.flags.Parse({"--n=2"}).ok());
}

TEST_CASE("flags: --help and -h are help requests, wherever they are", "[flags]") {
  Generate g;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"--n", "2", "--help"}, {"--help", "--bogus"}}) {
    auto r = g.flags.Parse(args);
    REQUIRE_FALSE(r.ok());
    CHECK(IsHelpRequest(r.status()));
  }
  // After "--" it is a positional like any other.
  auto r = g.flags.Parse({"--", "--help"});
  REQUIRE(r.ok());
  CHECK(*r == std::vector<std::string>{"--help"});
  CHECK_FALSE(IsHelpRequest(absl::InvalidArgumentError("help")));
  CHECK_FALSE(IsHelpRequest(absl::OkStatus()));
}

TEST_CASE("flags: Usage lists this command's flags with type, default and help", "[flags]") {
  Generate g;
  g.flags.SetDescription("sample completions of a prompt");
  const std::string usage = g.flags.Usage();
  INFO(usage);
  CHECK(absl::StartsWith(usage, "usage: crucible model generate [flags]\n"));
  CHECK(absl::StrContains(usage, "sample completions of a prompt"));
  CHECK(absl::StrContains(usage, "  --top-p (double, default 1)\n      nucleus sampling mass\n"));
  CHECK(absl::StrContains(usage, "  --top-k (int64, default 0)\n"));
  CHECK(absl::StrContains(usage, "  --device (string, default \"cpu\")\n"));
  CHECK(absl::StrContains(usage, "  --json (bool, default true)\n"));
  CHECK(absl::StrContains(usage, "  --seed (uint64, default 0)\n"));
  CHECK(absl::StrContains(usage, "  --n (int, default 1)\n"));
  CHECK(absl::StrContains(usage, "  --set (repeated, default \"\")\n"));
  CHECK_FALSE(absl::StrContains(usage, "top_p"));
  CHECK_FALSE(absl::StrContains(usage, "--algo"));
  // Declaration order.
  CHECK(usage.find("--checkpoint") < usage.find("--device"));
}

TEST_CASE("flags: the default shown is the field's value when the flag was added", "[flags]") {
  double lr = 1e-4;
  std::vector<std::string> modules = {"q_proj", "v_proj"};
  FlagSet flags("crucible x");
  flags.Add("lr", &lr, "peak learning rate");
  flags.Add("modules", &modules, "modules");
  lr = 7;
  const std::string usage = flags.Usage();
  CHECK(absl::StrContains(usage, "--lr (double, default 0.0001)"));
  CHECK(absl::StrContains(usage, "--modules (list, default \"q_proj,v_proj\")"));
  CHECK(flags.Names() == std::vector<std::string>{"lr", "modules"});
  CHECK(flags.Has("--lr"));
  CHECK_FALSE(flags.Has("top-p"));
}

TEST_CASE("flags: helpers", "[flags]") {
  CHECK(CanonicalFlagName("--max-new-tokens") == "max_new_tokens");
  CHECK(CanonicalFlagName("top_p") == "top_p");
  CHECK(EditDistance("kitten", "sitting") == 3);
  CHECK(EditDistance("", "abc") == 3);
  CHECK(EditDistance("top_p", "top_p") == 0);
  CHECK(ClosestMatch("cuont", {"count", "window"}) == "count");
  CHECK(ClosestMatch("n", {"lr", "id"}).empty());
  CHECK(FormatDouble(0.1) == "0.1");
  CHECK(FormatDouble(1e-4) == "0.0001");
  CHECK(FormatDouble(3e-5) == "3e-05");
  CHECK(FormatDouble(1.0) == "1");
  CHECK(FormatDouble(0.1 + 0.2) == "0.30000000000000004");
  CHECK(FormatDouble(120) == "120");
  CHECK(FormatDouble(-0.6) == "-0.6");
  CHECK(FormatDouble(1e20) == "1e+20");
  CHECK(FormatDouble(1.4e-5) == "1.4e-05");
}

}  // namespace
}  // namespace crucible::cli
