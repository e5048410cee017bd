// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/telemetry/readiness.h"

#include <chrono>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace otlp_arrow::telemetry {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(Readiness, FlagCheck) {
  ReadinessCheck check;
  {
    FlagCheck flag("listeners down");
    check = flag.AsCheck();
    EXPECT_FALSE(check().ready);
    EXPECT_EQ(check().reason, "listeners down");
    flag.Set(true);
    EXPECT_TRUE(flag.Get());
    EXPECT_TRUE(check().ready);
  }
  // The check shares the flag: still valid, with the last value.
  EXPECT_TRUE(check().ready);
  EXPECT_TRUE(FlagCheck("x", true).AsCheck()().ready);
}

TEST(Readiness, RecentSuccessCheck) {
  using Clock = RecentSuccessCheck::Clock;
  RecentSuccessCheck upstream("upstream reached", 30s);
  const Clock::time_point t0 = Clock::now();
  auto result = upstream.Evaluate(t0);
  EXPECT_FALSE(result.ready);
  EXPECT_EQ(result.reason, "upstream reached: never");

  upstream.MarkSuccess(t0);
  result = upstream.Evaluate(t0 + 10s);
  EXPECT_TRUE(result.ready);
  EXPECT_EQ(result.reason, "upstream reached: 10.0 s ago (limit 30.0 s)");
  EXPECT_TRUE(upstream.Evaluate(t0 + 30s).ready);
  result = upstream.Evaluate(t0 + 31s);
  EXPECT_FALSE(result.ready);
  EXPECT_THAT(result.reason, HasSubstr("31.0 s ago"));

  // A late report of an older success does not move the last success back.
  upstream.MarkSuccess(t0 + 20s);
  upstream.MarkSuccess(t0 + 5s);
  EXPECT_TRUE(upstream.Evaluate(t0 + 45s).ready);
  EXPECT_FALSE(upstream.Evaluate(t0 + 51s).ready);

  // The check uses the real clock.
  RecentSuccessCheck now("export", 60s);
  auto check = now.AsCheck();
  EXPECT_FALSE(check().ready);
  now.MarkSuccess();
  EXPECT_TRUE(check().ready);
}

TEST(Readiness, HighWaterMarkWithHysteresis) {
  double level = 0;
  HighWaterMarkCheck queue(
      "queue spans", [&] { return level; }, 100, 50);
  EXPECT_TRUE(queue.Evaluate().ready);
  level = 99;
  EXPECT_TRUE(queue.Evaluate().ready);
  level = 100;
  auto result = queue.Evaluate();
  EXPECT_FALSE(result.ready);
  EXPECT_EQ(result.reason,
            "queue spans at 100 (high-water mark 100, ready again below 50)");
  level = 70;  // between the marks: stays not ready
  EXPECT_FALSE(queue.Evaluate().ready);
  level = 49;
  EXPECT_TRUE(queue.Evaluate().ready);
  level = 70;  // between the marks, coming from below: stays ready
  EXPECT_TRUE(queue.AsCheck()().ready);

  HighWaterMarkCheck plain(
      "q", [&] { return level; }, 80);
  level = 79.5;
  EXPECT_TRUE(plain.Evaluate().ready);
  level = 80;
  EXPECT_FALSE(plain.Evaluate().ready);
  level = 79.5;
  EXPECT_TRUE(plain.Evaluate().ready);
}

}  // namespace
}  // namespace otlp_arrow::telemetry
