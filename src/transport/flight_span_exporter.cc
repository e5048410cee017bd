// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/transport/flight_span_exporter.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iterator>
#include <mutex>
#include <random>
#include <string_view>
#include <utility>

#include <arrow/array/data.h>
#include <arrow/buffer.h>
#include <arrow/flight/client.h>
#include <arrow/flight/types.h>
#include <arrow/ipc/writer.h>
#include <arrow/record_batch.h>
#include <arrow/util/byte_size.h>
#include <arrow/util/compression.h>

#include "otlp_arrow/common/backoff.h"
#include "otlp_arrow/common/file.h"
#include "otlp_arrow/common/log.h"
#include "otlp_arrow/common/zstd_codec.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/transport/flight_protocol.h"

namespace otlp_arrow::transport {

namespace flight = arrow::flight;

namespace {

using Chunk = std::shared_ptr<arrow::RecordBatch>;

enum class Failure {
  kTooLarge,        // split the chunk in flight and resend at once
  kRetryable,       // back off, then resend from the first unacknowledged chunk
  kPermanent,       // give up: the content will never be accepted
  kOperatorAction,  // give up for now, but keep the spans: credentials are refused
};

struct Classification {
  Failure failure = Failure::kPermanent;
  // The connection may be broken: make a new client before the next attempt.
  bool reconnect = false;
};

Failure FromRefusalClass(RefusalClass refusal_class) {
  switch (refusal_class) {
    case RefusalClass::kRetryable:
      return Failure::kRetryable;
    case RefusalClass::kTooLarge:
      return Failure::kTooLarge;
    case RefusalClass::kPermanent:
      return Failure::kPermanent;
    case RefusalClass::kOperatorAction:
      return Failure::kOperatorAction;
  }
  return Failure::kPermanent;
}

// By the receiver's Refusal when it sent one, else by the Flight status code (an older
// receiver, a proxy, or a transport error); never by the message text.
Classification Classify(const arrow::Status& status) {
  Classification c;
  // The client's own write_size_limit_bytes check, before anything was sent.
  if (flight::FlightWriteSizeStatusDetail::UnwrapStatus(status) != nullptr) {
    c.failure = Failure::kTooLarge;
    return c;
  }
  const auto detail = flight::FlightStatusDetail::UnwrapStatus(status);
  if (detail != nullptr) {
    switch (detail->code()) {
      // Cancelled too: a receiver that shuts down cancels the streams still running
      // (FlightSpanReceiver::Shutdown with a deadline), and the spans of such a stream
      // are to be delivered once it is back. The exporter never cancels a call itself.
      case flight::FlightStatusCode::Unavailable:
      case flight::FlightStatusCode::TimedOut:
      case flight::FlightStatusCode::Cancelled:
        c.failure = Failure::kRetryable;
        c.reconnect = true;
        break;
      case flight::FlightStatusCode::Unauthenticated:
      case flight::FlightStatusCode::Unauthorized:
        c.failure = Failure::kOperatorAction;
        break;
      default:
        break;
    }
  }
  if (auto refusal = Refusal::FromStatus(status)) {
    c.failure = FromRefusalClass(refusal->refusal_class);
  }
  return c;
}

arrow::Result<std::shared_ptr<arrow::util::Codec>> MakeCodec(
    FlightCompression compression) {
  switch (compression) {
    case FlightCompression::kNone:
      return nullptr;
    case FlightCompression::kLz4:
      return arrow::util::Codec::Create(arrow::Compression::LZ4_FRAME);
    case FlightCompression::kZstd:
      return common::MakeZstdCodec();
  }
  return arrow::Status::Invalid("unknown FlightCompression ",
                                static_cast<int>(compression));
}

}  // namespace

arrow::Status FlightSpanExporterOptions::Validate() const {
  auto location = flight::Location::Parse(endpoint);
  if (!location.ok()) {
    return arrow::Status::Invalid(
        "Flight endpoint '", endpoint,
        "' is not a URI such as grpc://host:port: ", location.status().message());
  }
  const std::string scheme = location->scheme();
  if (scheme != "grpc" && scheme != "grpc+tcp" && scheme != "grpc+tls" &&
      scheme != "grpc+unix") {
    return arrow::Status::Invalid("Flight endpoint '", endpoint, "': scheme '", scheme,
                                  "' is not one of grpc, grpc+tcp, grpc+tls, grpc+unix");
  }
  const bool tls_settings = !tls_root_certs.empty() || !tls_root_certs_file.empty() ||
                            !tls_cert_chain.empty() || !tls_private_key.empty() ||
                            !tls_server_name_override.empty();
  if (tls_settings && scheme != "grpc+tls") {
    return arrow::Status::Invalid("Flight endpoint '", endpoint,
                                  "': TLS settings given but the scheme is not grpc+tls");
  }
  if (tls_cert_chain.empty() != tls_private_key.empty()) {
    return arrow::Status::Invalid(
        "mutual TLS needs both tls_cert_chain and tls_private_key");
  }
  if (batch_size < 1) {
    return arrow::Status::Invalid("batch_size must be at least 1, got ", batch_size);
  }
  if (max_batch_bytes < 1) {
    return arrow::Status::Invalid("max_batch_bytes must be at least 1, got ",
                                  max_batch_bytes);
  }
  if (max_span_bytes < 1) {
    return arrow::Status::Invalid("max_span_bytes must be at least 1, got ",
                                  max_span_bytes);
  }
  if (max_retries < 0) {
    return arrow::Status::Invalid("max_retries must not be negative, got ", max_retries);
  }
  if (initial_backoff.count() < 0 || max_backoff < initial_backoff) {
    return arrow::Status::Invalid(
        "backoff: need 0 <= initial_backoff <= max_backoff, got ",
        initial_backoff.count(), " ms and ", max_backoff.count(), " ms");
  }
  if (!(backoff_multiplier >= 1.0)) {
    return arrow::Status::Invalid("backoff_multiplier must be at least 1, got ",
                                  backoff_multiplier);
  }
  if (!bearer_token.empty()) ARROW_RETURN_NOT_OK(CheckBearerToken(bearer_token));
  return arrow::Status::OK();
}

struct FlightSpanExporter::Impl {
  // What happened to one DoPut stream.
  struct StreamOutcome {
    arrow::Status status;
    // A chunk was written and neither acknowledged nor refused client-side before the
    // error: the error is about pending.front().
    bool chunk_in_flight = false;
  };

  FlightSpanExporterOptions options;
  flight::Location location;
  flight::FlightClientOptions client_options;
  flight::FlightCallOptions call_options;
  flight::FlightDescriptor descriptor;

  std::mutex export_mutex;  // one Export at a time; guards client and rng
  std::unique_ptr<flight::FlightClient> client;
  std::mt19937_64 rng{std::random_device{}()};

  std::shared_ptr<common::Clock> clock;
  std::mutex shutdown_mutex;  // with shutdown_cv: the interruptible backoff wait
  std::condition_variable shutdown_cv;
  std::atomic<bool> shutdown{false};

  arrow::Result<flight::FlightClient*> EnsureClient() {
    if (client == nullptr) {
      ARROW_ASSIGN_OR_RAISE(client,
                            flight::FlightClient::Connect(location, client_options));
    }
    return client.get();
  }

  void DropClient() {
    if (client == nullptr) return;
    // The client is being replaced because its connection failed; its Close error
    // would only repeat that.
    ARROW_UNUSED(client->Close());
    client.reset();
  }

  void SetBearerToken(const std::string& token) {
    auto& headers = call_options.headers;
    headers.erase(std::remove_if(headers.begin(), headers.end(),
                                 [](const auto& header) {
                                   return header.first == kAuthorizationHeader;
                                 }),
                  headers.end());
    if (!token.empty()) {
      headers.emplace_back(std::string(kAuthorizationHeader), "Bearer " + token);
    }
    options.bearer_token = token;
  }

  // True when the token source gives a token other than the one refused.
  bool ReloadBearerToken() {
    if (!options.reload_bearer_token) return false;
    auto token = options.reload_bearer_token();
    if (!token.ok() || *token == options.bearer_token || !CheckBearerToken(*token).ok()) {
      return false;
    }
    SetBearerToken(*token);
    return true;
  }

  void Sleep(std::chrono::nanoseconds duration) {
    std::unique_lock<std::mutex> lock(shutdown_mutex);
    clock->WaitUntil(lock, shutdown_cv, common::SaturatingAdd(clock->Now(), duration),
                     [this] { return shutdown.load(); });
  }

  std::chrono::nanoseconds Backoff(int retry) {
    const auto ceiling = BackoffCeiling(options, retry);
    if (!options.full_jitter || ceiling.count() <= 0) return ceiling;
    std::uniform_int_distribution<int64_t> jitter(0, ceiling.count());
    return std::chrono::nanoseconds(jitter(rng));
  }

  // Cuts `spans` into chunks of at most batch_size rows and max_batch_bytes bytes,
  // in their wire form (OnTheWire).
  arrow::Status AppendChunks(const arrow::RecordBatch& spans, std::deque<Chunk>* out) {
    ARROW_ASSIGN_OR_RAISE(const Chunk batch, OnTheWire(spans));
    for (int64_t offset = 0; offset < batch->num_rows(); offset += options.batch_size) {
      ARROW_RETURN_NOT_OK(CutBySize(
          batch->Slice(offset, std::min(options.batch_size, batch->num_rows() - offset)),
          out));
    }
    return arrow::Status::OK();
  }

  // A chunk's size is its record batch message plus its dictionaries (attribute keys
  // and values, ...), which go in messages of their own and count against the same
  // limit.
  arrow::Status CutBySize(const Chunk& chunk, std::deque<Chunk>* out) {
    int64_t size = 0;
    ARROW_RETURN_NOT_OK(arrow::ipc::GetRecordBatchSize(*chunk, &size));
    const int64_t dictionary_bytes = DictionaryBytes(*chunk);
    size += dictionary_bytes;
    if (size <= options.max_batch_bytes || chunk->num_rows() <= 1) {
      out->push_back(chunk);
      return arrow::Status::OK();
    }
    // Equal row counts per piece; rows differ in size, so pieces are checked again.
    const int64_t pieces =
        std::min(chunk->num_rows(),
                 (size + options.max_batch_bytes - 1) / options.max_batch_bytes);
    const int64_t rows_per_piece = (chunk->num_rows() + pieces - 1) / pieces;
    for (int64_t offset = 0; offset < chunk->num_rows(); offset += rows_per_piece) {
      Chunk piece =
          chunk->Slice(offset, std::min(rows_per_piece, chunk->num_rows() - offset));
      // A slice shares the whole batch's dictionaries. Where they are a large part of
      // the limit (a huge string value, say), the piece's dictionaries are cut to its
      // own values; otherwise they are shared, and Arrow's IPC writer sends a
      // dictionary once per stream.
      if (dictionary_bytes > options.max_batch_bytes / 4) {
        ARROW_ASSIGN_OR_RAISE(auto compact, convert::CompactDictionaries(
                                                *piece, arrow::default_memory_pool()));
        // A dictionary the piece does not use is now empty: plain on the wire.
        ARROW_ASSIGN_OR_RAISE(piece, convert::WithoutEmptyDictionaries(*compact));
      }
      ARROW_RETURN_NOT_OK(CutBySize(piece, out));
    }
    return arrow::Status::OK();
  }

  // Bytes of every dictionary in `data` and its children.
  static int64_t DictionaryBytes(const arrow::ArrayData& data) {
    int64_t bytes = 0;
    if (data.dictionary != nullptr) {
      bytes += arrow::util::TotalBufferSize(*data.dictionary);
    }
    for (const auto& child : data.child_data) bytes += DictionaryBytes(*child);
    return bytes;
  }
  static int64_t DictionaryBytes(const arrow::RecordBatch& batch) {
    int64_t bytes = 0;
    for (int i = 0; i < batch.num_columns(); ++i) {
      bytes += DictionaryBytes(*batch.column_data(i));
    }
    return bytes;
  }

  // What is sent of `batch`: without the derived columns unless they are wanted, and
  // without empty dictionaries (each would be an IPC message of its own).
  arrow::Result<Chunk> OnTheWire(const arrow::RecordBatch& batch) const {
    if (options.send_derived_columns) {
      // Encoders leave them off: computed here for a receiver that wants them.
      ARROW_ASSIGN_OR_RAISE(auto whole, convert::ConformToSpanTableSchema(
                                            batch, arrow::default_memory_pool()));
      return convert::WithoutEmptyDictionaries(*whole);
    }
    return convert::WithoutEmptyDictionaries(*convert::WithoutDerivedTimeColumns(batch));
  }

  // Sends chunks from the front of `pending` on one DoPut stream, popping each one the
  // receiver acknowledges. Returns OK when the stream ended cleanly, also if it stopped
  // early (next chunk has another schema, or half the deadline has passed). Chunks of
  // one batch differ in schema when a piece was encoded anew and some of its
  // dictionaries are empty (OnTheWire).
  StreamOutcome SendStream(std::deque<Chunk>* pending, ExportResult* result) {
    StreamOutcome outcome;
    auto client_or = EnsureClient();
    if (!client_or.ok()) {
      outcome.status = client_or.status();
      return outcome;
    }
    const std::shared_ptr<arrow::Schema> schema = pending->front()->schema();
    auto put_or = (*client_or)->DoPut(call_options, descriptor, schema);
    if (!put_or.ok()) {
      outcome.status = put_or.status();
      return outcome;
    }
    flight::FlightClient::DoPutResult put = std::move(put_or).ValueUnsafe();
    const auto started = std::chrono::steady_clock::now();
    const auto soft_deadline = started + options.timeout / 2;

    outcome.status = [&]() -> arrow::Status {
      for (int64_t index = 0; !pending->empty(); ++index) {
        const Chunk& chunk = pending->front();
        if (index > 0 && (!chunk->schema()->Equals(*schema) ||
                          (options.timeout.count() > 0 &&
                           std::chrono::steady_clock::now() >= soft_deadline))) {
          break;
        }
        outcome.chunk_in_flight = true;
        ARROW_RETURN_NOT_OK(put.writer->WriteRecordBatch(*chunk));
        result->spans_sent += chunk->num_rows();
        std::shared_ptr<arrow::Buffer> metadata;
        // Returns the receiver's final status if it ended the stream with an error.
        ARROW_RETURN_NOT_OK(put.reader->ReadMetadata(&metadata));
        if (metadata == nullptr) {
          // The receiver ended the stream; an error it ended it with comes from Close().
          ARROW_RETURN_NOT_OK(put.writer->Close());
          return arrow::Status::IOError(
              "the Flight server ended the stream without acknowledging batch ", index,
              " (", chunk->num_rows(), " spans); is it an otlp-arrow receiver?");
        }
        auto ack = BatchAck::FromJson(std::string_view(*metadata));
        if (!ack.ok()) {
          return arrow::Status::IOError("bad acknowledgement of batch ", index, ": ",
                                        ack.status().message());
        }
        if (ack->batch != index || ack->accepted_spans != chunk->num_rows()) {
          return arrow::Status::IOError("acknowledgement ", ack->ToJson(), " for batch ",
                                        index, " of ", chunk->num_rows(), " spans");
        }
        result->spans_acknowledged += chunk->num_rows();
        outcome.chunk_in_flight = false;
        pending->pop_front();
      }
      ARROW_RETURN_NOT_OK(put.writer->DoneWriting());
      // Drain until the receiver ends the stream; Close() then gives its final status.
      std::shared_ptr<arrow::Buffer> metadata;
      do {
        ARROW_RETURN_NOT_OK(put.reader->ReadMetadata(&metadata));
      } while (metadata != nullptr);
      return put.writer->Close();
    }();
    if (!outcome.status.ok()) {
      // Ends the call; after a server error this is the same error again, after a
      // client-side error (size limit, bad acknowledgement) the receiver sees the end of
      // the stream and keeps what it acknowledged.
      ARROW_UNUSED(put.writer->Close());
    }
    // The IPC writer counts a batch once it is written, so a batch refused client-side
    // for its size is not counted.
    const arrow::ipc::WriteStats stats = put.writer->stats();
    result->bytes_raw += stats.total_raw_body_size;
    result->bytes_sent += stats.total_serialized_body_size;
    return outcome;
  }

  ExportResult ExportChunks(std::deque<Chunk> pending) {
    ExportResult result;
    for (const auto& chunk : pending) result.spans_total += chunk->num_rows();
    while (!pending.empty()) {
      if (shutdown.load()) {
        result.status =
            arrow::Status::Cancelled("FlightSpanExporter shut down with ", pending.size(),
                                     " chunks unacknowledged");
        return result;
      }
      ++result.attempts;
      StreamOutcome outcome = SendStream(&pending, &result);
      if (outcome.status.ok()) continue;
      if (pending.empty()) {
        // Every span is acknowledged, i.e. stored; only the end of the call failed.
        // Resending would store duplicates, so the export succeeded.
        break;
      }
      result.status = outcome.status;
      const Classification c = Classify(outcome.status);
      if (c.failure == Failure::kTooLarge) {
        const Chunk refused = pending.front();
        if (outcome.chunk_in_flight && refused->num_rows() > 1) {
          const int64_t half = refused->num_rows() / 2;
          pending.pop_front();
          pending.push_front(refused->Slice(half));
          pending.push_front(refused->Slice(0, half));
          ++result.splits;
          continue;
        }
        // One span that the receiver (or the client's limit) will never take.
        return result;
      }
      if (c.failure == Failure::kPermanent) return result;
      if (c.failure == Failure::kOperatorAction) {
        if (ReloadBearerToken()) {
          ++result.retries;  // with the new token, at once
          continue;
        }
        // Retrying within this call cannot help: the caller keeps the spans and tries
        // again later, when an operator may have fixed the credentials.
        result.retryable = true;
        result.operator_action = true;
        return result;
      }
      if (c.reconnect) DropClient();
      if (result.retries >= options.max_retries) {
        result.retryable = true;
        return result;
      }
      ++result.retries;
      Sleep(Backoff(result.retries));
    }
    result.status = arrow::Status::OK();  // what retries overcame is no failure
    return result;
  }
};

arrow::Result<std::unique_ptr<FlightSpanExporter>> FlightSpanExporter::Make(
    FlightSpanExporterOptions options) {
  ARROW_RETURN_NOT_OK(options.Validate());
  auto impl = std::make_unique<Impl>();
  impl->clock = options.clock != nullptr ? options.clock : common::Clock::Steady();
  ARROW_ASSIGN_OR_RAISE(impl->location, flight::Location::Parse(options.endpoint));

  impl->client_options = flight::FlightClientOptions::Defaults();
  impl->client_options.tls_root_certs = options.tls_root_certs;
  if (impl->client_options.tls_root_certs.empty() &&
      !options.tls_root_certs_file.empty()) {
    ARROW_ASSIGN_OR_RAISE(
        impl->client_options.tls_root_certs,
        common::ReadWholeFile(options.tls_root_certs_file, "TLS CA file"));
  }
  impl->client_options.cert_chain = options.tls_cert_chain;
  impl->client_options.private_key = options.tls_private_key;
  impl->client_options.override_hostname = options.tls_server_name_override;
  impl->client_options.write_size_limit_bytes =
      options.max_batch_bytes + options.max_span_bytes;

  if (options.timeout.count() > 0) {
    impl->call_options.timeout =
        std::chrono::duration_cast<flight::TimeoutDuration>(options.timeout);
  }
  ARROW_ASSIGN_OR_RAISE(impl->call_options.write_options.codec,
                        MakeCodec(options.compression));
  // Compress the buffers of a batch on the calling thread. Arrow's default hands each
  // buffer to its CPU thread pool as a task of its own: with a hundred buffers per batch
  // the wake-ups cost more CPU than compressing in parallel saves, and a gateway is
  // judged by CPU per span, not by the latency of one export.
  impl->call_options.write_options.use_threads = false;

  impl->descriptor = flight::FlightDescriptor::Path(
      std::vector<std::string>(std::begin(kSpansPath), std::end(kSpansPath)));
  impl->options = std::move(options);
  impl->SetBearerToken(impl->options.bearer_token);
  ARROW_RETURN_NOT_OK(impl->EnsureClient().status());
  return std::unique_ptr<FlightSpanExporter>(new FlightSpanExporter(std::move(impl)));
}

FlightSpanExporter::FlightSpanExporter(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

FlightSpanExporter::~FlightSpanExporter() {
  common::LogErrorFromDestructor("FlightSpanExporter", Shutdown());
}

ExportResult FlightSpanExporter::Export(const arrow::RecordBatch& spans) {
  std::lock_guard<std::mutex> lock(impl_->export_mutex);
  if (impl_->shutdown.load()) {
    return ExportResult::NothingSent(
        arrow::Status::Cancelled("FlightSpanExporter is shut down"), spans.num_rows());
  }
  if (impl_->options.validate_batches) {
    arrow::Status valid = convert::ValidateSpanTable(spans);
    if (!valid.ok()) return ExportResult::NothingSent(std::move(valid), spans.num_rows());
  }
  std::deque<Chunk> pending;
  arrow::Status chunked = impl_->AppendChunks(spans, &pending);
  if (!chunked.ok())
    return ExportResult::NothingSent(std::move(chunked), spans.num_rows());
  return impl_->ExportChunks(std::move(pending));
}

arrow::Status FlightSpanExporter::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->shutdown_mutex);
    impl_->shutdown.store(true);
  }
  impl_->shutdown_cv.notify_all();
  std::lock_guard<std::mutex> lock(impl_->export_mutex);
  if (impl_->client == nullptr) return arrow::Status::OK();
  arrow::Status status = impl_->client->Close();
  impl_->client.reset();
  return status;
}

std::chrono::nanoseconds FlightSpanExporter::BackoffCeiling(
    const FlightSpanExporterOptions& options, int retry) {
  return common::ExponentialBackoff(options.initial_backoff, options.max_backoff,
                                    options.backoff_multiplier, retry);
}

}  // namespace otlp_arrow::transport
