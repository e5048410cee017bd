// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/clock.h"

#include <algorithm>

namespace otlp_arrow::common {

namespace {

class SteadyClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }

  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline, const std::function<bool()>& stop) override {
    // A far deadline turned into an absolute timespec can overflow inside the
    // library; without a deadline there is nothing to convert.
    if (deadline == TimePoint::max()) {
      cv.wait(lock, stop);
      return true;
    }
    return cv.wait_until(lock, deadline, stop);
  }
};

}  // namespace

std::shared_ptr<Clock> Clock::Steady() {
  static const std::shared_ptr<Clock> clock = std::make_shared<SteadyClock>();
  return clock;
}

Clock::TimePoint SaturatingAdd(Clock::TimePoint t, Clock::Duration d) {
  if (d.count() <= 0) return t + d;
  if (t > Clock::TimePoint::max() - d) return Clock::TimePoint::max();
  return t + d;
}

ManualClock::ManualClock(TimePoint start) : now_(start) {}

Clock::TimePoint ManualClock::Now() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return now_;
}

bool ManualClock::WaitUntil(std::unique_lock<std::mutex>& lock,
                            std::condition_variable& cv, TimePoint deadline,
                            const std::function<bool()>& stop) {
  Waiter self{lock.mutex(), &cv};
  while (true) {
    if (stop()) return true;
    {
      // Reading the time and registering in one step: an Advance() either comes before
      // (and the deadline check sees its time) or after (and it notifies us).
      std::lock_guard<std::mutex> guard(mutex_);
      if (now_ >= deadline) return false;
      waiters_.push_back(&self);
    }
    changed_.notify_all();
    cv.wait(lock);
    // Deregistering waits for Advance() calls still holding our entry, and they lock
    // our mutex: it has to be released for that.
    lock.unlock();
    {
      std::unique_lock<std::mutex> guard(mutex_);
      waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
      changed_.wait(guard, [&self] { return self.notifying == 0; });
    }
    lock.lock();
  }
}

void ManualClock::Advance(Duration d) {
  std::vector<Waiter*> woken;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    now_ += d;
    woken = waiters_;
    for (Waiter* waiter : woken) ++waiter->notifying;
  }
  for (Waiter* waiter : woken) {
    // The waiter holds its mutex from its deadline check until cv.wait releases it, so
    // once we get the mutex it is asleep (or has seen the new time), and the
    // notification cannot fall in between.
    { std::lock_guard<std::mutex> waiter_lock(*waiter->mutex); }
    waiter->cv->notify_all();
  }
  {
    std::lock_guard<std::mutex> guard(mutex_);
    for (Waiter* waiter : woken) --waiter->notifying;
  }
  changed_.notify_all();
}

size_t ManualClock::waiters() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return waiters_.size();
}

bool ManualClock::AwaitWaiters(size_t count,
                               std::chrono::milliseconds real_timeout) const {
  std::unique_lock<std::mutex> guard(mutex_);
  return changed_.wait_for(guard, real_timeout, [&] { return waiters_.size() >= count; });
}

}  // namespace otlp_arrow::common
