// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/constant_time.h"

#include <gtest/gtest.h>

namespace otlp_arrow::common {
namespace {

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("Bearer s3cret", "Bearer s3cret"));
  EXPECT_FALSE(ConstantTimeEquals("Bearer s3cret", "Bearer s3creT"));
  EXPECT_FALSE(ConstantTimeEquals("Bearer s3cret", "Bearer s3cre"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_FALSE(
      ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace otlp_arrow::common
