// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/transport/flight_span_receiver.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/flight/types.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>
#include <arrow/memory_pool.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <arrow/util/align_util.h>
#include <arrow/util/byte_size.h>
#include <arrow/util/key_value_metadata.h>
#include <grpcpp/grpcpp.h>

#include "bearer_token_internal.h"
#include "decode_memory_internal.h"
#include "flight_service_internal.h"
#include "idle_stream_watchdog_internal.h"
#include "ipc_messages_internal.h"
#include "otlp_arrow/common/host_port.h"
#include "otlp_arrow/common/log.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/transport/flight_protocol.h"

namespace otlp_arrow::transport {

namespace flight = arrow::flight;
namespace wire = internal::wire;

namespace {

bool IsSpansPath(const flight::FlightDescriptor& descriptor) {
  return descriptor.type == flight::FlightDescriptor::PATH &&
         descriptor.path.size() == std::size(kSpansPath) &&
         std::equal(descriptor.path.begin(), descriptor.path.end(),
                    std::begin(kSpansPath));
}

flight::FlightDescriptor SpansDescriptor() {
  return flight::FlightDescriptor::Path(
      std::vector<std::string>(std::begin(kSpansPath), std::end(kSpansPath)));
}

std::string DescribeSpansPath() {
  std::string out = "[";
  for (const auto& part : kSpansPath) {
    if (out.size() > 1) out += ", ";
    out += "\"" + std::string(part) + "\"";
  }
  return out + "]";
}

// For the client's error messages: say what the refused descriptor was.
std::string Describe(const flight::FlightDescriptor& descriptor) {
  switch (descriptor.type) {
    case flight::FlightDescriptor::PATH: {
      std::string out = "path [";
      for (size_t i = 0; i < descriptor.path.size(); ++i) {
        if (i > 0) out += ", ";
        out += "\"" + descriptor.path[i] + "\"";
      }
      return out + "]";
    }
    case flight::FlightDescriptor::CMD:
      return "command of " + std::to_string(descriptor.cmd.size()) + " bytes";
    default:
      return "descriptor of unknown type";
  }
}

// Whether a stream of `stream`'s schema can be stored: a span table version this build
// reads, and columns convert::ConformToSpanTableSchema brings to the span table (found by
// name, compatible types, derived time columns optional). Checked once, on an empty
// batch, so that a wrong schema is refused before any batch; nullability is not compared
// since ValidateSpanTable checks the values themselves.
arrow::Status CheckStreamSchema(const std::shared_ptr<arrow::Schema>& stream) {
  if (const auto& metadata = stream->metadata(); metadata != nullptr) {
    const int i = metadata->FindKey(std::string(convert::kSpanTableVersionKey));
    // Version 1 differs only in plain strings where version 2 has dictionaries, which
    // ConformToSpanTableSchema encodes.
    if (i >= 0 && metadata->value(i) != convert::kSpanTableVersion &&
        metadata->value(i) != "1") {
      return arrow::Status::Invalid("span table version '", metadata->value(i),
                                    "' is not supported (expected '",
                                    convert::kSpanTableVersion, "' or '1')");
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto empty, arrow::RecordBatch::MakeEmpty(stream));
  auto conformed =
      convert::ConformToSpanTableSchema(*empty, arrow::default_memory_pool());
  if (!conformed.ok()) {
    return arrow::Status::Invalid("span table schema: ", conformed.status().message());
  }
  return arrow::Status::OK();
}

// The client's address without its port: "ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7".
std::string ClientOf(const grpc::ServerContext& context) {
  std::string peer = context.peer();
  const auto colon = peer.rfind(':');
  if (peer.rfind("ipv", 0) == 0 && colon != std::string::npos && colon > 5) {
    peer.resize(colon);
  }
  return peer;
}

arrow::Status Refused(flight::FlightStatusCode code, RefusalClass refusal_class,
                      std::string reason, const std::string& message) {
  return MakeRefusalStatus(code, Refusal{refusal_class, std::move(reason)}, message);
}

// A refusal whose gRPC code follows the Arrow status code (INVALID_ARGUMENT for
// Invalid, RESOURCE_EXHAUSTED for CapacityError, NOT_FOUND for KeyError): the detail's
// Failed code leaves it to that (flight_service_internal.h).
arrow::Status WithRefusal(const arrow::Status& status, RefusalClass refusal_class,
                          std::string reason) {
  return status.WithDetail(std::make_shared<flight::FlightStatusDetail>(
      flight::FlightStatusCode::Failed,
      Refusal{refusal_class, std::move(reason)}.ToJson()));
}

arrow::Status Invalid(std::string reason, const std::string& message) {
  return WithRefusal(arrow::Status::Invalid(message), RefusalClass::kPermanent,
                     std::move(reason));
}

arrow::Status TooLarge(const std::string& message) {
  return WithRefusal(arrow::Status::CapacityError(message), RefusalClass::kTooLarge,
                     "batch_too_large");
}

// One IPC message per FlightData of a DoPut; metadata-only messages (no IPC header) are
// skipped. Reads wait for the client under the idle watchdog. Each message is recorded
// as it arrived (for the write-ahead log) and handed to Arrow's reader with its ZSTD
// body decompressed (with a context reused for the whole stream).
class FlightDataMessageReader : public arrow::ipc::MessageReader {
 public:
  FlightDataMessageReader(
      grpc::ServerReaderWriter<wire::PutResult, wire::FlightData>* stream,
      internal::IdleStreamWatchdog::Watch* watch, wire::FlightData first,
      internal::IpcStreamRecorder* recorder)
      : stream_(stream),
        watch_(watch),
        pending_(std::move(first)),
        has_pending_(true),
        recorder_(recorder) {}

  arrow::Result<std::unique_ptr<arrow::ipc::Message>> ReadNextMessage() override {
    for (;;) {
      wire::FlightData data;
      if (has_pending_) {
        data = std::move(pending_);
        has_pending_ = false;
      } else {
        watch_->BeginWait();
        const bool read = stream_->Read(&data);
        watch_->EndWait();
        if (!read) return nullptr;  // the client finished, went away or was cancelled
      }
      if (data.data_header().empty()) continue;
      // The body stays referenced by the decoded batch (uncompressed buffers are slices
      // of it): it counts against the batch's limits like decoded memory.
      auto* scope = internal::DecodeScope::Current();
      const auto body_bytes = static_cast<int64_t>(data.data_body().size());
      if (scope != nullptr && !scope->TryReserve(body_bytes)) {
        return arrow::Status::OutOfMemory("a message body of ", body_bytes,
                                          " bytes is over the decoding limits");
      }
      ARROW_ASSIGN_OR_RAISE(auto message, internal::ToIpcMessage(&data));
      ARROW_ASSIGN_OR_RAISE(const auto header, internal::ReadIpcMessageHeader(*message));
      recorder_->Record(*message, header);
      return decompressor_.Decompress(std::move(message), header,
                                      internal::DecodeMemoryPool());
    }
  }

 private:
  grpc::ServerReaderWriter<wire::PutResult, wire::FlightData>* stream_;
  internal::IdleStreamWatchdog::Watch* watch_;
  wire::FlightData pending_;
  bool has_pending_;
  internal::IpcStreamRecorder* recorder_;
  internal::ZstdBodyDecompressor decompressor_;
};

// FlightData messages of a DoGet, one per IPC payload.
class FlightDataPayloadWriter : public arrow::ipc::internal::IpcPayloadWriter {
 public:
  explicit FlightDataPayloadWriter(grpc::ServerWriter<wire::FlightData>* writer)
      : writer_(writer) {}

  arrow::Status WritePayload(const arrow::ipc::IpcPayload& payload) override {
    wire::FlightData data;
    data.set_data_header(payload.metadata->ToString());
    std::string* body = data.mutable_data_body();
    body->reserve(static_cast<size_t>(payload.body_length));
    for (const auto& buffer : payload.body_buffers) {
      if (buffer == nullptr) continue;
      body->append(reinterpret_cast<const char*>(buffer->data()),
                   static_cast<size_t>(buffer->size()));
      // IPC bodies keep every buffer at a multiple of 8 bytes.
      body->append(
          static_cast<size_t>(arrow::bit_util::RoundUpToMultipleOf8(buffer->size()) -
                              buffer->size()),
          '\0');
    }
    if (!writer_->Write(data)) {
      return arrow::Status::Cancelled("the DoGet client went away");
    }
    return arrow::Status::OK();
  }

  arrow::Status Close() override { return arrow::Status::OK(); }

 private:
  grpc::ServerWriter<wire::FlightData>* writer_;
};

}  // namespace

arrow::Status FlightSpanReceiverOptions::Validate() const {
  if (max_batch_bytes <= 0 || max_concurrent_streams <= 0 || max_streams_per_client < 0 ||
      stream_idle_timeout.count() < 0) {
    return arrow::Status::Invalid(
        "FlightSpanReceiver: max_batch_bytes and max_concurrent_streams must be "
        "positive, max_streams_per_client and stream_idle_timeout not negative");
  }
  if (max_decoded_bytes_in_flight < max_batch_bytes) {
    return arrow::Status::Invalid("FlightSpanReceiver: max_decoded_bytes_in_flight (",
                                  max_decoded_bytes_in_flight,
                                  ") is less than max_batch_bytes (", max_batch_bytes,
                                  "): no batch could ever be decoded");
  }
  ARROW_ASSIGN_OR_RAISE(auto location, flight::Location::Parse(listen_uri));
  const std::string scheme = location.scheme();
  const bool tls = scheme == "grpc+tls";
  if (!tls && scheme != "grpc" && scheme != "grpc+tcp") {
    return arrow::Status::Invalid("listen URI '", listen_uri,
                                  "': expected grpc://host:port or grpc+tls://host:port");
  }
  if (auto listen = common::HostPort::Parse(listen_uri); !listen.ok()) {
    return listen.status().WithMessage("listen URI ", listen.status().message());
  }
  const bool has_cert = !tls_cert_pem.empty() || !tls_key_pem.empty();
  if (tls && (tls_cert_pem.empty() || tls_key_pem.empty())) {
    return arrow::Status::Invalid("listen URI '", listen_uri,
                                  "' needs a TLS certificate and its key");
  }
  if (!tls && (has_cert || !client_ca_pem.empty())) {
    return arrow::Status::Invalid("TLS certificate or client CA given, but listen URI '",
                                  listen_uri, "' is not grpc+tls://");
  }
  if (bearer_token.has_value() && bearer_token->empty()) {
    return arrow::Status::Invalid("FlightSpanReceiver: empty bearer token");
  }
  if (bearer_token.has_value()) {
    ARROW_RETURN_NOT_OK(CheckBearerToken(*bearer_token));
  }
  return arrow::Status::OK();
}

class FlightSpanReceiver::Server : public internal::FlightServiceBase {
 public:
  Server(FlightSpanReceiverOptions options, std::shared_ptr<storage::SpanSink> sink,
         std::shared_ptr<storage::SpanSource> source)
      : options_(std::move(options)),
        sink_(std::move(sink)),
        source_(std::move(source)),
        budget_(options_.max_decoded_bytes_in_flight) {}

  arrow::Status Start() {
    if (sink_ == nullptr) return arrow::Status::Invalid("FlightSpanReceiver: no sink");
    ARROW_RETURN_NOT_OK(options_.Validate());
    ARROW_ASSIGN_OR_RAISE(auto location, flight::Location::Parse(options_.listen_uri));
    const bool tls = location.scheme() == "grpc+tls";
    ARROW_ASSIGN_OR_RAISE(auto listen, common::HostPort::Parse(options_.listen_uri));
    if (options_.bearer_token.has_value()) {
      expected_authorization_ = "Bearer " + *options_.bearer_token;
    }
    std::shared_ptr<grpc::ServerCredentials> credentials =
        grpc::InsecureServerCredentials();
    if (tls) {
      grpc::SslServerCredentialsOptions ssl(
          options_.client_ca_pem.empty()
              ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      ssl.pem_root_certs = options_.client_ca_pem;
      ssl.pem_key_cert_pairs.push_back({options_.tls_key_pem, options_.tls_cert_pem});
      credentials = grpc::SslServerCredentials(ssl);
    }
    watchdog_ =
        std::make_unique<internal::IdleStreamWatchdog>(options_.stream_idle_timeout);
    grpc::ServerBuilder builder;
    builder.AddListeningPort(listen.ToString(), credentials, &port_);
    builder.RegisterService(this);
    // gRPC sets SO_REUSEPORT by default: a second receiver on a taken port would start
    // and silently take half of the connections.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    // One message is one IPC message: at most a batch's buffers plus its metadata.
    builder.SetMaxReceiveMessageSize(static_cast<int>(
        std::min<int64_t>(options_.max_batch_bytes + (int64_t{1} << 20), INT32_MAX)));
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      server_.reset();
      return arrow::Status::IOError(
          "cannot start the Flight server on ", options_.listen_uri,
          " (the port in use, an address not of this host, or a certificate gRPC "
          "refused; gRPC's log says which)");
    }
    serving_.store(true);
    // grpc:// rather than grpc+tcp://: the form the exporter and `diagnose` document, so
    // the printed address can be pasted into them.
    listen.port = port_;
    uri_ = std::string(tls ? "grpc+tls://" : "grpc://") + listen.ToString();
    return arrow::Status::OK();
  }

  // Idempotent, so the destructor can make sure no handler outlives the receiver.
  arrow::Status Stop(const std::chrono::system_clock::time_point* deadline) {
    if (!serving_.exchange(false)) return arrow::Status::OK();
    if (deadline != nullptr) {
      server_->Shutdown(*deadline);
    } else {
      server_->Shutdown();
    }
    return arrow::Status::OK();
  }

  arrow::Status WaitUntilStopped() {
    if (server_ != nullptr) server_->Wait();
    return arrow::Status::OK();
  }

  int port() const { return port_; }
  const std::string& uri() const { return uri_; }
  const FlightSpanReceiverOptions& options() const { return options_; }

  FlightSpanReceiverStats Stats() const {
    FlightSpanReceiverStats stats;
    stats.spans_stored = spans_stored_.load(std::memory_order_relaxed);
    stats.batches_stored = batches_stored_.load(std::memory_order_relaxed);
    stats.bytes_stored = bytes_stored_.load(std::memory_order_relaxed);
    stats.streams_completed = streams_completed_.load(std::memory_order_relaxed);
    stats.validation_failures = validation_failures_.load(std::memory_order_relaxed);
    stats.oversize_batches = oversize_batches_.load(std::memory_order_relaxed);
    stats.streams_rejected_busy = streams_rejected_busy_.load(std::memory_order_relaxed);
    stats.streams_idle_cancelled =
        streams_idle_cancelled_.load(std::memory_order_relaxed);
    stats.memory_budget_refusals =
        memory_budget_refusals_.load(std::memory_order_relaxed);
    stats.unauthenticated_calls = unauthenticated_calls_.load(std::memory_order_relaxed);
    stats.sink_failures = sink_failures_.load(std::memory_order_relaxed);
    stats.spans_served = spans_served_.load(std::memory_order_relaxed);
    return stats;
  }

  grpc::Status Handshake(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<wire::HandshakeResponse, wire::HandshakeRequest>* stream)
      override {
    // Authentication is by bearer token on every call; the handshake has nothing to do.
    if (auto status = Authenticate(*context); !status.ok()) {
      return internal::ToGrpcStatus(status, context);
    }
    wire::HandshakeRequest request;
    while (stream->Read(&request)) {
    }
    return grpc::Status::OK;
  }

  grpc::Status ListFlights(grpc::ServerContext* context, const wire::Criteria*,
                           grpc::ServerWriter<wire::FlightInfo>* writer) override {
    return internal::ToGrpcStatus(
        [&]() -> arrow::Status {
          ARROW_RETURN_NOT_OK(Authenticate(*context));
          ARROW_ASSIGN_OR_RAISE(auto info, AllSpansInfo());
          wire::FlightInfo out;
          ARROW_RETURN_NOT_OK(internal::ToWire(info, &out));
          writer->Write(out);
          return arrow::Status::OK();
        }(),
        context);
  }

  grpc::Status GetFlightInfo(grpc::ServerContext* context,
                             const wire::FlightDescriptor* descriptor,
                             wire::FlightInfo* info) override {
    return internal::ToGrpcStatus(
        [&]() -> arrow::Status {
          ARROW_RETURN_NOT_OK(Authenticate(*context));
          ARROW_ASSIGN_OR_RAISE(auto request, ToArrow(*descriptor));
          if (IsSpansPath(request)) {
            ARROW_ASSIGN_OR_RAISE(auto all, AllSpansInfo());
            return internal::ToWire(all, info);
          }
          if (request.type != flight::FlightDescriptor::CMD) {
            return arrow::Status::KeyError(
                "unknown flight descriptor, ", Describe(request),
                "; stored spans are at path ", DescribeSpansPath(),
                " or a command holding a span query");
          }
          ARROW_RETURN_NOT_OK(RequireSource());
          ARROW_ASSIGN_OR_RAISE(auto query, ParseQuery(request.cmd));
          ARROW_ASSIGN_OR_RAISE(auto made, MakeInfo(request, query, /*total_records=*/-1,
                                                    /*total_bytes=*/-1));
          return internal::ToWire(made, info);
        }(),
        context);
  }

  grpc::Status GetSchema(grpc::ServerContext* context,
                         const wire::FlightDescriptor* descriptor,
                         wire::SchemaResult* schema) override {
    return internal::ToGrpcStatus(
        [&]() -> arrow::Status {
          ARROW_RETURN_NOT_OK(Authenticate(*context));
          ARROW_ASSIGN_OR_RAISE(auto request, ToArrow(*descriptor));
          if (!IsSpansPath(request) && request.type != flight::FlightDescriptor::CMD) {
            return arrow::Status::KeyError("unknown flight descriptor, ",
                                           Describe(request));
          }
          ARROW_ASSIGN_OR_RAISE(auto result,
                                flight::SchemaResult::Make(*convert::SpanTableSchema()));
          return internal::ToWire(*result, schema);
        }(),
        context);
  }

  grpc::Status DoGet(grpc::ServerContext* context, const wire::Ticket* ticket,
                     grpc::ServerWriter<wire::FlightData>* writer) override {
    return internal::ToGrpcStatus(
        [&]() -> arrow::Status {
          ARROW_RETURN_NOT_OK(Authenticate(*context));
          ARROW_RETURN_NOT_OK(RequireSource());
          ARROW_ASSIGN_OR_RAISE(auto query, ParseQuery(ticket->ticket()));
          ARROW_ASSIGN_OR_RAISE(auto reader, source_->Scan(query));
          ARROW_ASSIGN_OR_RAISE(
              auto batches,
              arrow::ipc::internal::OpenRecordBatchWriter(
                  std::make_unique<FlightDataPayloadWriter>(writer), reader->schema()));
          for (;;) {
            std::shared_ptr<arrow::RecordBatch> batch;
            ARROW_RETURN_NOT_OK(reader->ReadNext(&batch));
            if (batch == nullptr) break;
            ARROW_RETURN_NOT_OK(batches->WriteRecordBatch(*batch));
            spans_served_.fetch_add(batch->num_rows(), std::memory_order_relaxed);
          }
          ARROW_RETURN_NOT_OK(batches->Close());
          return reader->Close();
        }(),
        context);
  }

  grpc::Status DoPut(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<wire::PutResult, wire::FlightData>* stream) override {
    if (auto status = Authenticate(*context); !status.ok()) {
      return internal::ToGrpcStatus(status, context);
    }
    const std::string client = ClientOf(*context);
    if (auto status = TakeStreamSlot(client); !status.ok()) {
      return internal::ToGrpcStatus(status, context);
    }
    // Returned however the handler ends (gRPC turns an exception into UNKNOWN).
    StreamSlot slot(this, client);
    arrow::Status status;
    {
      auto watch = watchdog_->Add(context);
      status = ReceiveStream(*context, stream, watch.get());
      if (watch->expired()) {
        streams_idle_cancelled_.fetch_add(1, std::memory_order_relaxed);
        status = Refused(
            flight::FlightStatusCode::TimedOut, RefusalClass::kRetryable, "idle_timeout",
            "no message for " + std::to_string(options_.stream_idle_timeout.count()) +
                " ms: stream cancelled");
      }
    }
    streams_completed_.fetch_add(1, std::memory_order_relaxed);
    return internal::ToGrpcStatus(status, context);
  }

 private:
  class StreamSlot {
   public:
    StreamSlot(Server* server, std::string client)
        : server_(server), client_(std::move(client)) {}
    ~StreamSlot() { server_->ReturnStreamSlot(client_); }
    StreamSlot(const StreamSlot&) = delete;
    StreamSlot& operator=(const StreamSlot&) = delete;

   private:
    Server* server_;
    std::string client_;
  };

  arrow::Status Authenticate(const grpc::ServerContext& context) {
    if (expected_authorization_.empty()) return arrow::Status::OK();
    auto status =
        internal::CheckAuthorization(context.client_metadata(), expected_authorization_);
    if (!status.ok()) unauthenticated_calls_.fetch_add(1, std::memory_order_relaxed);
    return status;
  }

  arrow::Status TakeStreamSlot(const std::string& client) {
    const int per_client = options_.max_streams_per_client > 0
                               ? options_.max_streams_per_client
                               : options_.max_concurrent_streams;
    std::lock_guard<std::mutex> lock(streams_mutex_);
    int& of_client = streams_per_client_[client];
    if (active_streams_ < options_.max_concurrent_streams && of_client < per_client) {
      ++active_streams_;
      ++of_client;
      return arrow::Status::OK();
    }
    const bool client_full = of_client >= per_client;
    if (of_client == 0) streams_per_client_.erase(client);
    streams_rejected_busy_.fetch_add(1, std::memory_order_relaxed);
    return Refused(
        flight::FlightStatusCode::Unavailable, RefusalClass::kRetryable, "busy",
        client_full
            ? "too many concurrent streams from " + client + " (at most " +
                  std::to_string(per_client) + "); retry later"
            : "too many concurrent streams (at most " +
                  std::to_string(options_.max_concurrent_streams) + "); retry later");
  }

  void ReturnStreamSlot(const std::string& client) {
    std::lock_guard<std::mutex> lock(streams_mutex_);
    --active_streams_;
    if (auto it = streams_per_client_.find(client);
        it != streams_per_client_.end() && --it->second == 0) {
      streams_per_client_.erase(it);
    }
  }

  arrow::Status Refuse(arrow::Status status) {
    validation_failures_.fetch_add(1, std::memory_order_relaxed);
    return status;
  }

  // Bytes that do not decode as Arrow IPC are the client's fault.
  arrow::Status RefuseUndecodable(const arrow::Status& status, std::string_view what) {
    return Refuse(Invalid("undecodable",
                          std::string(what) + " is not Arrow IPC: " + status.message()));
  }

  // A failed ReadNext: what the decode scope refused, or bad bytes.
  arrow::Status RefuseRead(const arrow::Status& status,
                           const internal::DecodeScope& scope, int64_t index) {
    switch (scope.refusal()) {
      case internal::DecodeRefusal::kMessageLimit:
        oversize_batches_.fetch_add(1, std::memory_order_relaxed);
        return TooLarge("batch " + std::to_string(index) +
                        " is too large: it decodes to more than " +
                        std::to_string(options_.max_batch_bytes) +
                        " bytes (max_batch_bytes): " + status.message());
      case internal::DecodeRefusal::kBudget:
        memory_budget_refusals_.fetch_add(1, std::memory_order_relaxed);
        return Refused(flight::FlightStatusCode::Unavailable, RefusalClass::kRetryable,
                       "memory_budget",
                       "batch " + std::to_string(index) +
                           " refused: the receiver's decoding memory (" +
                           std::to_string(options_.max_decoded_bytes_in_flight) +
                           " bytes) is in use by other streams; retry later");
      case internal::DecodeRefusal::kNone:
        break;
    }
    return RefuseUndecodable(status, "message " + std::to_string(index));
  }

  arrow::Status ReceiveStream(
      const grpc::ServerContext& context,
      grpc::ServerReaderWriter<wire::PutResult, wire::FlightData>* stream,
      internal::IdleStreamWatchdog::Watch* watch) {
    wire::FlightData first;
    watch->BeginWait();
    const bool got_first = stream->Read(&first);
    watch->EndWait();
    if (!got_first) {
      if (context.IsCancelled()) return arrow::Status::Cancelled("DoPut cancelled");
      return Refuse(
          Invalid("no_descriptor", "DoPut stream ended before its first message"));
    }
    ARROW_ASSIGN_OR_RAISE(auto descriptor, ToArrow(first.flight_descriptor()));
    if (!IsSpansPath(descriptor)) {
      return Refuse(WithRefusal(
          arrow::Status::KeyError("unknown DoPut descriptor, ", Describe(descriptor),
                                  ": spans are uploaded to path ", DescribeSpansPath()),
          RefusalClass::kPermanent, "unknown_descriptor"));
    }
    auto read_options = arrow::ipc::IpcReadOptions::Defaults();
    // Decompress on this thread: Arrow's pool tasks cost more in wake-ups than they save.
    read_options.use_threads = false;
    read_options.memory_pool = internal::DecodeMemoryPool();
    // Declared before the reader, whose message reader points to it.
    internal::IpcStreamRecorder recorder;
    std::shared_ptr<arrow::ipc::RecordBatchStreamReader> reader;
    {
      internal::DecodeScope scope(&budget_, options_.max_batch_bytes);
      auto opened = arrow::ipc::RecordBatchStreamReader::Open(
          std::make_unique<FlightDataMessageReader>(stream, watch, std::move(first),
                                                    &recorder),
          read_options);
      if (!opened.ok()) {
        if (context.IsCancelled()) return arrow::Status::Cancelled("DoPut cancelled");
        return RefuseUndecodable(opened.status(), "the stream's schema message");
      }
      reader = std::move(opened).MoveValueUnsafe();
    }
    if (auto compatible = CheckStreamSchema(reader->schema()); !compatible.ok()) {
      return Refuse(Invalid("schema", compatible.message()));
    }

    for (int64_t index = 0;; ++index) {
      // Everything decoded for this batch counts against the budget until it is stored.
      internal::DecodeScope scope(&budget_, options_.max_batch_bytes);
      std::shared_ptr<arrow::RecordBatch> received;
      if (auto read = reader->ReadNext(&received); !read.ok()) {
        if (context.IsCancelled()) {
          return arrow::Status::Cancelled("DoPut cancelled after ", index, " batches");
        }
        return RefuseRead(read, scope, index);
      }
      if (received == nullptr) {
        return context.IsCancelled()
                   ? arrow::Status::Cancelled("DoPut cancelled after ", index, " batches")
                   : arrow::Status::OK();
      }
      const int64_t bytes = arrow::util::TotalBufferSize(*received);
      if (bytes > options_.max_batch_bytes) {
        oversize_batches_.fetch_add(1, std::memory_order_relaxed);
        return TooLarge(
            "batch " + std::to_string(index) + " is too large: " + std::to_string(bytes) +
            " bytes exceeds the limit of " + std::to_string(options_.max_batch_bytes));
      }
      // gRPC's message memory has no alignment guarantee beyond malloc's; reading an
      // int32 at a misaligned address is undefined behaviour. Misaligned buffers are
      // copied, aligned ones kept.
      ARROW_ASSIGN_OR_RAISE(auto aligned, arrow::util::EnsureAlignment(
                                              received, arrow::util::kValueAlignment,
                                              internal::DecodeMemoryPool()));
      auto batch =
          convert::ConformToSpanTableSchema(*aligned, arrow::default_memory_pool());
      if (!batch.ok()) {
        return Refuse(Invalid("invalid_batch", "batch " + std::to_string(index) + ": " +
                                                   batch.status().message()));
      }
      if (auto valid = convert::ValidateSpanTable(**batch); !valid.ok()) {
        return Refuse(Invalid("invalid_batch",
                              "batch " + std::to_string(index) + ": " + valid.message()));
      }
      // The batch as it arrived, for the sink's log: the compressed bytes are far fewer
      // to checksum and write than the batch serialized again. (Without them, say for
      // want of memory, the sink serializes the batch itself.)
      std::shared_ptr<arrow::Buffer> received_stream =
          recorder.LatestBatchStream(arrow::default_memory_pool()).ValueOr(nullptr);
      // Validated here: the sink does not check the values again.
      if (auto appended = sink_->AppendValidated(*batch, std::move(received_stream));
          !appended.ok()) {
        if (appended.IsInvalid()) {
          // The store's own checks refused the content: retrying cannot help.
          return Refuse(Invalid("invalid_batch", "batch " + std::to_string(index) + ": " +
                                                     appended.message()));
        }
        sink_failures_.fetch_add(1, std::memory_order_relaxed);
        // The sender may retry: storage trouble is not its fault.
        return Refused(
            flight::FlightStatusCode::Unavailable, RefusalClass::kRetryable,
            "storage_unavailable",
            "batch " + std::to_string(index) + " not stored: " + appended.ToString());
      }
      spans_stored_.fetch_add((*batch)->num_rows(), std::memory_order_relaxed);
      batches_stored_.fetch_add(1, std::memory_order_relaxed);
      bytes_stored_.fetch_add(bytes, std::memory_order_relaxed);
      wire::PutResult ack;
      ack.set_app_metadata(BatchAck{index, (*batch)->num_rows()}.ToJson());
      if (!stream->Write(ack)) {
        return arrow::Status::Cancelled("the DoPut client went away after batch ", index,
                                        " was stored");
      }
    }
  }

  static arrow::Result<flight::FlightDescriptor> ToArrow(
      const wire::FlightDescriptor& descriptor) {
    auto parsed = flight::FlightDescriptor::Deserialize(descriptor.SerializeAsString());
    if (!parsed.ok()) {
      return arrow::Status::Invalid("bad flight descriptor: ", parsed.status().message());
    }
    return parsed;
  }

  arrow::Status RequireSource() const {
    if (source_ == nullptr) {
      return arrow::Status::NotImplemented("this receiver serves no stored spans");
    }
    return arrow::Status::OK();
  }

  static arrow::Result<storage::SpanQuery> ParseQuery(std::string_view json) {
    auto query = storage::SpanQuery::FromJson(json);
    if (!query.ok()) {
      return arrow::Status::Invalid("bad span query: ", query.status().message());
    }
    return query;
  }

  arrow::Result<flight::FlightInfo> MakeInfo(const flight::FlightDescriptor& descriptor,
                                             const storage::SpanQuery& query,
                                             int64_t total_records, int64_t total_bytes) {
    flight::FlightEndpoint endpoint;
    endpoint.ticket.ticket = query.ToJson();
    // No locations: the ticket is redeemed on this server, whatever address the client
    // used to reach it.
    return flight::FlightInfo::Make(*convert::SpanTableSchema(), descriptor, {endpoint},
                                    total_records, total_bytes);
  }

  arrow::Result<flight::FlightInfo> AllSpansInfo() {
    ARROW_RETURN_NOT_OK(RequireSource());
    ARROW_ASSIGN_OR_RAISE(const auto files, source_->ListFiles());
    int64_t rows = 0;
    int64_t bytes = 0;
    for (const auto& file : files) {
      rows += file.num_rows;
      bytes += file.num_bytes;
    }
    return MakeInfo(SpansDescriptor(), storage::SpanQuery{}, rows, bytes);
  }

  const FlightSpanReceiverOptions options_;
  const std::shared_ptr<storage::SpanSink> sink_;
  const std::shared_ptr<storage::SpanSource> source_;
  std::string expected_authorization_;  // "Bearer <token>", empty without a token
  internal::InFlightBudget budget_;
  std::unique_ptr<internal::IdleStreamWatchdog> watchdog_;
  std::unique_ptr<grpc::Server> server_;
  std::string uri_;
  int port_ = 0;
  std::atomic<bool> serving_{false};

  std::mutex streams_mutex_;
  int active_streams_ = 0;                         // guarded by streams_mutex_
  std::map<std::string, int> streams_per_client_;  // guarded by streams_mutex_

  std::atomic<int64_t> spans_stored_{0};
  std::atomic<int64_t> batches_stored_{0};
  std::atomic<int64_t> bytes_stored_{0};
  std::atomic<int64_t> streams_completed_{0};
  std::atomic<int64_t> validation_failures_{0};
  std::atomic<int64_t> oversize_batches_{0};
  std::atomic<int64_t> streams_rejected_busy_{0};
  std::atomic<int64_t> streams_idle_cancelled_{0};
  std::atomic<int64_t> memory_budget_refusals_{0};
  std::atomic<int64_t> unauthenticated_calls_{0};
  std::atomic<int64_t> sink_failures_{0};
  std::atomic<int64_t> spans_served_{0};
};

arrow::Result<std::unique_ptr<FlightSpanReceiver>> FlightSpanReceiver::Make(
    FlightSpanReceiverOptions options, std::shared_ptr<storage::SpanSink> sink,
    std::shared_ptr<storage::SpanSource> source) {
  ARROW_RETURN_NOT_OK(options.Validate());
  if (sink == nullptr) return arrow::Status::Invalid("FlightSpanReceiver: no SpanSink");
  return std::unique_ptr<FlightSpanReceiver>(
      new FlightSpanReceiver(std::move(options), std::move(sink), std::move(source)));
}

FlightSpanReceiver::FlightSpanReceiver(FlightSpanReceiverOptions options,
                                       std::shared_ptr<storage::SpanSink> sink,
                                       std::shared_ptr<storage::SpanSource> source)
    : server_(std::make_unique<Server>(std::move(options), std::move(sink),
                                       std::move(source))) {}

FlightSpanReceiver::~FlightSpanReceiver() {
  // Handlers use the sink and the counters: cancel any still running before they go.
  const auto now = std::chrono::system_clock::now();
  common::LogErrorFromDestructor("FlightSpanReceiver", server_->Stop(&now));
}

arrow::Status FlightSpanReceiver::Start() { return server_->Start(); }

int FlightSpanReceiver::port() const { return server_->port(); }

std::string FlightSpanReceiver::uri() const { return server_->uri(); }

arrow::Status FlightSpanReceiver::Shutdown(
    std::optional<std::chrono::system_clock::time_point> deadline) {
  return server_->Stop(deadline.has_value() ? &*deadline : nullptr);
}

arrow::Status FlightSpanReceiver::Wait() { return server_->WaitUntilStopped(); }

FlightSpanReceiverStats FlightSpanReceiver::Stats() const { return server_->Stats(); }

const FlightSpanReceiverOptions& FlightSpanReceiver::options() const {
  return server_->options();
}

}  // namespace otlp_arrow::transport
