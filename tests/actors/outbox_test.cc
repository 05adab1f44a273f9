#include "actors/outbox.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace crucible {
namespace {

constexpr char kRun[] = "run1";
constexpr char kActor[] = "actor0";

v1::Trajectory Sample(const std::string& completion = "print(1)") {
  v1::Trajectory t;
  t.set_run_id(kRun);
  t.set_actor_id(kActor);
  t.set_problem_id("sum-two");
  t.set_completion(completion);
  for (int i = 0; i < 16; ++i) {
    t.add_completion_tokens(i);
    t.add_behaviour_logprobs(-0.25f * static_cast<float>(i));
  }
  t.set_reward(1.0);
  return t;
}

std::vector<std::string> PendingIds(const Outbox& outbox) {
  std::vector<std::string> ids;
  for (const v1::Trajectory& t : outbox.Pending()) ids.push_back(t.trajectory_id());
  return ids;
}

std::string Id(int64_t sequence) { return MakeTrajectoryId(kRun, kActor, sequence); }

struct Journal {
  Journal() {
    auto dir = ScopedTempDir::Create(TempRoot(), "outbox_test_");
    REQUIRE(dir.ok());
    this->dir = *std::move(dir);
    path = this->dir.path() + "/outbox.log";
  }
  std::unique_ptr<Outbox> Open(OutboxOptions options = {}) {
    auto outbox = Outbox::Open(path, options);
    REQUIRE(outbox.ok());
    return *std::move(outbox);
  }
  std::string Contents() {
    auto contents = ReadFile(path);
    REQUIRE(contents.ok());
    return *contents;
  }
  // Overwrites one byte in place, as disk damage would.
  void Poke(int64_t offset, char value) {
    int fd = ::open(path.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, &value, 1, offset) == 1);
    ::close(fd);
  }
  ScopedTempDir dir;
  std::string path;
};

TEST_CASE("outbox: append, commit and reopen", "[outbox]") {
  Journal journal;
  {
    auto outbox = journal.Open();
    CHECK(outbox->produced() == 0);
    CHECK(outbox->next_sequence() == 0);
    for (int i = 0; i < 5; ++i) {
      auto id = outbox->Append(Sample(absl::StrCat("print(", i, ")")));
      REQUIRE(id.ok());
      CHECK(*id == Id(i));
    }
    // Unknown and repeated ids are ignored; a committed id cannot come back.
    REQUIRE(outbox->Commit({Id(1), Id(3), Id(3), "run1/actor0/99"}).ok());
    CHECK(PendingIds(*outbox) == std::vector<std::string>{Id(0), Id(2), Id(4)});
    CHECK(outbox->produced() == 5);
    CHECK(outbox->IsPending(Id(2)));
    CHECK_FALSE(outbox->IsPending(Id(1)));

    v1::Trajectory again = Sample();
    again.set_trajectory_id(Id(2));
    CHECK(outbox->Append(again).status().code() == absl::StatusCode::kAlreadyExists);
    v1::Trajectory anonymous = Sample();
    anonymous.clear_actor_id();
    CHECK(outbox->Append(anonymous).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(outbox->produced() == 5);  // refused appends are not produced
  }
  auto outbox = journal.Open();
  CHECK(PendingIds(*outbox) == std::vector<std::string>{Id(0), Id(2), Id(4)});
  CHECK(outbox->Pending()[1].completion() == "print(2)");
  CHECK(outbox->produced() == 5);
  CHECK(outbox->next_sequence() == 5);
  auto id = outbox->Append(Sample());
  REQUIRE(id.ok());
  CHECK(*id == Id(5));

  // Ordinals follow append order; PendingAfter pages through them.
  std::vector<OutboxEntry> first = outbox->PendingAfter(-1, 2);
  REQUIRE(first.size() == 2);
  CHECK(first[0].trajectory->trajectory_id() == Id(0));
  CHECK(first[1].trajectory->trajectory_id() == Id(2));
  std::vector<OutboxEntry> rest = outbox->PendingAfter(first[1].ordinal, 10);
  REQUIRE(rest.size() == 2);
  CHECK(rest[1].trajectory->trajectory_id() == Id(5));
  CHECK(rest[1].ordinal == outbox->last_ordinal());

  // A given id is kept, and numbering goes on past it.
  v1::Trajectory named = Sample();
  named.set_trajectory_id(Id(9));
  auto kept = outbox->Append(named);
  REQUIRE(kept.ok());
  CHECK(*kept == Id(9));
  CHECK(outbox->next_sequence() == 10);
  CHECK(outbox->produced() == 7);
}

TEST_CASE("outbox: a record torn by a kill mid-write is dropped on reopen", "[outbox]") {
  Journal journal;
  int64_t two_records = 0;
  int64_t three_records = 0;
  {
    auto outbox = journal.Open();
    for (int i = 0; i < 2; ++i) REQUIRE(outbox->Append(Sample()).ok());
    two_records = outbox->file_bytes();
    REQUIRE(outbox->Append(Sample()).ok());
    three_records = outbox->file_bytes();
  }
  // Cut inside the third record's body, then (second round) inside its frame header.
  for (int64_t cut : {three_records - 7, two_records + 5}) {
    INFO("journal cut at byte " << cut);
    REQUIRE(::truncate(journal.path.c_str(), cut) == 0);
    {
      auto outbox = journal.Open();
      CHECK(PendingIds(*outbox) == std::vector<std::string>{Id(0), Id(1)});
      CHECK(outbox->produced() == 2);
      CHECK(outbox->next_sequence() == 2);
      CHECK(outbox->file_bytes() == two_records);  // the torn bytes are gone from the file
      CHECK(static_cast<int64_t>(journal.Contents().size()) == two_records);
      // New records follow the good prefix, not the garbage.
      auto id = outbox->Append(Sample());
      REQUIRE(id.ok());
      CHECK(*id == Id(2));
    }
    auto outbox = journal.Open();
    CHECK(PendingIds(*outbox) == std::vector<std::string>{Id(0), Id(1), Id(2)});
    CHECK(outbox->produced() == 3);
  }
}

TEST_CASE("outbox: corrupt records", "[outbox]") {
  Journal journal;
  int64_t second_start = 0;
  int64_t third_start = 0;
  {
    auto outbox = journal.Open();
    REQUIRE(outbox->Append(Sample()).ok());
    second_start = outbox->file_bytes();
    REQUIRE(outbox->Append(Sample()).ok());
    third_start = outbox->file_bytes();
    REQUIRE(outbox->Append(Sample()).ok());
  }
  const std::string original = journal.Contents();

  SECTION("a bad CRC in the last record drops it") {
    journal.Poke(third_start + 20, static_cast<char>(original[third_start + 20] ^ 0x40));
    auto outbox = journal.Open();
    CHECK(PendingIds(*outbox) == std::vector<std::string>{Id(0), Id(1)});
    CHECK(outbox->produced() == 2);
    REQUIRE(outbox->Append(Sample()).ok());
    CHECK(journal.Open()->pending_count() == 3);
  }
  SECTION("zeros after the last good record (a crash's tail) are dropped") {
    REQUIRE(WriteFile(journal.path, original + std::string(4096, '\0')).ok());
    auto outbox = journal.Open();
    CHECK(outbox->pending_count() == 3);
    CHECK(outbox->file_bytes() == static_cast<int64_t>(original.size()));
  }
  SECTION("a bad CRC with records after it is DATA_LOSS, naming the file and offset") {
    journal.Poke(second_start + 20, static_cast<char>(original[second_start + 20] ^ 0x40));
    auto outbox = Outbox::Open(journal.path);
    REQUIRE_FALSE(outbox.ok());
    CHECK(outbox.status().code() == absl::StatusCode::kDataLoss);
    CHECK_THAT(
        std::string(outbox.status().message()),
        Catch::Contains(journal.path) && Catch::Contains(absl::StrCat("byte ", second_start)));
    CHECK(journal.Contents().size() == original.size());  // nothing was truncated
  }
  SECTION("a corrupt length field with records after it is DATA_LOSS") {
    journal.Poke(second_start + 1, static_cast<char>(original[second_start + 1] ^ 0x01));
    CHECK(Outbox::Open(journal.path).status().code() == absl::StatusCode::kDataLoss);
  }
  SECTION("a file that is not an outbox is refused") {
    REQUIRE(WriteFile(journal.path, "hello, not a journal\n").ok());
    CHECK(Outbox::Open(journal.path).status().code() == absl::StatusCode::kDataLoss);
  }
}

TEST_CASE("outbox: compaction keeps produced and pending", "[outbox]") {
  Journal journal;
  OutboxOptions small;
  small.compact_min_bytes = 1024;
  {
    auto outbox = journal.Open(small);
    for (int i = 0; i < 20; ++i) REQUIRE(outbox->Append(Sample()).ok());
    const int64_t full = outbox->file_bytes();
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
      if (i % 4 != 3) ids.push_back(Id(i));
    }
    REQUIRE(outbox->Commit(ids).ok());  // 15 of 20 committed: the journal is compacted
    CHECK(outbox->compactions() == 1);
    CHECK(outbox->file_bytes() < full / 3);
    CHECK(PendingIds(*outbox) == std::vector<std::string>{Id(3), Id(7), Id(11), Id(15), Id(19)});
    CHECK(outbox->produced() == 20);
    REQUIRE(outbox->Append(Sample()).ok());  // appends go to the new file
  }
  {
    auto outbox = journal.Open(small);
    CHECK(PendingIds(*outbox) ==
          std::vector<std::string>{Id(3), Id(7), Id(11), Id(15), Id(19), Id(20)});
    CHECK(outbox->produced() == 21);
    CHECK(outbox->next_sequence() == 21);
    REQUIRE(outbox->Commit(PendingIds(*outbox)).ok());
    CHECK(outbox->pending_count() == 0);
  }
  {
    // Everything committed and compacted away: the header alone still knows the counts.
    auto outbox = journal.Open();
    REQUIRE(outbox->Compact().ok());
    CHECK(outbox->pending_count() == 0);
    CHECK(outbox->produced() == 21);
  }
  auto outbox = journal.Open();
  CHECK(outbox->produced() == 21);
  CHECK(outbox->next_sequence() == 21);
  auto id = outbox->Append(Sample());
  REQUIRE(id.ok());
  CHECK(*id == Id(21));
}

TEST_CASE("outbox: concurrent appends and commits", "[outbox]") {
  Journal journal;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::vector<std::string> committed;
  {
    OutboxOptions options;
    options.compact_min_bytes = 16 << 10;  // compactions happen while appends go on
    auto outbox = journal.Open(options);
    std::vector<std::vector<std::string>> ids(kThreads);
    std::vector<absl::Status> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto id = outbox->Append(Sample());
          if (!id.ok()) {
            errors[t] = id.status();
            return;
          }
          ids[t].push_back(*id);
          // Every other one is committed right away, from the appending thread.
          if (i % 2 == 0) {
            absl::Status s = outbox->Commit({*id});
            if (!s.ok()) errors[t] = s;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const absl::Status& s : errors) REQUIRE(s.ok());
    std::set<std::string> all;
    for (int t = 0; t < kThreads; ++t) {
      for (int i = 0; i < kPerThread; ++i) {
        all.insert(ids[t][i]);
        if (i % 2 == 0) committed.push_back(ids[t][i]);
      }
    }
    CHECK(all.size() == kThreads * kPerThread);
    for (int64_t s = 0; s < kThreads * kPerThread; ++s) CHECK(all.count(Id(s)) == 1);
    CHECK(outbox->produced() == kThreads * kPerThread);
    CHECK(outbox->pending_count() == kThreads * kPerThread / 2);
    CHECK(outbox->compactions() > 0);
  }
  auto outbox = journal.Open();
  CHECK(outbox->produced() == kThreads * kPerThread);
  CHECK(outbox->pending_count() == kThreads * kPerThread / 2);
  for (const std::string& id : committed) CHECK_FALSE(outbox->IsPending(id));
  // Pending comes back in sequence order: appends were serialised in that order.
  std::vector<std::string> pending = PendingIds(*outbox);
  for (size_t i = 1; i < pending.size(); ++i) {
    int64_t a = 0, b = 0;
    REQUIRE(absl::SimpleAtoi(pending[i - 1].substr(pending[i - 1].rfind('/') + 1), &a));
    REQUIRE(absl::SimpleAtoi(pending[i].substr(pending[i].rfind('/') + 1), &b));
    CHECK(a < b);
  }
}

}  // namespace
}  // namespace crucible
