// SPDX-License-Identifier: Apache-2.0
// The Arrow Flight server that receives span-table batches and serves stored spans.

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/storage/span_sink.h"

namespace otlp_arrow::transport {

/// \brief Settings of a FlightSpanReceiver.
struct FlightSpanReceiverOptions {
  /// \brief Where to listen: `grpc://host:port` (plain) or `grpc+tls://host:port` (needs
  /// `tls_cert_pem` and `tls_key_pem`). Port 0 picks a free port;
  /// FlightSpanReceiver::port() tells which.
  std::string listen_uri = "grpc://127.0.0.1:8815";

  /// \brief PEM certificate chain of the server; with `tls_key_pem`, required by a
  /// `grpc+tls://` listen URI and refused by a `grpc://` one.
  std::string tls_cert_pem;

  /// \brief PEM private key matching `tls_cert_pem`.
  std::string tls_key_pem;

  /// \brief PEM CA bundle of the clients; when set, clients must present a certificate
  /// signed by it (mTLS). TLS only.
  std::string client_ca_pem;

  /// \brief When set, every call (including Handshake) must carry the header
  /// `authorization: Bearer <token>`; a missing or different token is UNAUTHENTICATED
  /// (FlightStatusCode::Unauthenticated on the client).
  std::optional<std::string> bearer_token;

  /// \brief Largest accepted batch, as the sum of its Arrow buffer sizes
  /// (arrow::util::TotalBufferSize), and the most one IPC message may decode to. Checked
  /// while decoding, before memory is allocated: IPC bodies declare their decompressed
  /// length, so a small compressed message claiming gigabytes is refused without
  /// allocating them. A larger batch ends the stream with a Refusal of class kTooLarge
  /// (reason `batch_too_large`; FlightSpanExporter splits the batch and sends the
  /// halves). Batches of the same stream acknowledged before it stay stored. Also bounds
  /// the size of one gRPC message (plus 1 MiB for its IPC metadata).
  int64_t max_batch_bytes = int64_t{64} << 20;

  /// \brief Decoded bytes that all streams together may hold at once (the batches being
  /// decoded, validated and stored). A stream whose next batch does not fit is refused
  /// with a Refusal of class kRetryable (reason `memory_budget`, gRPC UNAVAILABLE). Must
  /// be at least `max_batch_bytes`.
  int64_t max_decoded_bytes_in_flight = int64_t{256} << 20;

  /// \brief DoPut streams served at once; one more is refused with UNAVAILABLE and a
  /// kRetryable Refusal (reason `busy`), which clients retry. DoGet is not counted.
  int max_concurrent_streams = 16;

  /// \brief DoPut streams one client (one peer IP address) may hold at once, so that a
  /// single client cannot take every slot; 0 means max_concurrent_streams.
  int max_streams_per_client = 8;

  /// \brief How long a DoPut stream may keep the receiver waiting for its next message
  /// (or its first); then the call is cancelled and its slot freed. Batches acknowledged
  /// before stay stored. Zero disables the timeout.
  std::chrono::milliseconds stream_idle_timeout{30'000};

  /// \brief Checks the listen URI, that the TLS fields match its scheme, the token and
  /// the ranges above; Start() calls it.
  arrow::Status Validate() const;

  /// \brief The values above.
  static FlightSpanReceiverOptions Defaults() { return {}; }
};

/// \brief Counters of a FlightSpanReceiver since Start(), for metrics.
struct FlightSpanReceiverStats {
  /// \brief Spans appended to the sink (and acknowledged).
  int64_t spans_stored = 0;
  /// \brief Batches appended to the sink (and acknowledged).
  int64_t batches_stored = 0;
  /// \brief Arrow buffer bytes of the stored batches.
  int64_t bytes_stored = 0;
  /// \brief DoPut streams that ended, whatever their status.
  int64_t streams_completed = 0;
  /// \brief Streams or batches refused for their descriptor, schema, unreadable IPC
  /// messages or content.
  int64_t validation_failures = 0;
  /// \brief Batches refused for exceeding `max_batch_bytes`.
  int64_t oversize_batches = 0;
  /// \brief Streams refused for exceeding `max_concurrent_streams` or
  /// `max_streams_per_client`.
  int64_t streams_rejected_busy = 0;
  /// \brief Streams cancelled after `stream_idle_timeout` without a message.
  int64_t streams_idle_cancelled = 0;
  /// \brief Batches refused because `max_decoded_bytes_in_flight` was used up.
  int64_t memory_budget_refusals = 0;
  /// \brief Calls refused for a missing or wrong bearer token.
  int64_t unauthenticated_calls = 0;
  /// \brief Appends the sink failed.
  int64_t sink_failures = 0;
  /// \brief Spans sent by DoGet.
  int64_t spans_served = 0;
};

/// \brief Arrow Flight server of the span pipeline.
///
/// The Flight protocol is served with Debian's gRPC rather than Arrow's FlightServerBase,
/// which decodes uploads itself (with default IPC read options, on Arrow's thread pool,
/// allocating what a message declares) and cannot cancel a silent stream. Every refusal
/// carries a transport::Refusal (flight_protocol.h) telling the sender what to do.
///
/// Write path, DoPut on the descriptor path {"otlp", "spans"} (kSpansPath; any other
/// descriptor is Status::KeyError naming it):
/// - The stream schema must have exactly the columns of convert::SpanTableSchema(), each
///   with the same type, in any order; a missing, mistyped or unknown column is
///   Status::Invalid naming the column. Unknown columns are refused rather than dropped
///   so that a sender never believes something was stored that was not. A schema version
///   (`otlp_arrow.span_table.version` metadata), when present, must be ours. Batches
///   reach the sink in SpanTableSchema() column order and with its schema.
/// - Every batch is checked against `max_batch_bytes`, then fully validated
///   (convert::ValidateSpanTable; Status::Invalid with its message), then appended to the
///   sink with SpanSink::AppendValidated (with the batch's IPC messages as they arrived);
///   only once that returns is the BatchAck {batch index, rows} sent as DoPut app
///   metadata. The first refused batch ends the stream with its status; the batches
///   acknowledged before it stay stored.
///
/// Read path (needs a SpanSource; without one these are Status::NotImplemented):
/// - ListFlights: one FlightInfo for the path {"otlp", "spans"}, with the span-table
///   schema and the total rows and bytes of SpanSource::ListFiles().
/// - GetFlightInfo: the path {"otlp", "spans"} means all spans; a CMD descriptor holds a
///   storage::SpanQuery as JSON. The FlightInfo has one endpoint whose ticket is the
///   query's JSON; its record and byte totals are -1 (unknown) for a filtered query.
/// - DoGet: the ticket is a SpanQuery JSON (empty means all spans); a malformed ticket is
///   Status::Invalid. Streams SpanSource::Scan(query).
///
/// Thread-safe: Flight serves calls on many threads; the sink must be thread-safe.
class FlightSpanReceiver {
 public:
  /// \brief Checks `options` (FlightSpanReceiverOptions::Validate) and `sink`; Start()
  /// then binds and serves.
  /// \param[in] options where to listen, security and limits
  /// \param[in] sink where accepted batches go; required
  /// \param[in] source what the read path serves; may be null
  static arrow::Result<std::unique_ptr<FlightSpanReceiver>> Make(
      FlightSpanReceiverOptions options, std::shared_ptr<storage::SpanSink> sink,
      std::shared_ptr<storage::SpanSource> source);
  ~FlightSpanReceiver();
  FlightSpanReceiver(const FlightSpanReceiver&) = delete;
  FlightSpanReceiver& operator=(const FlightSpanReceiver&) = delete;

  /// \brief Binds the listen address and starts serving on background threads.
  arrow::Status Start();

  /// \brief The bound port (the real one when the options asked for port 0); valid
  /// after Start().
  int port() const;

  /// \brief The URI clients connect to, e.g. `grpc://127.0.0.1:41234`; after Start().
  std::string uri() const;

  /// \brief Stops accepting calls and waits for the running ones to end; calls still
  /// running at `deadline` are cancelled (a DoPut sees it between batches). Callable
  /// from any thread; without a deadline it waits for as long as calls run.
  arrow::Status Shutdown(
      std::optional<std::chrono::system_clock::time_point> deadline = std::nullopt);

  /// \brief Blocks until Shutdown() has finished.
  arrow::Status Wait();

  /// \brief A snapshot of the counters.
  FlightSpanReceiverStats Stats() const;

  const FlightSpanReceiverOptions& options() const;

 private:
  FlightSpanReceiver(FlightSpanReceiverOptions options,
                     std::shared_ptr<storage::SpanSink> sink,
                     std::shared_ptr<storage::SpanSource> source);
  class Server;
  std::unique_ptr<Server> server_;
};

}  // namespace otlp_arrow::transport
