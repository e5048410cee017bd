// SPDX-License-Identifier: Apache-2.0
// OTLP/JSON requests for the TraceIngest implementations: parsed once into an arena, then
// appended like any other request.

#pragma once

#include <string_view>

#include <google/protobuf/arena.h>

#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/otlp.h"
#include "otlp_arrow/model/otlp_json.h"
#include "otlp_arrow/pipeline/trace_ingest.h"

namespace otlp_arrow::pipeline::internal {

/// \brief Parses `json` (an ExportTraceServiceRequest as OTLP/JSON) and returns
/// `ingest(append)`, where `append` appends the request to an encoder (it may be called
/// more than once). A request that does not parse is kInvalid with the parser's message,
/// which names the field.
template <typename Ingest>
IngestResult IngestOtlpJsonRequest(std::string_view json, Ingest&& ingest) {
  google::protobuf::Arena arena;
  auto* message =
      google::protobuf::Arena::CreateMessage<otlp::ExportTraceServiceRequest>(&arena);
  const arrow::Status status = model::TraceRequestFromJson(json, message);
  if (!status.ok()) {
    IngestResult result;
    result.code = IngestCode::kInvalid;
    result.message = status.message();
    return result;
  }
  return ingest(
      [message](convert::SpanTableEncoder& encoder) { return encoder.Append(*message); });
}

}  // namespace otlp_arrow::pipeline::internal
