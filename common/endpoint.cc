#include "common/endpoint.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace crucible {

absl::StatusOr<std::optional<DnsName>> ParseDnsEndpoint(const std::string& endpoint) {
  constexpr absl::string_view kScheme = "dns:///";
  if (!absl::StartsWith(endpoint, "dns:")) return std::optional<DnsName>();
  const std::string rest = absl::StartsWith(endpoint, kScheme) ? endpoint.substr(kScheme.size()) : "";
  const size_t colon = rest.rfind(':');
  DnsName name;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(rest.substr(colon + 1), &name.port) ||
      name.port < 1 || name.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("\"", endpoint, "\": expected dns:///host:port"));
  }
  name.host = rest.substr(0, colon);
  return std::optional<DnsName>(std::move(name));
}

}  // namespace crucible
