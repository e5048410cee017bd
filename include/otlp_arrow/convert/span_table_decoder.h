// SPDX-License-Identifier: Apache-2.0
// Span table → OTLP, with full validation of untrusted batches.

#pragma once

#include <string>

#include <arrow/status.h>
#include <arrow/type_fwd.h>

#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::convert {

/// \brief Checks that `batch` is a well-formed span table without converting it: every
/// required column present (looked up by name) with the expected type, no null in a
/// required column, ids of the right width, enums in range, attribute values consistent
/// with their type. Errors are Status::Invalid naming the column and, where it applies,
/// the row.
///
/// String columns may be plain utf8 or dictionary<int, utf8>. The derived columns
/// (`start_time`, `duration_ns`, `service_name`) are optional; `start_time` and
/// `duration_ns`, when present, must have no null and `start_time` must be
/// `start_time_unix_nano` / 1000 (stores partition by it).
arrow::Status ValidateSpanTable(const arrow::RecordBatch& batch);

/// \brief Converts a span table back to OTLP, appending to `out`.
///
/// Rows are grouped canonically: consecutive rows with an equal resource (attributes,
/// dropped count, schema URL) share one ResourceSpans, and consecutive rows of that group
/// with an equal scope share one ScopeSpans. Resource, scope, status and every attribute
/// value are always present in the output (proto3 defaults when empty). If `out` lives on
/// a protobuf Arena, so does everything decoded into it.
///
/// The batch is validated first (see ValidateSpanTable); on error `out` may hold a
/// partial result and should be discarded.
arrow::Status DecodeSpanTable(const arrow::RecordBatch& batch,
                              otlp::ExportTraceServiceRequest* out);

/// \brief The canonical form of `request`: what DecodeSpanTable() gives back for a span
/// table SpanTableEncoder made of it (docs/span-table.md, "Round trip and canonical
/// form").
///
/// ResourceSpans and ScopeSpans without spans are dropped; adjacent ResourceSpans with
/// equal resource and schema URL are merged, and so are adjacent ScopeSpans with equal
/// scope and schema URL; resource, scope, status and every attribute's value are present.
/// Round-trip checks compare a decoded request with this, bit for bit.
otlp::ExportTraceServiceRequest CanonicalSpanTableForm(
    const otlp::ExportTraceServiceRequest& request);

}  // namespace otlp_arrow::convert
