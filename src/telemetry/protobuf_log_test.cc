// SPDX-License-Identifier: Apache-2.0
// libprotobuf's log goes through spdlog, rate-limited.

#include "otlp_arrow/telemetry/protobuf_log.h"

#include <memory>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <google/protobuf/wrappers.pb.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace otlp_arrow::telemetry {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

int CountLines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

TEST(LogRateLimiterTest, LetsABurstThroughThenCountsWhatItHoldsBack) {
  LogRateLimiter limiter(3, seconds(10));
  const auto start = LogRateLimiter::Clock::time_point{} + seconds(100);
  EXPECT_EQ(limiter.Admit(start), 0);
  EXPECT_EQ(limiter.Admit(start), 0);
  EXPECT_EQ(limiter.Admit(start + seconds(9)), 0);
  EXPECT_EQ(limiter.Admit(start + seconds(9)), std::nullopt);
  EXPECT_EQ(limiter.Admit(start + seconds(9)), std::nullopt);
  // A new window: the next line says how many were held back.
  EXPECT_EQ(limiter.Admit(start + seconds(10)), 2);
  EXPECT_EQ(limiter.Admit(start + seconds(10)), 0);
}

// A hostile client sends string fields with invalid UTF-8, each of which makes
// libprotobuf log an error: the service's log gets a few lines, not one per request.
TEST(ProtobufLogTest, InvalidUtf8FloodIsRateLimitedThroughSpdlog) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("protobuf-log-test", sink);
  logger->set_pattern("%l: %v");
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  RouteProtobufLogToSpdlog();
  RouteProtobufLogToSpdlog();  // idempotent
  google::protobuf::StringValue value;
  value.set_value(std::string("\xff\xfe invalid UTF-8", 17));
  const std::string wire = value.SerializePartialAsString();
  for (int i = 0; i < 1000; ++i) {
    google::protobuf::StringValue parsed;
    EXPECT_FALSE(parsed.ParseFromString(wire));
  }
  spdlog::set_default_logger(previous);

  const std::string log = out.str();
  EXPECT_THAT(log, HasSubstr("error: libprotobuf "));
  EXPECT_THAT(log, HasSubstr("invalid UTF-8"));
  EXPECT_GE(CountLines(log), 1);
  EXPECT_LE(CountLines(log), 10) << log;
}

}  // namespace
}  // namespace otlp_arrow::telemetry
