// SPDX-License-Identifier: Apache-2.0
// Bad input gets an arrow::Status naming the column (and row) — never a crash or a
// default.

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <arrow/util/byte_size.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::convert {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::shared_ptr<arrow::RecordBatch> ValidBatch() {
  auto batch = SpanTableEncoder::Encode(model::RandomSpans(50, 77));
  EXPECT_TRUE(batch.ok());
  return *batch;
}

int Index(const arrow::RecordBatch& batch, std::string_view name) {
  return batch.schema()->GetFieldIndex(std::string(name));
}

std::shared_ptr<arrow::RecordBatch> Replace(
    const std::shared_ptr<arrow::RecordBatch>& batch, std::string_view name,
    const std::shared_ptr<arrow::Array>& array,
    std::shared_ptr<arrow::DataType> type = nullptr) {
  const int i = Index(*batch, name);
  auto field = arrow::field(std::string(name), type ? type : array->type());
  return batch->SetColumn(i, field, array).ValueOrDie();
}

// Span table version 1's attribute map (plain keys and string values), which is still
// read; the bad attributes below are built in it and also tried dictionary-encoded.
std::shared_ptr<arrow::DataType> PlainAttributeValueType() {
  auto fields = AttributeValueType()->fields();
  fields[1] = arrow::field("str", arrow::utf8(), true);
  return arrow::struct_(fields);
}
std::shared_ptr<arrow::DataType> PlainAttributesType() {
  return std::make_shared<arrow::MapType>(
      arrow::field("key", arrow::utf8(), false),
      arrow::field("value", PlainAttributeValueType(), false));
}

// Expects both the validator and the decoder to refuse `batch` with a message containing
// every fragment; and the same of `batch` with its plain strings dictionary-encoded as
// the span table has them, when it has the span table's columns.
template <typename Matcher>
void ExpectRefused(const arrow::RecordBatch& batch, Matcher matcher) {
  auto validated = ValidateSpanTable(batch);
  ASSERT_FALSE(validated.ok());
  EXPECT_TRUE(validated.IsInvalid()) << validated.ToString();
  EXPECT_THAT(validated.message(), matcher);
  otlp::ExportTraceServiceRequest out;
  auto decoded = DecodeSpanTable(batch, &out);
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.message(), matcher);
  auto conformed = ConformToSpanTableSchema(batch, arrow::default_memory_pool());
  if (conformed.ok() && !(*conformed)->schema()->Equals(*batch.schema())) {
    SCOPED_TRACE("dictionary-encoded");
    auto status = ValidateSpanTable(**conformed);
    ASSERT_FALSE(status.ok());
    EXPECT_THAT(status.message(), matcher);
    otlp::ExportTraceServiceRequest again;
    status = DecodeSpanTable(**conformed, &again);
    ASSERT_FALSE(status.ok());
    EXPECT_THAT(status.message(), matcher);
  }
}

TEST(SpanTableInvalid, ValidBatchPasses) {
  auto batch = ValidBatch();
  auto status = ValidateSpanTable(*batch);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(SpanTableInvalid, MissingColumn) {
  auto batch = ValidBatch();
  auto without = batch->RemoveColumn(Index(*batch, column::kName)).ValueOrDie();
  ExpectRefused(*without, HasSubstr("missing column 'name'"));
}

TEST(SpanTableInvalid, DuplicateColumn) {
  auto batch = ValidBatch();
  auto dup = batch
                 ->AddColumn(0, arrow::field("kind", arrow::int32()),
                             batch->GetColumnByName("kind"))
                 .ValueOrDie();
  ExpectRefused(*dup, HasSubstr("duplicate column 'kind'"));
}

TEST(SpanTableInvalid, WrongType) {
  auto batch = ValidBatch();
  arrow::Int64Builder b;
  for (int64_t i = 0; i < batch->num_rows(); ++i) ASSERT_TRUE(b.Append(1).ok());
  auto bad = Replace(batch, column::kKind, b.Finish().ValueOrDie());
  ExpectRefused(*bad, AllOf(HasSubstr("column 'kind'"), HasSubstr("expected type int32"),
                            HasSubstr("got int64")));
}

TEST(SpanTableInvalid, WrongNestedType) {
  auto batch = ValidBatch();
  // events with `name` as binary instead of utf8.
  auto events = batch->GetColumnByName("events");
  auto bad_type = arrow::list(arrow::field(
      "item",
      arrow::struct_({arrow::field("time_unix_nano", arrow::uint64()),
                      arrow::field("name", arrow::binary()),
                      arrow::field("attributes", AttributesType()),
                      arrow::field("dropped_attributes_count", arrow::uint32())})));
  auto data = events->data()->Copy();
  data->type = bad_type;
  auto& child = data->child_data[0];
  child = child->Copy();
  child->type = bad_type->field(0)->type();
  child->child_data[1] = child->child_data[1]->Copy();
  child->child_data[1]->type = arrow::binary();
  auto bad = Replace(batch, column::kEvents, arrow::MakeArray(data));
  ExpectRefused(*bad, AllOf(HasSubstr("column 'events.name'"), HasSubstr("got binary")));
}

TEST(SpanTableInvalid, NullInRequiredColumn) {
  auto batch = ValidBatch();
  auto ids = std::static_pointer_cast<arrow::FixedSizeBinaryArray>(
      batch->GetColumnByName("span_id"));
  arrow::FixedSizeBinaryBuilder b(arrow::fixed_size_binary(8));
  for (int64_t i = 0; i < ids->length(); ++i) {
    ASSERT_TRUE((i == 3 ? b.AppendNull() : b.Append(ids->GetValue(i))).ok());
  }
  auto bad = Replace(batch, column::kSpanId, b.Finish().ValueOrDie());
  ExpectRefused(*bad, AllOf(HasSubstr("column 'span_id' row 3"), HasSubstr("null")));
}

// The derived columns are optional, but a store files spans by `start_time`: present, it
// must agree with the nanoseconds.
TEST(SpanTableInvalid, StartTimeThatDisagreesWithTheNanoseconds) {
  auto batch =
      ConformToSpanTableSchema(*ValidBatch(), arrow::default_memory_pool()).ValueOrDie();
  ASSERT_TRUE(ValidateSpanTable(*batch).ok());
  const auto& type = batch->schema()->GetFieldByName("start_time")->type();
  const auto& nanos = static_cast<const arrow::UInt64Array&>(
      *batch->GetColumnByName("start_time_unix_nano"));
  arrow::TimestampBuilder times(type, arrow::default_memory_pool());
  for (int64_t i = 0; i < batch->num_rows(); ++i) {
    const auto micros = static_cast<int64_t>(nanos.Value(i) / 1000);
    ASSERT_TRUE(times.Append(i == 7 ? micros + 3'600'000'000 : micros).ok());
  }
  auto bad = Replace(batch, column::kStartTime, times.Finish().ValueOrDie(), type);
  ExpectRefused(*bad, AllOf(HasSubstr("column 'start_time' row 7"),
                            HasSubstr("start_time_unix_nano' / 1000")));

  arrow::TimestampBuilder with_null(type, arrow::default_memory_pool());
  for (int64_t i = 0; i < batch->num_rows(); ++i) {
    ASSERT_TRUE((i == 2 ? with_null.AppendNull()
                        : with_null.Append(static_cast<int64_t>(nanos.Value(i) / 1000)))
                    .ok());
  }
  bad = Replace(batch, column::kStartTime, with_null.Finish().ValueOrDie(), type);
  ExpectRefused(*bad, AllOf(HasSubstr("column 'start_time' row 2"), HasSubstr("null")));
}

TEST(SpanTableInvalid, WrongFixedSizeBinaryWidth) {
  auto batch = ValidBatch();
  arrow::FixedSizeBinaryBuilder b(arrow::fixed_size_binary(15));
  const std::string id(15, 'x');
  for (int64_t i = 0; i < batch->num_rows(); ++i) ASSERT_TRUE(b.Append(id).ok());
  auto bad = Replace(batch, column::kTraceId, b.Finish().ValueOrDie());
  ExpectRefused(*bad,
                AllOf(HasSubstr("column 'trace_id'"), HasSubstr("fixed_size_binary[16]"),
                      HasSubstr("fixed_size_binary[15]")));
}

std::shared_ptr<arrow::Array> Int32WithValueAt(const arrow::Array& original, int64_t row,
                                               int32_t value) {
  const auto& ints = static_cast<const arrow::Int32Array&>(original);
  arrow::Int32Builder b;
  for (int64_t i = 0; i < ints.length(); ++i) {
    EXPECT_TRUE(b.Append(i == row ? value : ints.Value(i)).ok());
  }
  return b.Finish().ValueOrDie();
}

TEST(SpanTableInvalid, OutOfRangeSpanKind) {
  auto batch = ValidBatch();
  auto bad = Replace(batch, column::kKind,
                     Int32WithValueAt(*batch->GetColumnByName("kind"), 2, 9));
  ExpectRefused(
      *bad, AllOf(HasSubstr("column 'kind' row 2"), HasSubstr("9 is not a SpanKind")));
}

TEST(SpanTableInvalid, OutOfRangeStatusCode) {
  auto batch = ValidBatch();
  auto bad = Replace(batch, column::kStatusCode,
                     Int32WithValueAt(*batch->GetColumnByName("status_code"), 7, -1));
  ExpectRefused(*bad, AllOf(HasSubstr("column 'status_code' row 7"),
                            HasSubstr("-1 is not a StatusCode")));
}

// A one-row attribute map holding one entry, with the value struct given column by
// column.
std::shared_ptr<arrow::Array> OneAttribute(uint8_t type,
                                           std::shared_ptr<arrow::Array> str,
                                           std::shared_ptr<arrow::Array> ser) {
  auto u8 =
      arrow::json::ArrayFromJSONString(arrow::uint8(), "[" + std::to_string(type) + "]");
  auto nulls = [](std::shared_ptr<arrow::DataType> t) {
    return arrow::MakeArrayOfNull(t, 1).ValueOrDie();
  };
  const auto value_type = PlainAttributeValueType();
  arrow::ArrayVector children = {*u8,
                                 str,
                                 nulls(arrow::int64()),
                                 nulls(arrow::float64()),
                                 nulls(arrow::boolean()),
                                 nulls(arrow::binary()),
                                 ser};
  auto value = arrow::StructArray::Make(children, value_type->fields()).ValueOrDie();
  auto keys = *arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["k"])");
  auto offsets = *arrow::json::ArrayFromJSONString(arrow::int32(), "[0, 1]");
  return arrow::MapArray::FromArrays(PlainAttributesType(), offsets, keys, value)
      .ValueOrDie();
}

std::shared_ptr<arrow::RecordBatch> OneRowWithAttributes(
    std::shared_ptr<arrow::Array> attrs) {
  auto one = SpanTableEncoder::Encode(model::SeedSpans(1)).ValueOrDie();
  return Replace(one, column::kAttributes, attrs, PlainAttributesType());
}

TEST(SpanTableInvalid, UnknownAttributeType) {
  auto str = *arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["x"])");
  auto ser = arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie();
  auto bad = OneRowWithAttributes(OneAttribute(42, str, ser));
  ExpectRefused(*bad, AllOf(HasSubstr("column 'attributes.value.type' row 0 entry 0"),
                            HasSubstr("42 is not an attribute type")));
}

// Validation reads raw bitmaps and type codes: through a slice it must see the sliced
// rows' entries, and only those.
TEST(SpanTableInvalid, BadAttributeSeenThroughSlices) {
  auto type = *arrow::json::ArrayFromJSONString(arrow::uint8(), "[1, 42, 1]");
  auto str = *arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["a", null, "c"])");
  auto nulls = [](std::shared_ptr<arrow::DataType> t) {
    return arrow::MakeArrayOfNull(t, 3).ValueOrDie();
  };
  auto value = arrow::StructArray::Make({type, str, nulls(arrow::int64()),
                                         nulls(arrow::float64()), nulls(arrow::boolean()),
                                         nulls(arrow::binary()), nulls(arrow::utf8())},
                                        PlainAttributeValueType()->fields())
                   .ValueOrDie();
  auto keys = *arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["k", "k", "k"])");
  auto offsets = *arrow::json::ArrayFromJSONString(arrow::int32(), "[0, 1, 2, 3]");
  auto attributes =
      arrow::MapArray::FromArrays(PlainAttributesType(), offsets, keys, value)
          .ValueOrDie();
  auto three = SpanTableEncoder::Encode(model::SeedSpans(3)).ValueOrDie();
  auto batch = Replace(three, column::kAttributes, attributes, PlainAttributesType());
  ExpectRefused(*batch, HasSubstr("column 'attributes.value.type' row 1 entry 0"));
  ExpectRefused(*batch->Slice(1, 2),
                HasSubstr("column 'attributes.value.type' row 0 entry 0"));
  EXPECT_TRUE(ValidateSpanTable(*batch->Slice(0, 1)).ok());
  EXPECT_TRUE(ValidateSpanTable(*batch->Slice(2, 1)).ok());
}

// Children that start at an offset into their buffers (as other Arrow libraries may
// hand them over): a null is looked up at its own position.
TEST(SpanTableInvalid, NullValueInAChildWithAnOffset) {
  auto str = (*arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["pad", null])"))
                 ->Slice(1);  // [null], at bit 1 of its bitmap
  auto ser = arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie();
  auto bad = OneRowWithAttributes(OneAttribute(1, str, ser));
  ExpectRefused(*bad, AllOf(HasSubstr("column 'attributes.value.str' row 0 entry 0"),
                            HasSubstr("null")));
}

// A key whose index is valid but points at a null in the dictionary is a null key.
TEST(SpanTableInvalid, NullInAttributeKeyDictionary) {
  auto batch = ValidBatch();
  auto data = batch->GetColumnByName("attributes")->data()->Copy();
  auto entries = data->child_data[0]->Copy();
  auto keys = entries->child_data[0]->Copy();
  ASSERT_NE(keys->dictionary, nullptr);
  ASSERT_GT(keys->dictionary->length, 0);
  arrow::StringBuilder b;
  for (int64_t i = 0; i < keys->dictionary->length; ++i) {
    ASSERT_TRUE((i == 0 ? b.AppendNull() : b.Append("k" + std::to_string(i))).ok());
  }
  keys->dictionary = b.Finish().ValueOrDie()->data();
  entries->child_data[0] = keys;
  data->child_data[0] = entries;
  auto bad =
      Replace(batch, column::kAttributes, arrow::MakeArray(data), AttributesType());
  ExpectRefused(*bad, AllOf(HasSubstr("column 'attributes"), HasSubstr("null")));
}

TEST(SpanTableInvalid, AttributeValueMissingFromItsTypedField) {
  auto str = arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie();
  auto ser = arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie();
  auto bad = OneRowWithAttributes(OneAttribute(1, str, ser));
  ExpectRefused(*bad, AllOf(HasSubstr("column 'attributes.value.str' row 0 entry 0"),
                            HasSubstr("null")));
}

TEST(SpanTableInvalid, NestedValueThatIsNotOtlpJson) {
  auto str = arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie();
  auto ser = *arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["{\"values\": 12"])");
  auto bad = OneRowWithAttributes(OneAttribute(6, str, ser));
  EXPECT_TRUE(
      ValidateSpanTable(*bad).ok());  // well-formed columns; the JSON is read on decode
  otlp::ExportTraceServiceRequest out;
  auto status = DecodeSpanTable(*bad, &out);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("column 'attributes.value.ser'"), HasSubstr("ArrayValue")));
}

TEST(SpanTableInvalid, InvalidUtf8) {
  auto batch = ValidBatch();
  arrow::BinaryBuilder b;
  for (int64_t i = 0; i < batch->num_rows(); ++i) {
    ASSERT_TRUE(b.Append(i == 4 ? std::string("\xff\xfe") : std::string("ok")).ok());
  }
  auto binary = b.Finish().ValueOrDie();
  auto as_utf8 = binary->data()->Copy();
  as_utf8->type = arrow::utf8();
  auto bad = Replace(batch, column::kName, arrow::MakeArray(as_utf8));
  ExpectRefused(*bad, AllOf(HasSubstr("column 'name'"), HasSubstr("UTF8")));
}

TEST(SpanTableInvalid, CorruptOffsets) {
  auto batch = ValidBatch();
  auto name = batch->GetColumnByName("name");
  auto data = name->data()->Copy();
  // Point the last offset far past the end of the character data.
  auto offsets = arrow::AllocateBuffer(data->buffers[1]->size()).ValueOrDie();
  std::memcpy(offsets->mutable_data(), data->buffers[1]->data(),
              data->buffers[1]->size());
  reinterpret_cast<int32_t*>(offsets->mutable_data())[data->length] = 1 << 30;
  data->buffers[1] = std::move(offsets);
  auto bad = Replace(batch, column::kName, arrow::MakeArray(data));
  ExpectRefused(*bad, HasSubstr("column 'name'"));
}

TEST(SpanTableInvalid, DictionaryIndexOutOfRange) {
  auto batch = ValidBatch();
  auto indices = *arrow::json::ArrayFromJSONString(arrow::int32(), "[0]");
  auto values = *arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["scope"])");
  arrow::Int32Builder b;
  for (int64_t i = 0; i < batch->num_rows(); ++i)
    ASSERT_TRUE(b.Append(i == 1 ? 5 : 0).ok());
  auto dict = std::make_shared<arrow::DictionaryArray>(
      arrow::dictionary(arrow::int32(), arrow::utf8()), b.Finish().ValueOrDie(), values);
  auto bad = Replace(batch, column::kScopeName, dict);
  ExpectRefused(*bad, HasSubstr("column 'scope_name'"));
}

TEST(SpanTableInvalid, PlainStringsAreAcceptedForDictionaryColumns) {
  auto batch = ValidBatch();
  auto dict = batch->GetColumnByName("scope_name");
  const auto& d = static_cast<const arrow::DictionaryArray&>(*dict);
  const auto& v = static_cast<const arrow::StringArray&>(*d.dictionary());
  arrow::StringBuilder b;
  for (int64_t i = 0; i < d.length(); ++i) {
    ASSERT_TRUE(
        (d.IsNull(i) ? b.AppendNull() : b.Append(v.GetView(d.GetValueIndex(i)))).ok());
  }
  auto replaced = Replace(batch, column::kScopeName, b.Finish().ValueOrDie());
  otlp::ExportTraceServiceRequest a, c;
  ASSERT_TRUE(DecodeSpanTable(*batch, &a).ok());
  auto status = DecodeSpanTable(*replaced, &c);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(a.SerializeAsString(), c.SerializeAsString());
}

// --- the encoder refuses OTLP it cannot represent faithfully
// -------------------------------

TEST(SpanTableEncoderInvalid, TraceIdOfWrongWidth) {
  auto in = model::SeedSpans(3);
  in.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(2)->set_trace_id(
      "abc");
  auto result = SpanTableEncoder::Encode(in);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("resource_spans[0].scope_spans[0].spans[2].trace_id"),
                    HasSubstr("expected 16 bytes, got 3")));
}

TEST(SpanTableEncoderInvalid, LinkSpanIdOfWrongWidth) {
  auto in = model::SeedSpans(1);
  auto* link =
      in.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->add_links();
  link->set_trace_id(std::string(16, 'a'));
  link->set_span_id("short");
  auto result = SpanTableEncoder::Encode(in);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("spans[0].links[0].span_id"));
}

TEST(SpanTableEncoderInvalid, UnknownSpanKind) {
  auto in = model::SeedSpans(1);
  in.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_kind(
      static_cast<otlp::Span::SpanKind>(9));
  auto result = SpanTableEncoder::Encode(in);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("9 is not a SpanKind"));
}

TEST(SpanTableEncoderInvalid, ProfilesOnlyFields) {
  auto in = model::SeedSpans(1);
  auto* span = in.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  span->mutable_attributes(1)->mutable_value()->set_string_value_strindex(3);
  auto result = SpanTableEncoder::Encode(in);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), AllOf(HasSubstr("spans[0].attributes[1]"),
                                               HasSubstr("string_value_strindex")));
}

// One encoder gathers many requests into one batch: a request refused half way must
// leave the batch exactly as if it had never come (no part of a span, no dictionary
// entry), and the requests before and after it whole.
TEST(SpanTableEncoderInvalid, FailedAppendLeavesTheBatchAsBefore) {
  const auto before = model::RandomSpans(20, 1);
  const auto after = model::RandomSpans(7, 3);
  struct Bad {
    std::string name;
    otlp::ExportTraceServiceRequest request;  // appended as objects and as wire bytes
    std::string wire;                         // appended as wire bytes only, when set
  };
  std::vector<Bad> bad;
  {
    // New strings everywhere (RandomSpans), then a defect in the last span.
    auto request = model::RandomSpans(20, 2);
    auto* last = request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(
        request.resource_spans(0).scope_spans(0).spans_size() - 1);
    last->set_span_id("");
    bad.push_back({"span_id of the last span", request, ""});
    last->set_span_id("12345678");
    auto* link = last->add_links();
    link->set_trace_id("short");
    link->set_span_id("12345678");
    bad.push_back({"a link's trace_id", request, ""});
    link->set_trace_id("0123456789abcdef");
    auto* kv = last->add_attributes();
    kv->set_key("bad.value");
    kv->mutable_value()->set_string_value(std::string("\xff\xfe", 2));
    bad.push_back({"an attribute value that is not UTF-8",
                   otlp::ExportTraceServiceRequest(), request.SerializeAsString()});
    std::string cut = model::RandomSpans(20, 4).SerializeAsString();
    cut.resize(cut.size() - 3);
    bad.push_back({"bytes cut short", otlp::ExportTraceServiceRequest(), cut});
  }

  SpanTableEncoder reference;
  ASSERT_TRUE(reference.AppendOtlpProtobuf(before.SerializeAsString()).ok());
  ASSERT_TRUE(reference.Append(after).ok());
  auto expected = reference.Finish();
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();

  for (const Bad& b : bad) {
    for (const bool wire : {false, true}) {
      if (!wire && !b.wire.empty()) continue;
      SCOPED_TRACE(b.name + (wire ? " (wire)" : " (objects)"));
      SpanTableEncoder encoder;
      ASSERT_TRUE(encoder.AppendOtlpProtobuf(before.SerializeAsString()).ok());
      const int64_t rows = encoder.num_rows();
      const int64_t bytes = encoder.EncodedBytes();
      const arrow::Status status =
          wire ? encoder.AppendOtlpProtobuf(b.wire.empty() ? b.request.SerializeAsString()
                                                           : b.wire)
               : encoder.Append(b.request);
      ASSERT_FALSE(status.ok());
      EXPECT_TRUE(status.IsInvalid()) << status.ToString();
      EXPECT_EQ(encoder.num_rows(), rows);
      EXPECT_EQ(encoder.EncodedBytes(), bytes);
      ASSERT_TRUE(encoder.Append(after).ok());
      auto batch = encoder.Finish();
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      EXPECT_TRUE((*batch)->ValidateFull().ok());
      // RandomSpans has NaN doubles.
      EXPECT_TRUE((*batch)->Equals(**expected, /*check_metadata=*/false,
                                   arrow::EqualOptions::Defaults().nans_equal(true)));
    }
  }
}

TEST(SpanTableEncoderInvalid, RollbackToACheckpointDropsWhatCameAfter) {
  const auto first = model::RealisticSpans(30, 5);
  SpanTableEncoder encoder;
  ASSERT_TRUE(encoder.Append(first).ok());
  const SpanTableEncoder::Checkpoint checkpoint = encoder.SaveCheckpoint();
  ASSERT_TRUE(encoder.Append(model::RandomSpans(40, 6)).ok());
  ASSERT_TRUE(
      encoder.AppendOtlpProtobuf(model::RandomSpans(9, 7).SerializeAsString()).ok());
  EXPECT_EQ(encoder.num_rows(), 30 + 40 + 9);
  encoder.RollbackTo(checkpoint);
  EXPECT_EQ(encoder.num_rows(), 30);
  auto batch = encoder.Finish();
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  auto expected = SpanTableEncoder::Encode(first);
  ASSERT_TRUE(expected.ok());
  EXPECT_TRUE((*batch)->Equals(**expected, /*check_metadata=*/false,
                               arrow::EqualOptions::Defaults().nans_equal(true)));
  // A default checkpoint rolls nothing back.
  ASSERT_TRUE(encoder.Append(first).ok());
  encoder.RollbackTo(SpanTableEncoder::Checkpoint{});
  EXPECT_EQ(encoder.num_rows(), 30);
}

// EncodedBytes() is what the export queue counts before a batch exists: it must be
// close to the finished batch's size.
TEST(SpanTableEncoderInvalid, EncodedBytesIsCloseToTheFinishedBatch) {
  for (const auto& request : {model::SeedSpans(500), model::OtelBenchmarkSpans(500),
                              model::RealisticSpans(500), model::RandomSpans(500, 8)}) {
    SpanTableEncoder encoder;
    ASSERT_TRUE(encoder.Append(request).ok());
    const int64_t estimate = encoder.EncodedBytes();
    auto batch = encoder.Finish();
    ASSERT_TRUE(batch.ok());
    const int64_t actual = arrow::util::TotalBufferSize(**batch);
    EXPECT_GT(estimate, actual * 8 / 10) << actual;
    EXPECT_LT(estimate, actual * 12 / 10) << actual;
  }
}

}  // namespace
}  // namespace otlp_arrow::convert
