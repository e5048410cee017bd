// SPDX-License-Identifier: Apache-2.0
// OTLP → span table → OTLP is lossless (after the documented canonical grouping).

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/api.h>
#include <arrow/json/from_string.h>
#include <arrow/util/byte_size.h>
#include <arrow/util/compression.h>
#include <google/protobuf/arena.h>
#include <gtest/gtest.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"
#include "span_table_test_util.h"

namespace otlp_arrow::convert {
namespace {

using testing::Canonical;
using testing::ExpectSameOtlp;

otlp::ExportTraceServiceRequest RoundTrip(const otlp::ExportTraceServiceRequest& in) {
  auto batch = SpanTableEncoder::Encode(in);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  otlp::ExportTraceServiceRequest out;
  if (!batch.ok()) return out;
  // The encoder leaves the derived time columns to the store.
  EXPECT_TRUE(
      (*batch)->schema()->Equals(*EncodedSpanTableSchema(), /*check_metadata=*/true));
  auto valid = (*batch)->ValidateFull();
  EXPECT_TRUE(valid.ok()) << valid.ToString();
  EXPECT_EQ((*batch)->num_rows(), model::CountSpans(in));
  auto status = DecodeSpanTable(**batch, &out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

TEST(SpanTableRoundTrip, RandomSpansAreLossless) {
  // 4 × 5,000 random spans: every AnyValue kind, nested arrays and kvlists, unicode,
  // empty strings, extremes, absent optional fields, several resources and scopes.
  int64_t total = 0;
  for (uint64_t seed : {1, 2, 3, 4}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const auto in = model::RandomSpans(5000, seed);
    total += model::CountSpans(in);
    ExpectSameOtlp(Canonical(in), RoundTrip(in));
  }
  EXPECT_GE(total, 10000);
}

TEST(SpanTableRoundTrip, WorkloadsAreLossless) {
  for (const char* name : {"seed", "otel", "realistic"}) {
    SCOPED_TRACE(name);
    auto in = model::MakeWorkload(name, 2500);
    ASSERT_TRUE(in.ok());
    ExpectSameOtlp(Canonical(*in), RoundTrip(*in));
  }
}

TEST(SpanTableRoundTrip, EmptyRequestGivesEmptyBatch) {
  otlp::ExportTraceServiceRequest in;
  in.add_resource_spans()->add_scope_spans();  // no spans: nothing to keep
  auto batch = SpanTableEncoder::Encode(in);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ((*batch)->num_rows(), 0);
  otlp::ExportTraceServiceRequest out;
  ASSERT_TRUE(DecodeSpanTable(**batch, &out).ok());
  EXPECT_EQ(out.resource_spans_size(), 0);
}

TEST(SpanTableRoundTrip, AdjacentEqualResourcesAreMergedOthersKept) {
  otlp::ExportTraceServiceRequest in = model::SeedSpans(3);
  // A second ResourceSpans equal to the first, then a different one, then the first
  // again.
  *in.add_resource_spans() = in.resource_spans(0);
  auto* other = in.add_resource_spans();
  *other = in.resource_spans(0);
  auto* kv = other->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("other");
  *in.add_resource_spans() = in.resource_spans(0);
  const auto out = RoundTrip(in);
  ASSERT_EQ(out.resource_spans_size(), 3);
  EXPECT_EQ(out.resource_spans(0).scope_spans(0).spans_size(), 6);
  EXPECT_EQ(out.resource_spans(1).scope_spans(0).spans_size(), 3);
  EXPECT_EQ(out.resource_spans(2).scope_spans(0).spans_size(), 3);
  ExpectSameOtlp(Canonical(in), out);
}

TEST(SpanTableRoundTrip, ServiceNameColumnIsDerivedFromResource) {
  const auto in = model::RealisticSpans(2000);
  auto batch = SpanTableEncoder::Encode(in);
  ASSERT_TRUE(batch.ok());
  auto column = (*batch)->GetColumnByName(std::string(column::kServiceName));
  ASSERT_NE(column, nullptr);
  const auto& dict = static_cast<const arrow::DictionaryArray&>(*column);
  const auto& values = static_cast<const arrow::StringArray&>(*dict.dictionary());
  EXPECT_EQ(values.GetView(dict.GetValueIndex(0)), "frontend");
  EXPECT_EQ(values.GetView(dict.GetValueIndex(1999)), "checkout");
  EXPECT_EQ(values.length(), 2);  // each distinct value once per batch
}

TEST(SpanTableRoundTrip, DecodesIntoArena) {
  const auto in = model::RandomSpans(500, 9);
  auto batch = SpanTableEncoder::Encode(in);
  ASSERT_TRUE(batch.ok());
  google::protobuf::Arena arena;
  auto* out =
      google::protobuf::Arena::CreateMessage<otlp::ExportTraceServiceRequest>(&arena);
  ASSERT_TRUE(DecodeSpanTable(**batch, out).ok());
  ExpectSameOtlp(Canonical(in), *out);
}

TEST(SpanTableRoundTrip, EncoderIsReusableAcrossBatches) {
  SpanTableEncoder encoder;
  for (uint64_t seed : {11, 12}) {
    const auto in = model::RandomSpans(300, seed);
    ASSERT_TRUE(encoder.Append(in).ok());
    EXPECT_EQ(encoder.num_rows(), model::CountSpans(in));
    auto batch = encoder.Finish();
    ASSERT_TRUE(batch.ok());
    EXPECT_EQ(encoder.num_rows(), 0);
    otlp::ExportTraceServiceRequest out;
    ASSERT_TRUE(DecodeSpanTable(**batch, &out).ok());
    ExpectSameOtlp(Canonical(in), out);
  }
}

// Between batches a reused encoder holds little: the buffers it handed over are not
// replaced until the next batch needs them (and then at their size, not by doubling).
TEST(SpanTableRoundTrip, EncoderHoldsLittleBetweenBatches) {
  arrow::ProxyMemoryPool pool(arrow::default_memory_pool());
  SpanTableEncoder encoder(&pool);
  const auto in = model::RealisticSpans(3000);
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(encoder.Append(in).ok());
    auto batch = encoder.Finish().ValueOrDie();
    const int64_t batch_bytes = arrow::util::TotalBufferSize(*batch);
    const int64_t allocations = pool.num_allocations();
    batch.reset();
    EXPECT_LT(pool.bytes_allocated(), batch_bytes / 10) << "round " << round;
    EXPECT_EQ(pool.num_allocations(), allocations) << "nothing allocated after Finish";
  }
}

TEST(SpanTableRoundTrip, SurvivesIpcStreamWithEachCodec) {
  const auto in = model::RandomSpans(2000, 5);
  auto batch = SpanTableEncoder::Encode(in);
  ASSERT_TRUE(batch.ok());
  for (auto codec : {arrow::Compression::UNCOMPRESSED, arrow::Compression::LZ4_FRAME,
                     arrow::Compression::ZSTD}) {
    SCOPED_TRACE(arrow::util::Codec::GetCodecAsString(codec));
    auto options = arrow::ipc::IpcWriteOptions::Defaults();
    if (codec != arrow::Compression::UNCOMPRESSED) {
      auto created = arrow::util::Codec::Create(codec);
      ASSERT_TRUE(created.ok());
      options.codec = std::move(*created);
    }
    auto sink = arrow::io::BufferOutputStream::Create().ValueOrDie();
    auto writer =
        arrow::ipc::MakeStreamWriter(sink, (*batch)->schema(), options).ValueOrDie();
    ASSERT_TRUE(writer->WriteRecordBatch(**batch).ok());
    ASSERT_TRUE(writer->Close().ok());
    auto buffer = sink->Finish().ValueOrDie();
    auto reader = arrow::ipc::RecordBatchStreamReader::Open(
                      std::make_shared<arrow::io::BufferReader>(buffer))
                      .ValueOrDie();
    std::shared_ptr<arrow::RecordBatch> read;
    ASSERT_TRUE(reader->ReadNext(&read).ok());
    ASSERT_NE(read, nullptr);
    otlp::ExportTraceServiceRequest out;
    auto status = DecodeSpanTable(*read, &out);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ExpectSameOtlp(Canonical(in), out);
  }
}

}  // namespace
}  // namespace otlp_arrow::convert

namespace otlp_arrow::convert {
namespace {

// One string per span, with its resource, scope and schema URLs: equal lists mean the
// same spans in the same context, however they are grouped.
std::vector<std::string> FlatSpans(const otlp::ExportTraceServiceRequest& request) {
  std::vector<std::string> out;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        otlp::ResourceSpans one;
        *one.mutable_resource() = rs.resource();
        one.set_schema_url(rs.schema_url());
        auto* scope = one.add_scope_spans();
        *scope->mutable_scope() = ss.scope();
        scope->set_schema_url(ss.schema_url());
        *scope->add_spans() = span;
        out.push_back(testing::ExactBytes(one));
      }
    }
  }
  return out;
}

// A slice's arrays start at an offset into their buffers; validation and the grouping
// of resources compare raw bitmaps, offsets and bytes, which must honour it.
TEST(SpanTableRoundTrip, SlicesDecodeToTheirRows) {
  const auto batch = SpanTableEncoder::Encode(model::RandomSpans(600, 5)).ValueOrDie();
  otlp::ExportTraceServiceRequest whole;
  ASSERT_TRUE(DecodeSpanTable(*batch, &whole).ok());
  const auto all = FlatSpans(whole);
  ASSERT_EQ(all.size(), 600u);
  for (auto [offset, length] :
       {std::pair<int64_t, int64_t>{1, 1}, {37, 250}, {599, 1}, {3, 597}, {100, 0}}) {
    SCOPED_TRACE(std::to_string(offset) + "+" + std::to_string(length));
    otlp::ExportTraceServiceRequest part;
    auto status = DecodeSpanTable(*batch->Slice(offset, length), &part);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_EQ(FlatSpans(part), std::vector<std::string>(all.begin() + offset,
                                                        all.begin() + offset + length));
  }
  // Row 1,000 of the realistic workload starts its second resource: a slice across it
  // keeps both, and the rows of each together.
  const auto realistic =
      SpanTableEncoder::Encode(model::RealisticSpans(2500)).ValueOrDie();
  otlp::ExportTraceServiceRequest across;
  ASSERT_TRUE(DecodeSpanTable(*realistic->Slice(990, 20), &across).ok());
  EXPECT_EQ(across.resource_spans_size(), 2);
  EXPECT_EQ(across.resource_spans(0).scope_spans(0).spans_size(), 10);
}

// Rows whose resource attributes are equal but not the same bytes (here a null string
// child that still spans two bytes, which Arrow allows) are one resource all the same.
TEST(SpanTableRoundTrip, EqualResourcesInDifferentBytesAreMerged) {
  auto batch = SpanTableEncoder::Encode(model::SeedSpans(2)).ValueOrDie();
  auto type = arrow::json::ArrayFromJSONString(arrow::uint8(), "[2, 2]").ValueOrDie();
  auto ints = arrow::json::ArrayFromJSONString(arrow::int64(), "[5, 5]").ValueOrDie();
  auto offsets = arrow::Buffer::FromString(std::string("\0\0\0\0\2\0\0\0\2\0\0\0", 12));
  auto bitmap = arrow::AllocateEmptyBitmap(2).ValueOrDie();  // both null
  auto str = arrow::MakeArray(arrow::ArrayData::Make(
      arrow::utf8(), 2, {std::move(bitmap), offsets, arrow::Buffer::FromString("zz")},
      2));
  auto null_of = [](std::shared_ptr<arrow::DataType> t) {
    return arrow::MakeArrayOfNull(t, 2).ValueOrDie();
  };
  // Span table version 1's layout (plain keys and string values), which the decoder
  // still reads.
  auto value_fields = AttributeValueType()->fields();
  value_fields[1] = arrow::field("str", arrow::utf8(), true);
  auto map_type = std::make_shared<arrow::MapType>(
      arrow::field("key", arrow::utf8(), false),
      arrow::field("value", arrow::struct_(value_fields), false));
  auto value = arrow::StructArray::Make(
                   {type, str, ints, null_of(arrow::float64()), null_of(arrow::boolean()),
                    null_of(arrow::binary()), null_of(arrow::utf8())},
                   value_fields)
                   .ValueOrDie();
  auto keys =
      arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["k", "k"])").ValueOrDie();
  auto map_offsets =
      arrow::json::ArrayFromJSONString(arrow::int32(), "[0, 1, 2]").ValueOrDie();
  auto attributes =
      arrow::MapArray::FromArrays(map_type, map_offsets, keys, value).ValueOrDie();
  const int i = batch->schema()->GetFieldIndex("resource_attributes");
  batch =
      batch
          ->SetColumn(i, arrow::field("resource_attributes", map_type, false), attributes)
          .ValueOrDie();
  ASSERT_TRUE(batch->ValidateFull().ok());
  otlp::ExportTraceServiceRequest out;
  auto status = DecodeSpanTable(*batch, &out);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(out.resource_spans_size(), 1);
  EXPECT_EQ(out.resource_spans(0).scope_spans(0).spans_size(), 2);
  EXPECT_EQ(out.resource_spans(0).resource().attributes(0).value().int_value(), 5);
}

// Span table version 1 (plain attribute keys and values) decodes to the same spans, and
// ConformToSpanTableSchema brings it to exactly version 2.
TEST(SpanTableVersions, Version1IsReadAndConformedToVersion2) {
  const auto in = model::RandomSpans(400, 21);
  auto v2 = testing::EncodeWholeOrFail(in);
  ASSERT_NE(v2, nullptr);
  auto v1 = testing::ToVersion1(*v2);
  ASSERT_FALSE(v1->schema()->Equals(*SpanTableSchema(), /*check_metadata=*/false));
  ASSERT_TRUE(v1->ValidateFull().ok());
  ASSERT_TRUE(ValidateSpanTable(*v1).ok());
  otlp::ExportTraceServiceRequest from_v1;
  ASSERT_TRUE(DecodeSpanTable(*v1, &from_v1).ok());
  ExpectSameOtlp(Canonical(in), from_v1);

  auto conformed = ConformToSpanTableSchema(*v1, arrow::default_memory_pool());
  ASSERT_TRUE(conformed.ok()) << conformed.status().ToString();
  EXPECT_TRUE(
      (*conformed)->schema()->Equals(*SpanTableSchema(), /*check_metadata=*/true));
  ASSERT_TRUE((*conformed)->ValidateFull().ok());
  otlp::ExportTraceServiceRequest from_conformed;
  ASSERT_TRUE(DecodeSpanTable(**conformed, &from_conformed).ok());
  ExpectSameOtlp(Canonical(in), from_conformed);

  // A version 2 batch is shared, not copied.
  auto same = ConformToSpanTableSchema(*v2, arrow::default_memory_pool()).ValueOrDie();
  for (int i = 0; i < v2->num_columns(); ++i) {
    EXPECT_EQ(same->column_data(i), v2->column_data(i)) << v2->schema()->field(i)->name();
  }
}

// What the Flight exporter sends: no derived time columns, which the decoder does not
// need and ConformToSpanTableSchema computes again, whatever the column order.
TEST(SpanTableVersions, DerivedTimeColumnsAreComputedWhenLeftOff) {
  auto in = model::RandomSpans(300, 5);
  // Times at the edges: 0, 2^64 − 1, end before start (duration wraps).
  auto* spans = in.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans();
  (*spans)[0].set_start_time_unix_nano(0);
  (*spans)[1].set_start_time_unix_nano(~uint64_t{0});
  (*spans)[2].set_end_time_unix_nano(1);
  auto full = testing::EncodeWholeOrFail(in);
  ASSERT_NE(full, nullptr);
  auto wire = WithoutDerivedTimeColumns(*full);
  EXPECT_EQ(wire->num_columns(), full->num_columns() - 2);
  // The encoder's own output is already without them.
  auto encoded = SpanTableEncoder::Encode(in).ValueOrDie();
  EXPECT_TRUE(encoded->Equals(*wire, /*check_metadata=*/true,
                              arrow::EqualOptions::Defaults().nans_equal(true)));
  EXPECT_EQ(wire->schema()->GetFieldIndex(std::string(column::kStartTime)), -1);
  otlp::ExportTraceServiceRequest decoded;
  ASSERT_TRUE(DecodeSpanTable(*wire, &decoded).ok());
  ExpectSameOtlp(Canonical(in), decoded);

  // Reversed column order too.
  auto fields = wire->schema()->fields();
  auto columns = wire->columns();
  std::reverse(fields.begin(), fields.end());
  std::reverse(columns.begin(), columns.end());
  auto reversed =
      arrow::RecordBatch::Make(arrow::schema(fields), wire->num_rows(), columns);
  for (const auto& batch : {wire, reversed}) {
    auto conformed = ConformToSpanTableSchema(*batch, arrow::default_memory_pool());
    ASSERT_TRUE(conformed.ok()) << conformed.status().ToString();
    // NaN attribute values are in the random spans.
    EXPECT_TRUE((*conformed)
                    ->Equals(*full, /*check_metadata=*/true,
                             arrow::EqualOptions::Defaults().nans_equal(true)));
  }
}

// Number of dictionary-typed fields anywhere in `type`.
int CountDictionaries(const arrow::DataType& type) {
  int n = type.id() == arrow::Type::DICTIONARY;
  for (const auto& child : type.fields()) n += CountDictionaries(*child->type());
  return n;
}

// Number of dictionaries without a value anywhere in `data`.
int CountEmptyDictionaries(const arrow::ArrayData& data) {
  int n = data.dictionary != nullptr && data.dictionary->length == 0;
  for (const auto& child : data.child_data) n += CountEmptyDictionaries(*child);
  return n;
}

// What the Flight exporter sends: dictionaries that hold no value (maps empty in the
// whole batch; string children of maps whose values are all of other types) as plain
// all-null columns; ConformToSpanTableSchema gives back the same batch.
// A slice keeps the whole batch's dictionaries; CompactDictionaries gives it its own,
// with the same spans.
TEST(SpanTableDictionaries, CompactedSliceHoldsOnlyItsOwnValues) {
  auto full = SpanTableEncoder::Encode(model::RandomSpans(300, 21));
  ASSERT_TRUE(full.ok());
  const auto slice = (*full)->Slice(100, 17);
  auto compact = CompactDictionaries(*slice, arrow::default_memory_pool());
  ASSERT_TRUE(compact.ok()) << compact.status().ToString();
  ASSERT_TRUE((*compact)->ValidateFull().ok());
  EXPECT_EQ((*compact)->num_rows(), 17);
  otlp::ExportTraceServiceRequest from_slice, from_compact;
  ASSERT_TRUE(DecodeSpanTable(*slice, &from_slice).ok());
  ASSERT_TRUE(DecodeSpanTable(**compact, &from_compact).ok());
  EXPECT_EQ(from_compact.SerializeAsString(), from_slice.SerializeAsString());
  // Every dictionary (top level and in the attribute maps) is no larger than the rows
  // or entries that use it, and smaller than the full batch's.
  const auto& attributes_full = static_cast<const arrow::MapArray&>(
      *(*full)->GetColumnByName(std::string(column::kAttributes)));
  const auto& attributes = static_cast<const arrow::MapArray&>(
      *(*compact)->GetColumnByName(std::string(column::kAttributes)));
  const auto& keys_full =
      static_cast<const arrow::DictionaryArray&>(*attributes_full.keys());
  const auto& keys = static_cast<const arrow::DictionaryArray&>(*attributes.keys());
  EXPECT_LE(keys.dictionary()->length(), keys.length());
  EXPECT_LT(keys.dictionary()->length(), keys_full.dictionary()->length());
  EXPECT_EQ(attributes.offset(), 0);
  EXPECT_EQ(attributes.value_offset(0), 0);
}

TEST(SpanTableVersions, EmptyDictionariesGoPlainAndComeBack) {
  const int all = CountDictionaries(*arrow::struct_(SpanTableSchema()->fields()));
  // The dictionaries left after WithoutEmptyDictionaries: those that hold values. The
  // batch must come back.
  auto dictionaries_left = [all](const otlp::ExportTraceServiceRequest& spans) {
    auto full = testing::EncodeWholeOrFail(spans);
    if (full == nullptr) return -1;
    int empty = 0;
    for (const auto& column : full->column_data())
      empty += CountEmptyDictionaries(*column);
    auto plain = WithoutEmptyDictionaries(*full);
    if (!plain.ok()) {
      ADD_FAILURE() << plain.status().ToString();
      return -1;
    }
    EXPECT_TRUE((*plain)->ValidateFull().ok());
    auto back = ConformToSpanTableSchema(**plain, arrow::default_memory_pool());
    EXPECT_TRUE(back.ok()) << back.status().ToString();
    if (back.ok()) {
      EXPECT_TRUE((*back)->Equals(*full, /*check_metadata=*/true,
                                  arrow::EqualOptions::Defaults().nans_equal(true)));
    }
    otlp::ExportTraceServiceRequest decoded;
    EXPECT_TRUE(DecodeSpanTable(**plain, &decoded).ok());
    ExpectSameOtlp(Canonical(spans), decoded);
    const int left = CountDictionaries(*arrow::struct_((*plain)->schema()->fields()));
    EXPECT_EQ(left, all - empty);
    return left;
  };
  // Random spans have values nearly everywhere.
  EXPECT_GT(dictionaries_left(model::RandomSpans(300, 8)), 0);
  // Seed spans: no events, links, resource or scope attributes; the span attributes
  // keep their key and string dictionaries.
  const int seed = dictionaries_left(model::SeedSpans(50));
  EXPECT_LT(seed, all);
  EXPECT_GT(seed, 0);
  // Without the one string attribute, the span attributes' string values are all null
  // and their dictionary goes too.
  otlp::ExportTraceServiceRequest ints_only = model::SeedSpans(50);
  for (auto& span :
       *ints_only.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans()) {
    span.mutable_attributes()->DeleteSubrange(0, 1);  // http.method
  }
  EXPECT_EQ(dictionaries_left(ints_only), seed - 1);
}

// Conform reads plain strings (to encode them) and the nanosecond columns (to derive the
// time columns) before the batch is validated as a whole: bad offsets or short columns
// are errors naming the column, never reads out of bounds.
TEST(SpanTableVersions, ConformChecksWhatItReads) {
  auto v1 =
      testing::ToVersion1(*SpanTableEncoder::Encode(model::SeedSpans(4)).ValueOrDie());
  const int i = v1->schema()->GetFieldIndex("attributes");
  auto map = v1->column_data(i)->Copy();
  auto entries = map->child_data[0]->Copy();
  auto keys = entries->child_data[0]->Copy();
  auto offsets = arrow::AllocateBuffer(keys->buffers[1]->size()).ValueOrDie();
  std::memcpy(offsets->mutable_data(), keys->buffers[1]->data(),
              keys->buffers[1]->size());
  reinterpret_cast<int32_t*>(offsets->mutable_data())[keys->length] = 1 << 30;
  keys->buffers[1] = std::move(offsets);
  entries->child_data[0] = keys;
  map->child_data[0] = entries;
  auto bad = v1->SetColumn(i, v1->schema()->field(i), arrow::MakeArray(map)).ValueOrDie();
  auto status = ConformToSpanTableSchema(*bad, arrow::default_memory_pool()).status();
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_NE(status.message().find("column 'attributes.key'"), std::string::npos)
      << status.ToString();

  auto wire = WithoutDerivedTimeColumns(
      *SpanTableEncoder::Encode(model::SeedSpans(4)).ValueOrDie());
  const int start = wire->schema()->GetFieldIndex("start_time_unix_nano");
  auto columns = wire->columns();
  columns[start] = columns[start]->Slice(0, 2);  // RecordBatch::Make does not check
  auto short_start = arrow::RecordBatch::Make(wire->schema(), wire->num_rows(), columns);
  status = ConformToSpanTableSchema(*short_start, arrow::default_memory_pool()).status();
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_NE(status.message().find("column 'start_time_unix_nano'"), std::string::npos)
      << status.ToString();
}

TEST(SpanTableVersions, ConformRefusesWhatIsNotASpanTable) {
  auto batch = SpanTableEncoder::Encode(model::SeedSpans(3)).ValueOrDie();
  auto status = ConformToSpanTableSchema(*batch->RemoveColumn(5).ValueOrDie(),
                                         arrow::default_memory_pool())
                    .status();
  EXPECT_TRUE(status.IsInvalid());
  EXPECT_NE(status.message().find("missing column 'name'"), std::string::npos)
      << status.ToString();
  const int kind = batch->schema()->GetFieldIndex("kind");
  auto wrong = batch
                   ->SetColumn(kind, arrow::field("kind", arrow::utf8()),
                               arrow::MakeArrayOfNull(arrow::utf8(), 3).ValueOrDie())
                   .ValueOrDie();
  status = ConformToSpanTableSchema(*wrong, arrow::default_memory_pool()).status();
  EXPECT_TRUE(status.IsInvalid());
  EXPECT_NE(status.message().find("column 'kind'"), std::string::npos)
      << status.ToString();
}

}  // namespace
}  // namespace otlp_arrow::convert
