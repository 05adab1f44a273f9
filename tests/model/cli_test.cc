// `crucible model ...` as scripts call it: the real binary, its JSON, its exit statuses.
#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/model/checkpoint.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "tests/model/model_test_util.h"

namespace crucible::model {
namespace {

using nlohmann::json;

ProcessResult Crucible(std::vector<std::string> args) {
  args.insert(args.begin(), ExecutableDir() + "/crucible");
  auto r = RunProcess(args, "", std::chrono::minutes(2));
  REQUIRE(r.ok());
  return *std::move(r);
}

TEST_CASE("crucible model init, logits, tokenize, detokenize and generate", "[cli]") {
  auto dir = ScopedTempDir::Create(TempRoot(), "cli");
  REQUIRE(dir.ok());
  const std::string ck = dir->path() + "/tiny";
  ProcessResult init = Crucible({"model", "init", "--config", std::string(CRUCIBLE_SOURCE_DIR) + "/data/models/tiny.json",
                                 "--out", ck, "--seed", "4"});
  INFO(init.stderr_data);
  REQUIRE(init.exit_code == 0);
  CHECK(json::parse(init.stdout_data)["parameters"].get<int64_t>() > 0);

  ProcessResult logits = Crucible({"model", "logits", "--checkpoint", ck, "--token-ids", "10,20,30", "--all"});
  REQUIRE(logits.exit_code == 0);
  json l = json::parse(logits.stdout_data);
  REQUIRE(l["logits"].size() == 3);
  auto model = LoadCausalLm(ck, ModelOptions{});
  REQUIRE(model.ok());
  c10::InferenceMode inference;
  torch::Tensor direct = (*model)->forward(torch::tensor({10, 20, 30}).unsqueeze(0)).squeeze(0);
  for (int t = 0; t < 3; ++t) {
    torch::Tensor row = torch::tensor(l["logits"][t].get<std::vector<float>>());
    CHECK(testing::MaxAbsDiff(row, direct[t]) < 1e-6);
  }
  ProcessResult bad = Crucible({"model", "logits", "--checkpoint", ck, "--token-ids", "1,99999"});
  CHECK(bad.exit_code == 2);
  CHECK(absl::StrContains(bad.stderr_data, "outside the vocabulary"));

  ProcessResult tok = Crucible({"model", "tokenize", "--tokenizer", "bytes", "--text", "hi!"});
  REQUIRE(tok.exit_code == 0);
  CHECK(json::parse(tok.stdout_data) == json({104, 105, 33}));
  ProcessResult detok = Crucible({"model", "detokenize", "--tokenizer", "bytes", "--ids", "104,105,33"});
  REQUIRE(detok.exit_code == 0);
  CHECK(json::parse(detok.stdout_data) == "hi!");

  ProcessResult gen = Crucible({"model", "generate", "--checkpoint", ck, "--prompt", "def f(", "--n", "3",
                                "--temperature", "0.8", "--top-p", "0.95", "--max-new-tokens", "7", "--seed", "2",
                                "--json"});
  INFO(gen.stderr_data);
  REQUIRE(gen.exit_code == 0);
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(gen.stdout_data, '\n', absl::SkipEmpty())) {
    json c = json::parse(line);
    CHECK(c["tokens"].size() <= 7);
    CHECK(c["logprobs"].size() == c["tokens"].size());
    ++lines;
  }
  CHECK(lines == 3);
  // Same seed, same completions.
  ProcessResult again = Crucible({"model", "generate", "--checkpoint", ck, "--prompt", "def f(", "--n", "3",
                                  "--temperature", "0.8", "--top-p", "0.95", "--max-new-tokens", "7", "--seed", "2",
                                  "--json"});
  CHECK(again.stdout_data == gen.stdout_data);
  CHECK(Crucible({"model", "frobnicate"}).exit_code == 2);

  // Compute in bfloat16: close to float32, not identical.
  ProcessResult bf16 = Crucible({"model", "logits", "--checkpoint", ck, "--token-ids", "10,20,30", "--dtype", "bf16"});
  INFO(bf16.stderr_data);
  REQUIRE(bf16.exit_code == 0);
  torch::Tensor low = torch::tensor(json::parse(bf16.stdout_data)["logits"].get<std::vector<float>>());
  CHECK(testing::MaxAbsDiff(low, direct[2]) < 0.1);
  CHECK(testing::MaxAbsDiff(low, direct[2]) > 0);
  // Devices and dtypes that cannot be had are refused, not ignored.
  ProcessResult device = Crucible({"model", "logits", "--checkpoint", ck, "--token-ids", "1", "--device", "tpu:7"});
  CHECK(device.exit_code == 2);
  CHECK(absl::StrContains(device.stderr_data, "unknown device"));
  if (!torch::cuda::is_available()) {
    ProcessResult cuda = Crucible({"model", "logits", "--checkpoint", ck, "--token-ids", "1", "--device", "cuda"});
    CHECK(cuda.exit_code == 2);
    CHECK(absl::StrContains(cuda.stderr_data, "CUDA is not available"));
  }
  CHECK(Crucible({"model", "logits", "--checkpoint", ck, "--token-ids", "1", "--dtype", "float8"}).exit_code == 2);
}

}  // namespace
}  // namespace crucible::model
