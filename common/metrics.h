// Prometheus exposition for every long-running process: one registry per process, served
// at http://<address>/metrics in the text format (prometheus-cpp's TextSerializer).
//
// The HTTP side is a small server of our own on one thread: it answers GET /metrics
// (and GET /healthz), one connection at a time, each closed after its answer, which is all
// a Prometheus scrape needs. (prometheus-cpp's Exposer runs civetweb, whose worker threads
// get 100 KiB stacks; in a LibTorch process those cannot even hold the static TLS, and
// pthread_create fails.)
#ifndef CRUCIBLE_COMMON_METRICS_H_
#define CRUCIBLE_COMMON_METRICS_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/registry.h"

namespace crucible {

class MetricsServer {
 public:
  ~MetricsServer();
  // Serves `registry` on bind_address ("0.0.0.0:9100", "127.0.0.1:0"; port 0 picks a free
  // port). Fails if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& bind_address, std::shared_ptr<prometheus::Registry> registry);
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  void Serve();
  void Answer(int fd);

  std::shared_ptr<prometheus::Registry> registry_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// GET http://address:port/metrics (a dotted IPv4 address or a host name), with 300 ms
// send and receive timeouts: the whole answer, headers included; "" when unreachable.
std::string ScrapeMetrics(const std::string& address, int port);

// The sum of a metric's samples (every label set) in a Prometheus text exposition: the
// lines of `name` itself, not of longer names that start with it.
double MetricSum(const std::string& text, absl::string_view name);

// Latency buckets in seconds, from 1 ms to about 2 minutes.
const std::vector<double>& LatencyBucketsSeconds();

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_METRICS_H_
