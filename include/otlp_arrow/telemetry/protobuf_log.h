// SPDX-License-Identifier: Apache-2.0
// libprotobuf's log lines through spdlog, rate-limited: a client can make libprotobuf log
// (a string field with invalid UTF-8 logs an error per request), and must not be able to
// flood the service's log with it.

#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace otlp_arrow::telemetry {

/// \brief At most `burst` lines per `interval`; the lines refused in between are counted
/// and reported with the next line let through. Thread-safe.
class LogRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  LogRateLimiter(int64_t burst, Clock::duration interval)
      : burst_(burst), interval_(interval) {}

  /// \brief Whether a line at `now` is to be written; if so, how many lines were
  /// suppressed since the previous one that was.
  std::optional<int64_t> Admit(Clock::time_point now);

 private:
  const int64_t burst_;
  const Clock::duration interval_;
  std::mutex mutex_;
  std::optional<Clock::time_point> window_start_;
  int64_t lines_in_window_ = 0;
  int64_t suppressed_ = 0;
};

/// \brief Installs a libprotobuf log handler (google::protobuf::SetLogHandler) that
/// writes through spdlog's default logger, at most 10 lines per 10 s with a count of
/// those suppressed. Call once at program start; later calls change nothing.
void RouteProtobufLogToSpdlog();

}  // namespace otlp_arrow::telemetry
