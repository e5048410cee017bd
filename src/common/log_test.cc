// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/log.h"

#include <memory>
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace otlp_arrow::common {
namespace {

// What the default logger writes while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>(
        "log-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_));
    logger->set_pattern("%l: %v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(LogErrorFromDestructor, LogsAnErrorNamingTheObject) {
  CapturedLog log;
  LogErrorFromDestructor("FlightSpanExporter",
                         arrow::Status::IOError("connection reset"));
  EXPECT_EQ(log.str(),
            "error: error ignored when destroying FlightSpanExporter: IOError: "
            "connection reset\n");
}

TEST(LogErrorFromDestructor, OkIsNotLogged) {
  CapturedLog log;
  LogErrorFromDestructor("FlightSpanExporter", arrow::Status::OK());
  EXPECT_EQ(log.str(), "");
}

}  // namespace
}  // namespace otlp_arrow::common
