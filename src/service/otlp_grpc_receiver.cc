// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/service/otlp_grpc_receiver.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <arrow/util/macros.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "otap_stream_internal.h"
#include "otlp_arrow/common/host_port.h"
#include "otlp_arrow/common/log.h"
#include "receiver_internal.h"

namespace otlp_arrow::service {

namespace {

using TraceService = opentelemetry::proto::collector::trace::v1::TraceService;
// Export as a raw (ByteBuffer) method on the asynchronous API: the request bytes reach
// TraceIngest without a protobuf parse here, and the calls run on threads of ours that
// may block in TraceIngest (the callback API's threads must not block).
using RawTraceService = TraceService::WithRawMethod_Export<TraceService::Service>;

// RetryInfo goes only into grpc-status-details-bin, as the OTLP specification says. Not
// also into the `google.rpc.retryinfo-bin` trailer: the OpenTelemetry Python exporter
// would then wait our short delay between its at most six attempts and give up within
// seconds of backpressure, where its own exponential backoff (1, 2, 4, … s) outlasts an
// outage of the receiver (tests/interop/test_gateway_faults.py).
grpc::Status ToGrpcStatus(const pipeline::IngestResult& result,
                          std::chrono::milliseconds default_retry_after) {
  const internal::IngestAnswer answer = internal::AnswerFor(result.code);
  if (answer.rpc_code == internal::kRpcOk) return grpc::Status::OK;
  std::optional<std::chrono::milliseconds> retry_delay;
  if (answer.retry) {
    retry_delay = internal::RetryDelay(result.retry_after, default_retry_after);
  }
  const auto code = static_cast<grpc::StatusCode>(answer.rpc_code);
  std::string message = internal::ValidUtf8(result.message);
  std::string details = internal::EncodeRpcStatus(answer.rpc_code, message, retry_delay);
  return grpc::Status(code, std::move(message), std::move(details));
}

}  // namespace

arrow::Status OtlpGrpcReceiverOptions::Validate() const {
  // gRPC binds the endpoint as given (brackets and all); this only checks it.
  ARROW_RETURN_NOT_OK(common::HostPort::Parse(endpoint).status());
  if (tls_cert_pem.empty() != tls_key_pem.empty()) {
    return arrow::Status::Invalid("TLS needs both tls_cert_pem and tls_key_pem");
  }
  if (tls_cert_pem.empty() && !client_ca_pem.empty()) {
    return arrow::Status::Invalid("client_ca_pem (mTLS) needs TLS");
  }
  if (max_receive_message_bytes <= 0 ||
      max_receive_message_bytes > std::numeric_limits<int>::max()) {
    return arrow::Status::Invalid("max_receive_message_bytes must be in [1, 2^31)");
  }
  if (max_concurrent_streams < 0 || num_threads < 0 || transport_memory_bytes < 0 ||
      max_otap_streams < 0) {
    return arrow::Status::Invalid(
        "max_concurrent_streams, num_threads, transport_memory_bytes and "
        "max_otap_streams must not be negative");
  }
  if (otap_stream_idle_timeout.count() < 0) {
    return arrow::Status::Invalid("otap_stream_idle_timeout must not be negative");
  }
  if (otap_max_stream_dictionary_bytes <= 0) {
    return arrow::Status::Invalid("otap_max_stream_dictionary_bytes must be positive");
  }
  return arrow::Status::OK();
}

class OtlpGrpcReceiver::Impl {
 public:
  Impl(OtlpGrpcReceiverOptions options, std::shared_ptr<pipeline::TraceIngest> ingest,
       std::shared_ptr<pipeline::TraceIngest> otap_ingest)
      : options_(std::move(options)),
        ingest_(std::move(ingest)),
        otap_ingest_(otap_ingest != nullptr ? std::move(otap_ingest) : ingest_) {
    if (!options_.bearer_token.empty()) {
      expected_authorization_ = "Bearer " + options_.bearer_token;
    }
  }

  ~Impl() { common::LogErrorFromDestructor("OtlpGrpcReceiver", Shutdown(std::nullopt)); }

  arrow::Status Start() {
    std::lock_guard<std::mutex> lock(lifecycle_mutex_);
    if (started_) return arrow::Status::Invalid("OtlpGrpcReceiver started twice");
    try {
      return StartLocked();
    } catch (const std::exception& e) {
      // std::thread, for one, throws; nothing may escape this module.
      if (server_ != nullptr) StopLocked(std::nullopt);
      started_ = stopped_ = true;  // spent: Shutdown() has nothing left to do
      return arrow::Status::UnknownError("OtlpGrpcReceiver: ", e.what());
    }
  }

  arrow::Status Shutdown(std::optional<std::chrono::system_clock::time_point> deadline) {
    std::lock_guard<std::mutex> lock(lifecycle_mutex_);
    if (!started_ || stopped_) return arrow::Status::OK();
    stopped_ = true;
    StopLocked(deadline);
    return arrow::Status::OK();
  }

  int port() const { return port_; }
  OtlpReceiverStats Stats() const { return counters_.Snapshot(); }
  OtapReceiverStats OtapStats() const {
    OtapReceiverStats stats;
    stats.batches = otap_counters_.Snapshot();
    const auto get = [](const std::atomic<int64_t>& c) {
      return c.load(std::memory_order_relaxed);
    };
    stats.streams_opened = get(otap_stream_counters_.opened);
    stats.streams_active = get(otap_stream_counters_.active);
    stats.streams_refused_busy = get(otap_stream_counters_.refused_busy);
    stats.streams_ended_with_error = get(otap_stream_counters_.ended_with_error);
    stats.streams_idle_cancelled = get(otap_stream_counters_.idle_cancelled);
    stats.batches_unauthenticated = get(otap_stream_counters_.batches_unauthenticated);
    return stats;
  }
  const OtlpGrpcReceiverOptions& options() const { return options_; }

 private:
  arrow::Status StartLocked() {
    ARROW_ASSIGN_OR_RAISE(auto credentials, Credentials());

    grpc::ServerBuilder builder;
    builder.AddListeningPort(options_.endpoint, std::move(credentials), &port_);
    builder.RegisterService(&service_);
    if (options_.otap) builder.RegisterService(&otap_service_);
    builder.SetMaxReceiveMessageSize(
        static_cast<int>(options_.max_receive_message_bytes));
    // gRPC 1.51 inflates a compressed message whole before it compares its size with
    // the limit, so a 4 MiB message of gzip'd zeros would take 4 GiB. Its
    // decompression is off: the receiver gets the message as sent and inflates it
    // itself, stopping at the limit. gzip is the only compression OTLP uses; deflate
    // is turned off since its streams cannot be told apart from protobuf.
    builder.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
    // gRPC sets SO_REUSEPORT by default, which would let a second receiver bind a port
    // in use and silently take part of its calls.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
    if (options_.transport_memory_bytes > 0) {
      // Messages that arrived before a thread takes them wait inside gRPC, beyond the
      // reach of memory_budget; the quota bounds them.
      grpc::ResourceQuota quota("otlp-grpc-receiver");
      quota.Resize(static_cast<size_t>(options_.transport_memory_bytes));
      builder.SetResourceQuota(quota);
    }
    if (options_.max_concurrent_streams > 0) {
      builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                                 options_.max_concurrent_streams);
    }
    cq_ = builder.AddCompletionQueue();
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      if (server_ != nullptr) server_->Shutdown();
      if (cq_ != nullptr) {
        cq_->Shutdown();
        Drain();
      }
      server_.reset();
      cq_.reset();
      return arrow::Status::IOError("OtlpGrpcReceiver: cannot listen on ",
                                    options_.endpoint);
    }
    started_ = true;
    queue_open_ = true;

    const int threads =
        options_.num_threads > 0
            ? options_.num_threads
            : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
    // One call waits to be matched per thread, so a call finds a thread that is not
    // busy with another whenever there is one.
    for (int i = 0; i < threads; ++i) RequestCall();
    if (options_.otap) {
      otap_host_.service = &otap_service_;
      otap_host_.cq = cq_.get();
      otap_host_.queue_mutex = &queue_mutex_;
      otap_host_.queue_open = &queue_open_;
      otap_host_.options = &options_;
      otap_host_.ingest = otap_ingest_.get();
      otap_host_.batch_counters = &otap_counters_;
      otap_host_.stream_counters = &otap_stream_counters_;
      otap_host_.expected_authorization = expected_authorization_;
      // Each stream that starts asks for the next one.
      internal::AwaitOtapStream(otap_host_);
    }
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Serve(); });
    return arrow::Status::OK();
  }

  void StopLocked(std::optional<std::chrono::system_clock::time_point> deadline) {
    // Pending call requests complete with ok=false; running calls finish (or are
    // cancelled at the deadline) while the threads keep draining the queue.
    if (deadline.has_value()) {
      server_->Shutdown(*deadline);
    } else {
      server_->Shutdown();
    }
    {
      // After this no RequestCall() or Finish reaches the queue: Server::Shutdown()
      // does not wait for calls that it cancelled at the deadline, and their threads
      // may still be in TraceIngest.
      std::unique_lock<std::shared_mutex> queue_lock(queue_mutex_);
      queue_open_ = false;
      cq_->Shutdown();
    }
    if (threads_.empty()) Drain();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    server_.reset();
    cq_.reset();
  }

  // One Export call; it is its own completion-queue tag.
  struct Call final : internal::CompletionTag {
    explicit Call(Impl* impl) : impl(impl), responder(&context) {}
    void Complete(bool ok) override { impl->OnCallEvent(this, ok); }
    Impl* impl;
    grpc::ServerContext context;
    grpc::ByteBuffer request;
    grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder;
    // False while waiting to be matched with a client call, true once the answer is
    // being sent (the next event deletes it).
    bool finishing = false;
  };

  arrow::Result<std::shared_ptr<grpc::ServerCredentials>> Credentials() const {
    // Validate() saw that the certificate, its key and the client CA go together.
    if (options_.tls_cert_pem.empty()) return grpc::InsecureServerCredentials();
    grpc::SslServerCredentialsOptions ssl(
        options_.client_ca_pem.empty()
            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = options_.client_ca_pem;
    ssl.pem_key_cert_pairs.push_back({options_.tls_key_pem, options_.tls_cert_pem});
    return grpc::SslServerCredentials(ssl);
  }

  void RequestCall() {
    std::shared_lock<std::shared_mutex> lock(queue_mutex_);
    if (!queue_open_) return;
    auto* call = new Call(this);
    service_.RequestExport(&call->context, &call->request, &call->responder, cq_.get(),
                           cq_.get(), call);
  }

  void Serve() {
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) static_cast<internal::CompletionTag*>(tag)->Complete(ok);
  }

  void OnCallEvent(Call* call, bool ok) {
    if (call->finishing || !ok) {
      // Answer sent (or the call died), or a request cancelled by the shutdown.
      delete call;
      return;
    }
    RequestCall();
    Handle(*call);
  }

  // Deletes what a failed Start() left in the queue: requests for calls, which all
  // complete with ok=false.
  void Drain() {
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok))
      static_cast<internal::CompletionTag*>(tag)->Complete(false);
  }

  void Handle(Call& call) {
    call.finishing = true;
    grpc::Status status;
    try {
      status = Export(call);
    } catch (const std::exception& e) {
      // TraceIngest does not throw; a std::bad_alloc copying the request might.
      counters_.AddFailed();
      status =
          grpc::Status(grpc::StatusCode::INTERNAL,
                       internal::ValidUtf8(std::string("OTLP receiver: ") + e.what()));
    } catch (...) {
      counters_.AddFailed();
      status = grpc::Status(grpc::StatusCode::INTERNAL, "OTLP receiver: unknown error");
    }
    std::shared_lock<std::shared_mutex> lock(queue_mutex_);
    if (!queue_open_) {
      // Shut down while in TraceIngest: gRPC has cancelled the call already.
      lock.unlock();
      delete &call;
      return;
    }
    if (status.ok()) {
      // An ExportTraceServiceResponse with nothing set (no partial_success) is zero
      // bytes on the wire.
      grpc::Slice empty;
      call.responder.Finish(grpc::ByteBuffer(&empty, 1), status, &call);
    } else {
      call.responder.FinishWithError(status, &call);
    }
  }

  // The answer when `reservation` could not grow to `needed` bytes: retryable while
  // other calls hold the budget, not when the call alone needs more than all of it.
  grpc::Status RefuseForMemory(const RequestMemoryBudget::Reservation& reservation,
                               int64_t needed) {
    if (!reservation.CouldHold(needed)) {
      counters_.AddRefusedTooLarge();
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          internal::NeverFitsMessage(needed));
    }
    counters_.AddRefusedMemory();
    const std::string message(internal::kBusyMessage);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, message,
                        internal::EncodeRpcStatus(internal::kRpcResourceExhausted,
                                                  message, options_.default_retry_after));
  }

  grpc::Status Export(Call& call) {
    if (!expected_authorization_.empty() &&
        !internal::CallCarriesAuthorization(call.context, expected_authorization_)) {
      counters_.AddRequest(false);
      counters_.AddRefusedInvalid();
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing or wrong bearer token");
    }
    const grpc::ByteBuffer& request = call.request;
    const auto wire_size = static_cast<int64_t>(request.Length());
    // TraceIngest wants contiguous bytes. A message in one slice is taken as it is;
    // one in several is copied, or inflated straight from its slices when gzip.
    grpc::Slice single;
    std::vector<grpc::Slice> slices;
    std::string_view bytes;
    if (wire_size > 0 && request.TrySingleSlice(&single).ok()) {
      bytes =
          std::string_view(reinterpret_cast<const char*>(single.begin()), single.size());
    } else if (wire_size > 0 && !request.Dump(&slices).ok()) {
      counters_.AddRequest(false);
      counters_.AddFailed();
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "OTLP receiver: cannot read the request message");
    }
    std::string prefix;  // the first two bytes, whatever the slices
    if (!bytes.empty()) prefix = std::string(bytes.substr(0, 2));
    for (size_t i = 0; i < slices.size() && prefix.size() < 2; ++i) {
      prefix.append(reinterpret_cast<const char*>(slices[i].begin()),
                    std::min<size_t>(slices[i].size(), 2 - prefix.size()));
    }
    const bool compressed = internal::LooksLikeGzip(prefix);
    counters_.AddRequest(compressed);
    counters_.AddWireBytes(wire_size);

    // The message is held already; its copy (uncompressed, in several slices) and the
    // encoding of its spans are reserved before they are made. An inflated message is
    // reserved as it grows, then its encoding.
    auto reservation = RequestMemoryBudget::Open(options_.memory_budget);
    const bool copy = !compressed && !slices.empty();
    const int64_t needed =
        wire_size * (copy ? 2 : 1) +
        (compressed
             ? 0
             : internal::DecodeCostBytes(internal::BodyEncoding::kProtobuf, wire_size));
    if (!reservation.Grow(needed)) return RefuseForMemory(reservation, needed);
    std::string contiguous;
    bool memory_refused = false;
    int64_t memory_needed = 0;
    if (copy) {
      contiguous.reserve(static_cast<size_t>(wire_size));
      for (const grpc::Slice& slice : slices) {
        contiguous.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
      slices.clear();
      bytes = contiguous;
    }
    if (compressed) {
      internal::GzipInflater inflater(
          static_cast<uint64_t>(options_.max_receive_message_bytes));
      // Inflates one piece of the message in steps, reserving the output as it grows.
      const auto inflate = [&](std::string_view piece) {
        constexpr size_t kStep = 64 * 1024;
        for (size_t at = 0; at < piece.size(); at += kStep) {
          const auto result = inflater.Inflate(piece.substr(at, kStep), &contiguous);
          if (result != internal::GzipInflater::Result::kOk) return result;
          memory_needed = wire_size + static_cast<int64_t>(contiguous.capacity());
          if (!reservation.GrowTo(memory_needed)) {
            memory_refused = true;
            return internal::GzipInflater::Result::kTooLarge;
          }
        }
        return internal::GzipInflater::Result::kOk;
      };
      auto result = internal::GzipInflater::Result::kOk;
      if (slices.empty()) result = inflate(bytes);
      for (size_t i = 0;
           i < slices.size() && result == internal::GzipInflater::Result::kOk; ++i) {
        result = inflate(std::string_view(
            reinterpret_cast<const char*>(slices[i].begin()), slices[i].size()));
      }
      if (memory_refused) return RefuseForMemory(reservation, memory_needed);
      if (result == internal::GzipInflater::Result::kTooLarge) {
        counters_.AddRefusedTooLarge();
        // As gRPC words its own refusal, and without RetryInfo: not retryable.
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "Received message larger than max after decompression (max " +
                                std::to_string(options_.max_receive_message_bytes) +
                                " bytes)");
      }
      if (result != internal::GzipInflater::Result::kOk || !inflater.Complete()) {
        counters_.AddRefusedInvalid();
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "gzip-compressed message does not inflate");
      }
      memory_needed = wire_size + static_cast<int64_t>(contiguous.capacity()) +
                      internal::DecodeCostBytes(internal::BodyEncoding::kProtobuf,
                                                static_cast<int64_t>(contiguous.size()));
      if (!reservation.GrowTo(memory_needed)) {
        return RefuseForMemory(reservation, memory_needed);
      }
      bytes = contiguous;
    }
    counters_.AddDecompressedBytes(static_cast<int64_t>(bytes.size()));
    const pipeline::IngestResult result = ingest_->IngestOtlpProtobuf(bytes);
    counters_.AddResult(result);
    return ToGrpcStatus(result, options_.default_retry_after);
  }

  const OtlpGrpcReceiverOptions options_;
  const std::shared_ptr<pipeline::TraceIngest> ingest_;
  const std::shared_ptr<pipeline::TraceIngest> otap_ingest_;
  std::string expected_authorization_;  // "Bearer <token>", or empty
  internal::ReceiverCounters counters_;
  internal::ReceiverCounters otap_counters_;
  internal::OtapStreamCounters otap_stream_counters_;
  internal::OtapStreamHost otap_host_;

  // Declared before server_ so that they outlive it.
  RawTraceService service_;
  internal::RawArrowTracesService otap_service_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::thread> threads_;
  int port_ = 0;

  std::mutex lifecycle_mutex_;  // Start() and Shutdown()
  bool started_ = false;
  bool stopped_ = false;
  // Shared by RequestCall() and Finish, exclusive for cq_->Shutdown().
  std::shared_mutex queue_mutex_;
  bool queue_open_ = false;
};

arrow::Result<std::unique_ptr<OtlpGrpcReceiver>> OtlpGrpcReceiver::Make(
    OtlpGrpcReceiverOptions options, std::shared_ptr<pipeline::TraceIngest> ingest,
    std::shared_ptr<pipeline::TraceIngest> otap_ingest) {
  if (ingest == nullptr)
    return arrow::Status::Invalid("OtlpGrpcReceiver: no TraceIngest");
  ARROW_RETURN_NOT_OK(options.Validate());
  return std::unique_ptr<OtlpGrpcReceiver>(new OtlpGrpcReceiver(std::make_unique<Impl>(
      std::move(options), std::move(ingest), std::move(otap_ingest))));
}

OtlpGrpcReceiver::OtlpGrpcReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OtlpGrpcReceiver::~OtlpGrpcReceiver() = default;

arrow::Status OtlpGrpcReceiver::Start() { return impl_->Start(); }

int OtlpGrpcReceiver::port() const { return impl_->port(); }

arrow::Status OtlpGrpcReceiver::Shutdown(
    std::optional<std::chrono::system_clock::time_point> deadline) {
  return impl_->Shutdown(deadline);
}

OtlpReceiverStats OtlpGrpcReceiver::Stats() const { return impl_->Stats(); }

OtapReceiverStats OtlpGrpcReceiver::OtapStats() const { return impl_->OtapStats(); }

const OtlpGrpcReceiverOptions& OtlpGrpcReceiver::options() const {
  return impl_->options();
}

}  // namespace otlp_arrow::service
