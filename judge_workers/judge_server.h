// `crucible-judge serve`: the judge as a long-running process. Starts the sandbox server,
// the gRPC JudgeService (plus the standard grpc.health.v1 service), and Prometheus
// /metrics; on SIGTERM or SIGINT it drains (health NOT_SERVING, unanswered work finishes,
// new requests are answered UNAVAILABLE), shuts down and exits 0.
#ifndef CRUCIBLE_JUDGE_WORKERS_JUDGE_SERVER_H_
#define CRUCIBLE_JUDGE_WORKERS_JUDGE_SERVER_H_

#include <string>

#include "absl/time/time.h"
#include "judge_workers/judge.h"
#include "judge_workers/judge_service.h"
#include "judge_workers/sandbox/sandbox.h"

namespace crucible {

struct JudgeServerOptions {
  std::string address = "0.0.0.0:50051";   // port 0 picks a free port
  std::string metrics_address = "0.0.0.0:9464";  // empty: no /metrics
  std::string port_file;                    // if set, the chosen port is written here
  absl::Duration drain_timeout = absl::Seconds(30);
  JudgeServiceOptions service;
  JudgeConfig judge;
  sandbox::SandboxOptions sandbox;
};

// Blocks until shut down; returns the process exit status.
int RunJudgeServer(const JudgeServerOptions& options);

}  // namespace crucible

#endif  // CRUCIBLE_JUDGE_WORKERS_JUDGE_SERVER_H_
