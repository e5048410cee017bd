// SPDX-License-Identifier: Apache-2.0
// The CBOR of OTAP's `ser` attribute column → an OTLP AnyValue.

#pragma once

#include <string_view>

#include <arrow/status.h>

#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::convert::internal {

/// \brief Nesting the decoder accepts: maps and arrays inside one another, the
/// top-level one counting 1. fxamacker/cbor's default (MaxNestedLevels), which the Go
/// consumer uses.
inline constexpr int kMaxCborNesting = 32;

/// \brief Elements of one array or pairs of one map (fxamacker/cbor's MaxArrayElements
/// and MaxMapPairs defaults).
inline constexpr int64_t kMaxCborContainerSize = 131072;

/// \brief Decodes one CBOR data item (RFC 8949) that fills `bytes` exactly into `out`,
/// as the Go consumer (otel-arrow `common.Deserialize` over fxamacker/cbor's defaults)
/// reads it: unsigned and negative integers → int (refused past int64), half, single
/// and double floats → double, text → string (must be UTF-8), bytes → bytes, arrays →
/// array, maps with text keys → kvlist (a repeated key keeps its first position and
/// takes its last value, as pcommon's PutEmpty does), true/false → bool, null and
/// undefined → an empty value. Definite and indefinite lengths. Tags, other simple
/// values, non-text map keys, nesting past kMaxCborNesting, containers past
/// kMaxCborContainerSize, truncation and trailing bytes are Status::Invalid ("CBOR: …
/// at byte N"). Never reads outside `bytes`.
arrow::Status DecodeCbor(std::string_view bytes, otlp::AnyValue* out);

}  // namespace otlp_arrow::convert::internal
