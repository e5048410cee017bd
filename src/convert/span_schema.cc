// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/convert/span_schema.h"

#include <string>

#include <arrow/type.h>
#include <arrow/util/key_value_metadata.h>

namespace otlp_arrow::convert {

namespace {

std::shared_ptr<arrow::Field> F(std::string_view name,
                                std::shared_ptr<arrow::DataType> type, bool nullable) {
  return arrow::field(std::string(name), std::move(type), nullable);
}

// Strings shared by every span of a resource or scope, attribute keys and string values:
// dictionary-encoded, so a batch carries each distinct value once and the index buffers
// compress (a buffer of string offsets, a ramp, does not). Span names are not: their
// cardinality is unbounded in the wild (the design document's own workload names every
// span differently), and Parquet dictionary-encodes them on disk anyway.
std::shared_ptr<arrow::DataType> DictString() {
  return arrow::dictionary(arrow::int32(), arrow::utf8());
}

}  // namespace

const std::shared_ptr<arrow::DataType>& AttributeValueType() {
  static const auto type = arrow::struct_({
      F("type", arrow::uint8(), false),
      F("str", DictString(), true),
      F("int", arrow::int64(), true),
      F("double", arrow::float64(), true),
      F("bool", arrow::boolean(), true),
      F("bytes", arrow::binary(), true),
      F("ser", arrow::utf8(), true),
  });
  return type;
}

const std::shared_ptr<arrow::DataType>& AttributesType() {
  static const std::shared_ptr<arrow::DataType> type = std::make_shared<arrow::MapType>(
      F("key", DictString(), false), F("value", AttributeValueType(), false));
  return type;
}

const std::shared_ptr<arrow::DataType>& EventsType() {
  static const auto type =
      arrow::list(F("item",
                    arrow::struct_({
                        F("time_unix_nano", arrow::uint64(), false),
                        F("name", arrow::utf8(), false),
                        F("attributes", AttributesType(), false),
                        F("dropped_attributes_count", arrow::uint32(), false),
                    }),
                    false));
  return type;
}

const std::shared_ptr<arrow::DataType>& LinksType() {
  static const auto type =
      arrow::list(F("item",
                    arrow::struct_({
                        F("trace_id", arrow::fixed_size_binary(16), false),
                        F("span_id", arrow::fixed_size_binary(8), false),
                        F("trace_state", arrow::utf8(), true),
                        F("attributes", AttributesType(), false),
                        F("dropped_attributes_count", arrow::uint32(), false),
                        F("flags", arrow::uint32(), false),
                    }),
                    false));
  return type;
}

const std::shared_ptr<arrow::Schema>& SpanTableSchema() {
  using namespace column;  // NOLINT
  static const auto schema = arrow::schema(
      {
          F(kTraceId, arrow::fixed_size_binary(16), false),
          F(kSpanId, arrow::fixed_size_binary(8), false),
          F(kParentSpanId, arrow::fixed_size_binary(8), true),
          F(kTraceState, arrow::utf8(), true),
          F(kFlags, arrow::uint32(), false),
          F(kName, arrow::utf8(), false),
          F(kKind, arrow::int32(), false),
          F(kStartTimeUnixNano, arrow::uint64(), false),
          F(kEndTimeUnixNano, arrow::uint64(), false),
          F(kStartTime, arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), false),
          F(kDurationNs, arrow::int64(), false),
          F(kStatusCode, arrow::int32(), false),
          F(kStatusMessage, arrow::utf8(), true),
          F(kAttributes, AttributesType(), false),
          F(kDroppedAttributesCount, arrow::uint32(), false),
          F(kEvents, EventsType(), false),
          F(kDroppedEventsCount, arrow::uint32(), false),
          F(kLinks, LinksType(), false),
          F(kDroppedLinksCount, arrow::uint32(), false),
          F(kServiceName, DictString(), true),
          F(kResourceAttributes, AttributesType(), false),
          F(kResourceDroppedAttributesCount, arrow::uint32(), false),
          F(kResourceSchemaUrl, DictString(), true),
          F(kScopeName, DictString(), true),
          F(kScopeVersion, DictString(), true),
          F(kScopeAttributes, AttributesType(), false),
          F(kScopeDroppedAttributesCount, arrow::uint32(), false),
          F(kScopeSchemaUrl, DictString(), true),
      },
      arrow::key_value_metadata({std::string(kSpanTableVersionKey)},
                                {std::string(kSpanTableVersion)}));
  return schema;
}

const std::shared_ptr<arrow::Schema>& EncodedSpanTableSchema() {
  static const auto schema = [] {
    arrow::FieldVector fields;
    for (const auto& field : SpanTableSchema()->fields()) {
      if (field->name() == column::kStartTime || field->name() == column::kDurationNs) {
        continue;
      }
      fields.push_back(field);
    }
    return arrow::schema(std::move(fields), SpanTableSchema()->metadata());
  }();
  return schema;
}

}  // namespace otlp_arrow::convert
