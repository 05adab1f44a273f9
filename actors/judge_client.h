// JudgeClient: how actors reach the judge pool. It keeps one Judge stream open to each
// endpoint and lets each endpoint pull work while it has fewer than `window` requests
// unanswered, so faster judges take more (load balancing by pull). Every request is
// answered exactly once, through its callback:
//   - a stream that breaks (the judge died, restarted or was unreachable) hands its
//     unanswered requests back to the queue, and they go to another endpoint, or to the
//     same one once it is back;
//   - an SE verdict (the sandbox failed) is retried on another endpoint, up to
//     max_attempts, and only the last SE is delivered;
//   - UNAVAILABLE (a draining judge) and NOT_FOUND (a judge that lost its registered
//     problems) are retried without counting an attempt; the endpoint re-registers.
// A response for a request that is no longer outstanding on that endpoint is dropped,
// so a retried request can never be answered twice. Problems registered through the
// client are registered on every endpoint, and again whenever one reconnects.
//
// An endpoint may also be a name, "dns:///host:port", standing for every address the host
// resolves to (a Kubernetes headless Service, a round-robin DNS record). The client keeps
// one stream per address, resolves the name again every `resolve_interval` (every second
// while it has no address), starts streams to addresses that appear and retires those that
// disappear: a retired endpoint takes no new work and its unanswered requests go back to the
// queue, as for a broken stream. A failed or empty resolution keeps the addresses it has.
#ifndef CRUCIBLE_ACTORS_JUDGE_CLIENT_H_
#define CRUCIBLE_ACTORS_JUDGE_CLIENT_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/endpoint.h"
#include "crucible/v1/judge.grpc.pb.h"

namespace crucible {

struct JudgeClientOptions {
  std::vector<std::string> endpoints;     // "host:port", or "dns:///host:port" (see above)
  int window = 16;                        // unanswered requests per endpoint
  int max_attempts = 3;                   // sandbox failures (SE) tolerated per request
  int max_transport_retries = 20;         // stream breaks survived per request
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration max_backoff = absl::Seconds(5);
  absl::Duration resolve_interval = absl::Seconds(10);  // for dns:/// endpoints
  // Resolves a dns:/// endpoint's host to "address:port" targets (IPv6 as "[a]:port").
  // Empty: getaddrinfo. Called on the client's resolver thread only.
  std::function<absl::StatusOr<std::vector<std::string>>(const std::string& host, int port)> resolver;
};

// getaddrinfo: every TCP address of `host`, as "a.b.c.d:port" or "[v6]:port", sorted.
absl::StatusOr<std::vector<std::string>> ResolveHost(const std::string& host, int port);

struct JudgeResult {
  std::string request_id;
  absl::Status status;      // non-OK: no verdict (bad request, deadline, shutdown)
  v1::Verdict verdict;
  std::string worker;       // the judge that answered
  int attempts = 0;         // times the request was sent
};

class JudgeClient {
 public:
  static absl::StatusOr<std::unique_ptr<JudgeClient>> Create(JudgeClientOptions options);
  ~JudgeClient();
  JudgeClient(const JudgeClient&) = delete;
  JudgeClient& operator=(const JudgeClient&) = delete;

  // Registers on every endpoint that is up now (and, later, on each as it connects).
  // Fails if no endpoint accepted them or one rejected them as invalid.
  absl::Status RegisterProblems(const std::vector<v1::Problem>& problems);

  // Queues a request; `done` runs exactly once. request_id must be unique among
  // unanswered requests. Where `done` runs:
  //   - a verdict or a final error from a judge: on that endpoint's stream-reader thread
  //     (or its connection thread, for requests given up after broken streams), so a slow
  //     `done` delays that endpoint's next responses, never another endpoint's;
  //   - a request refused here (empty or duplicate id, after Shutdown): synchronously,
  //     inside Submit, on the caller's thread;
  //   - requests still unanswered at Shutdown(): on the thread calling Shutdown (or the
  //     destructor), before it returns.
  // No lock of the client is held while `done` runs: it may call Submit again.
  void Submit(v1::JudgeRequest request, std::function<void(JudgeResult)> done);

  // Submits all and waits; results in the order of `requests`.
  std::vector<JudgeResult> JudgeAll(std::vector<v1::JudgeRequest> requests);

  // Answers everything still queued with CANCELLED and stops every stream.
  void Shutdown();

  // The addresses the client has a stream (or is connecting) to now, sorted.
  std::vector<std::string> endpoints() const;

  struct Stats {
    int64_t sent = 0;             // requests written to a stream
    int64_t delivered = 0;        // callbacks run
    int64_t requeued = 0;         // returned to the queue by a broken stream or draining judge
    int64_t se_retries = 0;       // SE verdicts retried elsewhere
    int64_t duplicates_dropped = 0;
    int64_t reconnects = 0;
    int64_t endpoints_added = 0;    // by resolving dns:/// names, after the first resolution
    int64_t endpoints_retired = 0;  // addresses a name no longer resolves to
  };
  Stats stats() const;

 private:
  class Endpoint;
  struct Pending {
    v1::JudgeRequest request;
    std::function<void(JudgeResult)> done;
    int attempts = 0;
    int transport_retries = 0;
    std::unordered_set<const Endpoint*> avoid;  // endpoints that returned SE for it
  };

  explicit JudgeClient(JudgeClientOptions options);

  // Called by endpoints. Lock held: mu_.
  bool TakeWork(Endpoint* endpoint, std::unique_lock<std::mutex>& lock, v1::JudgeRequest* out);
  void OnResponse(Endpoint* endpoint, v1::JudgeResponse response);
  void OnStreamBroken(Endpoint* endpoint);
  void Deliver(std::vector<std::pair<std::function<void(JudgeResult)>, JudgeResult>>& ready);
  std::vector<v1::Problem> RegisteredProblems();
  int HealthyEndpointsLocked() const;
  // Resolves every dns:/// name once and adds or retires its endpoints; returns whether
  // some name has no address yet.
  bool ResolveNames(bool initial);
  void ResolverLoop();

  const JudgeClientOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_ = false;
  std::deque<std::string> queue_;
  std::unordered_map<std::string, Pending> pending_;
  std::vector<v1::Problem> problems_;
  Stats stats_;
  std::vector<std::shared_ptr<Endpoint>> endpoints_;  // guarded by mu_
  std::vector<std::pair<std::string, DnsName>> names_;  // the dns:/// endpoints
  std::thread resolver_;
};

}  // namespace crucible

#endif  // CRUCIBLE_ACTORS_JUDGE_CLIENT_H_
