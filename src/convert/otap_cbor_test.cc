// SPDX-License-Identifier: Apache-2.0

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "../common/test_macros_internal.h"
#include "otap_cbor_internal.h"

namespace otlp_arrow::convert::internal {
namespace {

template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

otlp::AnyValue Decoded(const std::string& cbor) {
  otlp::AnyValue value;
  const auto status = DecodeCbor(cbor, &value);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return value;
}

void ExpectInvalid(const std::string& cbor, const std::string& what) {
  otlp::AnyValue value;
  const auto status = DecodeCbor(cbor, &value);
  ASSERT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_NE(status.message().find(what), std::string::npos) << status.ToString();
}

double Double(const std::string& cbor) {
  const auto value = Decoded(cbor);
  EXPECT_TRUE(value.has_double_value());
  return value.double_value();
}

TEST(OtapCbor, HalfSingleAndDoubleFloats) {
  EXPECT_EQ(Double(Bytes("\xf9\x3c\x00")), 1.0);
  EXPECT_EQ(Double(Bytes("\xf9\x00\x01")), std::ldexp(1.0, -24));  // subnormal
  EXPECT_EQ(Double(Bytes("\xf9\x7b\xff")), 65504.0);
  EXPECT_EQ(Double(Bytes("\xf9\x7c\x00")), INFINITY);
  EXPECT_EQ(Double(Bytes("\xf9\xfc\x00")), -INFINITY);
  EXPECT_TRUE(std::isnan(Double(Bytes("\xf9\x7e\x00"))));
  const double negative_zero = Double(Bytes("\xf9\x80\x00"));
  EXPECT_EQ(negative_zero, 0.0);
  EXPECT_TRUE(std::signbit(negative_zero));
  EXPECT_EQ(Double(Bytes("\xfa\x3f\xc0\x00\x00")), 1.5);
  EXPECT_EQ(Double(Bytes("\xfa\x7f\x80\x00\x00")), INFINITY);
  EXPECT_EQ(Double(Bytes("\xfb\x40\x09\x21\xfb\x54\x44\x2d\x18")), 3.141592653589793);
}

TEST(OtapCbor, IntegersInInt64Range) {
  EXPECT_EQ(Decoded(Bytes("\x17")).int_value(), 23);
  EXPECT_EQ(Decoded(Bytes("\x18\x18")).int_value(), 24);
  EXPECT_EQ(Decoded(Bytes("\x20")).int_value(), -1);
  EXPECT_EQ(Decoded(Bytes("\x1b\x7f\xff\xff\xff\xff\xff\xff\xff")).int_value(),
            INT64_MAX);
  EXPECT_EQ(Decoded(Bytes("\x3b\x7f\xff\xff\xff\xff\xff\xff\xff")).int_value(),
            INT64_MIN);
  ExpectInvalid(Bytes("\x1b\x80\x00\x00\x00\x00\x00\x00\x00"), "integer past int64");
  ExpectInvalid(Bytes("\x3b\x80\x00\x00\x00\x00\x00\x00\x00"), "negative integer");
}

TEST(OtapCbor, StringsBytesAndIndefiniteLengths) {
  EXPECT_EQ(Decoded(Bytes("\x60")).string_value(), "");
  EXPECT_TRUE(Decoded(Bytes("\x60")).has_string_value());
  EXPECT_EQ(Decoded(Bytes("\x40")).bytes_value(), "");
  EXPECT_TRUE(Decoded(Bytes("\x40")).has_bytes_value());
  EXPECT_EQ(Decoded(Bytes("\x7f\x62\xc3\xa9\x60\x61x\xff")).string_value(), "éx");
  EXPECT_EQ(Decoded(Bytes("\x5f\x41\x00\x42\x01\x02\xff")).bytes_value(),
            std::string("\x00\x01\x02", 3));
  ExpectInvalid(Bytes("\x7f\x41x\xff"), "bad chunk");
  ExpectInvalid(Bytes("\x7f\x7f\xff\xff"), "bad chunk");
  ExpectInvalid(Bytes("\x62\xc3\x28"), "not UTF-8");
  const auto array = Decoded(Bytes("\x9f\x01\x9f\xff\xff")).array_value();
  ASSERT_EQ(array.values_size(), 2);
  EXPECT_EQ(array.values(1).array_value().values_size(), 0);
  EXPECT_TRUE(array.values(1).has_array_value());
  const auto map = Decoded(Bytes("\xbf\x61k\xf6\x7f\x61j\xff\xf5\xff")).kvlist_value();
  ASSERT_EQ(map.values_size(), 2);
  EXPECT_EQ(map.values(0).value().value_case(), otlp::AnyValue::VALUE_NOT_SET);
  EXPECT_EQ(map.values(1).key(), "j");
  EXPECT_TRUE(map.values(1).value().bool_value());
}

TEST(OtapCbor, NullAndUndefinedAreEmpty) {
  EXPECT_EQ(Decoded(Bytes("\xf6")).value_case(), otlp::AnyValue::VALUE_NOT_SET);
  EXPECT_EQ(Decoded(Bytes("\xf7")).value_case(), otlp::AnyValue::VALUE_NOT_SET);
  EXPECT_FALSE(Decoded(Bytes("\xf4")).bool_value());
}

// A repeated key keeps its first position and takes its last value.
TEST(OtapCbor, RepeatedMapKeys) {
  const auto map = Decoded(Bytes("\xa3\x61k\x01\x61j\x02\x61k\x03")).kvlist_value();
  ASSERT_EQ(map.values_size(), 2);
  EXPECT_EQ(map.values(0).key(), "k");
  EXPECT_EQ(map.values(0).value().int_value(), 3);
  EXPECT_EQ(map.values(1).value().int_value(), 2);
}

TEST(OtapCbor, RefusesWhatGoRefuses) {
  ExpectInvalid(Bytes("\xa1\x01\x02"), "map key that is not a text string");
  ExpectInvalid(Bytes("\xa1\x41k\x02"), "map key that is not a text string");
  ExpectInvalid(Bytes("\xc1\x00"), "tag");
  ExpectInvalid(Bytes("\xf0"), "simple value");
  ExpectInvalid(Bytes("\xf8\x20"), "simple value");
  ExpectInvalid(Bytes("\xff"), "unexpected break");
  ExpectInvalid(Bytes("\x1c"), "reserved");
  ExpectInvalid(Bytes("\x1f"), "indefinite length on an integer");
  ExpectInvalid(Bytes("\x01\x02"), "trailing bytes");
  ExpectInvalid("", "truncated");
}

TEST(OtapCbor, SizesAreCheckedBeforeAllocating) {
  ExpectInvalid(Bytes("\x5b\x00\x00\x00\x00\xff\xff\xff\xff"), "truncated string");
  ExpectInvalid(Bytes("\x7b\xff\xff\xff\xff\xff\xff\xff\xff"), "truncated string");
  ExpectInvalid(Bytes("\x9b\xff\xff\xff\xff\xff\xff\xff\xff"), "more than 131072");
  ExpectInvalid(Bytes("\x9a\x00\x01\x00\x00"), "truncated container");
  ExpectInvalid(Bytes("\xb9\x10\x00"), "truncated container");
}

TEST(OtapCbor, NestingIsBounded) {
  std::string ok(kMaxCborNesting, '\x81');
  ok += '\x01';
  EXPECT_TRUE(Decoded(ok).has_array_value());
  std::string deep(kMaxCborNesting + 1, '\x81');
  deep += '\x01';
  ExpectInvalid(deep, "nesting deeper than 32");
  ExpectInvalid(std::string(100000, '\x9f'), "nesting deeper than 32");
}

// Every prefix of a valid item is refused, never read past.
TEST(OtapCbor, EveryTruncationIsRefused) {
  const std::string item = Bytes(
      "\xbf\x61m\xa2\x61h\xf9\x3e\x00\x61s\x7f\x62\xc3\xa9\xff\x61l\x9f\x1b\x00\x00"
      "\x00\x01\x00\x00\x00\x00\xfa\x3f\xc0\x00\x00\x42\x00\x01\xff\xff");
  otlp::AnyValue value;
  ASSERT_OK(DecodeCbor(item, &value));
  for (size_t n = 0; n < item.size(); ++n) {
    // A copy of its own, so that a read past the end is an ASan error.
    const std::string prefix = item.substr(0, n);
    EXPECT_TRUE(DecodeCbor(prefix, &value).IsInvalid()) << n;
  }
}

}  // namespace
}  // namespace otlp_arrow::convert::internal
