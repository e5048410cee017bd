// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/telemetry/protobuf_log.h"

#include <string>

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

namespace otlp_arrow::telemetry {

namespace {

constexpr int64_t kBurst = 10;
constexpr auto kInterval = std::chrono::seconds(10);

spdlog::level::level_enum SpdlogLevel(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      return spdlog::level::info;
    case google::protobuf::LOGLEVEL_WARNING:
      return spdlog::level::warn;
    case google::protobuf::LOGLEVEL_ERROR:
      return spdlog::level::err;
    case google::protobuf::LOGLEVEL_FATAL:
      return spdlog::level::critical;
  }
  return spdlog::level::err;
}

void HandleProtobufLog(google::protobuf::LogLevel level, const char* filename, int line,
                       const std::string& message) {
  static LogRateLimiter limiter(kBurst, kInterval);
  std::optional<int64_t> suppressed;
  // A fatal message ends the process right after: it is never held back.
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    suppressed = 0;
  } else {
    suppressed = limiter.Admit(LogRateLimiter::Clock::now());
  }
  if (!suppressed.has_value()) return;
  if (*suppressed > 0) {
    spdlog::log(SpdlogLevel(level),
                "libprotobuf {}:{}: {} ({} libprotobuf lines suppressed before this one)",
                filename, line, message, *suppressed);
  } else {
    spdlog::log(SpdlogLevel(level), "libprotobuf {}:{}: {}", filename, line, message);
  }
}

}  // namespace

std::optional<int64_t> LogRateLimiter::Admit(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!window_start_.has_value() || now - *window_start_ >= interval_) {
    window_start_ = now;
    lines_in_window_ = 0;
  }
  if (lines_in_window_ >= burst_) {
    ++suppressed_;
    return std::nullopt;
  }
  ++lines_in_window_;
  const int64_t suppressed = suppressed_;
  suppressed_ = 0;
  return suppressed;
}

void RouteProtobufLogToSpdlog() {
  static std::once_flag installed;
  std::call_once(installed, [] { google::protobuf::SetLogHandler(&HandleProtobufLog); });
}

}  // namespace otlp_arrow::telemetry
