// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/hex.h"

#include <gtest/gtest.h>

namespace otlp_arrow::common {
namespace {

TEST(LowerHex, TwoLowercaseDigitsPerByte) {
  EXPECT_EQ(LowerHex(""), "");
  EXPECT_EQ(LowerHex(std::string_view("\x00\x0f\xab\xff", 4)), "000fabff");
  EXPECT_EQ(LowerHex("\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6"), "4bf92f3577b34da6");
}

}  // namespace
}  // namespace otlp_arrow::common
