// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/service/request_memory_budget.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace otlp_arrow::service {
namespace {

TEST(RequestMemoryBudget, ReservesUpToItsCapacityAndGivesBack) {
  auto budget = std::make_shared<RequestMemoryBudget>(1000);
  auto a = RequestMemoryBudget::Open(budget);
  auto b = RequestMemoryBudget::Open(budget);
  EXPECT_TRUE(a.Grow(600));
  EXPECT_FALSE(b.Grow(500));  // 1100 > 1000
  EXPECT_EQ(b.bytes(), 0);
  EXPECT_TRUE(b.Grow(400));
  EXPECT_EQ(budget->reserved_bytes(), 1000);
  EXPECT_FALSE(a.GrowTo(601));
  EXPECT_TRUE(a.GrowTo(600));  // holds that much already
  EXPECT_EQ(budget->refusals(), 2);
  a.Release();
  EXPECT_EQ(budget->reserved_bytes(), 400);
  EXPECT_TRUE(b.GrowTo(1000));
  EXPECT_TRUE(b.CouldHold(1000));
  EXPECT_FALSE(b.CouldHold(1001));
  {
    auto moved = std::move(b);
    EXPECT_EQ(moved.bytes(), 1000);
    EXPECT_EQ(b.bytes(), 0);  // NOLINT(bugprone-use-after-move): moved-from is empty
  }                           // destroyed: released
  EXPECT_EQ(budget->reserved_bytes(), 0);
}

TEST(RequestMemoryBudget, WithoutABudgetNothingIsRefused) {
  auto unlimited = RequestMemoryBudget::Open(nullptr);
  EXPECT_TRUE(unlimited.Grow(int64_t{1} << 50));
  EXPECT_TRUE(unlimited.CouldHold(int64_t{1} << 60));
}

TEST(RequestMemoryBudget, NeverOverCapacityUnderContention) {
  auto budget = std::make_shared<RequestMemoryBudget>(10'000);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        auto reservation = RequestMemoryBudget::Open(budget);
        if (reservation.Grow(1 + i % 3000) && budget->reserved_bytes() > 10'000) {
          over = true;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_FALSE(over.load());
  EXPECT_EQ(budget->reserved_bytes(), 0);
}

}  // namespace
}  // namespace otlp_arrow::service
