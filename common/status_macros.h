// Status plumbing shared by every module: early-return macros for absl::Status and
// absl::StatusOr, and errno-to-Status conversion. They promise nothing about logging; a
// Status carries its own message to whoever handles it.
#ifndef CRUCIBLE_COMMON_STATUS_MACROS_H_
#define CRUCIBLE_COMMON_STATUS_MACROS_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crucible {

// An error Status for a failed system call: the code follows errno (ENOENT -> NotFound,
// EACCES -> PermissionDenied, ...) and the message reads "<what>: <strerror>".
absl::Status ErrnoToStatus(int err, absl::string_view what);

}  // namespace crucible

#define CRUCIBLE_STATUS_CONCAT_INNER_(a, b) a##b
#define CRUCIBLE_STATUS_CONCAT_(a, b) CRUCIBLE_STATUS_CONCAT_INNER_(a, b)

#define CRUCIBLE_RETURN_IF_ERROR(expr)             \
  do {                                             \
    ::absl::Status crucible_status_ = (expr);      \
    if (!crucible_status_.ok()) return crucible_status_; \
  } while (false)

#define CRUCIBLE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return std::move(tmp).status();        \
  lhs = std::move(tmp).value()

#define CRUCIBLE_ASSIGN_OR_RETURN(lhs, expr) \
  CRUCIBLE_ASSIGN_OR_RETURN_IMPL_(CRUCIBLE_STATUS_CONCAT_(crucible_statusor_, __LINE__), lhs, expr)

#endif  // CRUCIBLE_COMMON_STATUS_MACROS_H_
