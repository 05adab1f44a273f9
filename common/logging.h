// Minimal leveled logging to stderr: "I1122 14:03:07.123456 1234 file.cc:42] message".
// Thread-safe per message (each message is written with one write call). FATAL aborts.
// Not a replacement for metrics: anything a dashboard needs goes to Prometheus.
#ifndef CRUCIBLE_COMMON_LOGGING_H_
#define CRUCIBLE_COMMON_LOGGING_H_

#include <sstream>

namespace crucible {

enum class LogSeverity { kInfo = 0, kWarning = 1, kError = 2, kFatal = 3 };

// Messages below this severity are dropped. Default kInfo; CRUCIBLE_LOG_LEVEL=warning etc.
void SetMinLogSeverity(LogSeverity severity);
LogSeverity MinLogSeverity();

class LogMessage {
 public:
  LogMessage(const char* file, int line, LogSeverity severity);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

// Swallows the stream when the severity is filtered out.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace crucible

#define CRUCIBLE_LOG(severity)                                                      \
  (::crucible::LogSeverity::k##severity < ::crucible::MinLogSeverity())             \
      ? (void)0                                                                     \
      : ::crucible::LogVoidify() &                                                  \
            ::crucible::LogMessage(__FILE__, __LINE__, ::crucible::LogSeverity::k##severity) \
                .stream()

#endif  // CRUCIBLE_COMMON_LOGGING_H_
