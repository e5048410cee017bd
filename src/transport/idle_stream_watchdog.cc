// SPDX-License-Identifier: Apache-2.0

#include "idle_stream_watchdog_internal.h"

#include <algorithm>

namespace otlp_arrow::transport::internal {

using Clock = std::chrono::steady_clock;

IdleStreamWatchdog::IdleStreamWatchdog(std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  if (timeout_.count() > 0) thread_ = std::thread([this] { Run(); });
}

IdleStreamWatchdog::~IdleStreamWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<IdleStreamWatchdog::Watch> IdleStreamWatchdog::Add(
    grpc::ServerContext* context) {
  auto watch = std::make_unique<Watch>(this, context);
  std::lock_guard<std::mutex> lock(mutex_);
  watches_.insert(watch.get());
  return watch;
}

void IdleStreamWatchdog::Run() {
  // A call is cancelled between `timeout` and `timeout + period` after its read began.
  const auto period = std::clamp<std::chrono::milliseconds>(
      timeout_ / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, period);
    const auto now = Clock::now();
    for (Watch* watch : watches_) {
      if (watch->expired_ || !watch->waiting_since_.has_value()) continue;
      if (now - *watch->waiting_since_ >= timeout_) {
        watch->expired_ = true;
        watch->context_->TryCancel();
      }
    }
  }
}

IdleStreamWatchdog::Watch::~Watch() {
  std::lock_guard<std::mutex> lock(watchdog_->mutex_);
  watchdog_->watches_.erase(this);
}

void IdleStreamWatchdog::Watch::BeginWait() {
  std::lock_guard<std::mutex> lock(watchdog_->mutex_);
  waiting_since_ = Clock::now();
}

void IdleStreamWatchdog::Watch::EndWait() {
  std::lock_guard<std::mutex> lock(watchdog_->mutex_);
  waiting_since_.reset();
}

bool IdleStreamWatchdog::Watch::expired() const {
  std::lock_guard<std::mutex> lock(watchdog_->mutex_);
  return expired_;
}

}  // namespace otlp_arrow::transport::internal
