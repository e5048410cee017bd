// SPDX-License-Identifier: Apache-2.0
// ExponentialBackoff: growth, the bound, and retry counts far past the bound.

#include "otlp_arrow/common/backoff.h"

#include <climits>

#include <gtest/gtest.h>

namespace otlp_arrow::common {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(ExponentialBackoff, GrowsByTheMultiplierUpToTheMax) {
  const milliseconds initial(100);
  const milliseconds max(1000);
  EXPECT_EQ(ExponentialBackoff(initial, max, 2.0, 1), milliseconds(100));
  EXPECT_EQ(ExponentialBackoff(initial, max, 2.0, 2), milliseconds(200));
  EXPECT_EQ(ExponentialBackoff(initial, max, 2.0, 4), milliseconds(800));
  EXPECT_EQ(ExponentialBackoff(initial, max, 2.0, 5), milliseconds(1000));
  EXPECT_EQ(ExponentialBackoff(initial, max, 1.5, 2), milliseconds(150));
}

TEST(ExponentialBackoff, RetryZeroOrLessIsTheFirst) {
  EXPECT_EQ(ExponentialBackoff(milliseconds(100), milliseconds(1000), 2.0, 0),
            milliseconds(100));
  EXPECT_EQ(ExponentialBackoff(milliseconds(100), milliseconds(1000), 2.0, -5),
            milliseconds(100));
}

TEST(ExponentialBackoff, StaysWithinTheBoundsForAnyRetry) {
  const nanoseconds max = hours(1);
  for (int retry : {1, 10, 62, 63, 64, 1000, 1 << 20, INT_MAX}) {
    const nanoseconds wait = ExponentialBackoff(milliseconds(1), max, 2.0, retry);
    EXPECT_GE(wait, milliseconds(1)) << retry;
    EXPECT_LE(wait, max) << retry;
  }
  EXPECT_EQ(ExponentialBackoff(milliseconds(1), max, 2.0, INT_MAX), max);
  EXPECT_EQ(ExponentialBackoff(milliseconds(1), nanoseconds::max(), 10.0, 400),
            nanoseconds::max());
}

TEST(ExponentialBackoff, MultiplierOneIsConstant) {
  EXPECT_EQ(ExponentialBackoff(milliseconds(250), hours(1), 1.0, 1000),
            milliseconds(250));
}

TEST(ExponentialBackoff, ZeroInitialStaysZero) {
  EXPECT_EQ(ExponentialBackoff(nanoseconds(0), hours(1), 2.0, 30), nanoseconds(0));
}

}  // namespace
}  // namespace otlp_arrow::common
