// SPDX-License-Identifier: Apache-2.0
// The OTLP/HTTP trace receiver: POST /v1/traces (binary protobuf or JSON) in front of a
// pipeline::TraceIngest.

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/pipeline/trace_ingest.h"
#include "otlp_arrow/service/otlp_receiver_stats.h"
#include "otlp_arrow/service/request_memory_budget.h"

namespace otlp_arrow::service {

/// \brief Settings of an OtlpHttpReceiver.
struct OtlpHttpReceiverOptions {
  /// \brief Where to listen, `host:port` (`[v6addr]:port` for IPv6). Port 0 picks a
  /// free port; OtlpHttpReceiver::port() tells which. OTLP's default port is 4318.
  std::string endpoint = "127.0.0.1:4318";

  /// \brief The URL path of trace export requests.
  std::string traces_path = "/v1/traces";

  /// \brief PEM certificate chain of the server; with `tls_key_pem` the receiver
  /// serves HTTPS only. Both empty means plain HTTP.
  std::string tls_cert_pem;

  /// \brief PEM private key matching `tls_cert_pem`.
  std::string tls_key_pem;

  /// \brief PEM CA bundle of the clients; when set, clients must present a certificate
  /// signed by it (mTLS). Needs TLS.
  std::string client_ca_pem;

  /// \brief Largest request body as sent (compressed when compressed). A request that
  /// declares a larger Content-Length, or sends more, is refused with 413. 20 MiB is
  /// the Collector's default.
  int64_t max_request_bytes = int64_t{20} << 20;

  /// \brief Largest request body after decompression; more is refused with 413. The
  /// receiver inflates the body itself and stops at this size, so a small gzip body
  /// that would inflate to gigabytes costs at most this much memory.
  int64_t max_decompressed_bytes = int64_t{20} << 20;

  /// \brief Threads that serve the connections: read requests, inflate gzip, write
  /// answers. Event-driven, so a few serve any number of connections; an idle one costs
  /// memory (a few KiB), not a thread.
  int io_threads = 2;

  /// \brief Threads that hand bodies to TraceIngest, which may block while the export
  /// queue is full (up to the pipeline's wait bound); requests beyond this many wait,
  /// read and reserved, for a free one.
  int num_threads = 16;

  /// \brief Connections served at once; one more is closed as soon as it is accepted
  /// (counted in OtlpHttpReceiverStats::connections_refused).
  int max_connections = 1024;

  /// \brief Longest a request head (request line and headers) may take from its first
  /// byte, and a TLS handshake from the connection's start: a client that sends a head
  /// slowly (slowloris) is closed after this long.
  std::chrono::seconds header_timeout{10};

  /// \brief Longest wait for the next bytes of a body (each read), and for the whole
  /// body from the end of the head; the connection is closed after either (and the
  /// request counted as refused_invalid).
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds body_timeout{60};

  /// \brief Longest wait for the client to take an answer.
  std::chrono::seconds write_timeout{10};

  /// \brief An idle keep-alive connection is closed after this long, and after this
  /// many requests.
  std::chrono::seconds keep_alive_timeout{5};
  int keep_alive_max_count = 100;

  /// \brief Retry-After sent when TraceIngest asks for a retry (kQueueFull,
  /// kShuttingDown) without saying when. Whole seconds; at least 1 is sent.
  std::chrono::milliseconds default_retry_after{1000};

  /// \brief The bytes of requests being read and decoded, shared with the other
  /// receivers of the process. A request reserves its body (from Content-Length, before
  /// reading it; as it grows when chunked or inflated) and the cost of encoding its
  /// spans, and gives them back once answered; one that does not fit is answered 429
  /// with Retry-After (`default_retry_after`) without reading more of it, and its
  /// connection closes. Null: no limit.
  std::shared_ptr<RequestMemoryBudget> memory_budget;

  /// \brief Checks the endpoint, that the TLS fields go together, and the ranges above;
  /// OtlpHttpReceiver::Make() calls it.
  arrow::Status Validate() const;

  /// \brief The values above.
  static OtlpHttpReceiverOptions Defaults() { return {}; }
};

/// \brief Counters of an OtlpHttpReceiver.
struct OtlpHttpReceiverStats {
  /// \brief Requests with `Content-Type: application/x-protobuf` (protocol
  /// `http/protobuf`).
  OtlpReceiverStats protobuf;
  /// \brief Requests with `Content-Type: application/json` (protocol `http/json`).
  OtlpReceiverStats json;
  /// \brief Requests refused before they had a protocol: another path (404), another
  /// method on the traces path (405), another content type or content encoding (415).
  int64_t requests_not_found = 0;
  int64_t requests_method_not_allowed = 0;
  int64_t requests_unsupported_media_type = 0;
  /// \brief Connections closed unserved because `max_connections` were open.
  int64_t connections_refused = 0;
};

/// \brief OTLP/HTTP server of the trace pipeline (OTLP specification, "OTLP/HTTP"), on
/// Boost.Beast: `io_threads` threads serve every connection, `num_threads` workers run
/// TraceIngest.
///
/// `POST <traces_path>` with `Content-Type: application/x-protobuf` goes to
/// TraceIngest::IngestOtlpProtobuf, with `application/json` to IngestOtlpJson
/// (parameters such as `; charset=utf-8` are ignored). `Content-Encoding: gzip` and
/// `identity` are accepted; the receiver inflates gzip itself, counting the bytes both
/// ways. Answers:
///
/// | condition                                                   | HTTP status       |
/// |-------------------------------------------------------------|-------------------|
/// | kAccepted                                                   | 200               |
/// | kInvalid; body unreadable, bad gzip                         | 400               |
/// | another path                                                | 404               |
/// | another method on the traces path                           | 405, `Allow: POST`|
/// | body over `max_request_bytes` / `max_decompressed_bytes`;   | 413               |
/// | kTooLarge                                                   |                   |
/// | another content type or content encoding                    | 415               |
/// | kQueueFull; `memory_budget` spent                           | 429, Retry-After  |
/// | kShuttingDown                                               | 503, Retry-After  |
/// | an exception inside the receiver                            | 500               |
///
/// A 200 carries an empty ExportTraceServiceResponse in the request's content type (an
/// empty body for protobuf, `{}` for JSON). Every error carries a google.rpc.Status
/// {code, message} in the request's content type when that is protobuf or JSON, and as
/// JSON otherwise; `code` is the gRPC code the OTLP/gRPC receiver would answer with
/// (the specification lets clients ignore it). Retry-After is in whole seconds, from
/// IngestResult::retry_after (or `default_retry_after`), rounded up, at least 1.
///
/// A request refused before its body was read (wrong path, method, type or encoding, or
/// a Content-Length over twice `max_request_bytes`, also answered instead of "100
/// Continue") gets `Connection: close` and the connection is closed, since the unread
/// body would otherwise be taken for the next request. A body found too large while it
/// is read is read on without being kept, up to twice `max_request_bytes` in all, so
/// that the client reads the 413 rather than a reset connection; the connection stays
/// open for the next request.
///
/// Thread-safe: Stats() and Shutdown() may be called from any thread.
class OtlpHttpReceiver {
 public:
  /// \brief Checks `options` (Status::Invalid naming what is wrong) and makes a
  /// receiver that Start() starts.
  /// \param[in] options where to listen, security and limits
  /// \param[in] ingest where requests go; required, thread-safe
  static arrow::Result<std::unique_ptr<OtlpHttpReceiver>> Make(
      OtlpHttpReceiverOptions options, std::shared_ptr<pipeline::TraceIngest> ingest);

  /// \brief Shuts down if still running.
  ~OtlpHttpReceiver();
  OtlpHttpReceiver(const OtlpHttpReceiver&) = delete;
  OtlpHttpReceiver& operator=(const OtlpHttpReceiver&) = delete;

  /// \brief Binds the endpoint and starts serving on background threads.
  /// Status::Invalid for unusable TLS material, Status::IOError when the address cannot
  /// be bound. Call once.
  arrow::Status Start();

  /// \brief The bound port (the real one when the endpoint asked for port 0); valid
  /// after Start().
  int port() const;

  /// \brief Stops accepting connections, closes idle ones and those still sending a
  /// head, lets the requests in hand be answered (their bodies are read within
  /// `body_timeout`) and waits for the threads. Idempotent.
  arrow::Status Shutdown();

  /// \brief A snapshot of the counters.
  OtlpHttpReceiverStats Stats() const;

  const OtlpHttpReceiverOptions& options() const;

 private:
  class Impl;
  explicit OtlpHttpReceiver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp_arrow::service
