// Service endpoints as users write them: "host:port", or "dns:///host:port" for every address
// a name resolves to (a Kubernetes headless Service). One parser for the config check and
// the judge client, so both accept exactly the same strings.
#ifndef CRUCIBLE_COMMON_ENDPOINT_H_
#define CRUCIBLE_COMMON_ENDPOINT_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace crucible {

struct DnsName {
  std::string host;
  int port = 0;
};

// "dns:///host:port" -> {host, port}; nullopt for a plain endpoint; an error for a malformed
// dns:/// endpoint (no host, no port, a port outside 1..65535) or another "dns:" form.
absl::StatusOr<std::optional<DnsName>> ParseDnsEndpoint(const std::string& endpoint);

}  // namespace crucible

#endif  // CRUCIBLE_COMMON_ENDPOINT_H_
