// Prometheus exposition for every long-running process: one registry per process, served
// at http://<address>/metrics by prometheus-cpp's civetweb-based Exposer.
#ifndef CRUCIBLE_COMMON_METRICS_H_
#define CRUCIBLE_COMMON_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"

namespace prometheus {
class Exposer;
}

namespace crucible {

class MetricsServer {
 public:
  ~MetricsServer();
  // Serves `registry` on bind_address ("0.0.0.0:9100"; port 0 picks a free port).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& bind_address, std::shared_ptr<prometheus::Registry> registry);
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

// Latency buckets in seconds, from 1 ms to about 2 minutes.
const std::vector<double>& LatencyBucketsSeconds();

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_METRICS_H_
