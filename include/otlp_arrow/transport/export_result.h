// SPDX-License-Identifier: Apache-2.0
// ExportResult: what one export of span batches to a receiver did, whatever the protocol.
// A header of its own so that the interfaces that pass it on
// (pipeline::SpanBatchExporter) do not include an exporter.

#pragma once

#include <cstdint>
#include <utility>

#include <arrow/status.h>

namespace otlp_arrow::transport {

/// \brief What one export call did (opentelemetry-cpp's ExportResult, with the counts a
/// retrying caller needs). Its `status` is the only error channel of an export: a call
/// that could not even start (bad input, shut down) is a result too, with nothing sent.
struct [[nodiscard]] ExportResult {
  /// \brief OK when the receiver acknowledged every span. Acknowledged means stored, so
  /// an error in ending the last stream after that leaves the status OK: resending would
  /// only store duplicates. Otherwise the error that ended the export: Invalid, with
  /// nothing sent, for a batch that is not a span table; Cancelled after Shutdown(); else
  /// the receiver's or the connection's last error.
  arrow::Status status;
  /// \brief Set when the export failed on an error worth retrying later: after
  /// `max_retries` retries of a retryable one (UNAVAILABLE, DEADLINE_EXCEEDED,
  /// CANCELLED, a `retryable` Refusal), or at once for one an operator must fix
  /// (`operator_action`). False for a permanent error (refused content, a span too
  /// large for the receiver, protocol violation, bad input) and when Shutdown() stopped
  /// the export.
  bool retryable = false;
  /// \brief The receiver refused the exporter's credentials (UNAUTHENTICATED,
  /// PERMISSION_DENIED, or an `operator_action` Refusal): nothing is wrong with the
  /// spans, so `retryable` is set too, but retries succeed only after an operator
  /// fixes the token or certificate.
  bool operator_action = false;
  /// \brief Spans handed to the export.
  int64_t spans_total = 0;
  /// \brief Spans written to streams, counting resent spans again.
  int64_t spans_sent = 0;
  /// \brief Spans the receiver acknowledged (at most `spans_total`), the first rows of
  /// the batch: a retry sends only the rows after them.
  int64_t spans_acknowledged = 0;
  /// \brief Streams (calls) opened.
  int attempts = 0;
  /// \brief Retries after a backoff.
  int retries = 0;
  /// \brief Chunks split in half after the client or the receiver refused them as too
  /// large; these resends neither wait nor count as retries.
  int splits = 0;
  /// \brief Arrow IPC body bytes of the record batches written to streams, before
  /// compression (arrow::ipc::WriteStats::total_raw_body_size), resends included.
  int64_t bytes_raw = 0;
  /// \brief The same bodies as written, after compression and padding
  /// (arrow::ipc::WriteStats::total_serialized_body_size): the bulk of what went on the
  /// wire, without IPC metadata and gRPC framing.
  int64_t bytes_sent = 0;

  /// \brief Every span was acknowledged.
  bool ok() const { return status.ok(); }

  /// \brief A failed export that sent nothing (bad input, shut down): not retryable.
  static ExportResult NothingSent(arrow::Status status, int64_t spans_total) {
    ExportResult result;
    result.status = std::move(status);
    result.spans_total = spans_total;
    return result;
  }
};

}  // namespace otlp_arrow::transport
