// SPDX-License-Identifier: Apache-2.0
// One OTAP ArrowTracesService/ArrowTraces call on the OTLP/gRPC receiver's completion
// queue: read a BatchArrowRecords, decode it with the stream's state, hand its spans to
// TraceIngest, answer with a BatchStatus; until the client half-closes.

#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "opentelemetry/proto/experimental/arrow/v1/arrow_service.grpc.pb.h"
#include "otlp_arrow/pipeline/trace_ingest.h"
#include "otlp_arrow/service/otlp_grpc_receiver.h"
#include "otlp_arrow/service/request_memory_budget.h"
#include "receiver_internal.h"

namespace otlp_arrow::service::internal {

/// \brief An event of the receiver's completion queue: the queue's tag is a pointer to
/// one of these, and the thread that takes the event calls Complete().
class CompletionTag {
 public:
  virtual void Complete(bool ok) = 0;

 protected:
  ~CompletionTag() = default;
};

using ArrowTracesService =
    opentelemetry::proto::experimental::arrow::v1::ArrowTracesService;
// Raw (ByteBuffer) messages: the receiver undoes the sender's zstd or gzip itself (see
// DecompressOtapMessage) before parsing.
using RawArrowTracesService =
    ArrowTracesService::WithRawMethod_ArrowTraces<ArrowTracesService::Service>;

/// \brief Stream counters of the OTAP side (the batches are counted in a
/// ReceiverCounters).
struct OtapStreamCounters {
  std::atomic<int64_t> opened{0};
  std::atomic<int64_t> active{0};
  std::atomic<int64_t> refused_busy{0};
  std::atomic<int64_t> ended_with_error{0};
  std::atomic<int64_t> idle_cancelled{0};
  std::atomic<int64_t> batches_unauthenticated{0};
};

/// \brief What every stream of one receiver shares. Owned by the receiver, which
/// outlives its streams (its threads drain the queue before it goes).
struct OtapStreamHost {
  RawArrowTracesService* service = nullptr;
  grpc::ServerCompletionQueue* cq = nullptr;
  // Operations start under a shared lock while the queue is open; the receiver takes it
  // exclusively to shut the queue down.
  std::shared_mutex* queue_mutex = nullptr;
  const bool* queue_open = nullptr;
  const OtlpGrpcReceiverOptions* options = nullptr;
  pipeline::TraceIngest* ingest = nullptr;
  ReceiverCounters* batch_counters = nullptr;
  OtapStreamCounters* stream_counters = nullptr;
  // "Bearer <token>", or empty when the receiver asks for none.
  std::string expected_authorization;
};

/// \brief Whether the call's gRPC metadata holds exactly one `authorization` header and
/// it is `expected` ("Bearer <token>"), compared in constant time. For Export and
/// ArrowTraces alike.
bool CallCarriesAuthorization(const grpc::ServerContext& context,
                              std::string_view expected);

/// \brief Asks the queue for the next ArrowTraces call; when one comes, serves it and
/// asks for the next. The stream deletes itself when its call has ended.
void AwaitOtapStream(const OtapStreamHost& host);

}  // namespace otlp_arrow::service::internal
