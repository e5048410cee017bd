// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/telemetry/readiness.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace otlp_arrow::telemetry {

FlagCheck::FlagCheck(std::string not_ready_reason, bool initially)
    : flag_(std::make_shared<std::atomic<bool>>(initially)),
      not_ready_reason_(std::move(not_ready_reason)) {}

ReadinessCheck FlagCheck::AsCheck() const {
  return [flag = flag_, reason = not_ready_reason_] {
    return flag->load(std::memory_order_acquire) ? ReadinessResult::Ready()
                                                 : ReadinessResult::NotReady(reason);
  };
}

RecentSuccessCheck::RecentSuccessCheck(std::string what, std::chrono::milliseconds window)
    : state_(std::make_shared<State>()) {
  state_->what = std::move(what);
  state_->window = window;
}

void RecentSuccessCheck::MarkSuccess(Clock::time_point at) {
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  // max: a late MarkSuccess() with an older time must not move the last success back.
  int64_t last = state_->last_success_ns.load(std::memory_order_relaxed);
  while (last < ns &&
         !state_->last_success_ns.compare_exchange_weak(
             last, ns, std::memory_order_release, std::memory_order_relaxed)) {
  }
}

ReadinessResult RecentSuccessCheck::Evaluate(Clock::time_point now) const {
  return Evaluate(*state_, now);
}

ReadinessResult RecentSuccessCheck::Evaluate(const State& state, Clock::time_point now) {
  const int64_t last = state.last_success_ns.load(std::memory_order_acquire);
  if (last == State::kNever)
    return ReadinessResult::NotReady(fmt::format("{}: never", state.what));
  const auto age = now - Clock::time_point(std::chrono::nanoseconds(last));
  const double age_s = std::chrono::duration<double>(age).count();
  const double window_s = std::chrono::duration<double>(state.window).count();
  std::string reason =
      fmt::format("{}: {:.1f} s ago (limit {:.1f} s)", state.what, age_s, window_s);
  return age <= state.window ? ReadinessResult::Ready(std::move(reason))
                             : ReadinessResult::NotReady(std::move(reason));
}

ReadinessCheck RecentSuccessCheck::AsCheck() const {
  return [state = state_] { return Evaluate(*state, Clock::now()); };
}

HighWaterMarkCheck::HighWaterMarkCheck(std::string what, std::function<double()> level,
                                       double high_water, double low_water)
    : state_(std::make_shared<State>()) {
  state_->what = std::move(what);
  state_->level = std::move(level);
  state_->high_water = high_water;
  state_->low_water = std::min(low_water, high_water);
}

ReadinessResult HighWaterMarkCheck::Evaluate() const { return Evaluate(*state_); }

ReadinessResult HighWaterMarkCheck::Evaluate(State& state) {
  const double level = state.level();
  // Concurrent /ready requests may both flip `above`; both flips agree with the level
  // they read, so the last store wins with a state that was true a moment ago.
  bool above = state.above.load(std::memory_order_relaxed);
  if (level >= state.high_water) {
    above = true;
  } else if (level < state.low_water) {
    above = false;
  }
  state.above.store(above, std::memory_order_relaxed);
  std::string reason =
      above ? fmt::format("{} at {} (high-water mark {}, ready again below {})",
                          state.what, level, state.high_water, state.low_water)
            : fmt::format("{} at {} (high-water mark {})", state.what, level,
                          state.high_water);
  return above ? ReadinessResult::NotReady(std::move(reason))
               : ReadinessResult::Ready(std::move(reason));
}

ReadinessCheck HighWaterMarkCheck::AsCheck() const {
  return [state = state_] { return Evaluate(*state); };
}

}  // namespace otlp_arrow::telemetry
