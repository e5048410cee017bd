// SPDX-License-Identifier: Apache-2.0
// Cancels the gRPC calls whose client keeps the server waiting too long.

#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include <grpcpp/server_context.h>

namespace otlp_arrow::transport::internal {

/// \brief One thread that cancels (grpc::ServerContext::TryCancel) every watched call
/// that has waited for its client's next message longer than the timeout: a stream
/// opened and then left silent must not hold a slot of the server for ever. Only the
/// time spent waiting for the client counts, not the server's own work between reads.
class IdleStreamWatchdog {
 public:
  class Watch;

  /// \param[in] timeout how long a read may wait; zero disables the watchdog
  explicit IdleStreamWatchdog(std::chrono::milliseconds timeout);
  ~IdleStreamWatchdog();
  IdleStreamWatchdog(const IdleStreamWatchdog&) = delete;
  IdleStreamWatchdog& operator=(const IdleStreamWatchdog&) = delete;

  /// \brief Watches `context` until the returned Watch is destroyed.
  std::unique_ptr<Watch> Add(grpc::ServerContext* context);

 private:
  void Run();

  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::unordered_set<Watch*> watches_;
  std::thread thread_;
};

/// \brief The watch of one call; bracket each blocking read with BeginWait/EndWait.
class IdleStreamWatchdog::Watch {
 public:
  Watch(IdleStreamWatchdog* watchdog, grpc::ServerContext* context)
      : watchdog_(watchdog), context_(context) {}
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  void BeginWait();
  void EndWait();
  /// \brief Whether the watchdog cancelled the call.
  bool expired() const;

 private:
  friend class IdleStreamWatchdog;
  IdleStreamWatchdog* watchdog_;
  grpc::ServerContext* context_;
  // Guarded by watchdog_->mutex_.
  std::optional<std::chrono::steady_clock::time_point> waiting_since_;
  bool expired_ = false;
};

}  // namespace otlp_arrow::transport::internal
