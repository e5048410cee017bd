// SPDX-License-Identifier: Apache-2.0
// FlightSpanExporter: sends span-table batches to a receiver with Arrow Flight DoPut and
// reports success only once the receiver has acknowledged every span.

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include "otlp_arrow/common/clock.h"
#include "otlp_arrow/transport/export_result.h"

namespace otlp_arrow::transport {

/// \brief IPC body compression of the batches on the wire.
enum class FlightCompression {
  kNone,
  kLz4,   ///< LZ4 frame
  kZstd,  ///< Zstandard, default level
};

/// \brief Configuration of a FlightSpanExporter. An aggregate, so designated initializers
/// work: `FlightSpanExporterOptions{.endpoint = "grpc://collector:8815"}`.
struct FlightSpanExporterOptions {
  /// \brief Receiver URI: `grpc://host:port` (also `grpc+tcp://`), `grpc+tls://host:port`
  /// or `grpc+unix:///path`.
  std::string endpoint = "grpc://127.0.0.1:8815";

  /// \brief Deadline of one DoPut call (one stream). Zero or negative: no deadline. A
  /// stream stops taking new chunks after half of it has passed and the rest goes on a
  /// new stream, so an export of any size does not run into the deadline.
  std::chrono::milliseconds timeout = std::chrono::seconds(10);

  /// \brief IPC compression of the record batch bodies.
  FlightCompression compression = FlightCompression::kZstd;

  /// \brief PEM CA bundle that verifies the receiver's certificate (`grpc+tls` only).
  /// Empty: the system roots, unless `tls_root_certs_file` is set.
  std::string tls_root_certs;

  /// \brief Path of a PEM CA bundle, read when the exporter is made; used when
  /// `tls_root_certs` is empty. An unreadable file fails FlightSpanExporter::Make.
  std::string tls_root_certs_file;

  /// \brief PEM client certificate chain for mutual TLS (with `tls_private_key`).
  std::string tls_cert_chain;

  /// \brief PEM private key of `tls_cert_chain`.
  std::string tls_private_key;

  /// \brief Host name checked against the receiver's certificate instead of the one in
  /// `endpoint` (e.g. when connecting by IP address).
  std::string tls_server_name_override;

  /// \brief When non-empty, sent as `authorization: Bearer <token>` on every call.
  std::string bearer_token;

  /// \brief Reads the token again when the receiver refuses the credentials
  /// (UNAUTHENTICATED, PERMISSION_DENIED, an `operator_action` Refusal); a different one
  /// replaces `bearer_token` and the export is tried again at once. The gateway reads
  /// its `auth.token_file`, which Kubernetes updates in place when the Secret changes,
  /// so that a token rotation needs no restart. Null: the token is fixed.
  std::function<arrow::Result<std::string>()> reload_bearer_token;

  /// \brief Largest number of spans written as one record batch (one acknowledgement).
  int64_t batch_size = 8192;

  /// \brief Validate every batch fully (convert::ValidateSpanTable) before sending, so
  /// that a bad batch fails here with the column named instead of at the receiver.
  /// Callers that send only what SpanTableEncoder made (valid by construction: the
  /// gateway) may turn it off and save the pass over every value.
  bool validate_batches = true;

  /// \brief Send the derived columns `start_time` and `duration_ns` too (computed here
  /// when a batch lacks them, as SpanTableEncoder's output does). Off by default: they
  /// repeat `start_time_unix_nano` and `end_time_unix_nano` (8% of a zstd stream of
  /// realistic spans) and the store computes them where it keeps them
  /// (convert::ConformToSpanTableSchema). Turn on for a receiver that stores what it
  /// gets as it is and wants them.
  bool send_derived_columns = false;

  /// \brief Largest IPC body of one record batch before compression
  /// (arrow::ipc::GetRecordBatchSize); bigger chunks are cut into smaller ones before
  /// sending, down to one span, which is sent alone however large it is.
  int64_t max_batch_bytes = int64_t{4} << 20;

  /// \brief Largest single span that can be sent, in the same bytes. A span cannot be
  /// split, so a chunk of one span may exceed `max_batch_bytes`; the Flight client's
  /// write_size_limit_bytes is `max_batch_bytes + max_span_bytes` (room for such a span
  /// and dictionaries it shares with its batch), and a message beyond it fails the
  /// export (FlightWriteSizeStatusDetail). The gateway refuses requests holding a larger
  /// span up front (pipeline::OtlpTraceIngestOptions::max_span_bytes). Keep
  /// `max_batch_bytes + max_span_bytes` at most the receiver's max_batch_bytes.
  int64_t max_span_bytes = int64_t{32} << 20;

  /// \brief Retries (after a backoff) of a retryable failure, per Export call. Zero: fail
  /// on the first error.
  int max_retries = 5;

  /// \brief Backoff ceiling before the first retry.
  std::chrono::milliseconds initial_backoff{100};

  /// \brief Largest backoff ceiling.
  std::chrono::milliseconds max_backoff = std::chrono::seconds(5);

  /// \brief Growth of the backoff ceiling per retry: retry n (1-based) waits up to
  /// min(max_backoff, initial_backoff * multiplier^(n-1)).
  double backoff_multiplier = 2.0;

  /// \brief Full jitter: wait a uniformly random time in [0, ceiling] rather than the
  /// ceiling itself, so that exporters failing together do not retry together.
  bool full_jitter = true;

  /// \brief What the waits between retries are timed by (FlightSpanExporter::Shutdown()
  /// interrupts them); tests inject a fake. Null: the steady clock.
  std::shared_ptr<common::Clock> clock;

  /// \brief Checks ranges and the endpoint URI.
  arrow::Status Validate() const;

  /// \brief The values above.
  static FlightSpanExporterOptions Defaults() { return {}; }
};

/// \brief Exports span-table batches (convert::SpanTableSchema()) to an otlp-arrow
/// receiver (FlightSpanReceiver) over Arrow Flight, following flight_protocol.h: DoPut on
/// path kSpansPath with the batches' schema, one BatchAck per record batch.
///
/// **Delivery.** Batches are cut into chunks of at most `batch_size` rows and
/// `max_batch_bytes` bytes. Each chunk is written and its BatchAck awaited before the
/// next is written (one chunk in flight), so every error is attributed to exactly one
/// chunk and every acknowledged span is known; the cost is one round trip per chunk. An
/// acknowledgement must name the chunk's index in the stream and its row count; a
/// missing or different one is an error and not retried (the peer is not an otlp-arrow
/// receiver). A retry opens a new stream that starts at the first unacknowledged chunk:
/// a span is duplicated only when the receiver stored it and the acknowledgement was
/// lost.
///
/// **Errors** are classified by the Refusal (flight_protocol.h) the receiver sends with
/// them, else by the Flight status code (an older receiver, a proxy, a transport
/// error); never by message text:
/// - Too large (Refusal `too_large`, or the client's own write_size_limit_bytes check,
///   FlightWriteSizeStatusDetail): the chunk is split in half and resent at once, down
///   to one span; a single span still too large fails permanently.
/// - Retryable (Refusal `retryable`; codes Unavailable, TimedOut, Cancelled: gRPC
///   UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, a receiver shutting down cancels its
///   running streams): retried with backoff and full jitter, up to `max_retries`;
///   after an error code the client is recreated, as the connection may be gone.
/// - Operator action (Refusal `operator_action`; codes Unauthenticated, Unauthorized):
///   tried again at once if `reload_bearer_token` gives a new token, otherwise not
///   retried within the call; the result is `retryable` and `operator_action`, so the
///   caller keeps the spans and retries later.
/// - Permanent (Refusal `permanent`; any other code, e.g. Invalid, NotImplemented,
///   KeyError for a wrong descriptor): the export fails.
///
/// **Threads.** Export calls are serialized by a mutex (one at a time; one Flight client
/// is reused). Shutdown() may be called from any thread and interrupts a backoff wait
/// (of any Clock that honours WaitUntil's predicate).
class FlightSpanExporter {
 public:
  /// \brief Checks `options`, reads the CA file and connects (lazily: an unreachable
  /// receiver shows up on the first Export).
  static arrow::Result<std::unique_ptr<FlightSpanExporter>> Make(
      FlightSpanExporterOptions options);

  ~FlightSpanExporter();
  FlightSpanExporter(const FlightSpanExporter&) = delete;
  FlightSpanExporter& operator=(const FlightSpanExporter&) = delete;

  /// \brief Sends `spans` and waits for the receiver's acknowledgements.
  ///
  /// \return what happened: OK status when every span was acknowledged, otherwise why
  /// not and how far it got. Bad input (not a span table) and a call after Shutdown()
  /// fail with nothing sent and are not retryable.
  ExportResult Export(const arrow::RecordBatch& spans);

  /// \brief Interrupts a backoff wait, waits for a running Export to end and closes the
  /// client. Export fails afterwards. Idempotent.
  arrow::Status Shutdown();

  /// \brief The backoff ceiling before retry `retry` (1-based), before jitter.
  static std::chrono::nanoseconds BackoffCeiling(const FlightSpanExporterOptions& options,
                                                 int retry);

 private:
  struct Impl;
  explicit FlightSpanExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp_arrow::transport
