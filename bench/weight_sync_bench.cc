// Weight sync: publish -> applied on every actor, for the LoRA adapter of a model config
// (default: DeepSeek-Coder 1.3B, r = 32 on every projection), against shipping the full
// weights the same way, in the same run.
//
// The learner side is this process: a WeightPublisher on a loopback port, each version
// built by PublishFloat32 (float32 -> wire dtype and CRC-32C in one pass, into its file in
// /dev/shm) exactly as the online learner's publishing thread does. Each actor is a separate process (this binary with --subscriber)
// running a WeightSubscriber that verifies every version and applies it (decodes it to
// float32 into its own copy of the tensors, the actor's in-place copy); it reports each
// applied version with CLOCK_MONOTONIC (shared by the processes of a machine). A sample is
// the time from handing the snapshot to the publisher until the last actor applied it.
//
// Actors hold only the tensors being shipped (the LoRA factors; for the baseline, every
// weight of the model). Shipping the full weights to many actors needs a copy per actor
// and one for the publisher, so the baseline runs with --full-actors actors (1 by default:
// a lower bound on the full-weight time with more actors, so the ratio is conservative).
//
// Actors on the learner's host read each version from a file in /dev/shm the publisher
// writes once (the default); --noshared_memory sends every byte on the stream instead.
//
//   build/bin/weight_sync_bench [--noshared_memory] [--config data/models/deepseek-coder-1.3b.json --rank 32
//                                --actors 4 --full-actors 1 --reps 5]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "actors/weight_subscriber.h"
#include "common/files.h"
#include "common/model/runtime.h"
#include "common/subprocess.h"
#include "common/weight_stream.h"
#include "grpcpp/grpcpp.h"
#include "learner/weight_publisher.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, config, "", "a Hugging Face config.json (default: data/models/deepseek-coder-1.3b.json)");
ABSL_FLAG(int, rank, 32, "LoRA rank");
ABSL_FLAG(int, actors, 4, "actor processes for the adapter");
ABSL_FLAG(int, full_actors, 1, "actor processes for the full-weight baseline (0: skip it)");
ABSL_FLAG(int, reps, 5, "versions timed per case (after one untimed)");
ABSL_FLAG(std::string, dtypes, "bfloat16,float32", "wire dtypes to measure");
ABSL_FLAG(int64_t, chunk_kib, 1024, "largest chunk of the stream, KiB (the learner's default is 1024)");
ABSL_FLAG(bool, shared_memory, true,
          "actors on this host read each version from a file in /dev/shm (the default of the "
          "learner and actors); false: every byte through the gRPC stream");
ABSL_FLAG(bool, subscriber, false, "internal: run as an actor");
ABSL_FLAG(std::string, endpoint, "", "internal: the publisher");
ABSL_FLAG(int, index, 0, "internal: the actor's index");

namespace crucible {
namespace {

using nlohmann::json;

int64_t MonotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

struct TensorSet {
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  int64_t elements = 0;
  void Add(std::string name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    elements += n;
    names.push_back(std::move(name));
    shapes.push_back(std::move(shape));
  }
};

struct Dims {
  int64_t vocab, hidden, inter, layers, heads, kv_heads, head_dim;
  bool tied;
};

Dims ReadDims(const std::string& path) {
  json c = json::parse(ReadFile(path).value());
  Dims d;
  d.vocab = c["vocab_size"];
  d.hidden = c["hidden_size"];
  d.inter = c["intermediate_size"];
  d.layers = c["num_hidden_layers"];
  d.heads = c["num_attention_heads"];
  d.kv_heads = c.value("num_key_value_heads", d.heads);
  d.head_dim = c.value("head_dim", d.hidden / d.heads);
  d.tied = c.value("tie_word_embeddings", false);
  return d;
}

// (module, in, out) of every projection of a layer.
std::vector<std::tuple<std::string, int64_t, int64_t>> Projections(const Dims& d) {
  return {{"self_attn.q_proj", d.hidden, d.heads * d.head_dim},
          {"self_attn.k_proj", d.hidden, d.kv_heads * d.head_dim},
          {"self_attn.v_proj", d.hidden, d.kv_heads * d.head_dim},
          {"self_attn.o_proj", d.heads * d.head_dim, d.hidden},
          {"mlp.gate_proj", d.hidden, d.inter},
          {"mlp.up_proj", d.hidden, d.inter},
          {"mlp.down_proj", d.inter, d.hidden}};
}

TensorSet LoraTensors(const Dims& d, int64_t r) {
  TensorSet s;
  for (int64_t l = 0; l < d.layers; ++l) {
    for (const auto& [m, in, out] : Projections(d)) {
      const std::string base = absl::StrCat("base_model.model.model.layers.", l, ".", m);
      s.Add(base + ".lora_A.weight", {r, in});
      s.Add(base + ".lora_B.weight", {out, r});
    }
  }
  return s;
}

TensorSet FullTensors(const Dims& d) {
  TensorSet s;
  s.Add("model.embed_tokens.weight", {d.vocab, d.hidden});
  for (int64_t l = 0; l < d.layers; ++l) {
    for (const auto& [m, in, out] : Projections(d)) s.Add(absl::StrCat("model.layers.", l, ".", m, ".weight"), {out, in});
    s.Add(absl::StrCat("model.layers.", l, ".input_layernorm.weight"), {d.hidden});
    s.Add(absl::StrCat("model.layers.", l, ".post_attention_layernorm.weight"), {d.hidden});
  }
  s.Add("model.norm.weight", {d.hidden});
  if (!d.tied) s.Add("lm_head.weight", {d.vocab, d.hidden});
  return s;
}

// ---- the actor process ----

int RunSubscriber() {
  WeightSubscriberOptions o;
  o.endpoint = absl::GetFlag(FLAGS_endpoint);
  o.actor_id = absl::StrCat("bench-actor-", absl::GetFlag(FLAGS_index));
  o.shared_memory = absl::GetFlag(FLAGS_shared_memory);
  std::mutex out_mu;
  std::vector<float> tensors;  // the actor's copy, reused across versions
  auto subscriber = WeightSubscriber::Create(o, [&](std::shared_ptr<const WeightsVersion> v) {
    // Decoded in place into the actor's copy of the tensors, as AdapterSync does.
    absl::StatusOr<size_t> n = Float32Elements(*v);
    absl::Status decoded = n.status();
    if (n.ok()) {
      tensors.resize(*n);
      decoded = DecodeTensorFloat32(*v, 0, v->tensors.size(), tensors.data());
    }
    if (!decoded.ok()) {
      std::fprintf(stderr, "decode: %s\n", decoded.ToString().c_str());
      return;
    }
    std::lock_guard<std::mutex> lock(out_mu);
    std::printf("applied %lld %lld\n", static_cast<long long>(v->version), static_cast<long long>(MonotonicNs()));
    std::fflush(stdout);
  });
  if (!subscriber.ok() || !(*subscriber)->Start().ok()) return 1;
  std::printf("ready\n");
  std::fflush(stdout);
  // Until the parent closes our stdin.
  char c;
  while (::read(STDIN_FILENO, &c, 1) > 0) {
  }
  (*subscriber)->Stop();
  return 0;
}

// ---- the learner process ----

struct Actor {
  pid_t pid = -1;
  int to_child = -1;
  int from_child = -1;
  std::thread reader;
};

class Bench {
 public:
  int Run();

 private:
  struct Case {
    std::string what;
    TensorSet tensors;
    v1::DType dtype;
    int actors;
  };
  absl::StatusOr<std::vector<double>> Measure(const Case& c);
  void StartActors(int n, const std::string& endpoint);
  void StopActors();

  absl::Mutex mu_;
  std::map<int64_t, std::vector<int64_t>> applied_ ABSL_GUARDED_BY(mu_);  // version -> times
  int ready_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<Actor>> actors_;
};

void Bench::StartActors(int n, const std::string& endpoint) {
  for (int i = 0; i < n; ++i) {
    auto a = std::make_unique<Actor>();
    int in_pipe[2], out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) std::abort();
    SpawnOptions s;
    s.argv = {ExecutableDir() + "/weight_sync_bench", "--subscriber", "--endpoint=" + endpoint,
              absl::StrCat("--index=", i),
              absl::StrCat("--shared_memory=", absl::GetFlag(FLAGS_shared_memory) ? "true" : "false")};
    s.stdin_fd = in_pipe[0];
    s.stdout_fd = out_pipe[1];
    absl::StatusOr<pid_t> pid = Spawn(s);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    if (!pid.ok()) std::abort();
    a->pid = *pid;
    a->to_child = in_pipe[1];
    a->from_child = out_pipe[0];
    a->reader = std::thread([this, fd = a->from_child] {
      std::string buffer;
      char chunk[4096];
      for (ssize_t n; (n = ::read(fd, chunk, sizeof(chunk))) > 0;) {
        buffer.append(chunk, static_cast<size_t>(n));
        size_t eol;
        while ((eol = buffer.find('\n')) != std::string::npos) {
          const std::string line = buffer.substr(0, eol);
          buffer.erase(0, eol + 1);
          std::vector<std::string> f = absl::StrSplit(line, ' ');
          absl::MutexLock lock(&mu_);
          int64_t version, ns;
          if (f.size() == 1 && f[0] == "ready") ++ready_;
          if (f.size() == 3 && absl::SimpleAtoi(f[1], &version) && absl::SimpleAtoi(f[2], &ns)) {
            applied_[version].push_back(ns);
          }
        }
      }
    });
    actors_.push_back(std::move(a));
  }
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](Bench* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
                             return b->ready_ == static_cast<int>(b->actors_.size());
                           },
                           this),
                       absl::Seconds(30));
}

void Bench::StopActors() {
  for (auto& a : actors_) {
    ::close(a->to_child);
    int status;
    ::waitpid(a->pid, &status, 0);
    a->reader.join();
    ::close(a->from_child);
  }
  actors_.clear();
  absl::MutexLock lock(&mu_);
  applied_.clear();
  ready_ = 0;
}

absl::StatusOr<std::vector<double>> Bench::Measure(const Case& c) {
  WeightPublisherOptions po;
  po.run_id = "bench";
  po.chunk_bytes = absl::GetFlag(FLAGS_chunk_kib) << 10;
  po.shared_memory = absl::GetFlag(FLAGS_shared_memory);
  absl::StatusOr<std::unique_ptr<WeightPublisher>> publisher = WeightPublisher::Create(po);
  if (!publisher.ok()) return publisher.status();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(publisher->get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return absl::UnavailableError("no server");
  StartActors(c.actors, absl::StrCat("127.0.0.1:", port));
  v1::PeftConfig peft;
  peft.set_r(absl::GetFlag(FLAGS_rank));
  peft.set_lora_alpha(2.0 * absl::GetFlag(FLAGS_rank));
  std::vector<double> seconds;
  for (int rep = 0; rep <= absl::GetFlag(FLAGS_reps); ++rep) {
    // The learner's snapshot: float32 tensors (new values each version).
    std::vector<float> data(static_cast<size_t>(c.tensors.elements));
    uint32_t x = 2463534242u + static_cast<uint32_t>(rep);
    for (float& f : data) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      f = static_cast<float>(static_cast<int32_t>(x)) * 1e-10f;
    }
    const int64_t version = rep + 1;
    const int64_t start = MonotonicNs();
    if (absl::Status s = (*publisher)->PublishFloat32("bench", version, version, peft, c.tensors.names,
                                                      c.tensors.shapes, data.data(), c.dtype);
        !s.ok()) {
      return s;
    }
    std::vector<float>().swap(data);  // as the learner's snapshot buffer is recycled
    absl::MutexLock lock(&mu_);
    struct Args {
      Bench* b;
      int64_t v;
      size_t n;
    } args{this, version, static_cast<size_t>(c.actors)};
    if (!mu_.AwaitWithTimeout(absl::Condition(
                                  +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS { return a->b->applied_[a->v].size() == a->n; },
                                  &args),
                              absl::Minutes(5))) {
      return absl::DeadlineExceededError(absl::StrCat(c.what, ": version ", version, " not applied everywhere"));
    }
    const int64_t last = *std::max_element(applied_[version].begin(), applied_[version].end());
    if (rep > 0) seconds.push_back(static_cast<double>(last - start) * 1e-9);
  }
  StopActors();
  (*publisher)->Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return seconds;
}

std::string Spread(std::vector<double> s) {
  std::sort(s.begin(), s.end());
  return absl::StrFormat("median %8.1f ms  [min %.1f, max %.1f]", 1e3 * s[s.size() / 2], 1e3 * s.front(),
                         1e3 * s.back());
}

int Bench::Run() {
  std::string config = absl::GetFlag(FLAGS_config);
  if (config.empty()) config = std::string(CRUCIBLE_SOURCE_DIR) + "/data/models/deepseek-coder-1.3b.json";
  const Dims d = ReadDims(config);
  const TensorSet lora = LoraTensors(d, absl::GetFlag(FLAGS_rank));
  const TensorSet full = FullTensors(d);
  std::printf("weight_sync_bench: %s, LoRA r=%d: %zu tensors, %.1f M parameters; full weights %.1f M parameters; "
              "%s\n",
              config.c_str(), absl::GetFlag(FLAGS_rank), lora.names.size(), lora.elements / 1e6, full.elements / 1e6,
              absl::GetFlag(FLAGS_shared_memory) ? "same-host actors read /dev/shm" : "every byte on the gRPC stream");
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_dtypes), ',', absl::SkipEmpty())) {
    const v1::DType dtype = name == "bfloat16" ? v1::BF16 : v1::F32;
    const double bytes = static_cast<double>(DTypeSize(dtype));
    Case lc{"adapter", lora, dtype, absl::GetFlag(FLAGS_actors)};
    absl::StatusOr<std::vector<double>> a = Measure(lc);
    if (!a.ok()) {
      std::fprintf(stderr, "%s\n", a.status().ToString().c_str());
      return 1;
    }
    std::printf("  %-8s adapter %7.1f MB -> %d actors: %s\n", std::string(name).c_str(), lora.elements * bytes / 1e6,
                lc.actors, Spread(*a).c_str());
    if (absl::GetFlag(FLAGS_full_actors) <= 0) continue;
    Case fc{"full", full, dtype, absl::GetFlag(FLAGS_full_actors)};
    absl::StatusOr<std::vector<double>> f = Measure(fc);
    if (!f.ok()) {
      std::fprintf(stderr, "%s\n", f.status().ToString().c_str());
      return 1;
    }
    std::printf("  %-8s full    %7.1f MB -> %d actors: %s\n", std::string(name).c_str(), full.elements * bytes / 1e6,
                fc.actors, Spread(*f).c_str());
    std::vector<double> sa = *a, sf = *f;
    std::sort(sa.begin(), sa.end());
    std::sort(sf.begin(), sf.end());
    std::printf("  %-8s full (%d actors) / adapter (%d actors): %.1fx (median), %.1fx-%.1fx\n",
                std::string(name).c_str(), fc.actors, lc.actors, sf[sf.size() / 2] / sa[sa.size() / 2],
                sf.front() / sa.back(), sf.back() / sa.front());
  }
  return 0;
}

}  // namespace
}  // namespace crucible

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // The allocator and thread settings of the real actor and learner processes (no mmap per
  // large block: without it every 1 MiB chunk costs 256 page faults on each side).
  crucible::model::ConfigureCpuRuntime();
  if (absl::GetFlag(FLAGS_subscriber)) return crucible::RunSubscriber();
  ::signal(SIGPIPE, SIG_IGN);
  crucible::Bench bench;
  return bench.Run();
}
