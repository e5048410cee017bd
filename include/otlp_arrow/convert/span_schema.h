// SPDX-License-Identifier: Apache-2.0
// The span table: one Arrow row per OTLP span. See docs/span-table.md for every column.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <arrow/result.h>
#include <arrow/status.h>
#include <arrow/type_fwd.h>

namespace otlp_arrow::convert {

/// \brief Version of the span table layout, stored in the schema metadata.
inline constexpr std::string_view kSpanTableVersion = "2";
inline constexpr std::string_view kSpanTableVersionKey = "otlp_arrow.span_table.version";

/// \brief Column names of the span table, in schema order.
namespace column {
inline constexpr std::string_view kTraceId = "trace_id";
inline constexpr std::string_view kSpanId = "span_id";
inline constexpr std::string_view kParentSpanId = "parent_span_id";
inline constexpr std::string_view kTraceState = "trace_state";
inline constexpr std::string_view kFlags = "flags";
inline constexpr std::string_view kName = "name";
inline constexpr std::string_view kKind = "kind";
inline constexpr std::string_view kStartTimeUnixNano = "start_time_unix_nano";
inline constexpr std::string_view kEndTimeUnixNano = "end_time_unix_nano";
inline constexpr std::string_view kStartTime = "start_time";
inline constexpr std::string_view kDurationNs = "duration_ns";
inline constexpr std::string_view kStatusCode = "status_code";
inline constexpr std::string_view kStatusMessage = "status_message";
inline constexpr std::string_view kAttributes = "attributes";
inline constexpr std::string_view kDroppedAttributesCount = "dropped_attributes_count";
inline constexpr std::string_view kEvents = "events";
inline constexpr std::string_view kDroppedEventsCount = "dropped_events_count";
inline constexpr std::string_view kLinks = "links";
inline constexpr std::string_view kDroppedLinksCount = "dropped_links_count";
inline constexpr std::string_view kServiceName = "service_name";
inline constexpr std::string_view kResourceAttributes = "resource_attributes";
inline constexpr std::string_view kResourceDroppedAttributesCount =
    "resource_dropped_attributes_count";
inline constexpr std::string_view kResourceSchemaUrl = "resource_schema_url";
inline constexpr std::string_view kScopeName = "scope_name";
inline constexpr std::string_view kScopeVersion = "scope_version";
inline constexpr std::string_view kScopeAttributes = "scope_attributes";
inline constexpr std::string_view kScopeDroppedAttributesCount =
    "scope_dropped_attributes_count";
inline constexpr std::string_view kScopeSchemaUrl = "scope_schema_url";
}  // namespace column

/// \brief Type codes of the `type` field of an attribute value. The numbers are those of
/// the OpenTelemetry Arrow Protocol (OTAP) attribute tables, so the two stay
/// interchangeable.
enum class AttributeType : uint8_t {
  kEmpty = 0,
  kString = 1,
  kInt = 2,
  kDouble = 3,
  kBool = 4,
  kKvlist = 5,  ///< serialized as OTLP/JSON in `ser`
  kArray = 6,   ///< serialized as OTLP/JSON in `ser`
  kBytes = 7,
};
inline constexpr uint8_t kMaxAttributeType = 7;

/// \brief struct<type: uint8, str: dictionary<int32, utf8>, int: int64, double: float64,
/// bool: bool, bytes: binary, ser: utf8>: one OTLP AnyValue; exactly the field named by
/// `type` is set.
const std::shared_ptr<arrow::DataType>& AttributeValueType();

/// \brief map<dictionary<int32, utf8>, AttributeValueType()>: an OTLP attribute list, in
/// its original order.
const std::shared_ptr<arrow::DataType>& AttributesType();

/// \brief list<struct<time_unix_nano, name, attributes, dropped_attributes_count>>.
const std::shared_ptr<arrow::DataType>& EventsType();

/// \brief list<struct<trace_id, span_id, trace_state, attributes,
/// dropped_attributes_count, flags>>.
const std::shared_ptr<arrow::DataType>& LinksType();

/// \brief The span table schema (with its version in the metadata).
const std::shared_ptr<arrow::Schema>& SpanTableSchema();

/// \brief SpanTableSchema() without the derived columns `start_time` and `duration_ns`:
/// what SpanTableEncoder produces and the exporter sends. They are computed once, where
/// spans are stored (ConformToSpanTableSchema, the Parquet writer), not by every hop.
const std::shared_ptr<arrow::Schema>& EncodedSpanTableSchema();

/// \brief Whether a column of type `actual` can be read as the span table's `expected`:
/// the same type, except that where the span table has dictionary<int32, utf8> a plain
/// utf8 (span table version 1; Parquet gives nested dictionaries back plain) or a
/// dictionary with other indices is accepted, and the names and nullability of list and
/// map entries are not compared. Field names of structs must match. The error names the
/// (nested) column `path`.
arrow::Status CheckSpanTableType(const arrow::DataType& actual,
                                 const arrow::DataType& expected,
                                 const std::string& path);

/// \brief `batch` with exactly SpanTableSchema(): its columns found by name (in any
/// order; none unknown or duplicated), each passing CheckSpanTableType; plain strings
/// where the span table has dictionaries are dictionary-encoded; the derived columns
/// `start_time` and `duration_ns`, which senders may leave off (see
/// WithoutDerivedTimeColumns), are computed from the nanosecond columns. Every other
/// buffer is shared. Checks types, not values (see ValidateSpanTable). Errors name the
/// column.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> ConformToSpanTableSchema(
    const arrow::RecordBatch& batch, arrow::MemoryPool* pool);

/// \brief `batch` without the derived columns `start_time` and `duration_ns` (no data is
/// copied): what goes on the wire, where they are redundant (a receiver recomputes them
/// from `start_time_unix_nano` and `end_time_unix_nano`; ConformToSpanTableSchema does).
std::shared_ptr<arrow::RecordBatch> WithoutDerivedTimeColumns(
    const arrow::RecordBatch& batch);

/// \brief `batch` with every dictionary that holds no value (the attribute keys and
/// strings of maps empty in the whole batch: events and links, often scope and resource
/// attributes) turned into a plain column of its value type, every slot null; the rest
/// is shared. What goes on the wire: each dictionary is an IPC message of its own, which
/// costs a receiver more than the column it describes; ConformToSpanTableSchema takes
/// the plain column back.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> WithoutEmptyDictionaries(
    const arrow::RecordBatch& batch);

/// \brief `batch` (a span table, possibly a slice of a larger one) with every dictionary
/// holding only the values its rows use (arrow::DictionaryArray::Compact, also of the
/// dictionaries nested in attribute maps); its columns copied out of the parent's
/// buffers. For a slice of a batch whose dictionaries are large, which would otherwise
/// carry them whole. No value changes.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> CompactDictionaries(
    const arrow::RecordBatch& batch, arrow::MemoryPool* pool);

}  // namespace otlp_arrow::convert
