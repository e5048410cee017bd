// SPDX-License-Identifier: Apache-2.0

#include "otap_stream_internal.h"

#include <chrono>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <grpcpp/alarm.h>

#include "opentelemetry/proto/experimental/arrow/v1/arrow_service.pb.h"
#include "otap_messages_internal.h"
#include "otlp_arrow/common/constant_time.h"
#include "otlp_arrow/common/log.h"
#include "otlp_arrow/convert/otap_traces_decoder.h"

namespace otlp_arrow::service::internal {

namespace {

namespace arrowpb = opentelemetry::proto::experimental::arrow::v1;

// BatchStatus codes (arrow_service.proto StatusCode). The Collector's exporter retries
// UNAVAILABLE, drops INVALID_ARGUMENT and RESOURCE_EXHAUSTED, and breaks the stream on
// anything else, so a batch is only ever answered with these four.
constexpr int kOk = arrowpb::OK;
constexpr int kInvalidArgument = arrowpb::INVALID_ARGUMENT;
constexpr int kUnavailable = arrowpb::UNAVAILABLE;
constexpr int kUnauthenticated = arrowpb::UNAUTHENTICATED;

struct BatchAnswer {
  int code = kOk;
  std::string message;
};

// An IngestResult as the exporter should take it: a full queue is UNAVAILABLE, not
// RESOURCE_EXHAUSTED, which would make it drop the data.
BatchAnswer AnswerFor(const pipeline::IngestResult& result) {
  switch (result.code) {
    case pipeline::IngestCode::kAccepted:
      return {kOk, {}};
    case pipeline::IngestCode::kInvalid:
    case pipeline::IngestCode::kTooLarge:
      return {kInvalidArgument, result.message};
    case pipeline::IngestCode::kQueueFull:
    case pipeline::IngestCode::kShuttingDown:
    case pipeline::IngestCode::kUnavailable:
      return {kUnavailable, result.message};
  }
  return {kUnavailable, "unknown answer of the pipeline"};
}

std::string_view View(const grpc::string_ref& s) { return {s.data(), s.size()}; }

class OtapStream {
 public:
  explicit OtapStream(const OtapStreamHost& host) : host_(host) {}

  void Await() {
    // Only a stream that was never matched is deleted here (the queue shut down).
    if (!StartOperation([this] {
          host_.service->RequestArrowTraces(&context_, &stream_, host_.cq, host_.cq,
                                            &match_tag_);
        })) {
      delete this;
    }
  }

 private:
  enum class Op { kMatch, kRead, kWrite, kFinish, kIdleCheck };
  struct Tag final : CompletionTag {
    Tag(OtapStream* s, Op o) : stream(s), op(o) {}
    void Complete(bool ok) override { stream->OnComplete(op, ok); }
    OtapStream* stream;
    Op op;
  };

  template <typename Start>
  bool StartOperation(Start&& start) {
    std::shared_lock<std::shared_mutex> lock(*host_.queue_mutex);
    if (!*host_.queue_open) return false;
    start();
    return true;
  }

  void OnComplete(Op op, bool ok) {
    switch (op) {
      case Op::kMatch:
        return OnMatched(ok);
      case Op::kRead:
        return OnRead(ok);
      case Op::kWrite:
        return OnWritten(ok);
      case Op::kFinish:
        return OnFinished();
      case Op::kIdleCheck:
        return OnIdleCheck(ok);
    }
  }

  void OnMatched(bool ok) {
    if (!ok) {  // the server shuts down before a call came
      delete this;
      return;
    }
    AwaitOtapStream(host_);  // the next call finds a waiter
    matched_ = true;
    OtapStreamCounters& counters = *host_.stream_counters;
    counters.opened.fetch_add(1, std::memory_order_relaxed);
    const int64_t active = counters.active.fetch_add(1, std::memory_order_relaxed) + 1;
    std::unique_lock<std::mutex> lock(mutex_);
    const int limit = host_.options->max_otap_streams;
    if (limit > 0 && active > limit) {
      counters.refused_busy.fetch_add(1, std::memory_order_relaxed);
      End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                       "too many OTAP streams open on this receiver (max_otap_streams " +
                           std::to_string(limit) + "); retry later"));
    } else {
      convert::OtapTraceStreamDecoderOptions decoder_options;
      decoder_options.max_stream_dictionary_bytes =
          host_.options->otap_max_stream_dictionary_bytes;
      auto decoder = convert::OtapTraceStreamDecoder::Make(decoder_options);
      auto headers = HpackHeaderDecoder::Make();
      if (!decoder.ok() || !headers.ok()) {
        End(grpc::Status(
            grpc::StatusCode::INTERNAL,
            "cannot set up the stream: " +
                (decoder.ok() ? headers.status() : decoder.status()).ToString()));
      } else {
        decoder_ = std::move(*decoder);
        headers_ = std::move(*headers);
        StartRead();
        ArmIdleCheck(host_.options->otap_stream_idle_timeout);
      }
    }
    if (Advance()) {
      lock.unlock();
      delete this;
    }
  }

  void OnRead(bool ok) {
    std::unique_lock<std::mutex> lock(mutex_);
    reading_ = false;
    if (!ok) {
      // The client half-closed (or the call ended): answer what is left, then end.
      read_closed_ = true;
    } else {
      // Batches of one stream are decoded in order, one at a time: the next read starts
      // after this one is answered. The lock is not held meanwhile, so that answers
      // already queued keep going out.
      lock.unlock();
      std::optional<BatchAnswerMessage> answer = HandleBatchSafely();
      lock.lock();
      if (answer.has_value() && !write_failed_)
        answers_.push_back(std::move(answer->bytes));
      if (!read_closed_) StartRead();
    }
    if (Advance()) {
      lock.unlock();
      delete this;
    }
  }

  void OnWritten(bool ok) {
    std::unique_lock<std::mutex> lock(mutex_);
    writing_ = false;
    if (!ok) {
      // The call is gone: nothing more can be answered, and the read fails too.
      write_failed_ = true;
      answers_.clear();
    }
    if (Advance()) {
      lock.unlock();
      delete this;
    }
  }

  void OnFinished() {
    host_.stream_counters->active.fetch_sub(1, std::memory_order_relaxed);
    std::unique_lock<std::mutex> lock(mutex_);
    finished_ = true;
    if (idle_check_pending_) return;  // deleted by OnIdleCheck, which comes soon
    lock.unlock();
    delete this;
  }

  // A client that keeps a stream open without sending holds one of max_otap_streams
  // and its dictionaries. The check runs every `otap_stream_idle_timeout`; a stream
  // waiting for its client's next batch for that long is cancelled (its batches are
  // all answered: nothing the exporter would have to send again).
  void ArmIdleCheck(std::chrono::milliseconds after) {
    const auto timeout = host_.options->otap_stream_idle_timeout;
    if (timeout.count() <= 0 || finishing_) return;
    idle_check_pending_ = StartOperation([&] {
      idle_check_.Set(host_.cq, std::chrono::system_clock::now() + after, &idle_tag_);
    });
  }

  void OnIdleCheck(bool fired) {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_check_pending_ = false;
    if (finished_) {
      lock.unlock();
      delete this;
      return;
    }
    if (!fired || finishing_) return;  // cancelled: the stream is ending
    const auto timeout = host_.options->otap_stream_idle_timeout;
    const auto idle = std::chrono::steady_clock::now() - waiting_since_;
    if (reading_ && idle >= timeout) {
      host_.stream_counters->idle_cancelled.fetch_add(1, std::memory_order_relaxed);
      context_.TryCancel();  // the read ends, then the call
      return;
    }
    ArmIdleCheck(
        reading_ ? std::chrono::duration_cast<std::chrono::milliseconds>(timeout - idle)
                 : timeout);
  }

  // With mutex_ held.
  void StartRead() {
    waiting_since_ = std::chrono::steady_clock::now();
    reading_ = StartOperation([this] { stream_.Read(&incoming_, &read_tag_); });
    if (!reading_) read_closed_ = true;  // the queue is shutting down
  }

  // With mutex_ held: stop reading; the call ends with `status` once the answers queued
  // are out.
  void End(grpc::Status status) {
    if (!end_status_.has_value()) end_status_ = std::move(status);
    read_closed_ = true;
  }

  // With mutex_ held: sends the next answer, or ends the call once every batch read is
  // answered. True when nothing is left in flight and the stream must be deleted (the
  // queue shut down under it).
  bool Advance() {
    if (finishing_) return false;
    if (!writing_ && !write_failed_ && !answers_.empty()) {
      outgoing_ = grpc::ByteBuffer();
      grpc::Slice slice(answers_.front());
      outgoing_ = grpc::ByteBuffer(&slice, 1);
      answers_.pop_front();
      writing_ = StartOperation([this] { stream_.Write(outgoing_, &write_tag_); });
      if (!writing_) {
        write_failed_ = true;
        answers_.clear();
      }
    }
    if (!read_closed_ || reading_ || writing_ || (!answers_.empty() && !write_failed_)) {
      return false;
    }
    finishing_ = true;
    if (idle_check_pending_) idle_check_.Cancel();
    const grpc::Status status = end_status_.value_or(grpc::Status::OK);
    if (!status.ok()) {
      host_.stream_counters->ended_with_error.fetch_add(1, std::memory_order_relaxed);
    }
    if (StartOperation([&] { stream_.Finish(status, &finish_tag_); })) return false;
    if (matched_) host_.stream_counters->active.fetch_sub(1, std::memory_order_relaxed);
    finished_ = true;
    return !idle_check_pending_;  // else OnIdleCheck deletes it
  }

  struct BatchAnswerMessage {
    std::string bytes;
  };

  std::optional<BatchAnswerMessage> HandleBatchSafely() {
    try {
      return HandleBatch();
    } catch (const std::exception& e) {
      // Nothing below throws by design; a std::bad_alloc might.
      host_.batch_counters->AddFailed();
      std::lock_guard<std::mutex> lock(mutex_);
      End(grpc::Status(grpc::StatusCode::INTERNAL,
                       ValidUtf8(std::string("OTAP receiver: ") + e.what())));
      return std::nullopt;
    }
  }

  // Reads, decodes and ingests one BatchArrowRecords. Returns its BatchStatus, or
  // nothing when the stream must end without answering it (its batch_id unreadable, or
  // the stream's state lost: the exporter then sends it again on a new stream).
  std::optional<BatchAnswerMessage> HandleBatch() {
    const OtlpGrpcReceiverOptions& options = *host_.options;
    ReceiverCounters& counters = *host_.batch_counters;
    const auto wire_size = static_cast<int64_t>(incoming_.Length());
    std::string contiguous;
    std::string_view message;
    grpc::Slice single;
    if (wire_size > 0 && incoming_.TrySingleSlice(&single).ok()) {
      message =
          std::string_view(reinterpret_cast<const char*>(single.begin()), single.size());
    } else if (wire_size > 0) {
      std::vector<grpc::Slice> slices;
      if (!incoming_.Dump(&slices).ok()) {
        return EndStream(grpc::StatusCode::INTERNAL, "cannot read the message");
      }
      contiguous.reserve(static_cast<size_t>(wire_size));
      for (const auto& slice : slices) {
        contiguous.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
      message = contiguous;
    }

    counters.AddRequest(LooksLikeZstd(message) || LooksLikeGzip(message));
    counters.AddWireBytes(wire_size);
    auto reservation = RequestMemoryBudget::Open(options.memory_budget);
    // The message and its copy are held; its decompressed form and what it decodes to
    // are reserved as they become known.
    if (!reservation.Grow(wire_size + static_cast<int64_t>(contiguous.size()))) {
      return BusyBeforeParsing(counters);
    }
    std::string decompressed;
    auto unwrapped =
        DecompressOtapMessage(message, options.max_receive_message_bytes, &decompressed);
    if (!unwrapped.ok()) {
      if (unwrapped.status().IsCapacityError()) {
        counters.AddRefusedTooLarge();
        return EndStream(grpc::StatusCode::RESOURCE_EXHAUSTED,
                         unwrapped.status().message());
      }
      counters.AddRefusedInvalid();
      return EndStream(grpc::StatusCode::INVALID_ARGUMENT, unwrapped.status().message());
    }
    if (!reservation.Grow(static_cast<int64_t>(decompressed.capacity()))) {
      return BusyBeforeParsing(counters);
    }
    counters.AddDecompressedBytes(static_cast<int64_t>(unwrapped->size()));

    arrowpb::BatchArrowRecords batch;
    if (!batch.ParseFromArray(unwrapped->data(), static_cast<int>(unwrapped->size()))) {
      counters.AddRefusedInvalid();
      return EndStream(grpc::StatusCode::INVALID_ARGUMENT,
                       "the message is not a BatchArrowRecords");
    }
    const int64_t batch_id = batch.batch_id();

    // Every block is decoded, whatever becomes of the batch: the HPACK table carries
    // over to the next one.
    HpackHeaderDecoder::Headers headers;
    if (!batch.headers().empty()) {
      auto decoded = headers_->Decode(batch.headers());
      if (!decoded.ok()) {
        counters.AddRefusedInvalid();
        return EndStream(grpc::StatusCode::INVALID_ARGUMENT, decoded.status().message());
      }
      headers = std::move(*decoded);
    }
    if (!Authorized(headers)) {
      host_.stream_counters->batches_unauthenticated.fetch_add(1,
                                                               std::memory_order_relaxed);
      counters.AddRefusedInvalid();
      return Answer(batch_id, {kUnauthenticated, "missing or wrong bearer token"});
    }
    if (batch.arrow_payloads_size() == 0) {
      counters.AddRefusedInvalid();
      return Answer(batch_id, {kInvalidArgument, "BatchArrowRecords without payloads"});
    }

    std::vector<convert::OtapPayload> payloads;
    payloads.reserve(static_cast<size_t>(batch.arrow_payloads_size()));
    for (const auto& payload : batch.arrow_payloads()) {
      payloads.push_back(
          {payload.schema_id(), static_cast<int32_t>(payload.type()), payload.record()});
    }
    auto traces = decoder_->Decode(payloads);
    if (!traces.ok()) {
      if (traces.status().IsInvalid()) {
        counters.AddRefusedInvalid();
        return Answer(batch_id, {kInvalidArgument, traces.status().message()});
      }
      // The stream's IPC state can no longer follow the sender's: the batch is to be
      // sent again, on a new stream.
      const bool limit = traces.status().IsCapacityError();
      if (limit)
        counters.AddRefusedTooLarge();
      else
        counters.AddFailed();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        End(grpc::Status(
            limit ? grpc::StatusCode::RESOURCE_EXHAUSTED : grpc::StatusCode::INTERNAL,
            ValidUtf8(traces.status().message())));
      }
      return Answer(batch_id, {kUnavailable, traces.status().message()});
    }
    if (!reservation.Grow((*traces)->EstimatedEncodedBytes())) {
      return Busy(counters, batch_id);
    }
    const pipeline::IngestResult result = host_.ingest->IngestOtap(*traces);
    counters.AddResult(result);
    return Answer(batch_id, AnswerFor(result));
  }

  bool Authorized(const HpackHeaderDecoder::Headers& headers) const {
    const std::string& expected = host_.expected_authorization;
    if (expected.empty()) return true;
    // The exporter's per-RPC credentials come in the batch's headers; gRPC metadata of
    // the call counts too (as the Collector's receiver merges both).
    for (const auto& [name, value] : headers) {
      if (name == "authorization") return common::ConstantTimeEquals(value, expected);
    }
    return CallCarriesAuthorization(context_, expected);
  }

  // The requests in flight hold the memory budget: retry (on this stream, whose state
  // is intact).
  static std::optional<BatchAnswerMessage> Busy(ReceiverCounters& counters,
                                                int64_t batch_id) {
    counters.AddRefusedMemory();
    return Answer(batch_id, {kUnavailable, std::string(kBusyMessage)});
  }

  // Before its batch_id is known a batch cannot be answered: the stream ends instead,
  // UNAVAILABLE, and the exporter sends the batch again on a new one.
  std::optional<BatchAnswerMessage> BusyBeforeParsing(ReceiverCounters& counters) {
    counters.AddRefusedMemory();
    return EndStream(grpc::StatusCode::UNAVAILABLE, kBusyMessage);
  }

  static std::optional<BatchAnswerMessage> Answer(int64_t batch_id, BatchAnswer answer) {
    return BatchAnswerMessage{EncodeBatchStatus(batch_id, answer.code, answer.message)};
  }

  std::optional<BatchAnswerMessage> EndStream(grpc::StatusCode code,
                                              std::string_view message) {
    std::lock_guard<std::mutex> lock(mutex_);
    End(grpc::Status(code, ValidUtf8(message)));
    return std::nullopt;
  }

  const OtapStreamHost& host_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer> stream_{&context_};
  Tag match_tag_{this, Op::kMatch};
  Tag read_tag_{this, Op::kRead};
  Tag write_tag_{this, Op::kWrite};
  Tag finish_tag_{this, Op::kFinish};
  Tag idle_tag_{this, Op::kIdleCheck};
  grpc::Alarm idle_check_;

  grpc::ByteBuffer incoming_;  // touched by the thread of the read only
  std::unique_ptr<convert::OtapTraceStreamDecoder> decoder_;
  std::unique_ptr<HpackHeaderDecoder> headers_;

  std::mutex mutex_;  // what follows
  std::deque<std::string> answers_;
  grpc::ByteBuffer outgoing_;
  bool matched_ = false;
  bool reading_ = false;
  bool read_closed_ = false;
  bool writing_ = false;
  bool write_failed_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  bool idle_check_pending_ = false;
  std::chrono::steady_clock::time_point waiting_since_;
  std::optional<grpc::Status> end_status_;
};

}  // namespace

bool CallCarriesAuthorization(const grpc::ServerContext& context,
                              std::string_view expected) {
  const auto& metadata = context.client_metadata();
  const auto range = metadata.equal_range("authorization");
  if (range.first == range.second || std::next(range.first) != range.second) {
    return false;
  }
  return common::ConstantTimeEquals(View(range.first->second), expected);
}

void AwaitOtapStream(const OtapStreamHost& host) { (new OtapStream(host))->Await(); }

}  // namespace otlp_arrow::service::internal
