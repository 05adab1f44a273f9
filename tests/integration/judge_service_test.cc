// The real crucible-judge binary on loopback ports, driven over gRPC.
#include <arpa/inet.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "actors/judge_client.h"
#include "actors/local_judge.h"
#include "common/files.h"
#include "common/verdict_json.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/test_support.h"

namespace crucible {
namespace {

using testing::MakeProblem;
using testing::MakeProgram;

std::unique_ptr<LocalJudge> StartJudge(std::vector<std::string> flags = {}) {
  flags.push_back("--workers=2");
  auto judge = LocalJudge::Start(DefaultJudgeBinary(), flags);
  if (!judge.ok()) FAIL(judge.status().ToString());
  return *std::move(judge);
}

std::unique_ptr<v1::JudgeService::Stub> Connect(const std::string& address) {
  return v1::JudgeService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

std::vector<v1::Problem> Problems() {
  v1::Problem echo = MakeProblem("echo", {{"5\n", "5\n"}, {"-3\n", "-3\n"}});
  v1::Problem sleepy = MakeProblem("sleepy", {{"", "done\n"}}, /*time_limit_ms=*/3000);
  return {echo, sleepy};
}

// A program and the verdict it must get on "echo"; `salt` makes every source distinct.
struct Planned {
  v1::Program program;
  v1::VerdictCode expected;
};

Planned PlanProgram(int salt) {
  const std::string tag = absl::StrCat("# variant ", salt, "\n");
  switch (salt % 5) {
    case 0: return {MakeProgram("python3", tag + "print(int(input()))\n"), v1::OK};
    case 1: return {MakeProgram("python3", tag + "print(int(input()) + 1)\n"), v1::WA};
    case 2: return {MakeProgram("python3", tag + "print([][int(input())])\n"), v1::RE};
    case 3: return {MakeProgram("python3", tag + "print(int(input())\n"), v1::CE};
    default:
      // A few C++ programs, shared so they are compiled once each.
      return {MakeProgram("cpp17", absl::StrCat("#include <cstdio>\n// ", salt % 3,
                                                "\nint main(){int x;std::scanf(\"%d\",&x);std::printf(\"%d\\n\",x);}\n")),
              v1::OK};
  }
}

absl::Status RegisterOn(v1::JudgeService::Stub& stub, const std::vector<v1::Problem>& problems,
                        bool replace = false) {
  grpc::ClientContext context;
  v1::RegisterProblemsRequest request;
  for (const auto& p : problems) *request.add_problems() = p;
  request.set_replace(replace);
  v1::RegisterProblemsResponse response;
  grpc::Status status = stub.RegisterProblems(&context, request, &response);
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

TEST_CASE("the judge serves health and status, and rejects bad input without stopping",
          "[integration]") {
  auto judge = StartJudge();
  auto channel = grpc::CreateChannel(judge->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::JudgeService::NewStub(channel);

  // grpc.health.v1.Health/Check with an empty request: SERVING is field 1 = 1.
  grpc::GenericStub generic(channel);
  grpc::ClientContext health_context;
  grpc::ByteBuffer request_bytes, response_bytes;
  grpc::Slice empty("", 0);
  request_bytes = grpc::ByteBuffer(&empty, 1);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status health_status;
  generic.UnaryCall(&health_context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_bytes,
                    &response_bytes, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      health_status = s;
                      done = true;
                      cv.notify_all();
                    });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  REQUIRE(health_status.ok());
  std::vector<grpc::Slice> slices;
  REQUIRE(response_bytes.Dump(&slices).ok());
  std::string health;
  for (auto& s : slices) health.append(reinterpret_cast<const char*>(s.begin()), s.size());
  CHECK(health == std::string("\x08\x01", 2));

  grpc::ClientContext status_context;
  v1::JudgeStatusResponse status;
  REQUIRE(stub->GetStatus(&status_context, v1::JudgeStatusRequest(), &status).ok());
  CHECK(status.serving());
  CHECK(status.workers() == 2);
  CHECK(std::find(status.languages().begin(), status.languages().end(), "python3") != status.languages().end());

  // Registration is all or nothing and names the offending problem.
  std::vector<v1::Problem> bad = Problems();
  bad.push_back(MakeProblem("no-tests", {}));
  absl::Status rejected = RegisterOn(*stub, bad);
  CHECK(absl::IsInvalidArgument(rejected));
  CHECK(absl::StrContains(rejected.message(), "problems[2]"));
  CHECK(absl::StrContains(rejected.message(), "no tests"));
  REQUIRE(RegisterOn(*stub, Problems()).ok());
  REQUIRE(RegisterOn(*stub, Problems()).ok());  // identical again: a no-op
  std::vector<v1::Problem> changed = Problems();
  changed[0].set_time_limit_ms(999);
  CHECK(absl::IsAlreadyExists(RegisterOn(*stub, changed)));
  CHECK(RegisterOn(*stub, changed, /*replace=*/true).ok());

  auto judge_one = [&](const v1::JudgeRequest& request, v1::JudgeResponse* response) {
    grpc::ClientContext context;
    return stub->JudgeOne(&context, request, response);
  };
  struct Bad {
    std::string what;
    v1::JudgeRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<Bad> bads;
  auto base = [](const std::string& id) {
    v1::JudgeRequest r;
    r.set_request_id(id);
    r.set_problem_id("echo");
    *r.mutable_program() = MakeProgram("python3", "print(input())\n");
    return r;
  };
  {
    Bad b{"unknown language", base("a"), grpc::INVALID_ARGUMENT, "unknown language \"brainfuck\""};
    b.request.mutable_program()->set_language("brainfuck");
    bads.push_back(b);
  }
  {
    Bad b{"NUL byte", base("b"), grpc::INVALID_ARGUMENT, "NUL byte"};
    b.request.mutable_program()->set_source(std::string("print(1)\0\0", 10));
    bads.push_back(b);
  }
  {
    Bad b{"oversized source", base("c"), grpc::INVALID_ARGUMENT, "exceeds the limit"};
    b.request.mutable_program()->set_source(std::string(3 << 20, ' '));
    bads.push_back(b);
  }
  {
    Bad b{"missing tests", base("d"), grpc::INVALID_ARGUMENT, "no tests"};
    *b.request.mutable_problem() = MakeProblem("inline", {});
    bads.push_back(b);
  }
  {
    Bad b{"malformed problem", base("e"), grpc::INVALID_ARGUMENT, "time_limit_ms"};
    v1::Problem p = MakeProblem("inline", {{"1", "1"}});
    p.set_time_limit_ms(-5);
    *b.request.mutable_problem() = p;
    bads.push_back(b);
  }
  {
    Bad b{"unregistered problem", base("f"), grpc::NOT_FOUND, "unknown problem \"nope\""};
    b.request.set_problem_id("nope");
    bads.push_back(b);
  }
  {
    Bad b{"no request id", base(""), grpc::INVALID_ARGUMENT, "request_id"};
    bads.push_back(b);
  }
  for (const Bad& b : bads) {
    v1::JudgeResponse response;
    grpc::Status s = judge_one(b.request, &response);
    INFO(b.what << ": " << s.error_message());
    CHECK(s.error_code() == b.code);
    CHECK(absl::StrContains(s.error_message(), b.message));
  }
  // Still serving.
  v1::JudgeResponse ok;
  REQUIRE(judge_one(base("g"), &ok).ok());
  CHECK(ok.verdict().verdict() == v1::OK);
  CHECK(ok.request_id() == "g");

  // In a stream, a bad request gets its own error and the others are judged.
  grpc::ClientContext stream_context;
  auto stream = stub->Judge(&stream_context);
  REQUIRE(stream->Write(base("s1")));
  REQUIRE(stream->Write(bads[0].request));
  REQUIRE(stream->Write(base("s2")));
  stream->WritesDone();
  std::map<std::string, v1::JudgeResponse> answers;
  v1::JudgeResponse r;
  while (stream->Read(&r)) answers[r.request_id()] = r;
  CHECK(stream->Finish().ok());
  REQUIRE(answers.size() == 3);
  CHECK(answers["s1"].verdict().verdict() == v1::OK);
  CHECK(answers["s2"].verdict().verdict() == v1::OK);
  CHECK(answers["a"].status().code() == grpc::INVALID_ARGUMENT);
  CHECK(absl::StrContains(answers["a"].status().message(), "brainfuck"));
  CHECK(judge->Stop() == 0);
}

TEST_CASE("1,000 programs stream over one connection and every verdict is right",
          "[integration][slow]") {
  auto judge = StartJudge();
  JudgeClientOptions options;
  options.endpoints = {judge->address()};
  auto client = JudgeClient::Create(options);
  REQUIRE(client.ok());
  REQUIRE((*client)->RegisterProblems(Problems()).ok());
  constexpr int kPrograms = 1000;
  std::vector<v1::JudgeRequest> requests;
  std::vector<v1::VerdictCode> expected;
  for (int i = 0; i < kPrograms; ++i) {
    Planned plan = PlanProgram(i);
    v1::JudgeRequest r;
    r.set_request_id(absl::StrCat("req-", i));
    r.set_problem_id("echo");
    *r.mutable_program() = plan.program;
    requests.push_back(std::move(r));
    expected.push_back(plan.expected);
  }
  const absl::Time start = absl::Now();
  std::vector<JudgeResult> results = (*client)->JudgeAll(requests);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  WARN(kPrograms << " programs in " << seconds << " s (" << kPrograms / seconds << " per second)");
  int wrong = 0;
  for (int i = 0; i < kPrograms; ++i) {
    const JudgeResult& r = results[i];
    if (!r.status.ok() || r.verdict.verdict() != expected[i] || r.request_id != requests[i].request_id()) {
      ++wrong;
      UNSCOPED_INFO(i << ": " << r.status << " " << VerdictToJson(r.verdict).substr(0, 300));
    }
  }
  CHECK(wrong == 0);
  JudgeClient::Stats stats = (*client)->stats();
  CHECK(stats.delivered == kPrograms);
  CHECK(stats.sent == kPrograms);
  CHECK(stats.duplicates_dropped == 0);
  CHECK(stats.reconnects == 0);
}

TEST_CASE("a judge killed mid-stream: the client's retries lose and duplicate nothing",
          "[integration][slow]") {
  auto victim = StartJudge();
  auto survivor = StartJudge();
  JudgeClientOptions options;
  options.endpoints = {victim->address(), survivor->address()};
  options.window = 8;
  auto client = JudgeClient::Create(options);
  REQUIRE(client.ok());
  REQUIRE((*client)->RegisterProblems(Problems()).ok());
  constexpr int kPrograms = 300;
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, int> deliveries;
  std::map<std::string, JudgeResult> results;
  std::vector<v1::VerdictCode> expected;
  for (int i = 0; i < kPrograms; ++i) {
    Planned plan = PlanProgram(i);
    expected.push_back(plan.expected);
    v1::JudgeRequest r;
    r.set_request_id(absl::StrCat("k-", i));
    r.set_problem_id("echo");
    *r.mutable_program() = plan.program;
    (*client)->Submit(std::move(r), [&](JudgeResult result) {
      std::lock_guard<std::mutex> lock(mu);
      ++deliveries[result.request_id];
      results[result.request_id] = std::move(result);
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return deliveries.size() >= kPrograms / 4; });
  }
  victim->Kill();
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::minutes(5), [&] { return deliveries.size() == kPrograms; }));
  }
  std::lock_guard<std::mutex> lock(mu);
  for (int i = 0; i < kPrograms; ++i) {
    const std::string id = absl::StrCat("k-", i);
    INFO(id);
    CHECK(deliveries[id] == 1);
    CHECK(results[id].status.ok());
    CHECK(results[id].verdict.verdict() == expected[i]);
  }
  JudgeClient::Stats stats = (*client)->stats();
  CHECK(stats.delivered == kPrograms);
  CHECK(stats.requeued > 0);  // the victim held unanswered work when it died
  CHECK(stats.reconnects >= 1);
}

TEST_CASE("judges found by name: one that appears takes work, one that goes hands its work back",
          "[integration][slow]") {
  auto first = StartJudge({"--name=first"});
  std::mutex resolver_mu;
  absl::StatusOr<std::vector<std::string>> answer = std::vector<std::string>{first->address()};
  JudgeClientOptions options;
  options.endpoints = {"dns:///judges.test.invalid:7000"};
  options.window = 8;
  options.resolve_interval = absl::Milliseconds(200);
  options.resolver = [&](const std::string& host, int port) -> absl::StatusOr<std::vector<std::string>> {
    CHECK(host == "judges.test.invalid");
    CHECK(port == 7000);
    std::lock_guard<std::mutex> lock(resolver_mu);
    return answer;
  };
  auto set_answer = [&](absl::StatusOr<std::vector<std::string>> a) {
    std::lock_guard<std::mutex> lock(resolver_mu);
    answer = std::move(a);
  };
  auto client = JudgeClient::Create(options);
  REQUIRE(client.ok());
  CHECK((*client)->endpoints() == std::vector<std::string>{first->address()});
  REQUIRE((*client)->RegisterProblems(Problems()).ok());

  constexpr int kPrograms = 240;
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, int> deliveries;
  std::map<std::string, JudgeResult> results;
  std::map<std::string, int> by_worker;
  std::vector<v1::VerdictCode> expected;
  for (int i = 0; i < kPrograms; ++i) {
    // Python only: every program takes a sandbox run, none waits on a compile.
    Planned plan = PlanProgram(i % 5 == 4 ? i + 1 : i);
    expected.push_back(plan.expected);
    v1::JudgeRequest r;
    r.set_request_id(absl::StrCat("d-", i));
    r.set_problem_id("echo");
    *r.mutable_program() = plan.program;
    (*client)->Submit(std::move(r), [&](JudgeResult result) {
      std::lock_guard<std::mutex> lock(mu);
      ++deliveries[result.request_id];
      ++by_worker[result.worker];
      results[result.request_id] = std::move(result);
      cv.notify_all();
    });
  }
  auto wait_for = [&](auto done) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::minutes(3), done);
  };
  REQUIRE(wait_for([&] { return deliveries.size() >= 30; }));

  // A second judge appears under the name and takes a share of the work.
  auto second = StartJudge({"--name=second"});
  set_answer(std::vector<std::string>{first->address(), second->address()});
  REQUIRE(wait_for([&] { return by_worker["second"] >= 5; }));
  CHECK((*client)->endpoints().size() == 2);

  // The first goes from the name (a scaled-down pod): the client retires it while it still
  // holds unanswered work, which goes back to the queue and on to the second.
  set_answer(std::vector<std::string>{second->address()});
  for (int i = 0; i < 100 && (*client)->endpoints().size() != 1; ++i) absl::SleepFor(absl::Milliseconds(50));
  REQUIRE((*client)->endpoints() == std::vector<std::string>{second->address()});
  // A failing resolution keeps what the client has.
  set_answer(absl::UnavailableError("SERVFAIL"));
  REQUIRE(wait_for([&] { return deliveries.size() == kPrograms; }));
  CHECK((*client)->endpoints() == std::vector<std::string>{second->address()});

  std::lock_guard<std::mutex> lock(mu);
  for (int i = 0; i < kPrograms; ++i) {
    const std::string id = absl::StrCat("d-", i);
    INFO(id);
    CHECK(deliveries[id] == 1);
    CHECK(results[id].status.ok());
    CHECK(results[id].verdict.verdict() == expected[i]);
  }
  CHECK(by_worker["first"] >= 30);
  CHECK(by_worker["first"] + by_worker["second"] == kPrograms);
  JudgeClient::Stats stats = (*client)->stats();
  CHECK(stats.delivered == kPrograms);
  CHECK(stats.duplicates_dropped == 0);
  CHECK(stats.endpoints_added == 1);
  CHECK(stats.endpoints_retired == 1);
}

TEST_CASE("dns:/// endpoints: parsing, and a real name through getaddrinfo", "[integration]") {
  for (const std::string bad : {"dns:///:7000", "dns:///host", "dns:///host:0", "dns:///host:x"}) {
    INFO(bad);
    CHECK_FALSE(ParseDnsEndpoint(bad).ok());
    JudgeClientOptions options;
    options.endpoints = {bad};
    CHECK_FALSE(JudgeClient::Create(options).ok());
  }
  auto plain = ParseDnsEndpoint("127.0.0.1:7000");
  REQUIRE(plain.ok());
  CHECK_FALSE(plain->has_value());
  JudgeClientOptions twice;
  twice.endpoints = {"127.0.0.1:7000", "127.0.0.1:7000"};
  CHECK_FALSE(JudgeClient::Create(twice).ok());

  absl::StatusOr<std::vector<std::string>> local = ResolveHost("localhost", 1234);
  REQUIRE(local.ok());
  CHECK(std::count(local->begin(), local->end(), "127.0.0.1:1234") == 1);
  CHECK_FALSE(ResolveHost("no-such-host.invalid", 1).ok());

  auto judge = StartJudge();
  const std::string port = judge->address().substr(judge->address().rfind(':') + 1);
  JudgeClientOptions options;
  options.endpoints = {"dns:///localhost:" + port};
  auto client = JudgeClient::Create(options);
  REQUIRE(client.ok());
  const std::vector<std::string> resolved = (*client)->endpoints();
  CHECK(std::count(resolved.begin(), resolved.end(), "127.0.0.1:" + port) == 1);
  REQUIRE((*client)->RegisterProblems(Problems()).ok());
  v1::JudgeRequest r;
  r.set_request_id("by-name");
  r.set_problem_id("echo");
  *r.mutable_program() = MakeProgram("python3", "print(int(input()))\n");
  std::vector<JudgeResult> results = (*client)->JudgeAll({r});
  REQUIRE(results.size() == 1);
  CHECK(results[0].status.ok());
  CHECK(results[0].verdict.verdict() == v1::OK);
}

TEST_CASE("judges on --port=0 without --name answer as host:port with the port they bound",
          "[integration]") {
  auto a = StartJudge();
  auto b = StartJudge();
  JudgeClientOptions options;
  options.endpoints = {a->address(), b->address()};
  auto client = JudgeClient::Create(options);
  REQUIRE(client.ok());
  REQUIRE((*client)->RegisterProblems(Problems()).ok());
  std::vector<v1::JudgeRequest> requests;
  for (int i = 0; i < 40; ++i) {
    v1::JudgeRequest r;
    r.set_request_id(absl::StrCat("w-", i));
    r.set_problem_id("echo");
    *r.mutable_program() = MakeProgram("python3", absl::StrCat("print(input())  # ", i, "\n"));
    requests.push_back(std::move(r));
  }
  std::set<std::string> workers;
  for (const JudgeResult& r : (*client)->JudgeAll(requests)) workers.insert(r.worker);
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  auto port_of = [](const std::string& address) { return address.substr(address.rfind(':') + 1); };
  const std::set<std::string> expected = {absl::StrCat(host, ":", port_of(a->address())),
                                          absl::StrCat(host, ":", port_of(b->address()))};
  // Pull balancing gives both some of 40 programs; neither answers as host:0.
  CHECK(workers == expected);
}

TEST_CASE("re-registering unchanged problems does not count against --max_problems", "[integration]") {
  auto judge = StartJudge({"--max_problems=2"});
  auto stub = Connect(judge->address());
  const std::vector<v1::Problem> two = Problems();
  REQUIRE(two.size() == 2);
  REQUIRE(RegisterOn(*stub, two).ok());
  // A reconnecting client registers everything again: the judge is full, and that is fine.
  for (int i = 0; i < 3; ++i) CHECK(RegisterOn(*stub, two).ok());
  // A third problem does not fit, alone or beside the two.
  v1::Problem third = MakeProblem("third", {{"1\n", "1\n"}});
  CHECK(RegisterOn(*stub, {third}).code() == absl::StatusCode::kResourceExhausted);
  CHECK(RegisterOn(*stub, {two[0], two[1], third}).code() == absl::StatusCode::kResourceExhausted);
  // Replacing one with new content is no new problem either.
  v1::Problem changed = two[0];
  changed.set_statement(changed.statement() + " (revised)");
  CHECK(RegisterOn(*stub, {changed}, /*replace=*/true).ok());
}

TEST_CASE("SIGTERM drains: work in flight finishes, new work is refused, exit 0",
          "[integration]") {
  auto judge = StartJudge();
  auto stub = Connect(judge->address());
  REQUIRE(RegisterOn(*stub, Problems()).ok());
  grpc::ClientContext context;
  auto stream = stub->Judge(&context);
  for (int i = 0; i < 4; ++i) {
    v1::JudgeRequest r;
    r.set_request_id(absl::StrCat("slow-", i));
    r.set_problem_id("sleepy");
    *r.mutable_program() = MakeProgram("python3", absl::StrCat("import time\ntime.sleep(1.0)\nprint('done')  # ", i, "\n"));
    REQUIRE(stream->Write(r));
  }
  v1::JudgeResponse first;
  REQUIRE(stream->Read(&first));
  CHECK(first.verdict().verdict() == v1::OK);
  std::thread stopper([&] { CHECK(judge->Stop() == 0); });
  // Until the judge says it is draining (two programs of a second each are still to run).
  auto status_stub = Connect(judge->address());
  bool draining = false;
  for (int i = 0; i < 500 && !draining; ++i) {
    grpc::ClientContext status_context;
    v1::JudgeStatusResponse status;
    REQUIRE(status_stub->GetStatus(&status_context, v1::JudgeStatusRequest(), &status).ok());
    draining = !status.serving();
    if (!draining) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(draining);
  v1::JudgeRequest late;
  late.set_request_id("late");
  late.set_problem_id("echo");
  *late.mutable_program() = MakeProgram("python3", "print(input())\n");
  stream->Write(late);
  // Answers arrive in completion order: the first one read may be any of the four.
  std::map<std::string, v1::JudgeResponse> answers;
  answers[first.request_id()] = first;
  v1::JudgeResponse r;
  while (stream->Read(&r)) answers[r.request_id()] = r;
  stopper.join();
  for (int i = 0; i < 4; ++i) {
    const std::string id = absl::StrCat("slow-", i);
    INFO(id);
    REQUIRE(answers.count(id) == 1);
    CHECK(answers[id].verdict().verdict() == v1::OK);
  }
  // New work during the drain is refused, and said so.
  REQUIRE(answers.count("late") == 1);
  CHECK(answers["late"].status().code() == grpc::UNAVAILABLE);
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string HttpGet(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: localhost\r\n\r\n");
  (void)::write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST_CASE("the judge exports Prometheus metrics", "[integration]") {
  const int port = FreePort();
  auto judge = StartJudge({absl::StrCat("--metrics_port=", port)});
  auto stub = Connect(judge->address());
  REQUIRE(RegisterOn(*stub, Problems()).ok());
  v1::JudgeRequest r;
  r.set_request_id("m");
  r.set_problem_id("echo");
  *r.mutable_program() = MakeProgram("python3", "print(input())\n");
  grpc::ClientContext context;
  v1::JudgeResponse response;
  REQUIRE(stub->JudgeOne(&context, r, &response).ok());
  std::string metrics = HttpGet(port, "/metrics");
  INFO(metrics.substr(0, 3000));
  CHECK(absl::StrContains(metrics, "200 OK"));
  CHECK(absl::StrContains(metrics, "crucible_judge_executions_total{language=\"python3\",verdict=\"OK\"} 1"));
  CHECK(absl::StrContains(metrics, "crucible_judge_request_latency_seconds_bucket"));
  CHECK(absl::StrContains(metrics, "crucible_judge_queue_depth"));
  CHECK(absl::StrContains(metrics, "crucible_judge_problems_registered 2"));
  CHECK(absl::StrContains(metrics, "crucible_judge_sandbox_errors_total"));
  // Worker-seconds spent judging: the one program's evaluation, so more than nothing.
  const size_t busy = metrics.find("\ncrucible_judge_busy_seconds_total ");
  REQUIRE(busy != std::string::npos);
  CHECK(std::stod(metrics.substr(busy + std::strlen("\ncrucible_judge_busy_seconds_total "))) > 0);
}

// Work directories of judges that are gone: a killed judge leaves its root; the next judge
// removes it once its claim has aged, and leaves a live judge's root alone.
TEST_CASE("a killed judge leaves its work directory for the next judge to remove and a live judge keeps its own", "[integration]") {
  absl::StatusOr<ScopedTempDir> tmp = ScopedTempDir::Create(TempRoot(), "judge-roots");
  REQUIRE(tmp.ok());
  const std::string saved = TempRoot();
  REQUIRE(::setenv("TMPDIR", tmp->path().c_str(), 1) == 0);
  struct Restore {
    std::string value;
    ~Restore() { ::setenv("TMPDIR", value.c_str(), 1); }
  } restore{saved};
  auto roots = [&] {
    std::set<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(tmp->path())) {
      if (absl::StartsWith(entry.path().filename().string(), "crucible-judge.")) out.insert(entry.path().string());
    }
    return out;
  };
  auto age = [](const std::string& root) {  // as if claimed two minutes ago
    const std::string lock = root + "/.owner.lock";
    struct timeval then[2];
    ::gettimeofday(&then[0], nullptr);
    then[0].tv_sec -= 120;
    then[1] = then[0];
    REQUIRE(::utimes(lock.c_str(), then) == 0);
  };

  auto victim = StartJudge();
  auto live = StartJudge();
  std::set<std::string> before = roots();
  REQUIRE(before.size() == 2);
  const pid_t victim_pid = victim->pid();
  victim->Kill();
  REQUIRE(roots() == before);  // nothing cleaned up after a SIGKILL
  // A fresh claim (younger than a minute) is left alone even when abandoned.
  auto third = StartJudge();
  CHECK(roots().size() == 3);
  for (const std::string& root : before) age(root);
  auto fourth = StartJudge();
  const std::set<std::string> after = roots();
  CHECK(after.size() == 3);  // the victim's root is gone; the live, third and fourth remain
  const std::string victim_root = tmp->path() + "/crucible-judge." + std::to_string(victim_pid) + ".";
  for (const std::string& root : after) CHECK_FALSE(absl::StartsWith(root, victim_root));
  // A judge that stops normally removes its own root.
  fourth->Stop();
  CHECK(roots().size() == 2);
}

}  // namespace
}  // namespace crucible
