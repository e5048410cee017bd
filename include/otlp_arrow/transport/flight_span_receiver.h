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
  /// (arrow::util::TotalBufferSize). A larger batch ends the stream with
  /// Status::Invalid("RESOURCE_EXHAUSTED: batch of N bytes exceeds the limit of M"):
  /// Flight has no RESOURCE_EXHAUSTED code, so clients recognise the condition by that
  /// text (FlightSpanExporter splits the batch and sends the halves). Batches of the
  /// same stream acknowledged before it stay stored.
  int64_t max_batch_bytes = int64_t{64} << 20;

  /// \brief DoPut streams served at once; one more is refused with UNAVAILABLE ("too
  /// many concurrent streams"), which clients retry. DoGet is not counted.
  int max_concurrent_streams = 16;

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
  /// \brief Streams refused for exceeding `max_concurrent_streams`.
  int64_t streams_rejected_busy = 0;
  /// \brief Calls refused for a missing or wrong bearer token.
  int64_t unauthenticated_calls = 0;
  /// \brief Appends the sink failed.
  int64_t sink_failures = 0;
  /// \brief Spans sent by DoGet.
  int64_t spans_served = 0;
};

/// \brief Arrow Flight server of the span pipeline.
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
///   sink; only once Append() returns is the BatchAck {batch index, rows} sent as DoPut
///   app metadata. The first refused batch ends the stream with its status; the batches
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
  /// \param[in] options where to listen, security and limits
  /// \param[in] sink where accepted batches go; required
  /// \param[in] source what the read path serves; may be null
  FlightSpanReceiver(FlightSpanReceiverOptions options,
                     std::shared_ptr<storage::SpanSink> sink,
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
  class Server;
  std::unique_ptr<Server> server_;
};

}  // namespace otlp_arrow::transport
