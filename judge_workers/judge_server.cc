#include "judge_workers/judge_server.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace crucible {

int RunJudgeServer(const JudgeServerOptions& options) {
  // Signals are taken by one thread with sigwait; every thread started from here on
  // inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<sandbox::ForkServerSandbox>> sandbox =
      sandbox::ForkServerSandbox::Start(options.sandbox);
  if (!sandbox.ok()) {
    CRUCIBLE_LOG(Error) << sandbox.status();
    return 1;
  }
  LanguageRegistry languages =
      LanguageRegistry::Default(options.sandbox.python_executable.empty()
                                    ? CRUCIBLE_PYTHON_EXECUTABLE
                                    : options.sandbox.python_executable);
  absl::StatusOr<std::unique_ptr<Judge>> judge =
      Judge::Create(options.judge, std::move(*sandbox), std::move(languages));
  if (!judge.ok()) {
    CRUCIBLE_LOG(Error) << judge.status();
    return 1;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MetricsServer> metrics;
  if (!options.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(options.metrics_address, registry);
    if (!started.ok()) {
      CRUCIBLE_LOG(Error) << started.status();
      return 1;
    }
    metrics = *std::move(started);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  JudgeServiceOptions service_options = options.service;
  JudgeServiceImpl service(judge->get(), service_options, registry);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    CRUCIBLE_LOG(Error) << "cannot listen on " << options.address;
    return 1;
  }
  if (service_options.worker_name.empty()) {
    char host[256] = "localhost";
    ::gethostname(host, sizeof(host) - 1);
    service.SetWorkerName(absl::StrCat(host, ":", port));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health != nullptr) health->SetServingStatus(true);
  if (!options.port_file.empty()) {
    if (absl::Status s = WriteFileAtomic(options.port_file, absl::StrCat(port, "\n")); !s.ok()) {
      CRUCIBLE_LOG(Error) << s;
      return 1;
    }
  }
  CRUCIBLE_LOG(Info) << "crucible-judge serving on port " << port << " with "
                     << service_options.workers << " workers"
                     << (metrics ? absl::StrCat(", /metrics on port ", metrics->port()) : "");

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  CRUCIBLE_LOG(Info) << "signal " << signal_number << ": draining (up to "
                     << absl::FormatDuration(options.drain_timeout) << ")";
  if (health != nullptr) health->SetServingStatus(false);
  bool drained = service.Drain(options.drain_timeout);
  if (!drained) CRUCIBLE_LOG(Warning) << "drain timed out; cancelling the remaining work";
  // Streams still open are cancelled after a short grace for their last writes.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  service.StopWorkers();
  server->Wait();
  CRUCIBLE_LOG(Info) << "crucible-judge stopped";
  return 0;
}

}  // namespace crucible
