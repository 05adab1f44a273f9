#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "common/files.h"
#include "common/model/safetensors.h"

namespace crucible::model {
namespace {

TEST_CASE("safetensors round-trips every dtype, memory-mapped", "[safetensors]") {
  auto dir = ScopedTempDir::Create(TempRoot(), "st");
  REQUIRE(dir.ok());
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"a.f32", torch::randn({3, 4})},
      {"b.bf16", torch::randn({5}).to(torch::kBFloat16)},
      {"c.f16", torch::randn({2, 2, 2}).to(torch::kFloat16)},
      {"d.i64", torch::arange(7)},
      {"e.scalar", torch::tensor(3.5f)},
      {"f.empty", torch::zeros({0, 4})},
  };
  const std::string path = dir->path() + "/t.safetensors";
  REQUIRE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());
  auto file = SafetensorsFile::Open(path);
  REQUIRE(file.ok());
  CHECK((*file)->metadata().at("format") == "pt");
  CHECK((*file)->names().size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO(name);
    auto got = (*file)->Get(name);
    REQUIRE(got.ok());
    CHECK(got->scalar_type() == t.scalar_type());
    CHECK(got->sizes() == t.sizes());
    CHECK(torch::equal(*got, t));
  }
  // The data starts 8-byte aligned after the header.
  auto bytes = ReadFile(path);
  uint64_t header_len;
  std::memcpy(&header_len, bytes->data(), 8);
  CHECK((8 + header_len) % 8 == 0);
}

TEST_CASE("sharded checkpoints read as one", "[safetensors]") {
  auto dir = ScopedTempDir::Create(TempRoot(), "shards");
  REQUIRE(dir.ok());
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (int i = 0; i < 6; ++i) tensors.emplace_back("w" + std::to_string(i), torch::full({100}, float(i)));
  REQUIRE(WriteShardedSafetensors(dir->path(), tensors, /*max_shard_bytes=*/900).ok());
  CHECK(::access((dir->path() + "/model-00001-of-00003.safetensors").c_str(), F_OK) == 0);
  auto source = TensorSource::Open(dir->path());
  REQUIRE(source.ok());
  CHECK(source->names().size() == 6);
  CHECK((*source->Get("w5"))[0].item<float>() == 5.0f);
}

TEST_CASE("malformed safetensors files are refused with the reason", "[safetensors]") {
  auto dir = ScopedTempDir::Create(TempRoot(), "bad");
  REQUIRE(dir.ok());
  const std::string path = dir->path() + "/x.safetensors";
  auto write = [&](const std::string& header, size_t data_bytes) {
    std::string out(8, '\0');
    uint64_t n = header.size();
    std::memcpy(out.data(), &n, 8);
    out += header + std::string(data_bytes, '\0');
    REQUIRE(WriteFile(path, out).ok());
    return SafetensorsFile::Open(path).status();
  };
  CHECK(absl::StrContains(write("{not json", 0).message(), "not a JSON object"));
  CHECK(absl::StrContains(write(R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}})", 8).message(),
                          "data_offsets [0, 8) do not hold [4] of F32"));
  CHECK(absl::StrContains(write(R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8).message(),
                          "do not hold"));
  CHECK(absl::StrContains(write(R"({"t": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}})", 1).message(),
                          "unsupported dtype \"Q4\""));
  REQUIRE(WriteFile(path, "abc").ok());
  CHECK(absl::StrContains(SafetensorsFile::Open(path).status().message(), "too short"));
}

}  // namespace
}  // namespace crucible::model
