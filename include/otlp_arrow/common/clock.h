// SPDX-License-Identifier: Apache-2.0
// Clock: the time source and the timed waits of every component that waits, injectable so
// that tests drive flush intervals, backoffs and deadlines without sleeping.

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace otlp_arrow::common {

/// \brief Now() and waits on a condition variable until a deadline of this clock.
///
/// Every timed wait of a component that takes a Clock goes through WaitUntil(), so a
/// ManualClock controls all of its timing.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;

  virtual TimePoint Now() const = 0;

  /// \brief Waits on `cv` until `stop()` is true or Now() >= `deadline`, like
  /// std::condition_variable::wait_until with a predicate. `lock` must hold the mutex
  /// that guards what `stop` reads and that notifiers of `cv` change it under; the
  /// mutex may be released and reacquired while waiting, as by cv.wait. Returns
  /// `stop()`. TimePoint::max() waits without a deadline.
  virtual bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         TimePoint deadline, const std::function<bool()>& stop) = 0;

  /// \brief The process's std::chrono::steady_clock (shared, stateless).
  static std::shared_ptr<Clock> Steady();
};

/// \brief `t + d`, saturating at TimePoint::max() (e.g. for a timeout of hours::max()).
Clock::TimePoint SaturatingAdd(Clock::TimePoint t, Clock::Duration d);

/// \brief A clock that only moves when told: Advance() moves it and wakes every waiter
/// whose deadline may have passed. For tests.
///
/// Advance() briefly locks the mutex of each waiter (that is what makes a wake-up that
/// races with a waiter going to sleep impossible to lose), so it must not be called
/// while holding a mutex that a waiter of this clock waits with.
class ManualClock : public Clock {
 public:
  /// \brief Starts at `start` (an arbitrary steady time; the epoch by default).
  explicit ManualClock(TimePoint start = TimePoint{});

  TimePoint Now() const override;

  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline, const std::function<bool()>& stop) override;

  /// \brief Moves the clock forward by `d` and wakes every waiter.
  void Advance(Duration d);

  /// \brief Threads blocked in WaitUntil() now.
  size_t waiters() const;

  /// \brief Blocks (in real time, up to `real_timeout`) until at least `count` threads
  /// are blocked in WaitUntil(); returns whether they are. Tests use it to know that a
  /// thread has computed its deadline and gone to sleep before they Advance().
  bool AwaitWaiters(size_t count, std::chrono::milliseconds real_timeout =
                                      std::chrono::seconds(30)) const;

 private:
  struct Waiter {
    std::mutex* mutex;
    std::condition_variable* cv;
    // Advance() calls in progress that still use this entry; the waiter leaves
    // WaitUntil() only when it is zero, so those calls never see a dangling entry.
    int notifying = 0;
  };

  mutable std::mutex mutex_;
  // Signalled when `waiters_` grows (AwaitWaiters) and when an Advance() is done with
  // its entries (leaving waiters).
  mutable std::condition_variable changed_;
  TimePoint now_;
  std::vector<Waiter*> waiters_;
};

}  // namespace otlp_arrow::common
