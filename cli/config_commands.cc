// `crucible config ...`: the run configuration from the command line. `defaults` prints
// (or writes) deploy/configs/default.yaml's text from the schema; `show` loads a run file
// with --set overrides, validates it and prints the resolved config, every key included.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "cli/commands.h"
#include "cli/run_config.h"

namespace crucible::cli {
namespace {

Command Defaults() {
  return {"config defaults",
          "print every run-config key with its default (deploy/configs/default.yaml)",
          [](FlagSet& flags) -> CommandRunner {
            auto out = std::make_shared<std::string>();
            flags.Add("out", out.get(), "write the file here instead of stdout");
            return [out](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible config defaults", positional)) return 2;
              if (out->empty()) {
                std::fputs(DefaultRunConfigYaml().c_str(), stdout);
                return 0;
              }
              if (absl::Status s = WriteDefaultRunConfig(*out); !s.ok()) {
                std::fprintf(stderr, "crucible config defaults: %s\n",
                             std::string(s.message()).c_str());
                return 1;
              }
              return 0;
            };
          }};
}

Command Show() {
  return {"config show", "load and validate a run config; print every key resolved",
          [](FlagSet& flags) -> CommandRunner {
            struct Options {
              std::string config;
              std::vector<std::string> sets;
            };
            auto o = std::make_shared<Options>();
            flags.Add("config", &o->config, "run config (YAML); \"\": the defaults");
            flags.AddRepeated("set", &o->sets, "override one key: --set key.path=value");
            return [o](const std::vector<std::string>& positional) {
              if (!NoPositionalArguments("crucible config show", positional)) return 2;
              absl::StatusOr<RunConfig> config = LoadRunConfig(o->config, o->sets);
              if (!config.ok()) {
                // One problem per line, each with the command's prefix.
                const std::string message = absl::StrReplaceAll(
                    config.status().message(), {{"\n", "\ncrucible config show: "}});
                std::fprintf(stderr, "crucible config show: %s\n", message.c_str());
                return 2;
              }
              std::fputs(RunConfigToYaml(*config).c_str(), stdout);
              return 0;
            };
          }};
}

}  // namespace

std::vector<Command> ConfigCommands() { return {Defaults(), Show()}; }

}  // namespace crucible::cli
