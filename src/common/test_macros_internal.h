// SPDX-License-Identifier: Apache-2.0
// GoogleTest checks of arrow::Status and arrow::Result for the project's tests (the
// wheel's Arrow has no libarrow_testing for arrow/testing/gtest_util.h).

#pragma once

#include <utility>

#include <arrow/result.h>
#include <arrow/status.h>
#include <gtest/gtest.h>

#define OTLP_ARROW_TEST_CONCAT_INNER(a, b) a##b
#define OTLP_ARROW_TEST_CONCAT(a, b) OTLP_ARROW_TEST_CONCAT_INNER(a, b)

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    const ::arrow::Status _st = (expr);                       \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (false)

#define EXPECT_OK(expr)                                       \
  do {                                                        \
    const ::arrow::Status _st = (expr);                       \
    EXPECT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (false)

#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, rexpr)                    \
  auto tmp = (rexpr);                                                 \
  ASSERT_TRUE(tmp.ok()) << #rexpr << ": " << tmp.status().ToString(); \
  lhs = std::move(tmp).ValueUnsafe()

#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL(OTLP_ARROW_TEST_CONCAT(_result_, __LINE__), lhs, rexpr)
