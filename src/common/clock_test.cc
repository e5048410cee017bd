// SPDX-License-Identifier: Apache-2.0
// ManualClock and the steady clock: deadlines, predicates and wake-ups.

#include "otlp_arrow/common/clock.h"

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

namespace otlp_arrow::common {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ManualClock, MovesOnlyWhenAdvanced) {
  ManualClock clock;
  const Clock::TimePoint start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(milliseconds(1500));
  EXPECT_EQ(clock.Now() - start, milliseconds(1500));
}

TEST(ManualClock, PastDeadlineReturnsAtOnce) {
  ManualClock clock;
  std::mutex mutex;
  std::condition_variable cv;
  std::unique_lock lock(mutex);
  EXPECT_FALSE(clock.WaitUntil(lock, cv, clock.Now(), [] { return false; }));
  EXPECT_TRUE(clock.WaitUntil(lock, cv, clock.Now(), [] { return true; }));
  EXPECT_TRUE(lock.owns_lock());
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(ManualClock, WaiterWakesOnlyOnceItsDeadlinePassed) {
  auto clock = std::make_shared<ManualClock>();
  std::mutex mutex;
  std::condition_variable cv;
  const Clock::TimePoint deadline = clock->Now() + seconds(10);
  auto waiter = std::async(std::launch::async, [&] {
    std::unique_lock lock(mutex);
    const bool stopped = clock->WaitUntil(lock, cv, deadline, [] { return false; });
    return std::make_pair(stopped, clock->Now());
  });
  ASSERT_TRUE(clock->AwaitWaiters(1));
  clock->Advance(seconds(9));
  // Woken, the waiter finds its deadline not reached and waits again (then counts as a
  // waiter once more); it cannot have returned.
  ASSERT_TRUE(clock->AwaitWaiters(1));
  clock->Advance(seconds(1));
  auto [stopped, woke_at] = waiter.get();
  EXPECT_FALSE(stopped);
  EXPECT_EQ(woke_at, deadline);
  EXPECT_EQ(clock->waiters(), 0u);
}

TEST(ManualClock, NotificationWithPredicateEndsTheWait) {
  ManualClock clock;
  std::mutex mutex;
  std::condition_variable cv;
  bool ready = false;
  auto waiter = std::async(std::launch::async, [&] {
    std::unique_lock lock(mutex);
    return clock.WaitUntil(lock, cv, Clock::TimePoint::max(), [&] { return ready; });
  });
  ASSERT_TRUE(clock.AwaitWaiters(1));
  {
    std::lock_guard lock(mutex);
    ready = true;
  }
  cv.notify_all();
  EXPECT_TRUE(waiter.get());
}

TEST(ManualClock, AdvanceWakesEveryWaiter) {
  auto clock = std::make_shared<ManualClock>();
  std::mutex mutex_a, mutex_b;
  std::condition_variable cv_a, cv_b;
  auto wait = [&](std::mutex& mutex, std::condition_variable& cv) {
    std::unique_lock lock(mutex);
    return clock->WaitUntil(lock, cv, clock->Now() + seconds(1), [] { return false; });
  };
  const Clock::TimePoint start = clock->Now();
  auto a = std::async(std::launch::async, [&] { return wait(mutex_a, cv_a); });
  auto b = std::async(std::launch::async, [&] { return wait(mutex_b, cv_b); });
  ASSERT_TRUE(clock->AwaitWaiters(2));
  // Both computed their deadline from `start`: the clock has not moved.
  clock->Advance(seconds(1));
  EXPECT_FALSE(a.get());
  EXPECT_FALSE(b.get());
  EXPECT_EQ(clock->Now() - start, seconds(1));
}

TEST(ManualClock, AwaitWaitersTimesOut) {
  ManualClock clock;
  EXPECT_FALSE(clock.AwaitWaiters(1, milliseconds(1)));
}

TEST(SteadyClock, WaitsUntilTheDeadline) {
  auto clock = Clock::Steady();
  std::mutex mutex;
  std::condition_variable cv;
  std::unique_lock lock(mutex);
  const Clock::TimePoint deadline = clock->Now() + milliseconds(5);
  EXPECT_FALSE(clock->WaitUntil(lock, cv, deadline, [] { return false; }));
  EXPECT_GE(clock->Now(), deadline);
  EXPECT_TRUE(clock->WaitUntil(lock, cv, Clock::TimePoint::max(), [] { return true; }));
}

TEST(SaturatingAdd, StopsAtMax) {
  const Clock::TimePoint t = Clock::TimePoint{} + seconds(5);
  EXPECT_EQ(SaturatingAdd(t, seconds(1)), t + seconds(1));
  EXPECT_EQ(SaturatingAdd(t, Clock::Duration::max()), Clock::TimePoint::max());
  EXPECT_EQ(SaturatingAdd(Clock::TimePoint::max(), seconds(1)), Clock::TimePoint::max());
}

}  // namespace
}  // namespace otlp_arrow::common
