#include "common/status_macros.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace crucible {

absl::Status ErrnoToStatus(int err, absl::string_view what) {
  return absl::ErrnoToStatus(err, absl::StrCat(what, ": ", std::strerror(err)));
}

}  // namespace crucible
