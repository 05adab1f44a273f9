// The adapter weight stream: the codec (CRC-32C, bf16, encoder, assembler) on hand-worked
// cases, then WeightPublisher and WeightSubscriber over real loopback gRPC servers.
#include "common/weight_stream.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "actors/weight_subscriber.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "learner/weight_publisher.h"

namespace crucible {
namespace {

using google::protobuf::util::MessageDifferencer;

uint32_t FloatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

float BitsFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint32_t CrcOf(const std::string& s) { return Crc32c(s.data(), s.size()); }

// A small PEFT adapter: three tensors of 15, 35 and 7 elements (57 in all).
const std::vector<std::string> kNames = {"base_model.model.layers.0.self_attn.q_proj.lora_A.weight",
                                         "base_model.model.layers.0.self_attn.q_proj.lora_B.weight",
                                         "base_model.model.layers.0.norm.weight"};
const std::vector<std::vector<int64_t>> kShapes = {{3, 5}, {5, 7}, {7}};

v1::PeftConfig Peft() {
  v1::PeftConfig peft;
  peft.set_r(8);
  peft.set_lora_alpha(16);
  peft.set_lora_dropout(0.05);
  peft.add_target_modules("q_proj");
  peft.add_target_modules("v_proj");
  return peft;
}

std::vector<float> Values(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * static_cast<float>(i) + 0.1f);
  return v;
}

WeightsVersion SmallVersion(const std::string& run_id, int64_t version, v1::DType dtype) {
  const std::vector<float> data = Values(57, 3.0f + static_cast<float>(version));
  auto v = MakeVersion(run_id, version, /*learner_step=*/10 * version, Peft(), kNames, kShapes,
                       data.data(), dtype);
  REQUIRE(v.ok());
  return *std::move(v);
}

// One tensor of `numel` float32 elements.
std::shared_ptr<const WeightsVersion> BigVersion(const std::string& run_id, int64_t version,
                                                 int64_t numel, v1::DType dtype = v1::F32) {
  const std::vector<float> data = Values(static_cast<size_t>(numel), static_cast<float>(version));
  auto v = MakeVersion(run_id, version, version, Peft(), {"base_model.model.lm_head.lora_A.weight"},
                       {{numel}}, data.data(), dtype);
  REQUIRE(v.ok());
  return std::make_shared<const WeightsVersion>(*std::move(v));
}

std::vector<v1::WeightsUpdate> Encode(const WeightsVersion& version, int64_t chunk_bytes) {
  std::vector<v1::WeightsUpdate> out;
  absl::Status s = EncodeVersion(version, chunk_bytes, [&](const v1::WeightsUpdate& u) {
    out.push_back(u);
    return true;
  });
  REQUIRE(s.ok());
  return out;
}

// Feeds every update but the last, each of which must be accepted without completing a
// version, and returns what the last one gives.
absl::StatusOr<std::shared_ptr<const WeightsVersion>> FeedAll(
    WeightsAssembler& assembler, const std::vector<v1::WeightsUpdate>& updates) {
  for (size_t i = 0; i + 1 < updates.size(); ++i) {
    auto r = assembler.Feed(updates[i]);
    INFO("update " << i);
    REQUIRE(r.ok());
    REQUIRE(*r == nullptr);
  }
  return assembler.Feed(updates.back());
}

void CheckSameVersion(const WeightsVersion& a, const WeightsVersion& b) {
  CHECK(a.run_id == b.run_id);
  CHECK(a.version == b.version);
  CHECK(a.learner_step == b.learner_step);
  CHECK(a.published_unix_ms == b.published_unix_ms);
  CHECK(MessageDifferencer::Equals(a.peft, b.peft));
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    CHECK(MessageDifferencer::Equals(a.tensors[i], b.tensors[i]));
  }
  CHECK(a.data() == b.data());
}

// Polls `done` every few milliseconds for at most `timeout`.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// ------------------------------------------------------------------------------------
// The codec.

TEST_CASE("weights: CRC-32C matches the published vectors and chains", "[weights]") {
  // "123456789" is the check value of every CRC catalogue; the 32-byte ones are RFC 3720
  // (iSCSI) appendix B.4.
  CHECK(CrcOf("123456789") == 0xE3069283u);
  CHECK(CrcOf("") == 0u);
  CHECK(CrcOf(std::string(32, '\0')) == 0x8A9136AAu);
  CHECK(CrcOf(std::string(32, '\xff')) == 0x62A8AB43u);
  std::string up, down;
  for (int i = 0; i < 32; ++i) {
    up.push_back(static_cast<char>(i));
    down.push_back(static_cast<char>(31 - i));
  }
  CHECK(CrcOf(up) == 0x46DD794Eu);
  CHECK(CrcOf(down) == 0x113FDB5Cu);
  CHECK(internal::Crc32cPortable("123456789", 9, 0) == 0xE3069283u);

  // Chaining at every split point, including every alignment of the second part.
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>((i * 131 + 7) % 251));
  const uint32_t whole = CrcOf(data);
  for (size_t split = 0; split <= data.size(); split += 37) {
    const uint32_t first = Crc32c(data.data(), split);
    CHECK(Crc32c(data.data() + split, data.size() - split, first) == whole);
  }
  CHECK(Crc32c("6789", 4, Crc32c("12345", 5)) == 0xE3069283u);

  // The table and the instruction agree on every length and start alignment.
  if (internal::Crc32cHardwareAvailable()) {
    for (size_t start = 0; start < 8; ++start) {
      for (size_t n = 0; n + start <= 200; n += 3) {
        INFO("start " << start << " length " << n);
        CHECK(internal::Crc32cHardware(data.data() + start, n, 0x12345678u) ==
              internal::Crc32cPortable(data.data() + start, n, 0x12345678u));
      }
    }
    // Long inputs take the three-lane path (blocks of 3 x 8 KiB, then 3 x 256 bytes): every
    // length around those block edges, from misaligned starts.
    std::string big(200000, '\0');
    uint32_t x = 2463534242u;
    for (char& c : big) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      c = static_cast<char>(x);
    }
    for (size_t start : {0, 3, 8}) {
      for (size_t edge : {768, 3 * 8192, 2 * 3 * 8192, 3 * 8192 + 768, 150000}) {
        for (size_t n = edge - 9; n <= edge + 9; ++n) {
          INFO("start " << start << " length " << n);
          CHECK(internal::Crc32cHardware(big.data() + start, n, 0xDEADBEEFu) ==
                internal::Crc32cPortable(big.data() + start, n, 0xDEADBEEFu));
        }
      }
    }
    CHECK(Crc32c(big.data(), big.size()) ==
          Crc32c(big.data() + 100001, big.size() - 100001, Crc32c(big.data(), 100001)));
  } else {
    WARN("this CPU has no SSE4.2: only the table implementation was checked");
  }
}

TEST_CASE("weights: bf16 rounds to nearest even and keeps NaN a NaN", "[weights]") {
  // Exactly representable: the low 16 bits are zero.
  CHECK(FloatToBf16(1.0f) == 0x3F80);
  CHECK(FloatToBf16(-2.0f) == 0xC000);
  CHECK(FloatToBf16(-0.0f) == 0x8000);
  CHECK(Bf16ToFloat(0x3F81) == 1.0078125f);  // 1 + 2^-7
  // 0x3F808000 = 1 + 2^-8, halfway between 0x3F80 (1) and 0x3F81 (1 + 2^-7): the even one.
  CHECK(FloatToBf16(BitsFloat(0x3F808000u)) == 0x3F80);
  // Halfway between 0x3F81 and 0x3F82: again the even one, this time upwards.
  CHECK(FloatToBf16(BitsFloat(0x3F818000u)) == 0x3F82);
  // Just either side of the tie.
  CHECK(FloatToBf16(BitsFloat(0x3F808001u)) == 0x3F81);
  CHECK(FloatToBf16(BitsFloat(0x3F807FFFu)) == 0x3F80);
  // Subnormals round the same way: 0x8000 of 0x10000 is a tie, to 0 (even); 0x18000 to 2.
  CHECK(FloatToBf16(BitsFloat(0x00008000u)) == 0x0000);
  CHECK(FloatToBf16(BitsFloat(0x00018000u)) == 0x0002);
  // Infinity stays; the largest float is past the last bf16 below infinity, 0x7F7F0000,
  // by more than half a step, so it rounds to infinity.
  CHECK(FloatToBf16(std::numeric_limits<float>::infinity()) == 0x7F80);
  CHECK(FloatToBf16(-std::numeric_limits<float>::infinity()) == 0xFF80);
  CHECK(FloatToBf16(std::numeric_limits<float>::max()) == 0x7F80);
  // A NaN whose payload is only in the low bits would truncate to infinity.
  CHECK(std::isnan(Bf16ToFloat(FloatToBf16(BitsFloat(0x7F800001u)))));
  CHECK(FloatToBf16(BitsFloat(0xFF800001u)) == 0xFFC0);  // sign kept
  CHECK(std::isnan(Bf16ToFloat(FloatToBf16(std::numeric_limits<float>::quiet_NaN()))));

  const std::vector<float> in = {1.0f, BitsFloat(0x3F818000u), -0.0f,
                                 std::numeric_limits<float>::infinity()};
  std::vector<uint16_t> narrow(in.size());
  FloatToBf16(in.data(), in.size(), narrow.data());
  CHECK(narrow == std::vector<uint16_t>{0x3F80, 0x3F82, 0x8000, 0x7F80});
  std::vector<float> wide(in.size());
  Bf16ToFloat(narrow.data(), narrow.size(), wide.data());
  CHECK(wide[0] == 1.0f);
  CHECK(wide[1] == 1.015625f);  // 0x3F82 = 1 + 2 * 2^-7
  CHECK(FloatBits(wide[2]) == 0x80000000u);
  CHECK(std::isinf(wide[3]));
}

TEST_CASE("weights: F16 tensors widen exactly", "[weights]") {
  WeightsVersion v;
  v.run_id = "run";
  v.version = 0;
  v1::TensorSpec* t = &v.tensors.emplace_back();
  t->set_name("half");
  t->add_shape(7);
  t->set_dtype(v1::F16);
  t->set_offset_bytes(0);
  t->set_size_bytes(14);
  const uint16_t halves[7] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8400, 0x7C00, 0x3555};
  v.bytes.assign(reinterpret_cast<const char*>(halves), sizeof(halves));
  auto f = DecodeFloat32(v);
  REQUIRE(f.ok());
  REQUIRE(f->size() == 7);
  CHECK((*f)[0] == 1.0f);
  CHECK((*f)[1] == -2.0f);
  CHECK((*f)[2] == 65504.0f);                // the largest half
  CHECK((*f)[3] == std::ldexp(1.0f, -24));   // the smallest subnormal
  CHECK((*f)[4] == -std::ldexp(1.0f, -14));  // the smallest normal, negated
  CHECK(std::isinf((*f)[5]));
  CHECK((*f)[6] == 0.333251953125f);  // 0x155 * 2^-10 * 2^-2 + 2^-2
  CHECK(std::isnan(F16ToFloat(0x7E00)));
}

TEST_CASE("weights: MakeVersion lays tensors out and refuses bad input", "[weights]") {
  const WeightsVersion f32 = SmallVersion("run", 3, v1::F32);
  REQUIRE(f32.tensors.size() == 3);
  CHECK(f32.tensors[1].offset_bytes() == 60);  // 15 floats
  CHECK(f32.tensors[1].size_bytes() == 140);   // 35 floats
  CHECK(f32.tensors[2].offset_bytes() == 200);
  CHECK(f32.bytes.size() == 228);
  const WeightsVersion bf16 = SmallVersion("run", 3, v1::BF16);
  CHECK(bf16.tensors[2].offset_bytes() == 100);
  CHECK(bf16.bytes.size() == 114);
  CHECK(ValidateLayout(bf16.tensors, 114).ok());

  const std::vector<float> data = Values(57, 1.0f);
  CHECK(absl::IsInvalidArgument(
      MakeVersion("run", 1, 0, Peft(), kNames, {{3, 5}}, data.data(), v1::F32).status()));
  CHECK(absl::IsInvalidArgument(
      MakeVersion("run", 1, 0, Peft(), kNames, kShapes, data.data(), v1::F16).status()));
  CHECK(absl::IsInvalidArgument(
      MakeVersion("", 1, 0, Peft(), kNames, kShapes, data.data(), v1::F32).status()));
  CHECK(absl::IsInvalidArgument(
      MakeVersion("run", -1, 0, Peft(), kNames, kShapes, data.data(), v1::F32).status()));
  CHECK(absl::IsInvalidArgument(
      MakeVersion("run", 1, 0, Peft(), {"a", "a"}, {{1}, {1}}, data.data(), v1::F32).status()));
  CHECK(absl::IsInvalidArgument(
      MakeVersion("run", 1, 0, Peft(), {"a"}, {{2, -1}}, data.data(), v1::F32).status()));
  CHECK(absl::IsInvalidArgument(
      MakeVersion("run", 1, 0, Peft(), kNames, kShapes, nullptr, v1::F32).status()));

  WeightsVersion broken = f32;
  broken.bytes.pop_back();
  CHECK(absl::IsInvalidArgument(DecodeFloat32(broken).status()));
}

TEST_CASE("weights: encode then assemble round-trips F32 and BF16", "[weights]") {
  const v1::DType dtype = GENERATE(v1::F32, v1::BF16);
  INFO("dtype " << v1::DType_Name(dtype));
  const WeightsVersion original = SmallVersion("run-a", 4, dtype);
  // 10 divides neither the total (228 or 114 bytes) nor any tensor (60/140/28, 30/70/14).
  const std::vector<v1::WeightsUpdate> updates = Encode(original, 10);
  const size_t chunks = (original.bytes.size() + 9) / 10;
  REQUIRE(updates.size() == chunks + 2);
  REQUIRE(updates.front().has_manifest());
  CHECK(updates.front().manifest().total_bytes() == static_cast<int64_t>(original.bytes.size()));
  CHECK(updates.front().manifest().run_id() == "run-a");
  int64_t offset = 0;
  for (size_t i = 1; i <= chunks; ++i) {
    REQUIRE(updates[i].has_chunk());
    CHECK(updates[i].version() == 4);
    CHECK(updates[i].chunk().offset_bytes() == offset);
    CHECK(updates[i].chunk().data().size() <= 10);
    offset += static_cast<int64_t>(updates[i].chunk().data().size());
  }
  CHECK(offset == static_cast<int64_t>(original.bytes.size()));
  REQUIRE(updates.back().has_commit());
  CHECK(updates.back().commit().crc32c() == CrcOf(original.bytes));

  WeightsAssembler assembler;
  auto result = FeedAll(assembler, updates);
  REQUIRE(result.ok());
  REQUIRE(*result != nullptr);
  CheckSameVersion(**result, original);
  CHECK_FALSE(assembler.in_progress());

  auto decoded = DecodeFloat32(**result);
  REQUIRE(decoded.ok());
  const std::vector<float> expected = Values(57, 3.0f + 4);
  REQUIRE(decoded->size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i);
    if (dtype == v1::F32) {
      CHECK((*decoded)[i] == expected[i]);
    } else {
      CHECK((*decoded)[i] == Bf16ToFloat(FloatToBf16(expected[i])));
      // bf16 keeps 8 significant bits: the error is at most half of 2^-7 relative.
      CHECK(std::fabs((*decoded)[i] - expected[i]) <= std::fabs(expected[i]) * 0x1p-8f);
    }
  }

  // The same assembler takes the next version too.
  const WeightsVersion next = SmallVersion("run-a", 5, dtype);
  auto again = FeedAll(assembler, Encode(next, 7));
  REQUIRE(again.ok());
  REQUIRE(*again != nullptr);
  CHECK((*again)->version == 5);

  // An empty version is a manifest and a commit.
  WeightsVersion empty;
  empty.run_id = "run-a";
  empty.version = 6;
  const auto empty_updates = Encode(empty, 10);
  CHECK(empty_updates.size() == 2);
  auto empty_result = FeedAll(assembler, empty_updates);
  REQUIRE(empty_result.ok());
  REQUIRE(*empty_result != nullptr);
  CHECK((*empty_result)->data().empty());
}

TEST_CASE("weights: the encoder stops when the receiver does", "[weights]") {
  const WeightsVersion v = SmallVersion("run", 1, v1::F32);
  int emitted = 0;
  absl::Status s = EncodeVersion(v, 10, [&](const v1::WeightsUpdate&) { return ++emitted < 3; });
  CHECK(absl::IsCancelled(s));
  CHECK(emitted == 3);
  CHECK(
      absl::IsInvalidArgument(EncodeVersion(v, 0, [](const v1::WeightsUpdate&) { return true; })));
  WeightsVersion broken = v;
  broken.bytes.push_back('x');
  CHECK(absl::IsInvalidArgument(
      EncodeVersion(broken, 10, [](const v1::WeightsUpdate&) { return true; })));
}

TEST_CASE("weights: a flipped byte is refused by the checksum", "[weights]") {
  const WeightsVersion original = SmallVersion("run", 2, v1::BF16);
  WeightsAssembler assembler;
  SECTION("in a chunk") {
    std::vector<v1::WeightsUpdate> updates = Encode(original, 10);
    (*updates[3].mutable_chunk()->mutable_data())[4] ^= 0x01;
    auto result = FeedAll(assembler, updates);
    CHECK(absl::IsDataLoss(result.status()));
  }
  SECTION("in the commit") {
    std::vector<v1::WeightsUpdate> updates = Encode(original, 10);
    updates.back().mutable_commit()->set_crc32c(updates.back().commit().crc32c() ^ 0x80000000u);
    auto result = FeedAll(assembler, updates);
    CHECK(absl::IsDataLoss(result.status()));
  }
  CHECK_FALSE(assembler.in_progress());
  // It recovers with the next whole version.
  auto result = FeedAll(assembler, Encode(original, 10));
  REQUIRE(result.ok());
  REQUIRE(*result != nullptr);
  CHECK((*result)->data() == original.bytes);
}

TEST_CASE("weights: chunks out of order, missing, foreign or past the end are refused",
          "[weights]") {
  const WeightsVersion original = SmallVersion("run", 2, v1::F32);
  std::vector<v1::WeightsUpdate> updates = Encode(original, 10);  // manifest, 23 chunks, commit
  REQUIRE(updates.size() == 25);
  WeightsAssembler assembler;
  const auto feed_until_refused = [&](const std::vector<v1::WeightsUpdate>& list) {
    for (size_t i = 0; i < list.size(); ++i) {
      auto r = assembler.Feed(list[i]);
      if (!r.ok()) return std::make_pair(i, r.status());
      CHECK(*r == nullptr);
    }
    return std::make_pair(list.size(), absl::OkStatus());
  };

  SECTION("swapped") {
    std::swap(updates[2], updates[3]);
    auto [at, status] = feed_until_refused(updates);
    CHECK(at == 2);
    CHECK(absl::IsFailedPrecondition(status));
  }
  SECTION("missing") {
    updates.erase(updates.begin() + 5);
    auto [at, status] = feed_until_refused(updates);
    CHECK(at == 5);
    CHECK(absl::IsFailedPrecondition(status));
  }
  SECTION("repeated") {
    updates.insert(updates.begin() + 5, updates[4]);
    auto [at, status] = feed_until_refused(updates);
    CHECK(at == 5);
    CHECK(absl::IsFailedPrecondition(status));
  }
  SECTION("past total_bytes") {
    updates[23].mutable_chunk()->mutable_data()->append("xyz");
    auto [at, status] = feed_until_refused(updates);
    CHECK(at == 23);
    CHECK(absl::IsFailedPrecondition(status));
  }
  SECTION("another version's") {
    updates[7].set_version(3);
    auto [at, status] = feed_until_refused(updates);
    CHECK(at == 7);
    CHECK(absl::IsFailedPrecondition(status));
  }
  SECTION("without a manifest") {
    updates.erase(updates.begin());
    auto [at, status] = feed_until_refused(updates);
    CHECK(at == 0);
    CHECK(absl::IsFailedPrecondition(status));
  }
  SECTION("a commit before the last byte") {
    updates.erase(updates.begin() + 23);
    auto [at, status] = feed_until_refused(updates);
    CHECK(at == 23);
    CHECK(absl::IsFailedPrecondition(status));
  }
  SECTION("a commit of another version") {
    updates.back().set_version(1);
    auto [at, status] = feed_until_refused(updates);
    CHECK(at == 24);
    CHECK(absl::IsFailedPrecondition(status));
  }
  SECTION("a commit without a manifest") {
    auto [at, status] = feed_until_refused({updates.back()});
    CHECK(at == 0);
    CHECK(absl::IsFailedPrecondition(status));
  }
  SECTION("an update with no body") {
    v1::WeightsUpdate empty;
    empty.set_version(2);
    updates.insert(updates.begin() + 3, empty);
    auto [at, status] = feed_until_refused(updates);
    CHECK(at == 3);
    CHECK(absl::IsInvalidArgument(status));
  }
  // Refusing resets: the rest of the version is refused too, until a manifest.
  CHECK_FALSE(assembler.in_progress());
  CHECK(absl::IsFailedPrecondition(assembler.Feed(updates[10]).status()));
  auto result = FeedAll(assembler, Encode(original, 10));
  REQUIRE(result.ok());
  CHECK(*result != nullptr);
}

TEST_CASE("weights: a new manifest mid-version discards the partial one", "[weights]") {
  const std::vector<v1::WeightsUpdate> v1_updates = Encode(SmallVersion("run", 1, v1::F32), 10);
  const WeightsVersion v3 = SmallVersion("run", 3, v1::F32);
  WeightsAssembler assembler;
  for (int i = 0; i < 4; ++i) {
    auto r = assembler.Feed(v1_updates[i]);
    REQUIRE(r.ok());
  }
  CHECK(assembler.in_progress());
  CHECK(assembler.bytes_received() == 30);
  auto result = FeedAll(assembler, Encode(v3, 10));  // version 2 was skipped: fine
  REQUIRE(result.ok());
  REQUIRE(*result != nullptr);
  CheckSameVersion(**result, v3);
  CHECK(assembler.partials_replaced() == 1);
  // What is left of version 1 has nowhere to go.
  CHECK(absl::IsFailedPrecondition(assembler.Feed(v1_updates[4]).status()));
}

TEST_CASE("weights: bad manifests are refused", "[weights]") {
  const WeightsVersion original = SmallVersion("run", 2, v1::F32);
  std::vector<v1::WeightsUpdate> updates = Encode(original, 64);
  v1::WeightsUpdate& first = updates.front();
  v1::WeightsManifest* m = first.mutable_manifest();
  int64_t max_total_bytes = int64_t{1} << 30;
  SECTION("size_bytes is not numel times the dtype size") {
    m->mutable_tensors(1)->set_size_bytes(139);
    m->mutable_tensors(2)->set_offset_bytes(199);
    m->set_total_bytes(227);
  }
  SECTION("a gap between tensors") { m->mutable_tensors(2)->set_offset_bytes(204); }
  SECTION("overlapping tensors") { m->mutable_tensors(1)->set_offset_bytes(56); }
  SECTION("tensors out of order") { std::swap(*m->mutable_tensors(0), *m->mutable_tensors(1)); }
  SECTION("tensors do not reach total_bytes") { m->set_total_bytes(232); }
  SECTION("tensors run past total_bytes") { m->set_total_bytes(224); }
  SECTION("an unknown dtype") { m->mutable_tensors(0)->set_dtype(static_cast<v1::DType>(9)); }
  SECTION("an unspecified dtype") { m->mutable_tensors(0)->set_dtype(v1::DTYPE_UNSPECIFIED); }
  SECTION("a negative dimension") { m->mutable_tensors(2)->set_shape(0, -7); }
  SECTION("a repeated name") { m->mutable_tensors(2)->set_name(kNames[0]); }
  SECTION("an empty run id") { m->clear_run_id(); }
  SECTION("the update and the manifest disagree on the version") { first.set_version(3); }
  SECTION("more bytes than the receiver allows") { max_total_bytes = 200; }
  WeightsAssembler assembler(max_total_bytes);
  auto r = assembler.Feed(first);
  INFO(r.status());
  CHECK(absl::IsInvalidArgument(r.status()));
  CHECK_FALSE(assembler.in_progress());
  CHECK(absl::IsFailedPrecondition(assembler.Feed(updates[1]).status()));
}

// ------------------------------------------------------------------------------------
// Publisher and subscriber over loopback gRPC.

// A gRPC server on 127.0.0.1 serving one service.
class LoopbackServer {
 public:
  LoopbackServer(grpc::Service* service, int port) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port_ > 0);
  }
  ~LoopbackServer() { Stop(); }

  // Cancels whatever is still running after a short grace period.
  void Stop() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }

  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::unique_ptr<WeightPublisher> MakePublisher(WeightPublisherOptions options = {}) {
  if (options.run_id.empty()) options.run_id = "run";
  options.cancel_poll_interval = absl::Milliseconds(20);
  auto p = WeightPublisher::Create(std::move(options));
  REQUIRE(p.ok());
  return *std::move(p);
}

// What a subscriber's callback saw, in order; `delay` makes it a slow actor.
class Received {
 public:
  explicit Received(absl::Duration delay = absl::ZeroDuration()) : delay_(delay) {}

  WeightSubscriber::Callback callback() {
    return [this](std::shared_ptr<const WeightsVersion> v) {
      {
        absl::MutexLock lock(&mu_);
        versions_.push_back(std::move(v));
      }
      if (delay_ > absl::ZeroDuration()) absl::SleepFor(delay_);
    };
  }

  std::vector<std::shared_ptr<const WeightsVersion>> versions() const {
    absl::MutexLock lock(&mu_);
    return versions_;
  }
  std::vector<int64_t> numbers() const {
    std::vector<int64_t> out;
    for (const auto& v : versions()) out.push_back(v->version);
    return out;
  }
  size_t size() const { return versions().size(); }

 private:
  const absl::Duration delay_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<const WeightsVersion>> versions_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<WeightSubscriber> MakeSubscriber(const std::string& address, Received& received,
                                                 const std::string& have_run_id = "",
                                                 int64_t have_version = -1) {
  WeightSubscriberOptions options;
  options.endpoint = address;
  options.actor_id = "actor-0";
  options.have_run_id = have_run_id;
  options.have_version = have_version;
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(200);
  auto s = WeightSubscriber::Create(std::move(options), received.callback());
  REQUIRE(s.ok());
  REQUIRE((*s)->Start().ok());
  return *std::move(s);
}

bool StrictlyIncreasing(const std::vector<int64_t>& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] <= v[i - 1]) return false;
  }
  return true;
}

TEST_CASE("weights: versions arrive whole and in order over gRPC", "[weights]") {
  absl::Mutex sent_mu;
  std::vector<std::pair<std::string, int64_t>> sent;
  double slowest = 0;
  WeightPublisherOptions options;
  options.chunk_bytes = 1000;  // several chunks per version, the last one short
  options.shared_memory = false;  // the stream itself (the shared-file path: below)
  // Runs on a server thread, where Catch's assertions may not be used.
  options.on_sent = [&](const std::string& actor, int64_t version, double seconds) {
    absl::MutexLock lock(&sent_mu);
    sent.emplace_back(actor, version);
    slowest = std::max(slowest, seconds);
  };
  auto publisher = MakePublisher(options);
  LoopbackServer server(publisher.get(), 0);
  Received received;
  auto subscriber = MakeSubscriber(server.address(), received);

  std::vector<std::shared_ptr<const WeightsVersion>> published;
  for (int v = 1; v <= 5; ++v) published.push_back(BigVersion("run", v, 2500, v1::BF16));
  REQUIRE(publisher->Publish(published[0]).ok());
  REQUIRE(Eventually([&] { return received.size() == 1; }));
  for (int v = 2; v <= 5; ++v) REQUIRE(publisher->Publish(published[v - 1]).ok());
  REQUIRE(Eventually([&] { return subscriber->stats().have_version == 5; }));

  const std::vector<int64_t> numbers = received.numbers();
  CHECK(numbers.front() == 1);
  CHECK(numbers.back() == 5);
  CHECK(StrictlyIncreasing(numbers));
  for (const auto& v : received.versions()) CheckSameVersion(*v, *published[v->version - 1]);

  const WeightPublisher::Stats ps = publisher->stats();
  CHECK(ps.versions_published == 5);
  CHECK(ps.versions_sent == static_cast<int64_t>(numbers.size()));
  CHECK(ps.versions_sent + ps.versions_skipped == 5);
  CHECK(ps.bytes_sent == static_cast<int64_t>(numbers.size()) * 5000);
  CHECK(ps.subscribers_connected == 1);
  const WeightSubscriber::Stats ss = subscriber->stats();
  CHECK(ss.versions_received == static_cast<int64_t>(numbers.size()));
  CHECK(ss.bytes_received == ps.bytes_sent);
  CHECK(ss.checksum_failures == 0);
  CHECK(ss.refused == 0);
  CHECK(ss.have_run_id == "run");
  {
    absl::MutexLock lock(&sent_mu);
    REQUIRE(sent.size() == numbers.size());
    CHECK(sent.back() == std::make_pair(std::string("actor-0"), int64_t{5}));
    CHECK(slowest > 0);
    CHECK(slowest < 5);
  }
  // A version that does not increase is refused, so no subscriber silently ignores it.
  CHECK(absl::IsInvalidArgument(publisher->Publish(published[2])));
  CHECK(absl::IsInvalidArgument(publisher->Publish(nullptr)));

  subscriber->Stop();
  CHECK(Eventually([&] { return publisher->stats().subscribers_connected == 0; }));
  publisher->Shutdown();
  server.Stop();
}

TEST_CASE("weights: a slow subscriber skips to the newest version", "[weights]") {
  WeightPublisherOptions stream_only;  // one stream throughout, so the counts add up exactly
  stream_only.shared_memory = false;
  auto publisher = MakePublisher(stream_only);
  LoopbackServer server(publisher.get(), 0);
  Received received(absl::Milliseconds(30));
  auto subscriber = MakeSubscriber(server.address(), received);

  // 2 MiB each, built before publishing so the twenty Publish calls take microseconds,
  // while sending one version takes far longer and the callback sleeps 30 ms.
  std::vector<std::shared_ptr<const WeightsVersion>> versions;
  for (int v = 1; v <= 20; ++v) versions.push_back(BigVersion("run", v, 512 * 1024));
  REQUIRE(publisher->Publish(versions[0]).ok());
  REQUIRE(Eventually([&] { return received.size() == 1; }));
  for (int v = 2; v <= 20; ++v) REQUIRE(publisher->Publish(versions[v - 1]).ok());
  REQUIRE(Eventually([&] { return subscriber->stats().have_version == 20; }));

  const std::vector<int64_t> numbers = received.numbers();
  INFO("received " << numbers.size() << " versions");
  CHECK(numbers.size() < 20);
  CHECK(numbers.back() == 20);
  CHECK(StrictlyIncreasing(numbers));
  CheckSameVersion(*received.versions().back(), *versions.back());
  const WeightPublisher::Stats ps = publisher->stats();
  CHECK(ps.versions_skipped > 0);
  CHECK(ps.versions_sent + ps.versions_skipped == 20);
  subscriber->Stop();
  publisher->Shutdown();
  server.Stop();
}

TEST_CASE("weights: a subscriber holding the latest waits for the next one", "[weights]") {
  auto publisher = MakePublisher();
  LoopbackServer server(publisher.get(), 0);
  REQUIRE(publisher->Publish(BigVersion("run", 5, 100)).ok());
  Received current;
  auto up_to_date = MakeSubscriber(server.address(), current, "run", 5);
  // A subscriber holding a version of another run takes version 5 at once.
  Received other;
  auto other_run = MakeSubscriber(server.address(), other, "old-run", 9);

  REQUIRE(Eventually([&] { return publisher->stats().subscribers_connected == 2; }));
  REQUIRE(Eventually([&] { return other.size() == 1; }));
  CHECK(other.numbers() == std::vector<int64_t>{5});
  CHECK(publisher->max_reported_version() == 5);
  CHECK(publisher->max_reported_version("old-run") == 9);
  CHECK(publisher->max_reported_version("never-seen") == -1);
  // Long enough for the publisher to have sent it, had it meant to.
  absl::SleepFor(absl::Milliseconds(300));
  CHECK(current.size() == 0);
  CHECK(publisher->stats().versions_sent == 1);

  REQUIRE(publisher->Publish(BigVersion("run", 6, 100)).ok());
  REQUIRE(Eventually([&] { return current.size() == 1 && other.size() == 2; }));
  CHECK(current.numbers() == std::vector<int64_t>{6});
  CHECK(other.numbers() == std::vector<int64_t>{5, 6});
  up_to_date->Stop();
  other_run->Stop();
  publisher->Shutdown();
  server.Stop();
}

TEST_CASE("weights: a subscriber reconnects to a restarted publisher and says what it holds",
          "[weights]") {
  auto first = MakePublisher();
  auto server = std::make_unique<LoopbackServer>(first.get(), 0);
  const int port = server->port();
  Received received;
  auto subscriber = MakeSubscriber(server->address(), received);
  REQUIRE(first->Publish(BigVersion("run", 3, 1000)).ok());
  REQUIRE(Eventually([&] { return subscriber->stats().have_version == 3; }));

  // The learner goes away.
  first->Shutdown();
  server->Stop();
  REQUIRE(Eventually([&] { return subscriber->stats().reconnects >= 1; }));

  // Its successor, on the same port, learns from the subscriber where to number from.
  auto second = MakePublisher();
  server = std::make_unique<LoopbackServer>(second.get(), port);
  REQUIRE(Eventually([&] { return second->max_reported_version() == 3; }));
  CHECK(second->stats().subscribers_connected == 1);
  REQUIRE(second->Publish(BigVersion("run", second->max_reported_version() + 1, 1000)).ok());
  REQUIRE(Eventually([&] { return subscriber->stats().have_version == 4; }));
  CHECK(received.numbers() == std::vector<int64_t>{3, 4});
  CHECK(subscriber->stats().checksum_failures == 0);

  subscriber->Stop();
  second->Shutdown();
  server->Stop();
}

// Sends a version with one byte flipped on the first call, the intact version on the next,
// and records what each call said it held.
// A WeightService that sends one version per Subscribe call, as Send decides (the call's
// index among all calls, from 0), records every request and then holds the stream open,
// as a publisher with nothing newer would.
class ScriptedService : public v1::WeightService::Service {
 public:
  explicit ScriptedService(std::shared_ptr<const WeightsVersion> version)
      : version_(std::move(version)) {}

  grpc::Status Subscribe(grpc::ServerContext* context, const v1::SubscribeRequest* request,
                         grpc::ServerWriter<v1::WeightsUpdate>* writer) override {
    size_t call;
    {
      absl::MutexLock lock(&mu_);
      call = requests_.size();
      requests_.push_back(*request);
    }
    absl::Status s = Send(*request, call, writer);
    while (s.ok() && !context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    return grpc::Status::OK;
  }

  std::vector<v1::SubscribeRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 protected:
  virtual absl::Status Send(const v1::SubscribeRequest& request, size_t call,
                            grpc::ServerWriter<v1::WeightsUpdate>* writer) = 0;
  const std::shared_ptr<const WeightsVersion> version_;

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::SubscribeRequest> requests_ ABSL_GUARDED_BY(mu_);
};

// Flips a byte of the first call's second chunk.
class CorruptOnceService final : public ScriptedService {
 public:
  using ScriptedService::ScriptedService;

 protected:
  absl::Status Send(const v1::SubscribeRequest&, size_t call,
                    grpc::ServerWriter<v1::WeightsUpdate>* writer) override {
    int chunk = 0;
    return EncodeVersion(*version_, 4096, [&](const v1::WeightsUpdate& update) {
      if (call == 0 && update.has_chunk() && chunk++ == 1) {
        v1::WeightsUpdate bad = update;
        (*bad.mutable_chunk()->mutable_data())[100] ^= 0x20;
        return writer->Write(bad);
      }
      return writer->Write(update);
    });
  }
};

TEST_CASE("weights: a corrupted version is counted, never delivered, and fetched again",
          "[weights]") {
  const auto version = BigVersion("run", 7, 5000);
  CorruptOnceService service(version);
  LoopbackServer server(&service, 0);
  Received received;
  auto subscriber = MakeSubscriber(server.address(), received);
  REQUIRE(Eventually([&] { return received.size() == 1; }));
  const WeightSubscriber::Stats stats = subscriber->stats();
  CHECK(stats.checksum_failures == 1);
  CHECK(stats.refused == 0);
  CHECK(stats.reconnects >= 1);
  CHECK(stats.have_version == 7);
  CheckSameVersion(*received.versions()[0], *version);
  const std::vector<v1::SubscribeRequest> requests = service.requests();
  REQUIRE(requests.size() >= 2);
  // The corrupted version was not taken: the second call still held nothing.
  CHECK(requests[1].have_version() == -1);
  CHECK(requests[1].have_run_id().empty());
  CHECK(requests[1].actor_id() == "actor-0");
  subscriber->Stop();
  server.Stop();
}

// Files of this process's publishers in /dev/shm.
std::vector<std::string> OwnSharedFiles() {
  std::vector<std::string> out;
  const std::string stem = absl::StrCat("crucible-weights-", ::getpid(), "-");
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d)) {
      if (std::string(e->d_name).rfind(stem, 0) == 0) out.push_back(e->d_name);
    }
    ::closedir(d);
  }
  return out;
}

// A started subscriber that does not offer its /dev/shm: it gets every version as chunks.
std::unique_ptr<WeightSubscriber> StartChunkSubscriber(const std::string& endpoint, Received& received) {
  WeightSubscriberOptions options;
  options.endpoint = endpoint;
  options.actor_id = "actor-1";
  options.shared_memory = false;
  auto subscriber = WeightSubscriber::Create(options, received.callback());
  REQUIRE(subscriber.ok());
  REQUIRE((*subscriber)->Start().ok());
  return *std::move(subscriber);
}

TEST_CASE("weights: a version built in its shared file equals the one built in memory", "[weights]") {
  const std::vector<float> data = Values(40000, 2.5f);
  const std::string path = absl::StrCat(kSharedWeightsPrefix, "test-built-", ::getpid());
  ::unlink(path.c_str());
  for (v1::DType dtype : {v1::BF16, v1::F32}) {
    INFO(v1::DType_Name(dtype));
    auto memory = MakeVersion("run", 4, 40, Peft(), {"a", "b"}, {{100, 300}, {10000}}, data.data(), dtype);
    auto shared = MakeSharedVersion(path, "run", 4, 40, Peft(), {"a", "b"}, {{100, 300}, {10000}}, data.data(), dtype);
    REQUIRE(memory.ok());
    REQUIRE(shared.ok());
    CHECK(shared->bytes.empty());
    REQUIRE(shared->mapped != nullptr);
    CHECK(shared->data() == memory->data());
    REQUIRE(memory->crc32c.has_value());
    REQUIRE(shared->crc32c.has_value());
    CHECK(*memory->crc32c == Crc32c(memory->data().data(), memory->data().size()));
    CHECK(*shared->crc32c == *memory->crc32c);
    CHECK(ReadFile(path).value() == std::string(memory->data()));
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);
    // The manifest names the mapped size, and a subscriber reads the file as the commit says.
    const SharedWeightsFile file{path, *shared->crc32c};
    std::vector<v1::WeightsUpdate> updates;
    REQUIRE(EncodeVersion(*shared, 1 << 20, [&](const v1::WeightsUpdate& u) {
              updates.push_back(u);
              return true;
            }, &file).ok());
    CHECK(updates.front().manifest().total_bytes() == static_cast<int64_t>(memory->data().size()));
    WeightsAssembler assembler;
    auto got = FeedAll(assembler, updates);
    REQUIRE(got.ok());
    REQUIRE(*got != nullptr);
    CHECK((*got)->data() == memory->data());
    // Chunks sent from the mapping carry the same bytes and checksum.
    WeightsAssembler chunked;
    auto again = FeedAll(chunked, Encode(*shared, 7000));
    REQUIRE(again.ok());
    REQUIRE(*again != nullptr);
    CHECK((*again)->data() == memory->data());
    // Created exclusively: a second build at the same path fails and leaves the first.
    CHECK(absl::IsUnavailable(
        MakeSharedVersion(path, "run", 5, 50, Peft(), {"a"}, {{10}}, data.data(), dtype).status()));
    CHECK(ReadFile(path).value() == std::string(memory->data()));
    ::unlink(path.c_str());
    // The mapping outlives the file.
    CHECK(shared->data() == memory->data());
    // Bad input leaves no file.
    CHECK_FALSE(MakeSharedVersion(path, "", 5, 50, Peft(), {"a"}, {{10}}, data.data(), dtype).ok());
    CHECK(::access(path.c_str(), F_OK) != 0);
  }
  auto empty = MakeSharedVersion(path, "run", 1, 1, Peft(), {}, {}, nullptr, v1::BF16);
  REQUIRE(empty.ok());
  CHECK(empty->data().empty());
  ::unlink(path.c_str());
}

TEST_CASE("weights: large versions decode with streaming stores to the same floats", "[weights]") {
  // Over 8 MiB takes the streaming path; the output starts misaligned on purpose.
  const size_t n = 4500001;
  const std::vector<float> data = Values(n, 1.75f);
  for (v1::DType dtype : {v1::BF16, v1::F32}) {
    INFO(v1::DType_Name(dtype));
    auto v = MakeVersion("run", 1, 1, Peft(), {"a", "b"}, {{n - 3}, {3}}, data.data(), dtype);
    REQUIRE(v.ok());
    REQUIRE(v->data().size() >= (size_t{8} << 20));
    std::vector<float> out(n + 1, -1.0f);
    REQUIRE(DecodeTensorFloat32(*v, 0, 2, out.data() + 1).ok());
    CHECK(out[0] == -1.0f);
    size_t mismatches = 0;
    for (size_t i = 0; i < n; ++i) {
      const float expected = dtype == v1::F32 ? data[i] : Bf16ToFloat(FloatToBf16(data[i]));
      if (std::memcmp(&out[i + 1], &expected, 4) != 0) ++mismatches;
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("weights: shared files are checked like chunks", "[weights]") {
  const auto version = BigVersion("run", 3, 5000, v1::BF16);
  const std::string path = absl::StrCat(kSharedWeightsPrefix, "test-", ::getpid());
  ::unlink(path.c_str());
  auto file = WriteSharedWeightsFile(*version, path);
  REQUIRE(file.ok());
  CHECK(file->crc32c == Crc32c(version->bytes.data(), version->bytes.size()));
  CHECK_FALSE(WriteSharedWeightsFile(*version, path).ok());  // created exclusively
  std::vector<v1::WeightsUpdate> updates;
  REQUIRE(EncodeVersion(*version, 1000, [&](const v1::WeightsUpdate& u) {
            updates.push_back(u);
            return true;
          }, &*file).ok());
  REQUIRE(updates.size() == 2);  // manifest and commit: no chunks
  CHECK(updates[0].manifest().shared_file() == path);
  {
    WeightsAssembler assembler;
    auto got = FeedAll(assembler, updates);
    REQUIRE(got.ok());
    REQUIRE(*got != nullptr);
    CheckSameVersion(**got, *version);
    CHECK((*got)->mapped != nullptr);  // read in place, not copied
    CHECK((*got)->bytes.empty());
    CHECK(assembler.shared_versions() == 1);
    CHECK(assembler.shared_bytes() == 10000);
  }
  SECTION("a path outside /dev/shm/crucible-weights- is refused at the manifest") {
    for (const std::string& bad : std::vector<std::string>{"/etc/passwd", "/dev/shm/other",
                                                           "/dev/shm/crucible-weights-/../../etc/passwd",
                                                           kSharedWeightsPrefix}) {
      v1::WeightsUpdate m = updates[0];
      m.mutable_manifest()->set_shared_file(bad);
      WeightsAssembler assembler;
      INFO(bad);
      CHECK(absl::IsInvalidArgument(assembler.Feed(m).status()));
    }
  }
  SECTION("a version read from a file outlives the file") {
    WeightsAssembler assembler;
    auto got = FeedAll(assembler, updates);
    REQUIRE(got.ok());
    REQUIRE(::unlink(path.c_str()) == 0);
    CheckSameVersion(**got, *version);
  }
  SECTION("a checksum that does not match the file is DATA_LOSS") {
    v1::WeightsUpdate commit = updates[1];
    commit.mutable_commit()->set_crc32c(commit.commit().crc32c() ^ 1);
    WeightsAssembler assembler;
    REQUIRE(assembler.Feed(updates[0]).ok());
    CHECK(absl::IsDataLoss(assembler.Feed(commit).status()));
  }
  SECTION("a file of the wrong size is DATA_LOSS, a missing one UNAVAILABLE") {
    REQUIRE(::truncate(path.c_str(), 9999) == 0);
    WeightsAssembler assembler;
    REQUIRE(assembler.Feed(updates[0]).ok());
    CHECK(absl::IsDataLoss(assembler.Feed(updates[1]).status()));
    ::unlink(path.c_str());
    REQUIRE(assembler.Feed(updates[0]).ok());
    CHECK(absl::IsUnavailable(assembler.Feed(updates[1]).status()));
  }
  SECTION("a chunk for a shared version is out of sequence") {
    std::vector<v1::WeightsUpdate> chunked = Encode(*version, 1000);
    WeightsAssembler assembler;
    REQUIRE(assembler.Feed(updates[0]).ok());
    CHECK(absl::IsFailedPrecondition(assembler.Feed(chunked[1]).status()));
  }
  ::unlink(path.c_str());
}

TEST_CASE("weights: a same-host subscriber reads versions from /dev/shm, and the files go",
          "[weights]") {
  REQUIRE_FALSE(SharedMemoryToken().empty());
  // A file left by a publisher that died is removed by the next one.
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  REQUIRE(dead > 0);
  ::waitpid(dead, nullptr, 0);
  const std::string stale = absl::StrCat(kSharedWeightsPrefix, dead, "-7");
  REQUIRE(WriteFile(stale, "stale").ok());

  auto publisher = MakePublisher();
  CHECK(::access(stale.c_str(), F_OK) != 0);
  LoopbackServer server(publisher.get(), 0);
  Received received;
  auto subscriber = MakeSubscriber(server.address(), received);
  std::vector<std::shared_ptr<const WeightsVersion>> published;
  for (int v = 1; v <= 6; ++v) {
    published.push_back(BigVersion("run", v, 30000, v1::BF16));
    REQUIRE(publisher->Publish(published.back()).ok());
    REQUIRE(Eventually([&] { return subscriber->stats().have_version == v; }));
    // Files of the last eight versions at most (all are younger than the 5 s grace).
    CHECK(OwnSharedFiles().size() <= 8);
  }
  for (const auto& v : received.versions()) CheckSameVersion(*v, *published[v->version - 1]);
  const WeightPublisher::Stats ps = publisher->stats();
  CHECK(ps.versions_sent == 6);
  CHECK(ps.versions_shared == 6);
  CHECK(ps.bytes_sent == 0);
  const WeightSubscriber::Stats ss = subscriber->stats();
  CHECK(ss.versions_shared == 6);
  CHECK(ss.shared_failures == 0);
  CHECK(ss.bytes_received == 0);

  // An actor that does not offer its /dev/shm gets chunks from the same publisher.
  Received plain_received;
  auto chunked = StartChunkSubscriber(server.address(), plain_received);
  REQUIRE(Eventually([&] { return chunked->stats().have_version == 6; }));
  CHECK(chunked->stats().versions_shared == 0);
  CHECK(chunked->stats().bytes_received == 60000);
  CheckSameVersion(*plain_received.versions().back(), *published.back());

  chunked->Stop();
  subscriber->Stop();
  publisher->Shutdown();
  server.Stop();
  publisher.reset();
  CHECK(OwnSharedFiles().empty());
}

TEST_CASE("weights: PublishFloat32 builds versions in their files once a same-host subscriber is seen",
          "[weights]") {
  REQUIRE_FALSE(SharedMemoryToken().empty());
  auto publisher = MakePublisher();
  LoopbackServer server(publisher.get(), 0);
  const std::vector<float> data = Values(30000, 1.5f);
  const auto publish = [&](int64_t v) {
    return publisher->PublishFloat32("run", v, v, Peft(), {"base_model.model.lm_head.lora_A.weight"}, {{30000}},
                                     data.data(), v1::BF16);
  };
  // No subscriber on this host yet: built in memory, no file made.
  REQUIRE(publish(1).ok());
  CHECK(publisher->latest()->mapped == nullptr);
  CHECK(OwnSharedFiles().empty());

  Received received;
  auto subscriber = MakeSubscriber(server.address(), received);
  REQUIRE(Eventually([&] { return subscriber->stats().have_version == 1; }));
  for (int v = 2; v <= 4; ++v) {
    REQUIRE(publish(v).ok());
    CHECK(publisher->latest()->mapped != nullptr);  // the version is its file's mapping
    REQUIRE(Eventually([&] { return subscriber->stats().have_version == v; }));
  }
  const auto expected = MakeVersion("run", 4, 4, Peft(), {"base_model.model.lm_head.lora_A.weight"}, {{30000}},
                                    data.data(), v1::BF16);
  REQUIRE(expected.ok());
  CHECK(received.versions().back()->data() == expected->data());
  CHECK(subscriber->stats().versions_shared == 4);
  CHECK(publisher->stats().bytes_sent == 0);
  // A version refused (not newer) leaves no file behind.
  const size_t files = OwnSharedFiles().size();
  CHECK(absl::IsInvalidArgument(publish(3)));
  CHECK(OwnSharedFiles().size() == files);

  // A remote subscriber gets chunks read from the mapped file.
  Received plain_received;
  auto chunked = StartChunkSubscriber(server.address(), plain_received);
  REQUIRE(Eventually([&] { return chunked->stats().have_version == 4; }));
  CHECK(plain_received.versions().back()->data() == expected->data());
  CHECK(chunked->stats().bytes_received == 60000);

  chunked->Stop();
  subscriber->Stop();
  publisher->Shutdown();
  server.Stop();
  publisher.reset();
  CHECK(OwnSharedFiles().empty());
}

// Offers every version as a shared file that does not exist to subscribers that offer their
// /dev/shm, and as chunks to the others.
class MissingFileService final : public ScriptedService {
 public:
  using ScriptedService::ScriptedService;

 protected:
  absl::Status Send(const v1::SubscribeRequest& request, size_t,
                    grpc::ServerWriter<v1::WeightsUpdate>* writer) override {
    const SharedWeightsFile missing{absl::StrCat(kSharedWeightsPrefix, "missing-", ::getpid()),
                                    Crc32c(version_->bytes.data(), version_->bytes.size())};
    return EncodeVersion(
        *version_, 4096, [&](const v1::WeightsUpdate& update) { return writer->Write(update); },
        request.shared_memory_token().empty() ? nullptr : &missing);
  }
};

TEST_CASE("weights: a subscriber that cannot read three shared files asks for chunks",
          "[weights]") {
  const auto version = BigVersion("run", 4, 5000);
  MissingFileService service(version);
  LoopbackServer server(&service, 0);
  Received received;
  auto subscriber = MakeSubscriber(server.address(), received);
  REQUIRE(Eventually([&] { return received.size() == 1; }));
  CheckSameVersion(*received.versions()[0], *version);
  const WeightSubscriber::Stats stats = subscriber->stats();
  CHECK(stats.shared_failures == 3);
  CHECK(stats.versions_shared == 0);
  CHECK(stats.checksum_failures == 0);
  const std::vector<v1::SubscribeRequest> requests = service.requests();
  REQUIRE(requests.size() == 4);
  for (int i = 0; i < 3; ++i) CHECK_FALSE(requests[i].shared_memory_token().empty());
  CHECK(requests[3].shared_memory_token().empty());
  subscriber->Stop();
  server.Stop();
}

TEST_CASE("weights: options are checked", "[weights]") {
  WeightPublisherOptions bad_chunk;
  bad_chunk.chunk_bytes = 0;
  CHECK(absl::IsInvalidArgument(WeightPublisher::Create(bad_chunk).status()));
  WeightSubscriberOptions no_endpoint;
  CHECK(absl::IsInvalidArgument(
      WeightSubscriber::Create(no_endpoint, [](std::shared_ptr<const WeightsVersion>) {
      }).status()));
  WeightSubscriberOptions no_callback;
  no_callback.endpoint = "127.0.0.1:1";
  CHECK(absl::IsInvalidArgument(WeightSubscriber::Create(no_callback, nullptr).status()));
  // Stop without Start, and Start after Stop.
  auto s = WeightSubscriber::Create(no_callback, [](std::shared_ptr<const WeightsVersion>) {});
  REQUIRE(s.ok());
  (*s)->Stop();
  CHECK(absl::IsFailedPrecondition((*s)->Start()));
}

}  // namespace
}  // namespace crucible
