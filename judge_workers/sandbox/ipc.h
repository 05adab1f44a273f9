// Messages with file descriptors over a SOCK_SEQPACKET Unix socket: one sendmsg per
// message, descriptors passed with SCM_RIGHTS. Used between the judge and its sandbox
// server, and between a sandbox's init and the program it starts.
#ifndef CRUCIBLE_JUDGE_WORKERS_SANDBOX_IPC_H_
#define CRUCIBLE_JUDGE_WORKERS_SANDBOX_IPC_H_

#include <string>
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crucible::sandbox {

inline constexpr size_t kMaxMessageBytes = 64 << 10;
inline constexpr size_t kMaxMessageFds = 8;

// Allocates nothing: safe in a vfork-style child before exec.
absl::Status SendMessage(int socket_fd, absl::string_view data, absl::Span<const int> fds);

struct ReceivedMessage {
  std::string data;
  std::vector<int> fds;  // owned by the caller (O_CLOEXEC)
  bool eof = false;      // the peer closed the socket
};

absl::StatusOr<ReceivedMessage> ReceiveMessage(int socket_fd);

// Writes all of data to fd (a pipe), retrying on EINTR and short writes.
absl::Status WriteAll(int fd, absl::string_view data);
// Reads until EOF.
absl::StatusOr<std::string> ReadToEof(int fd);

}  // namespace crucible::sandbox

#endif  // CRUCIBLE_JUDGE_WORKERS_SANDBOX_IPC_H_
