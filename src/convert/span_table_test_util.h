// SPDX-License-Identifier: Apache-2.0
// Helpers for span-table tests: canonical OTLP form and exact comparison.

#pragma once

#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/record_batch.h>
#include <arrow/table.h>

#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::testing {

/// Equal bytes mean equal messages, bit for bit (see otlp::DeterministicBytes).
inline std::string ExactBytes(const google::protobuf::Message& message) {
  return otlp::DeterministicBytes(message);
}

/// The canonical form the span table gives back (docs/span-table.md, "Round trip").
inline otlp::ExportTraceServiceRequest Canonical(
    const otlp::ExportTraceServiceRequest& in) {
  return convert::CanonicalSpanTableForm(in);
}

/// Asserts bit-exact equality and, when it fails, prints a field-level difference.
inline void ExpectSameOtlp(const otlp::ExportTraceServiceRequest& expected,
                           const otlp::ExportTraceServiceRequest& actual) {
  if (ExactBytes(expected) == ExactBytes(actual)) return;
  std::string report;
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differ;
  differ.set_field_comparator(&comparator);
  differ.ReportDifferencesToString(&report);
  differ.Compare(expected, actual);
  ADD_FAILURE() << "OTLP differs (bit-exact comparison); field differences:\n"
                << report.substr(0, 4000);
}

/// The span table of `request`, or null after a test failure.
inline std::shared_ptr<arrow::RecordBatch> EncodeOrFail(
    const otlp::ExportTraceServiceRequest& request) {
  auto batch = convert::SpanTableEncoder::Encode(request);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  return batch.ok() ? *batch : nullptr;
}

/// The whole span table of `request` (SpanTableSchema(), with the derived time columns
/// the encoder leaves to the store), or null after a test failure.
inline std::shared_ptr<arrow::RecordBatch> EncodeWholeOrFail(
    const otlp::ExportTraceServiceRequest& request) {
  auto batch = EncodeOrFail(request);
  if (batch == nullptr) return nullptr;
  auto whole = convert::ConformToSpanTableSchema(*batch, arrow::default_memory_pool());
  EXPECT_TRUE(whole.ok()) << whole.status().ToString();
  return whole.ok() ? *whole : nullptr;
}

/// The OTLP of a span table read back (all chunks), or what decoded before a test
/// failure.
inline otlp::ExportTraceServiceRequest DecodeOrFail(const arrow::Table& table) {
  otlp::ExportTraceServiceRequest out;
  if (table.num_rows() == 0) return out;
  auto batch = table.CombineChunksToBatch();
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  if (!batch.ok()) return out;
  const auto status = convert::DecodeSpanTable(**batch, &out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

/// `data` with every dictionary below the top level made plain utf8: span table version
/// 1's attribute keys and values.
inline std::shared_ptr<arrow::ArrayData> PlainNestedDictionaries(
    const std::shared_ptr<arrow::ArrayData>& data, bool top_level = true) {
  if (!top_level && data->type->id() == arrow::Type::DICTIONARY) {
    const arrow::DictionaryArray array(data);
    const auto& values = static_cast<const arrow::StringArray&>(*array.dictionary());
    arrow::StringBuilder plain;
    for (int64_t i = 0; i < array.length(); ++i) {
      const auto status = array.IsNull(i)
                              ? plain.AppendNull()
                              : plain.Append(values.GetView(array.GetValueIndex(i)));
      EXPECT_TRUE(status.ok()) << status.ToString();
    }
    return plain.Finish().ValueOrDie()->data();
  }
  auto out = data->Copy();
  arrow::FieldVector fields;
  for (size_t i = 0; i < out->child_data.size(); ++i) {
    out->child_data[i] = PlainNestedDictionaries(out->child_data[i], false);
  }
  switch (data->type->id()) {
    case arrow::Type::STRUCT:
      for (int i = 0; i < data->type->num_fields(); ++i) {
        fields.push_back(data->type->field(i)->WithType(out->child_data[i]->type));
      }
      out->type = arrow::struct_(fields);
      break;
    case arrow::Type::LIST:
      out->type = arrow::list(data->type->field(0)->WithType(out->child_data[0]->type));
      break;
    case arrow::Type::MAP: {
      const auto& entries = out->child_data[0]->type;
      out->type = std::make_shared<arrow::MapType>(entries->field(0), entries->field(1));
      break;
    }
    default:
      break;
  }
  return out;
}

/// `batch` in span table version 1: plain attribute keys and string values.
inline std::shared_ptr<arrow::RecordBatch> ToVersion1(const arrow::RecordBatch& batch) {
  arrow::FieldVector fields;
  std::vector<std::shared_ptr<arrow::ArrayData>> columns;
  for (int i = 0; i < batch.num_columns(); ++i) {
    columns.push_back(PlainNestedDictionaries(batch.column_data(i)));
    fields.push_back(batch.schema()->field(i)->WithType(columns.back()->type));
  }
  return arrow::RecordBatch::Make(arrow::schema(fields), batch.num_rows(), columns);
}

/// 2026-01-01T00:00:00Z and one hour, in nanoseconds.
inline constexpr uint64_t k2026 = 1'767'225'600'000'000'000ULL;
inline constexpr uint64_t kHourNs = 3'600'000'000'000ULL;

}  // namespace otlp_arrow::testing
