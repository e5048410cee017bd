// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/transport/flight_span_receiver.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <string_view>
#include <utility>
#include <vector>

#include <arrow/buffer.h>
#include <arrow/flight/server.h>
#include <arrow/flight/types.h>
#include <arrow/memory_pool.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <arrow/util/align_util.h>
#include <arrow/util/byte_size.h>
#include <arrow/util/key_value_metadata.h>

#include "bearer_token_middleware_internal.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/transport/flight_protocol.h"

namespace otlp_arrow::transport {

namespace flight = arrow::flight;

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

// The host part of `scheme://host:port[/...]`; an IPv6 host keeps its brackets, as
// Location::ForGrpcTcp wants it. Location has no accessor for it.
std::string HostOf(std::string_view uri) {
  if (const auto scheme_end = uri.find("://"); scheme_end != std::string_view::npos) {
    uri.remove_prefix(scheme_end + 3);
  }
  uri = uri.substr(0, uri.find('/'));
  if (!uri.empty() && uri.front() == '[')
    return std::string(uri.substr(0, uri.find(']') + 1));
  return std::string(uri.substr(0, uri.rfind(':')));
}

// Decrements the count of running streams however the DoPut handler returns.
class StreamSlot {
 public:
  explicit StreamSlot(std::atomic<int>* active) : active_(active) {}
  ~StreamSlot() { active_->fetch_sub(1, std::memory_order_acq_rel); }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;

 private:
  std::atomic<int>* active_;
};

}  // namespace

class FlightSpanReceiver::Server : public flight::FlightServerBase {
 public:
  Server(FlightSpanReceiverOptions options, std::shared_ptr<storage::SpanSink> sink,
         std::shared_ptr<storage::SpanSource> source)
      : options_(std::move(options)),
        sink_(std::move(sink)),
        source_(std::move(source)) {}

  arrow::Status Start() {
    if (sink_ == nullptr) return arrow::Status::Invalid("FlightSpanReceiver: no sink");
    if (options_.max_batch_bytes <= 0 || options_.max_concurrent_streams <= 0) {
      return arrow::Status::Invalid(
          "FlightSpanReceiver: max_batch_bytes and max_concurrent_streams must be "
          "positive");
    }
    ARROW_ASSIGN_OR_RAISE(auto location, flight::Location::Parse(options_.listen_uri));
    const std::string scheme = location.scheme();
    const bool tls = scheme == "grpc+tls";
    if (!tls && scheme != "grpc" && scheme != "grpc+tcp") {
      return arrow::Status::Invalid(
          "listen URI '", options_.listen_uri,
          "': expected grpc://host:port or grpc+tls://host:port");
    }
    const bool has_cert = !options_.tls_cert_pem.empty() || !options_.tls_key_pem.empty();
    if (tls && (options_.tls_cert_pem.empty() || options_.tls_key_pem.empty())) {
      return arrow::Status::Invalid("listen URI '", options_.listen_uri,
                                    "' needs a TLS certificate and its key");
    }
    if (!tls && (has_cert || !options_.client_ca_pem.empty())) {
      return arrow::Status::Invalid(
          "TLS certificate or client CA given, but listen URI '", options_.listen_uri,
          "' is not grpc+tls://");
    }
    flight::FlightServerOptions server_options(location);
    if (tls) {
      server_options.tls_certificates.push_back(
          flight::CertKeyPair{options_.tls_cert_pem, options_.tls_key_pem});
      if (!options_.client_ca_pem.empty()) {
        server_options.verify_client = true;
        server_options.root_certificates = options_.client_ca_pem;
      }
    }
    if (options_.bearer_token.has_value()) {
      if (options_.bearer_token->empty()) {
        return arrow::Status::Invalid("FlightSpanReceiver: empty bearer token");
      }
      server_options.middleware.emplace_back(
          "bearer-token", std::make_shared<internal::BearerTokenMiddlewareFactory>(
                              *options_.bearer_token, &unauthenticated_calls_));
    }
    if (auto status = Init(server_options); !status.ok()) {
      // Arrow says only "Server did not start properly"; gRPC logs why above.
      return arrow::Status::IOError(
          "cannot start the Flight server on ", options_.listen_uri,
          " (the port in use, an address not of this host, or a certificate gRPC "
          "refused; gRPC's log says which): ",
          status.message());
    }
    initialized_ = true;
    serving_.store(true);
    // grpc:// rather than Location's grpc+tcp://: the form the exporter and `diagnose`
    // document, so the printed address can be pasted into them.
    uri_ = std::string(tls ? "grpc+tls://" : "grpc://") + HostOf(options_.listen_uri) +
           ":" + std::to_string(port());
    return arrow::Status::OK();
  }

  // Idempotent, so the destructor can make sure no handler outlives the receiver.
  arrow::Status Stop(const std::chrono::system_clock::time_point* deadline) {
    if (!serving_.exchange(false)) return arrow::Status::OK();
    return Shutdown(deadline);
  }

  // FlightServerBase::Wait() of a server whose Init() failed (its port taken, say)
  // dereferences a transport that does not exist.
  arrow::Status WaitUntilStopped() {
    if (!initialized_) return arrow::Status::OK();
    return Wait();
  }

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
    stats.unauthenticated_calls = unauthenticated_calls_.load(std::memory_order_relaxed);
    stats.sink_failures = sink_failures_.load(std::memory_order_relaxed);
    stats.spans_served = spans_served_.load(std::memory_order_relaxed);
    return stats;
  }

  arrow::Status DoPut(const flight::ServerCallContext& context,
                      std::unique_ptr<flight::FlightMessageReader> reader,
                      std::unique_ptr<flight::FlightMetadataWriter> writer) override {
    if (active_streams_.fetch_add(1, std::memory_order_acq_rel) >=
        options_.max_concurrent_streams) {
      active_streams_.fetch_sub(1, std::memory_order_acq_rel);
      streams_rejected_busy_.fetch_add(1, std::memory_order_relaxed);
      return flight::MakeFlightError(flight::FlightStatusCode::Unavailable,
                                     "too many concurrent streams (at most " +
                                         std::to_string(options_.max_concurrent_streams) +
                                         "); retry later");
    }
    StreamSlot slot(&active_streams_);
    arrow::Status status = ReceiveStream(context, reader.get(), writer.get());
    streams_completed_.fetch_add(1, std::memory_order_relaxed);
    return status;
  }

  arrow::Status ListFlights(const flight::ServerCallContext& /*context*/,
                            const flight::Criteria* /*criteria*/,
                            std::unique_ptr<flight::FlightListing>* listings) override {
    ARROW_ASSIGN_OR_RAISE(auto info, AllSpansInfo());
    std::vector<flight::FlightInfo> flights;
    flights.push_back(std::move(info));
    *listings = std::make_unique<flight::SimpleFlightListing>(std::move(flights));
    return arrow::Status::OK();
  }

  arrow::Status GetFlightInfo(const flight::ServerCallContext& /*context*/,
                              const flight::FlightDescriptor& request,
                              std::unique_ptr<flight::FlightInfo>* info) override {
    if (IsSpansPath(request)) {
      ARROW_ASSIGN_OR_RAISE(auto all, AllSpansInfo());
      *info = std::make_unique<flight::FlightInfo>(std::move(all));
      return arrow::Status::OK();
    }
    if (request.type != flight::FlightDescriptor::CMD) {
      return arrow::Status::KeyError("unknown flight descriptor, ", Describe(request),
                                     "; stored spans are at path ", DescribeSpansPath(),
                                     " or a command holding a span query");
    }
    ARROW_RETURN_NOT_OK(RequireSource());
    ARROW_ASSIGN_OR_RAISE(auto query, ParseQuery(request.cmd));
    ARROW_ASSIGN_OR_RAISE(auto made, MakeInfo(request, query, /*total_records=*/-1,
                                              /*total_bytes=*/-1));
    *info = std::make_unique<flight::FlightInfo>(std::move(made));
    return arrow::Status::OK();
  }

  arrow::Status GetSchema(const flight::ServerCallContext& /*context*/,
                          const flight::FlightDescriptor& request,
                          std::unique_ptr<flight::SchemaResult>* schema) override {
    if (!IsSpansPath(request) && request.type != flight::FlightDescriptor::CMD) {
      return arrow::Status::KeyError("unknown flight descriptor, ", Describe(request));
    }
    ARROW_ASSIGN_OR_RAISE(*schema,
                          flight::SchemaResult::Make(*convert::SpanTableSchema()));
    return arrow::Status::OK();
  }

  arrow::Status DoGet(const flight::ServerCallContext& /*context*/,
                      const flight::Ticket& request,
                      std::unique_ptr<flight::FlightDataStream>* stream) override {
    ARROW_RETURN_NOT_OK(RequireSource());
    ARROW_ASSIGN_OR_RAISE(auto query, ParseQuery(request.ticket));
    ARROW_ASSIGN_OR_RAISE(auto reader, source_->Scan(query));
    *stream = std::make_unique<flight::RecordBatchStream>(
        std::make_shared<CountingReader>(std::move(reader), &spans_served_));
    return arrow::Status::OK();
  }

 private:
  // Counts the spans DoGet sends as Flight pulls them.
  class CountingReader : public arrow::RecordBatchReader {
   public:
    CountingReader(std::shared_ptr<arrow::RecordBatchReader> reader,
                   std::atomic<int64_t>* rows)
        : reader_(std::move(reader)), rows_(rows) {}
    std::shared_ptr<arrow::Schema> schema() const override { return reader_->schema(); }
    arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
      ARROW_RETURN_NOT_OK(reader_->ReadNext(batch));
      if (*batch != nullptr) rows_->fetch_add((*batch)->num_rows());
      return arrow::Status::OK();
    }
    arrow::Status Close() override { return reader_->Close(); }

   private:
    std::shared_ptr<arrow::RecordBatchReader> reader_;
    std::atomic<int64_t>* rows_;
  };

  arrow::Status Refuse(arrow::Status status) {
    validation_failures_.fetch_add(1, std::memory_order_relaxed);
    return status;
  }

  // Bytes that do not decode as Arrow IPC are the client's fault: INVALID_ARGUMENT, where
  // Arrow's reader would report an IOError that Flight turns into UNKNOWN.
  arrow::Status RefuseUndecodable(const arrow::Status& status, std::string_view what) {
    if (status.IsInvalid()) return Refuse(status);
    return Refuse(arrow::Status::Invalid(what, " is not Arrow IPC: ", status.message()));
  }

  arrow::Status ReceiveStream(const flight::ServerCallContext& context,
                              flight::FlightMessageReader* reader,
                              flight::FlightMetadataWriter* writer) {
    if (!IsSpansPath(reader->descriptor())) {
      return Refuse(arrow::Status::KeyError(
          "unknown DoPut descriptor, ", Describe(reader->descriptor()),
          ": spans are uploaded to path ", DescribeSpansPath()));
    }
    auto stream_schema = reader->GetSchema();
    if (!stream_schema.ok()) {
      return RefuseUndecodable(stream_schema.status(), "the stream's schema message");
    }
    if (auto compatible = CheckStreamSchema(*stream_schema); !compatible.ok()) {
      return Refuse(compatible);
    }

    for (int64_t index = 0;; ++index) {
      if (context.is_cancelled()) {
        return arrow::Status::Cancelled("DoPut cancelled after ", index, " batches");
      }
      auto next = reader->Next();
      if (!next.ok()) {
        // A broken message, unless the client went away.
        return context.is_cancelled()
                   ? next.status()
                   : RefuseUndecodable(next.status(), "message " + std::to_string(index));
      }
      flight::FlightStreamChunk chunk = std::move(next).MoveValueUnsafe();
      if (chunk.data == nullptr) {
        // Metadata-only messages carry nothing to store; the stream ends at a null pair.
        if (chunk.app_metadata == nullptr) return arrow::Status::OK();
        --index;
        continue;
      }
      const int64_t bytes = arrow::util::TotalBufferSize(*chunk.data);
      if (bytes > options_.max_batch_bytes) {
        oversize_batches_.fetch_add(1, std::memory_order_relaxed);
        return arrow::Status::Invalid("RESOURCE_EXHAUSTED: batch of ", bytes,
                                      " bytes exceeds the limit of ",
                                      options_.max_batch_bytes);
      }
      // Flight hands out the gRPC message memory without copying, so value buffers can
      // sit at any address; reading an int32 there is undefined behaviour. Misaligned
      // buffers are copied, aligned ones kept.
      ARROW_ASSIGN_OR_RAISE(auto aligned, arrow::util::EnsureAlignment(
                                              chunk.data, arrow::util::kValueAlignment,
                                              arrow::default_memory_pool()));
      auto batch =
          convert::ConformToSpanTableSchema(*aligned, arrow::default_memory_pool());
      if (!batch.ok()) {
        return Refuse(
            arrow::Status::Invalid("batch ", index, ": ", batch.status().message()));
      }
      if (auto valid = convert::ValidateSpanTable(**batch); !valid.ok()) {
        return Refuse(arrow::Status::Invalid("batch ", index, ": ", valid.message()));
      }
      if (auto appended = sink_->Append(*batch); !appended.ok()) {
        sink_failures_.fetch_add(1, std::memory_order_relaxed);
        // The sender may retry: storage trouble is not its fault.
        return flight::MakeFlightError(
            flight::FlightStatusCode::Unavailable,
            "batch " + std::to_string(index) + " not stored: " + appended.ToString());
      }
      spans_stored_.fetch_add((*batch)->num_rows(), std::memory_order_relaxed);
      batches_stored_.fetch_add(1, std::memory_order_relaxed);
      bytes_stored_.fetch_add(bytes, std::memory_order_relaxed);
      const std::string ack = BatchAck{index, (*batch)->num_rows()}.ToJson();
      ARROW_RETURN_NOT_OK(writer->WriteMetadata(arrow::Buffer(ack)));
    }
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
  std::string uri_;
  std::atomic<bool> serving_{false};
  bool initialized_ = false;  // Init() succeeded; set once in Start()

  std::atomic<int> active_streams_{0};
  std::atomic<int64_t> spans_stored_{0};
  std::atomic<int64_t> batches_stored_{0};
  std::atomic<int64_t> bytes_stored_{0};
  std::atomic<int64_t> streams_completed_{0};
  std::atomic<int64_t> validation_failures_{0};
  std::atomic<int64_t> oversize_batches_{0};
  std::atomic<int64_t> streams_rejected_busy_{0};
  std::atomic<int64_t> unauthenticated_calls_{0};
  std::atomic<int64_t> sink_failures_{0};
  std::atomic<int64_t> spans_served_{0};
};

FlightSpanReceiver::FlightSpanReceiver(FlightSpanReceiverOptions options,
                                       std::shared_ptr<storage::SpanSink> sink,
                                       std::shared_ptr<storage::SpanSource> source)
    : server_(std::make_unique<Server>(std::move(options), std::move(sink),
                                       std::move(source))) {}

FlightSpanReceiver::~FlightSpanReceiver() {
  // Handlers use the sink and the counters: cancel any still running before they go.
  const auto now = std::chrono::system_clock::now();
  (void)server_->Stop(&now);
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
