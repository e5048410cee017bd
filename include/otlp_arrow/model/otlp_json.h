// SPDX-License-Identifier: Apache-2.0
// OTLP/JSON: the protobuf JSON mapping as the OTLP specification refines it
// (lowerCamelCase keys, trace and span ids as hex, enums as integers, 64-bit integers as
// decimal strings).

#pragma once

#include <string>
#include <string_view>

#include <arrow/status.h>

#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::model {

/// \brief Appends the OTLP/JSON encoding of `value` to `out`. Doubles use the shortest
/// form that reads back to the same bits; -0.0 is written "-0.0"; NaN and infinities are
/// the strings "NaN", "Infinity", "-Infinity"; bytes are base64. Fails on invalid UTF-8.
arrow::Status AnyValueToJson(const otlp::AnyValue& value, std::string* out);
arrow::Status ArrayValueToJson(const otlp::ArrayValue& value, std::string* out);
arrow::Status KeyValueListToJson(const otlp::KeyValueList& value, std::string* out);

/// \brief Parses OTLP/JSON into `out` (which may live on an Arena). Accepts
/// lowerCamelCase and snake_case keys and integers as strings or numbers; ignores unknown
/// keys, as OTLP receivers must. Errors are Status::Invalid with the JSON path.
arrow::Status AnyValueFromJson(std::string_view json, otlp::AnyValue* out);
arrow::Status ArrayValueFromJson(std::string_view json, otlp::ArrayValue* out);
arrow::Status KeyValueListFromJson(std::string_view json, otlp::KeyValueList* out);

/// \brief Appends the OTLP/JSON encoding of `request` to `out`: lowerCamelCase keys,
/// trace and span ids as lowercase hex, enums as integers, 64-bit integers as decimal
/// strings, fields equal to their default omitted, present sub-messages written even when
/// empty. Fails on invalid UTF-8, leaving `out` as it was.
arrow::Status TraceRequestToJson(const otlp::ExportTraceServiceRequest& request,
                                 std::string* out);

/// \brief Parses OTLP/JSON into `out` (cleared first; it may live on an Arena). Accepts
/// lowerCamelCase and snake_case keys, ids as hex of either case, enums as integers or
/// value names, 64-bit integers as strings or numbers; ignores unknown keys and treats
/// null as absent. Errors are Status::Invalid with the JSON path, e.g.
/// "$.resourceSpans[0].scopeSpans[1].spans[3].traceId: ..."; `out` is then unspecified.
/// Documents nested deeper than 256 arrays/objects are refused.
arrow::Status TraceRequestFromJson(std::string_view json,
                                   otlp::ExportTraceServiceRequest* out);

/// \brief Standard base64 with padding (RFC 4648 §4).
std::string Base64Encode(std::string_view bytes);
/// \brief Decodes standard or URL-safe base64, padded or not; fails on anything else.
arrow::Status Base64Decode(std::string_view text, std::string* out);

}  // namespace otlp_arrow::model
