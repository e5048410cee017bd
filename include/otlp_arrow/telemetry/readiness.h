// SPDX-License-Identifier: Apache-2.0
// Readiness checks: named conditions that /ready evaluates at each request ("listeners
// up", "upstream reached lately", "queue below its high-water mark").

#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>

namespace otlp_arrow::telemetry {

/// \brief The outcome of one readiness check; `reason` says why it is not ready (and may
/// tell the current figures when it is).
struct [[nodiscard]] ReadinessResult {
  bool ready = false;
  std::string reason;

  static ReadinessResult Ready(std::string reason = {}) {
    return {true, std::move(reason)};
  }
  static ReadinessResult NotReady(std::string reason) {
    return {false, std::move(reason)};
  }
};

/// \brief A readiness check: called from the operations server's threads at each
/// /ready request, so it must be thread-safe and cheap (read atomics, no I/O).
using ReadinessCheck = std::function<ReadinessResult()>;

/// \brief Ready while a flag is set, e.g. "listeners up" set once every receiver is
/// listening and cleared when one stops.
class FlagCheck {
 public:
  /// \param not_ready_reason what /ready reports while the flag is clear.
  explicit FlagCheck(std::string not_ready_reason, bool initially = false);

  void Set(bool value) { flag_->store(value, std::memory_order_release); }
  bool Get() const { return flag_->load(std::memory_order_acquire); }

  /// \brief The check; it shares the flag, so it stays valid after this object is gone.
  ReadinessCheck AsCheck() const;

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
  std::string not_ready_reason_;
};

/// \brief Ready while something succeeded within a window, e.g. "upstream reached in the
/// last 30 s": the exporter calls MarkSuccess() after each acknowledged export or
/// successful handshake.
class RecentSuccessCheck {
 public:
  using Clock = std::chrono::steady_clock;

  /// \param what names the event in the reason, e.g. "upstream reached".
  /// \param window how old the last success may be.
  RecentSuccessCheck(std::string what, std::chrono::milliseconds window);

  void MarkSuccess(Clock::time_point at = Clock::now());

  /// \brief Evaluates the check as of `now`.
  ReadinessResult Evaluate(Clock::time_point now = Clock::now()) const;

  /// \brief The check; it shares the state, so it stays valid after this object is gone.
  ReadinessCheck AsCheck() const;

 private:
  struct State {
    std::string what;
    std::chrono::milliseconds window;
    // Nanoseconds since the steady clock's epoch; kNever for never. Not a time_point so
    // that it fits an atomic that MarkSuccess() can store without a lock.
    static constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
    std::atomic<int64_t> last_success_ns{kNever};
  };
  static ReadinessResult Evaluate(const State& state, Clock::time_point now);
  std::shared_ptr<State> state_;
};

/// \brief Not ready once a level reaches its high-water mark, ready again once it is
/// below its low-water mark (hysteresis, so a queue hovering at the mark does not flap
/// the load balancer), e.g. the export queue's spans.
class HighWaterMarkCheck {
 public:
  /// \param what names the level in the reason, e.g. "export queue spans".
  /// \param level reads the current level; must be thread-safe.
  /// \param high_water not ready once level >= high_water.
  /// \param low_water ready again once level < low_water; clamped to high_water.
  HighWaterMarkCheck(std::string what, std::function<double()> level, double high_water,
                     double low_water);
  /// \brief Without hysteresis: low_water = high_water.
  HighWaterMarkCheck(std::string what, std::function<double()> level, double high_water)
      : HighWaterMarkCheck(std::move(what), std::move(level), high_water, high_water) {}

  ReadinessResult Evaluate() const;

  /// \brief The check; it shares the state, so it stays valid after this object is gone.
  ReadinessCheck AsCheck() const;

 private:
  struct State {
    std::string what;
    std::function<double()> level;
    double high_water;
    double low_water;
    std::atomic<bool> above{false};
  };
  static ReadinessResult Evaluate(State& state);
  std::shared_ptr<State> state_;
};

}  // namespace otlp_arrow::telemetry
