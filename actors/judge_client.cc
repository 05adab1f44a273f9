#include "actors/judge_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "grpcpp/grpcpp.h"

namespace crucible {

absl::StatusOr<std::vector<std::string>> ResolveHost(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("resolving ", host, ": ", gai_strerror(rc)));
  std::set<std::string> targets;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof text);
      targets.insert(absl::StrCat(text, ":", port));
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text, sizeof text);
      targets.insert(absl::StrCat("[", text, "]:", port));
    }
  }
  freeaddrinfo(found);
  return std::vector<std::string>(targets.begin(), targets.end());
}

class JudgeClient::Endpoint {
 public:
  // `name`: the dns:/// endpoint this address came from, or empty.
  Endpoint(JudgeClient* client, std::string address, std::string name = "")
      : name(std::move(name)), client_(client), address_(std::move(address)) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);
    args.SetMaxSendMessageSize(256 << 20);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2'000);
    channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
    stub_ = v1::JudgeService::NewStub(channel_);
  }

  ~Endpoint() { Stop(); }

  void Start() { thread_ = std::thread([this] { Run(); }); }

  // Takes no new work from now on (call with the client's mu_ held, then Stop()).
  void RequestStop() { stop_.store(true); }

  void Stop() {
    stop_.store(true);
    {
      std::lock_guard<std::mutex> lock(context_mu_);
      if (context_ != nullptr) context_->TryCancel();
    }
    client_->cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  const std::string& address() const { return address_; }

  absl::Status Register(const std::vector<v1::Problem>& problems) {
    // Batches stay well under the server's message limit.
    constexpr size_t kBatchBytes = 16 << 20;
    size_t i = 0;
    while (i < problems.size()) {
      v1::RegisterProblemsRequest request;
      size_t bytes = 0;
      while (i < problems.size() && (request.problems_size() == 0 || bytes < kBatchBytes)) {
        bytes += problems[i].ByteSizeLong();
        *request.add_problems() = problems[i++];
      }
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      v1::RegisterProblemsResponse response;
      grpc::Status status = stub_->RegisterProblems(&context, request, &response);
      if (!status.ok()) {
        return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                            absl::StrCat(address_, ": ", status.error_message()));
      }
    }
    return absl::OkStatus();
  }

  const std::string name;
  // Guarded by the client's mu_.
  std::unordered_set<std::string> outstanding;
  bool healthy = false;
  bool needs_reconnect = false;

 private:
  absl::Status Connect() {
    // In slices, so that Stop() (shutdown, a retired address) need not wait out the timeout.
    const auto deadline = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(client_->options_.connect_timeout);
    while (!channel_->WaitForConnected(std::min(deadline, std::chrono::system_clock::now() + std::chrono::milliseconds(100)))) {
      if (stop_.load()) return absl::CancelledError(absl::StrCat(address_, ": stopped"));
      if (std::chrono::system_clock::now() >= deadline) {
        return absl::UnavailableError(absl::StrCat(address_, ": not reachable"));
      }
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::JudgeStatusRequest request;
    v1::JudgeStatusResponse status_response;
    grpc::Status status = stub_->GetStatus(&context, request, &status_response);
    if (!status.ok()) return absl::UnavailableError(absl::StrCat(address_, ": ", status.error_message()));
    if (!status_response.serving()) return absl::UnavailableError(absl::StrCat(address_, ": draining"));
    return Register(client_->RegisteredProblems());
  }

  void Run() {
    absl::Duration backoff = absl::Milliseconds(50);
    bool first = true;
    while (!stop_.load()) {
      absl::Status status = Connect();
      if (!status.ok()) {
        if (first) CRUCIBLE_LOG(Warning) << "judge " << status;
        first = false;
        SleepUnlessStopped(backoff);
        backoff = std::min(2 * backoff, client_->options_.max_backoff);
        continue;
      }
      first = true;
      backoff = absl::Milliseconds(50);
      Serve();
      client_->OnStreamBroken(this);
    }
  }

  void SleepUnlessStopped(absl::Duration d) {
    std::unique_lock<std::mutex> lock(client_->mu_);
    client_->cv_.wait_for(lock, absl::ToChronoMilliseconds(d), [&] { return stop_.load(); });
  }

  void Serve() {
    grpc::ClientContext context;
    {
      std::lock_guard<std::mutex> lock(context_mu_);
      if (stop_.load()) return;
      context_ = &context;
    }
    std::unique_ptr<grpc::ClientReaderWriter<v1::JudgeRequest, v1::JudgeResponse>> stream =
        stub_->Judge(&context);
    std::atomic<bool> broken{false};
    {
      std::lock_guard<std::mutex> lock(client_->mu_);
      healthy = true;
      needs_reconnect = false;
    }
    client_->cv_.notify_all();
    std::thread reader([&] {
      v1::JudgeResponse response;
      while (stream->Read(&response)) client_->OnResponse(this, std::move(response));
      {
        // Under the lock so the sender cannot miss the wake-up between its check and wait.
        std::lock_guard<std::mutex> lock(client_->mu_);
        broken.store(true);
      }
      client_->cv_.notify_all();
    });
    while (true) {
      v1::JudgeRequest request;
      {
        std::unique_lock<std::mutex> lock(client_->mu_);
        bool have = false;
        client_->cv_.wait(lock, [&] {
          if (stop_.load() || broken.load() || client_->shutdown_ || needs_reconnect) return true;
          have = client_->TakeWork(this, lock, &request);
          return have;
        });
        if (!have) break;
      }
      if (!stream->Write(request)) break;
    }
    context.TryCancel();
    reader.join();
    stream->Finish().IgnoreError();
    std::lock_guard<std::mutex> lock(context_mu_);
    context_ = nullptr;
  }

  JudgeClient* const client_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JudgeService::Stub> stub_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex context_mu_;
  grpc::ClientContext* context_ = nullptr;
};

JudgeClient::JudgeClient(JudgeClientOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<JudgeClient>> JudgeClient::Create(JudgeClientOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("no judge endpoints");
  if (options.window <= 0 || options.max_attempts <= 0) {
    return absl::InvalidArgumentError("window and max_attempts must be positive");
  }
  if (!options.resolver) options.resolver = ResolveHost;
  std::unique_ptr<JudgeClient> client(new JudgeClient(std::move(options)));
  std::set<std::string> seen;
  for (const std::string& endpoint : client->options_.endpoints) {
    if (!seen.insert(endpoint).second) return absl::InvalidArgumentError(absl::StrCat("endpoint ", endpoint, " given twice"));
    absl::StatusOr<std::optional<DnsName>> name = ParseDnsEndpoint(endpoint);
    if (!name.ok()) return name.status();
    if (name->has_value()) {
      client->names_.emplace_back(endpoint, **name);
    } else {
      client->endpoints_.push_back(std::make_shared<Endpoint>(client.get(), endpoint));
    }
  }
  {
    std::lock_guard<std::mutex> lock(client->mu_);
    for (auto& endpoint : client->endpoints_) endpoint->Start();
  }
  if (!client->names_.empty()) {
    client->ResolveNames(/*initial=*/true);
    client->resolver_ = std::thread([c = client.get()] { c->ResolverLoop(); });
  }
  return client;
}

bool JudgeClient::ResolveNames(bool initial) {
  bool some_empty = false;
  for (const auto& [spec, name] : names_) {
    absl::StatusOr<std::vector<std::string>> targets = options_.resolver(name.host, name.port);
    std::vector<std::shared_ptr<Endpoint>> retired;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return false;
      std::set<std::string> have;
      for (const auto& e : endpoints_) {
        if (e->name == spec) have.insert(e->address());
      }
      if (!targets.ok() || targets->empty()) {
        // DNS trouble (or a Service with no ready pod) keeps what is connected.
        if (have.empty()) {
          some_empty = true;
          if (initial) CRUCIBLE_LOG(Warning) << "judges " << spec << ": no address yet ("
                                             << (targets.ok() ? "none" : targets.status().ToString()) << ")";
        }
        continue;
      }
      const std::set<std::string> want(targets->begin(), targets->end());
      for (const std::string& address : want) {
        if (have.count(address) != 0) continue;
        endpoints_.push_back(std::make_shared<Endpoint>(this, address, spec));
        endpoints_.back()->Start();
        if (!initial) ++stats_.endpoints_added;
        CRUCIBLE_LOG(Info) << "judges " << spec << ": + " << address;
      }
      for (auto it = endpoints_.begin(); it != endpoints_.end();) {
        if ((*it)->name != spec || want.count((*it)->address()) != 0) {
          ++it;
          continue;
        }
        (*it)->RequestStop();
        for (auto& [id, pending] : pending_) pending.avoid.erase(it->get());
        ++stats_.endpoints_retired;
        CRUCIBLE_LOG(Info) << "judges " << spec << ": - " << (*it)->address();
        retired.push_back(std::move(*it));
        it = endpoints_.erase(it);
      }
    }
    cv_.notify_all();
    // Stopping cancels the stream: its unanswered requests go back to the queue.
    for (auto& e : retired) e->Stop();
  }
  return some_empty;
}

void JudgeClient::ResolverLoop() {
  bool waiting_for_address = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      const absl::Duration wait = waiting_for_address ? std::min(absl::Seconds(1), options_.resolve_interval)
                                                      : options_.resolve_interval;
      cv_.wait_for(lock, absl::ToChronoMilliseconds(wait), [&] { return shutdown_; });
      if (shutdown_) return;
    }
    waiting_for_address = ResolveNames(/*initial=*/false);
  }
}

std::vector<std::string> JudgeClient::endpoints() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& e : endpoints_) out.push_back(e->address());
  std::sort(out.begin(), out.end());
  return out;
}

JudgeClient::~JudgeClient() { Shutdown(); }

void JudgeClient::Shutdown() {
  std::vector<std::shared_ptr<Endpoint>> stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_ && endpoints_.empty() && !resolver_.joinable()) return;
    shutdown_ = true;
    for (auto& e : endpoints_) e->RequestStop();
    stopping.swap(endpoints_);
  }
  cv_.notify_all();
  if (resolver_.joinable()) resolver_.join();
  for (auto& endpoint : stopping) endpoint->Stop();
  std::vector<std::pair<std::function<void(JudgeResult)>, JudgeResult>> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, pending] : pending_) {
      JudgeResult result;
      result.request_id = id;
      result.status = absl::CancelledError("the judge client was shut down");
      result.attempts = pending.attempts;
      ready.emplace_back(std::move(pending.done), std::move(result));
    }
    pending_.clear();
    queue_.clear();
  }
  Deliver(ready);
}

std::vector<v1::Problem> JudgeClient::RegisteredProblems() {
  std::lock_guard<std::mutex> lock(mu_);
  return problems_;
}

int JudgeClient::HealthyEndpointsLocked() const {
  int n = 0;
  for (const auto& e : endpoints_) n += e->healthy ? 1 : 0;
  return n;
}

absl::Status JudgeClient::RegisterProblems(const std::vector<v1::Problem>& problems) {
  std::vector<std::shared_ptr<Endpoint>> healthy;
  {
    std::unique_lock<std::mutex> lock(mu_);
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < problems_.size(); ++i) index[problems_[i].id()] = i;
    for (const v1::Problem& p : problems) {
      auto it = index.find(p.id());
      if (it == index.end()) {
        index[p.id()] = problems_.size();
        problems_.push_back(p);
      } else {
        problems_[it->second] = p;
      }
    }
    // An endpoint that connects from now on registers the updated list itself.
    cv_.wait_for(lock, absl::ToChronoMilliseconds(options_.connect_timeout),
                 [&] { return shutdown_ || HealthyEndpointsLocked() > 0; });
    for (auto& e : endpoints_) {
      if (e->healthy) healthy.push_back(e);
    }
  }
  if (healthy.empty()) return absl::UnavailableError("no judge endpoint is reachable");
  absl::Status result;
  int registered = 0;
  for (const auto& e : healthy) {
    absl::Status s = e->Register(problems);
    if (s.ok()) {
      ++registered;
    } else if (absl::IsInvalidArgument(s) || absl::IsAlreadyExists(s)) {
      return s;
    } else {
      result = s;
    }
  }
  return registered > 0 ? absl::OkStatus() : result;
}

void JudgeClient::Submit(v1::JudgeRequest request, std::function<void(JudgeResult)> done) {
  JudgeResult rejected;
  rejected.request_id = request.request_id();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) {
      rejected.status = absl::CancelledError("the judge client was shut down");
    } else if (request.request_id().empty()) {
      rejected.status = absl::InvalidArgumentError("request_id: empty");
    } else if (pending_.count(request.request_id()) != 0) {
      rejected.status = absl::InvalidArgumentError(
          absl::StrCat("request_id: \"", request.request_id(), "\" is already in flight"));
    } else {
      std::string id = request.request_id();
      Pending& p = pending_[id];
      p.request = std::move(request);
      p.done = std::move(done);
      queue_.push_back(std::move(id));
      cv_.notify_all();
      return;
    }
  }
  done(std::move(rejected));
}

std::vector<JudgeResult> JudgeClient::JudgeAll(std::vector<v1::JudgeRequest> requests) {
  std::vector<JudgeResult> results(requests.size());
  std::mutex done_mu;
  std::condition_variable done_cv;
  size_t remaining = requests.size();
  for (size_t i = 0; i < requests.size(); ++i) {
    Submit(std::move(requests[i]), [&, i](JudgeResult r) {
      std::lock_guard<std::mutex> lock(done_mu);
      results[i] = std::move(r);
      if (--remaining == 0) done_cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(done_mu);
  done_cv.wait(lock, [&] { return remaining == 0; });
  return results;
}

bool JudgeClient::TakeWork(Endpoint* endpoint, std::unique_lock<std::mutex>&, v1::JudgeRequest* out) {
  if (static_cast<int>(endpoint->outstanding.size()) >= options_.window) return false;
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    auto p = pending_.find(*it);
    if (p == pending_.end()) continue;
    Pending& pending = p->second;
    // A request that failed here goes elsewhere when anywhere else is up.
    if (pending.avoid.count(endpoint) != 0) {
      int others = 0;
      for (const auto& e : endpoints_) {
        if (e->healthy && e.get() != endpoint && pending.avoid.count(e.get()) == 0) ++others;
      }
      if (others > 0) continue;
    }
    ++pending.attempts;
    *out = pending.request;
    endpoint->outstanding.insert(*it);
    queue_.erase(it);
    ++stats_.sent;
    return true;
  }
  return false;
}

void JudgeClient::OnResponse(Endpoint* endpoint, v1::JudgeResponse response) {
  std::vector<std::pair<std::function<void(JudgeResult)>, JudgeResult>> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string& id = response.request_id();
    auto p = pending_.find(id);
    if (endpoint->outstanding.erase(id) == 0 || p == pending_.end()) {
      ++stats_.duplicates_dropped;
      return;
    }
    Pending& pending = p->second;
    const auto code = static_cast<absl::StatusCode>(response.status().code());
    const bool retry_transport =
        code == absl::StatusCode::kUnavailable ||
        (code == absl::StatusCode::kNotFound && pending.request.has_problem_id());
    if (retry_transport && pending.transport_retries < options_.max_transport_retries) {
      ++pending.transport_retries;
      --pending.attempts;
      // Reconnecting re-registers the problems (NOT_FOUND) or waits, with backoff, for a
      // draining judge to come back (UNAVAILABLE) while other endpoints take the work.
      endpoint->needs_reconnect = true;
      queue_.push_front(id);
      ++stats_.requeued;
      cv_.notify_all();
      return;
    }
    if (code == absl::StatusCode::kOk && response.verdict().verdict() == v1::SE &&
        pending.attempts < options_.max_attempts) {
      pending.avoid.insert(endpoint);
      queue_.push_front(id);
      ++stats_.se_retries;
      cv_.notify_all();
      return;
    }
    JudgeResult result;
    result.request_id = id;
    result.status = absl::Status(code, response.status().message());
    result.verdict = std::move(*response.mutable_verdict());
    result.worker = response.worker();
    result.attempts = pending.attempts;
    ready.emplace_back(std::move(pending.done), std::move(result));
    pending_.erase(p);
    ++stats_.delivered;
  }
  // The endpoint has room for another request.
  cv_.notify_all();
  Deliver(ready);
}

void JudgeClient::OnStreamBroken(Endpoint* endpoint) {
  std::vector<std::pair<std::function<void(JudgeResult)>, JudgeResult>> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    endpoint->healthy = false;
    if (!shutdown_) ++stats_.reconnects;
    for (const std::string& id : endpoint->outstanding) {
      auto p = pending_.find(id);
      if (p == pending_.end()) continue;
      Pending& pending = p->second;
      if (pending.transport_retries >= options_.max_transport_retries) {
        JudgeResult result;
        result.request_id = id;
        result.status = absl::UnavailableError(
            absl::StrCat("gave up after ", pending.transport_retries, " broken streams"));
        result.attempts = pending.attempts;
        ready.emplace_back(std::move(pending.done), std::move(result));
        pending_.erase(p);
        ++stats_.delivered;
        continue;
      }
      ++pending.transport_retries;
      --pending.attempts;  // the judge never answered: not an attempt
      queue_.push_front(id);
      ++stats_.requeued;
    }
    endpoint->outstanding.clear();
  }
  cv_.notify_all();
  Deliver(ready);
}

void JudgeClient::Deliver(std::vector<std::pair<std::function<void(JudgeResult)>, JudgeResult>>& ready) {
  for (auto& [done, result] : ready) done(std::move(result));
}

JudgeClient::Stats JudgeClient::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace crucible
