#include "common/status_macros.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace crucible {

absl::Status ErrnoToStatus(int err, absl::string_view what) {
  // absl::ErrnoToStatus appends strerror(err) itself.
  return absl::ErrnoToStatus(err, what);
}

}  // namespace crucible
