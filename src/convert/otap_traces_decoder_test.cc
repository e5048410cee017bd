// SPDX-License-Identifier: Apache-2.0
// OTAP traces → span table: payloads made in the Go producer's layout, decoded, and
// compared with what the Go consumer rebuilds.

#include <cmath>

#include <arrow/util/bitmap_builders.h>
#include <gtest/gtest.h>

#include "../common/test_macros_internal.h"
#include "otap_test_producer.h"
#include "otap_test_util.h"
#include "otlp_arrow/model/workloads.h"
#include "span_table_test_util.h"

namespace otlp_arrow::convert {
namespace {

using testing::GoConsumerForm;
using testing::OtapBar;
using testing::OtapTestProducer;

// The spans of `request` from `first`, `count` of them, as one request.
otlp::ExportTraceServiceRequest Slice(const otlp::ExportTraceServiceRequest& request,
                                      int64_t first, int64_t count) {
  otlp::ExportTraceServiceRequest out;
  int64_t i = 0;
  for (const auto& rs : request.resource_spans()) {
    otlp::ResourceSpans* out_rs = nullptr;
    for (const auto& ss : rs.scope_spans()) {
      otlp::ScopeSpans* out_ss = nullptr;
      for (const auto& span : ss.spans()) {
        if (i >= first && i < first + count) {
          if (out_rs == nullptr) {
            out_rs = out.add_resource_spans();
            *out_rs->mutable_resource() = rs.resource();
            out_rs->set_schema_url(rs.schema_url());
          }
          if (out_ss == nullptr) {
            out_ss = out_rs->add_scope_spans();
            *out_ss->mutable_scope() = ss.scope();
            out_ss->set_schema_url(ss.schema_url());
          }
          *out_ss->add_spans() = span;
        }
        ++i;
      }
    }
  }
  return out;
}

void ExpectDecodes(OtapTraceStreamDecoder* decoder, const OtapBar& bar,
                   const otlp::ExportTraceServiceRequest& request) {
  auto traces = decoder->Decode(bar.Views());
  ASSERT_TRUE(traces.ok()) << traces.status().ToString();
  ASSERT_OK_AND_ASSIGN(auto actual, testing::ToOtlp(**traces));
  testing::ExpectSameOtlp(GoConsumerForm(request), actual);
}

void RoundTripRandom(arrow::Compression::type compression) {
  const auto request = model::RandomSpans(1500, 7);
  testing::OtapProducerOptions options;
  options.compression = compression;
  OtapTestProducer producer(options);
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  for (int64_t first = 0; first < 1500; first += 300) {
    const auto part = Slice(request, first, 300);
    ExpectDecodes(decoder.get(), producer.Produce(part), part);
  }
}

TEST(OtapTraces, RandomSpansZstd) { RoundTripRandom(arrow::Compression::ZSTD); }
TEST(OtapTraces, RandomSpansLz4) { RoundTripRandom(arrow::Compression::LZ4_FRAME); }
TEST(OtapTraces, RandomSpansUncompressed) {
  RoundTripRandom(arrow::Compression::UNCOMPRESSED);
}

using testing::Batch;
using testing::Binaries;
using testing::Dict;
using testing::Doubles;
using testing::IdSpan;
using testing::J;
using testing::SpanIds;
using testing::Struct;
using testing::WholePayload;

// The bytes of a string literal, NULs included.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

otlp::KeyValue* Put(google::protobuf::RepeatedPtrField<otlp::KeyValue>* kvs,
                    const std::string& key) {
  auto* kv = kvs->Add();
  kv->set_key(key);
  return kv;
}

// The OTLP a hand-built BAR decodes to, compared bit for bit with `expected`.
void ExpectBar(const std::vector<OtapBar::Payload>& payloads,
               const otlp::ExportTraceServiceRequest& expected) {
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  OtapBar bar{payloads};
  auto traces = decoder->Decode(bar.Views());
  ASSERT_TRUE(traces.ok()) << traces.status().ToString();
  ASSERT_OK_AND_ASSIGN(auto actual, testing::ToOtlp(**traces));
  testing::ExpectSameOtlp(CanonicalSpanTableForm(expected), actual);
}

// One resource and one scope holding `spans`.
otlp::ExportTraceServiceRequest OneScope(std::vector<otlp::Span> spans) {
  otlp::ExportTraceServiceRequest request;
  auto* ss = request.add_resource_spans()->add_scope_spans();
  for (auto& span : spans) *ss->add_spans() = std::move(span);
  return request;
}

TEST(OtapTraces, MissingOptionalColumnsReadAsDefaults) {
  ExpectBar({WholePayload("0", OtapPayloadType::kSpans, *Batch(SpanIds(2)))},
            OneScope({IdSpan(0), IdSpan(1)}));
}

TEST(OtapTraces, ZeroRowSpans) {
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  OtapBar bar{{WholePayload("0", OtapPayloadType::kSpans, *Batch(SpanIds(0)))}};
  ASSERT_OK_AND_ASSIGN(auto traces, decoder->Decode(bar.Views()));
  EXPECT_EQ(traces->num_spans(), 0);
  SpanTableEncoder encoder;
  ASSERT_OK(traces->AppendTo(&encoder));
  EXPECT_EQ(encoder.num_rows(), 0);
}

// Span, resource and scope ids are deltas that wrap around at 2^16.
TEST(OtapTraces, DeltaIdsWrapAround) {
  auto spans = SpanIds(3);
  spans.push_back({"id", J(arrow::uint16(), "[65535, 1, null]")});
  spans.push_back({"resource", Struct({{"id", J(arrow::uint16(), "[1, 65535, 0]")}})});
  spans.push_back({"scope", Struct({{"id", J(arrow::uint16(), "[65535, 0, 2]")}})});
  auto span_attrs = Batch({{"parent_id", J(arrow::uint16(), "[65535, 0]")},
                           {"key", J(arrow::utf8(), R"(["a", "b"])")},
                           {"type", J(arrow::uint8(), "[2, 2]")},
                           {"int", J(arrow::int64(), "[1, 2]")}});
  auto resource_attrs = Batch({{"parent_id", J(arrow::uint16(), "[1, 0]")},
                               {"key", J(arrow::utf8(), R"(["r", "r"])")},
                               {"type", J(arrow::uint8(), "[1, 1]")},
                               {"str", J(arrow::utf8(), R"(["one", "zero"])")}});
  auto scope_attrs = Batch({{"parent_id", J(arrow::uint16(), "[65535, 1]")},
                            {"key", J(arrow::utf8(), R"(["s", "s"])")},
                            {"type", J(arrow::uint8(), "[1, 1]")},
                            {"str", J(arrow::utf8(), R"(["max", "one"])")}});
  otlp::ExportTraceServiceRequest expected;
  auto* rs1 = expected.add_resource_spans();
  Put(rs1->mutable_resource()->mutable_attributes(), "r")
      ->mutable_value()
      ->set_string_value("one");
  auto* ss1 = rs1->add_scope_spans();
  Put(ss1->mutable_scope()->mutable_attributes(), "s")
      ->mutable_value()
      ->set_string_value("max");
  *ss1->add_spans() = IdSpan(0);
  Put(ss1->mutable_spans(0)->mutable_attributes(), "a")
      ->mutable_value()
      ->set_int_value(1);
  // Row 1: resource 0 (new ResourceSpans), scope still 65535 (a new ScopeSpans anyway).
  auto* rs0 = expected.add_resource_spans();
  Put(rs0->mutable_resource()->mutable_attributes(), "r")
      ->mutable_value()
      ->set_string_value("zero");
  auto* ss0 = rs0->add_scope_spans();
  Put(ss0->mutable_scope()->mutable_attributes(), "s")
      ->mutable_value()
      ->set_string_value("max");
  *ss0->add_spans() = IdSpan(1);
  Put(ss0->mutable_spans(0)->mutable_attributes(), "b")
      ->mutable_value()
      ->set_int_value(2);
  // Row 2: scope 65535 + 2 = 1.
  auto* ss2 = rs0->add_scope_spans();
  Put(ss2->mutable_scope()->mutable_attributes(), "s")
      ->mutable_value()
      ->set_string_value("one");
  *ss2->add_spans() = IdSpan(2);
  ExpectBar({WholePayload("0", OtapPayloadType::kSpans, *Batch(spans)),
             WholePayload("1", OtapPayloadType::kSpanAttrs, *span_attrs),
             WholePayload("2", OtapPayloadType::kResourceAttrs, *resource_attrs),
             WholePayload("3", OtapPayloadType::kScopeAttrs, *scope_attrs)},
            expected);
}

// Quasi-delta parent ids: delta only after a row with the same key and an equal value
// by Go's ==: 0.0 == -0.0, NaN never equal, maps, slices and empty values never equal.
TEST(OtapTraces, QuasiDeltaParentIdsUseGoEquality) {
  auto spans = SpanIds(7);
  spans.push_back({"id", J(arrow::uint16(), "[0, 1, 1, 1, 1, 1, 1]")});
  const double nan = std::nan("");
  // row: parent(encoded), key, type, value → resolved parent
  //  0: 0 d  3  0.0   → 0        1: 1 d 3 -0.0 → 1 (equal)
  //  2: 2 n  3  NaN   → 2        3: 3 n 3 NaN  → 3 (NaN never equal)
  //  4: 4 m  5  {}    → 4        5: 1 m 5 {}   → 1 (maps never equal)
  //  6: 5 s  1  "v"   → 5        7: 1 s 1 "v"  → 6 (equal)
  //  8: 2 e  0        → 2        9: 0 e 0      → 0 (empty never equal)
  // 10: 3 b  4  true  → 3       11: 1 b 4 true → 4 (equal)
  // 12: 4 x  7  "ab"  → 4       13: 2 x 7 "ab" → 6 (equal)
  auto attrs = Batch(
      {{"parent_id", J(arrow::uint16(), "[0, 1, 2, 3, 4, 1, 5, 1, 2, 0, 3, 1, 4, 2]")},
       {"key",
        J(arrow::utf8(), R"(["d","d","n","n","m","m","s","s","e","e","b","b","x","x"])")},
       {"type", J(arrow::uint8(), "[3, 3, 3, 3, 5, 5, 1, 1, 0, 0, 4, 4, 7, 7]")},
       {"double", Doubles({0.0, -0.0, nan, nan, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})},
       {"ser",
        Binaries({"", "", "", "", "\xbf\xff", "\xa0", "", "", "", "", "", "", "", ""})},
       {"str",
        J(arrow::utf8(),
          R"([null,null,null,null,null,null,"v","v",null,null,null,null,null,null])")},
       {"bool",
        J(arrow::boolean(),
          "[null,null,null,null,null,null,null,null,null,null,true,true,null,null]")},
       {"bytes",
        J(arrow::binary(),
          R"([null,null,null,null,null,null,null,null,null,null,null,null,"ab","ab"])")}});
  std::vector<otlp::Span> expected_spans;
  for (int i = 0; i < 7; ++i) expected_spans.push_back(IdSpan(i));
  auto attrs_of = [&](int i) { return expected_spans[i].mutable_attributes(); };
  Put(attrs_of(0), "d")->mutable_value()->set_double_value(0.0);
  Put(attrs_of(1), "d")->mutable_value()->set_double_value(-0.0);
  Put(attrs_of(2), "n")->mutable_value()->set_double_value(nan);
  Put(attrs_of(3), "n")->mutable_value()->set_double_value(nan);
  Put(attrs_of(4), "m")->mutable_value()->mutable_kvlist_value();
  Put(attrs_of(1), "m")->mutable_value()->mutable_kvlist_value();
  Put(attrs_of(5), "s")->mutable_value()->set_string_value("v");
  Put(attrs_of(6), "s")->mutable_value()->set_string_value("v");
  Put(attrs_of(2), "e")->mutable_value();
  Put(attrs_of(0), "e")->mutable_value();
  Put(attrs_of(3), "b")->mutable_value()->set_bool_value(true);
  Put(attrs_of(4), "b")->mutable_value()->set_bool_value(true);
  Put(attrs_of(4), "x")->mutable_value()->set_bytes_value("ab");
  Put(attrs_of(6), "x")->mutable_value()->set_bytes_value("ab");
  ExpectBar({WholePayload("0", OtapPayloadType::kSpans, *Batch(spans)),
             WholePayload("1", OtapPayloadType::kSpanAttrs, *attrs)},
            OneScope(expected_spans));
}

// Events: parent ids quasi-delta keyed on the name (first "previous" name ""); links:
// keyed on the trace id bytes (first "previous" nil, which a null trace id equals).
// Their attribute ids are deltas over the non-null rows.
TEST(OtapTraces, EventAndLinkParentIds) {
  auto spans = SpanIds(3);
  spans.push_back({"id", J(arrow::uint16(), "[0, 1, 1]")});
  auto events = Batch(
      {{"id", J(arrow::uint32(), "[0, null, 1, null]")},
       {"parent_id", J(arrow::uint16(), "[0, 1, 2, 0]")},
       {"time_unix_nano",
        J(arrow::timestamp(arrow::TimeUnit::NANO, "UTC"), "[10, 11, 12, 13]")},
       {"name", Dict(arrow::uint8(), arrow::utf8(), "[0, 0, 1, null]", R"(["a", "b"])")},
       {"dropped_attributes_count", J(arrow::uint32(), "[0, 0, 7, 0]")}});
  auto event_attrs =
      Batch({{"parent_id", Dict(arrow::uint8(), arrow::uint32(), "[0, 1]", "[0, 1]")},
             {"key", J(arrow::utf8(), R"(["ea", "eb"])")},
             {"type", J(arrow::uint8(), "[2, 2]")},
             {"int", Dict(arrow::uint16(), arrow::int64(), "[0, 1]", "[5, 6]")}});
  const std::string t1 = "TTTTTTTTTTTTTTT1";
  auto links = Batch(
      {{"id", J(arrow::uint32(), "[null, 0, null]")},
       {"parent_id", J(arrow::uint16(), "[0, 2, 1]")},
       {"trace_id", Dict(arrow::uint8(), arrow::fixed_size_binary(16), "[0, 0, null]",
                         R"(["TTTTTTTTTTTTTTT1"])")},
       {"span_id", J(arrow::fixed_size_binary(8), R"(["SSSSSSS1", "SSSSSSS2", null])")},
       {"trace_state", J(arrow::utf8(), R"(["ts", null, null])")},
       {"flags", J(arrow::uint32(), "[1, 2, 3]")}});
  auto link_attrs = Batch({{"parent_id", J(arrow::uint32(), "[0]")},
                           {"key", J(arrow::utf8(), R"(["la"])")},
                           {"type", J(arrow::uint8(), "[4]")},
                           {"bool", J(arrow::boolean(), "[false]")}});
  std::vector<otlp::Span> s = {IdSpan(0), IdSpan(1), IdSpan(2)};
  auto* e0 = s[0].add_events();
  e0->set_name("a");
  e0->set_time_unix_nano(10);
  Put(e0->mutable_attributes(), "ea")->mutable_value()->set_int_value(5);
  auto* e3 = s[0].add_events();
  e3->set_time_unix_nano(13);
  auto* e1 = s[1].add_events();
  e1->set_name("a");
  e1->set_time_unix_nano(11);
  auto* e2 = s[2].add_events();
  e2->set_name("b");
  e2->set_time_unix_nano(12);
  e2->set_dropped_attributes_count(7);
  Put(e2->mutable_attributes(), "eb")->mutable_value()->set_int_value(6);
  auto* l0 = s[0].add_links();
  l0->set_trace_id(t1);
  l0->set_span_id("SSSSSSS1");
  l0->set_trace_state("ts");
  l0->set_flags(1);
  auto* l1 = s[2].add_links();
  l1->set_trace_id(t1);
  l1->set_span_id("SSSSSSS2");
  l1->set_flags(2);
  Put(l1->mutable_attributes(), "la")->mutable_value()->set_bool_value(false);
  auto* l2 = s[1].add_links();  // null ids read as zeros
  l2->set_trace_id(std::string(16, '\0'));
  l2->set_span_id(std::string(8, '\0'));
  l2->set_flags(3);
  ExpectBar({WholePayload("0", OtapPayloadType::kSpans, *Batch(spans)),
             WholePayload("1", OtapPayloadType::kSpanEvents, *events),
             WholePayload("2", OtapPayloadType::kSpanEventAttrs, *event_attrs),
             WholePayload("3", OtapPayloadType::kSpanLinks, *links),
             WholePayload("4", OtapPayloadType::kSpanLinkAttrs, *link_attrs)},
            OneScope(s));
}

// Event ids are 32-bit deltas: far-apart ids group as well as dense ones.
TEST(OtapTraces, FarApartEventIds) {
  auto spans = SpanIds(1);
  spans.push_back({"id", J(arrow::uint16(), "[0]")});
  auto events = Batch({{"id", J(arrow::uint32(), "[7, 4000000000]")},
                       {"parent_id", J(arrow::uint16(), "[0, 0]")},
                       {"name", J(arrow::utf8(), R"(["a", "b"])")}});
  auto event_attrs = Batch({{"parent_id", J(arrow::uint32(), "[4000000007, 7]")},
                            {"key", J(arrow::utf8(), R"(["far", "near"])")},
                            {"type", J(arrow::uint8(), "[4, 4]")},
                            {"bool", J(arrow::boolean(), "[true, false]")}});
  auto span = IdSpan(0);
  auto* a = span.add_events();
  a->set_name("a");
  Put(a->mutable_attributes(), "near")->mutable_value()->set_bool_value(false);
  auto* b = span.add_events();
  b->set_name("b");
  Put(b->mutable_attributes(), "far")->mutable_value()->set_bool_value(true);
  ExpectBar({WholePayload("0", OtapPayloadType::kSpans, *Batch(spans)),
             WholePayload("1", OtapPayloadType::kSpanEvents, *events),
             WholePayload("2", OtapPayloadType::kSpanEventAttrs, *event_attrs)},
            OneScope({span}));
}

// Span fields as the Go consumer sets them: end = start + duration in int64 (wrapping),
// a null or all-zero parent span id empty, a null status struct the default status,
// dictionary-encoded kind and status code, resource and scope fields from their structs.
TEST(OtapTraces, SpanFieldsAsTheGoConsumerSetsThem) {
  auto spans = SpanIds(3);
  const auto ts = arrow::timestamp(arrow::TimeUnit::NANO, "Europe/Paris");
  spans.push_back({"start_time_unix_nano", J(ts, "[9223372036854775807, 0, -1]")});
  spans.push_back({"duration_time_unix_nano",
                   Dict(arrow::uint8(), arrow::duration(arrow::TimeUnit::NANO),
                        "[0, 1, null]", "[1, -5]")});
  spans.push_back(
      {"parent_span_id",
       J(arrow::fixed_size_binary(8),
         R"(["\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000", null, "pppppppp"])")});
  spans.push_back(
      {"kind", Dict(arrow::uint16(), arrow::int32(), "[null, 0, 1]", "[5, 2]")});
  spans.push_back({"name", Dict(arrow::uint8(), arrow::utf8(), "[0, null, 1]",
                                R"(["GET /", "日本語 ✓"])")});
  spans.push_back({"trace_state", J(arrow::utf8(), R"(["", "k=v", null])")});
  spans.push_back({"flags", J(arrow::uint32(), "[1, 257, null]")});
  spans.push_back({"dropped_events_count", J(arrow::uint32(), "[null, 3, null]")});
  auto status =
      arrow::StructArray::Make(
          {Dict(arrow::uint8(), arrow::int32(), "[1, 0, 1]", "[1, 2]"),
           J(arrow::utf8(), R"(["lost", "bad", null])")},
          {arrow::field("code", arrow::dictionary(arrow::uint8(), arrow::int32())),
           arrow::field("status_message", arrow::utf8())},
          arrow::internal::BytesToBits(std::vector<uint8_t>{0, 1, 1}).ValueOrDie())
          .ValueOrDie();
  spans.push_back({"status", status});
  spans.push_back(
      {"resource",
       Struct({{"schema_url", J(arrow::utf8(), R"(["r", "r", "r"])")},
               {"dropped_attributes_count", J(arrow::uint32(), "[4, 4, 4]")}})});
  spans.push_back(
      {"scope",
       Struct({{"name", Dict(arrow::uint16(), arrow::utf8(), "[0, 0, 0]", R"(["lib"])")},
               {"version", J(arrow::utf8(), R"(["1.0", "1.0", "1.0"])")},
               {"dropped_attributes_count", J(arrow::uint32(), "[2, 2, 2]")}})});
  spans.push_back({"schema_url", J(arrow::utf8(), R"(["s", "s", "s"])")});
  std::vector<otlp::Span> s = {IdSpan(0), IdSpan(1), IdSpan(2)};
  s[0].set_start_time_unix_nano(9223372036854775807ULL);
  s[0].set_end_time_unix_nano(9223372036854775808ULL);
  s[0].set_kind(otlp::Span::SPAN_KIND_UNSPECIFIED);
  s[0].set_name("GET /");
  s[0].set_flags(1);
  s[1].set_end_time_unix_nano(static_cast<uint64_t>(-5));
  s[1].set_kind(static_cast<otlp::Span::SpanKind>(5));
  s[1].set_trace_state("k=v");
  s[1].set_flags(257);
  s[1].set_dropped_events_count(3);
  s[1].mutable_status()->set_code(otlp::Status::STATUS_CODE_OK);
  s[1].mutable_status()->set_message("bad");
  s[2].set_start_time_unix_nano(UINT64_MAX);
  s[2].set_end_time_unix_nano(UINT64_MAX);
  s[2].set_parent_span_id("pppppppp");
  s[2].set_kind(static_cast<otlp::Span::SpanKind>(2));
  s[2].set_name("日本語 ✓");
  s[2].mutable_status()->set_code(otlp::Status::STATUS_CODE_ERROR);
  auto expected = OneScope(s);
  auto* rs = expected.mutable_resource_spans(0);
  rs->set_schema_url("r");
  rs->mutable_resource()->set_dropped_attributes_count(4);
  auto* ss = rs->mutable_scope_spans(0);
  ss->set_schema_url("s");
  ss->mutable_scope()->set_name("lib");
  ss->mutable_scope()->set_version("1.0");
  ss->mutable_scope()->set_dropped_attributes_count(2);
  ExpectBar({WholePayload("0", OtapPayloadType::kSpans, *Batch(spans))}, expected);
}

// A repeated key keeps its first position and takes its last value (pcommon PutEmpty).
TEST(OtapTraces, RepeatedKeysCollapseAsPutEmpty) {
  auto spans = SpanIds(1);
  spans.push_back({"id", J(arrow::uint16(), "[0]")});
  auto attrs = Batch(
      {{"parent_id", J(arrow::uint16(), "[0, 0, 0, 0]")},
       {"key", Dict(arrow::uint8(), arrow::utf8(), "[0, 1, 0, 2]", R"(["k", "j", "k"])")},
       {"type", J(arrow::uint8(), "[2, 2, 1, 2]")},
       {"int", J(arrow::int64(), "[1, 2, null, 4]")},
       {"str", J(arrow::utf8(), R"([null, null, "three", null])")}});
  auto span = IdSpan(0);
  Put(span.mutable_attributes(), "k")->mutable_value()->set_int_value(4);
  Put(span.mutable_attributes(), "j")->mutable_value()->set_int_value(2);
  ExpectBar({WholePayload("0", OtapPayloadType::kSpans, *Batch(spans)),
             WholePayload("1", OtapPayloadType::kSpanAttrs, *attrs)},
            OneScope({span}));
}

// The same with keys from a dictionary of distinct values, as the Go producer sends
// them (collapsed by key index), over two spans: a key repeated in one span is not a
// repeat in the other.
TEST(OtapTraces, RepeatedKeysCollapsePerSpanWithADistinctDictionary) {
  auto spans = SpanIds(2);
  spans.push_back({"id", J(arrow::uint16(), "[0, 1]")});
  auto attrs = Batch({{"parent_id", J(arrow::uint16(), "[0, 0, 0, 1, 0, 1]")},
                      {"key", Dict(arrow::uint8(), arrow::utf8(), "[0, 1, 0, 1, 1, 0]",
                                   R"(["k", "j"])")},
                      {"type", J(arrow::uint8(), "[2, 2, 2, 2, 2, 2]")},
                      {"int", J(arrow::int64(), "[1, 2, 3, 4, 5, 6]")}});
  auto first = IdSpan(0);
  Put(first.mutable_attributes(), "k")->mutable_value()->set_int_value(3);
  Put(first.mutable_attributes(), "j")->mutable_value()->set_int_value(5);
  auto second = IdSpan(1);
  Put(second.mutable_attributes(), "j")->mutable_value()->set_int_value(4);
  Put(second.mutable_attributes(), "k")->mutable_value()->set_int_value(6);
  ExpectBar({WholePayload("0", OtapPayloadType::kSpans, *Batch(spans)),
             WholePayload("1", OtapPayloadType::kSpanAttrs, *attrs)},
            OneScope({first, second}));
}

// Nested values come as CBOR: half, single and double floats, NaN, infinities, -0.0,
// indefinite-length strings, null (an empty value), bytes, nesting.
TEST(OtapTraces, NestedValuesFromCbor) {
  auto spans = SpanIds(1);
  spans.push_back({"id", J(arrow::uint16(), "[0]")});
  const std::string map = Bytes(
      "\xbf"               // {_
      "\x61h\xf9\x3e\x00"  // "h": f16 1.5
      "\x61"
      "f\xfa\x3f\xc0\x00\x00"                      // "f": f32 1.5
      "\x61n\xf9\x7e\x00"                          // "n": NaN
      "\x61i\xf9\xfc\x00"                          // "i": -Inf
      "\x61z\xfb\x80\x00\x00\x00\x00\x00\x00\x00"  // "z": -0.0
      "\x61s\x7f\x62\xc3\xa9\x61x\xff"             // "s": (_ "é", "x")
      "\x61"
      "e\xf6"  // "e": null
      "\x61"
      "b\x42\x00\x01"  // "b": h'0001'
      "\x61"
      "a\x83\x01\x20\x9f\xf5\xff"  // "a": [1, -1, [_ true]]
      "\x61"
      "u\x1b\x7f\xff\xff\xff\xff\xff\xff\xff"  // "u": int64 max
      "\xff");
  const std::string array = Bytes("\x9f\xa1\x61k\x60\xff");  // [_ {"k": ""}]
  // Dictionary values built by hand (JSON cannot hold these bytes).
  auto ser = arrow::DictionaryArray::FromArrays(
                 arrow::dictionary(arrow::uint16(), arrow::binary()),
                 J(arrow::uint16(), "[0, 1]"), Binaries({map, array}))
                 .ValueOrDie();
  auto attrs = Batch({{"parent_id", J(arrow::uint16(), "[0, 0]")},
                      {"key", J(arrow::utf8(), R"(["m", "l"])")},
                      {"type", J(arrow::uint8(), "[5, 6]")},
                      {"ser", ser}});
  auto span = IdSpan(0);
  auto* kv = Put(span.mutable_attributes(), "m")->mutable_value()->mutable_kvlist_value();
  Put(kv->mutable_values(), "h")->mutable_value()->set_double_value(1.5);
  Put(kv->mutable_values(), "f")->mutable_value()->set_double_value(1.5);
  Put(kv->mutable_values(), "n")->mutable_value()->set_double_value(std::nan(""));
  Put(kv->mutable_values(), "i")->mutable_value()->set_double_value(-INFINITY);
  Put(kv->mutable_values(), "z")->mutable_value()->set_double_value(-0.0);
  Put(kv->mutable_values(), "s")->mutable_value()->set_string_value("éx");
  Put(kv->mutable_values(), "e")->mutable_value();
  Put(kv->mutable_values(), "b")
      ->mutable_value()
      ->set_bytes_value(std::string("\x00\x01", 2));
  auto* a = Put(kv->mutable_values(), "a")->mutable_value()->mutable_array_value();
  a->add_values()->set_int_value(1);
  a->add_values()->set_int_value(-1);
  a->add_values()->mutable_array_value()->add_values()->set_bool_value(true);
  Put(kv->mutable_values(), "u")->mutable_value()->set_int_value(INT64_MAX);
  auto* l = Put(span.mutable_attributes(), "l")->mutable_value()->mutable_array_value();
  Put(l->add_values()->mutable_kvlist_value()->mutable_values(), "k")
      ->mutable_value()
      ->set_string_value("");
  ExpectBar({WholePayload("0", OtapPayloadType::kSpans, *Batch(spans)),
             WholePayload("1", OtapPayloadType::kSpanAttrs, *attrs)},
            OneScope({span}));
}

TEST(OtapTraces, PayloadsInAnyOrder) {
  const auto request = model::RandomSpans(200, 11);
  OtapTestProducer producer;
  OtapBar bar = producer.Produce(request);
  ASSERT_GE(bar.payloads.size(), 5u);
  std::reverse(bar.payloads.begin(), bar.payloads.end());
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  ExpectDecodes(decoder.get(), bar, request);
}

// Over one stream: more than 255 distinct values widen uint8 indices to uint16 (a new
// schema, a new schema_id), dictionaries grow by deltas from batch to batch, a reset
// sends replacement dictionaries, a column turned plain is a new schema again.
TEST(OtapTraces, DictionariesWidenGrowResetAndTurnPlain) {
  auto request = model::RealisticSpans(600, 3);
  int i = 0;
  for (auto& rs : *request.mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) span.set_name("op-" + std::to_string(i++));
    }
  }
  OtapTestProducer producer;
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  std::vector<std::string> name_types;
  auto step = [&](int64_t first, int64_t count) {
    const auto part = Slice(request, first, count);
    const OtapBar bar = producer.Produce(part);
    name_types.push_back(producer.last_schema(OtapPayloadType::kSpans)
                             ->GetFieldByName("name")
                             ->type()
                             ->ToString());
    ExpectDecodes(decoder.get(), bar, part);
  };
  step(0, 200);    // 200 names: uint8
  step(200, 50);   // 250: a delta
  step(250, 100);  // 350: uint16, a new schema
  producer.ResetDictionaries();
  step(350, 100);  // replacement dictionaries
  producer.options().plain_columns = {"name", "key", "str", "resource.schema_url"};
  step(450, 150);  // plain columns: new schemas
  EXPECT_EQ(name_types,
            (std::vector<std::string>{
                "dictionary<values=string, indices=uint8, ordered=0>",
                "dictionary<values=string, indices=uint8, ordered=0>",
                "dictionary<values=string, indices=uint16, ordered=0>",
                "dictionary<values=string, indices=uint8, ordered=0>", "string"}));
  EXPECT_GT(decoder->dictionary_bytes(), 0);
}

// An unseen schema_id of a payload type drops the IPC stream that type had, as the Go
// consumer does: that stream's next payload (without a Schema) no longer decodes.
TEST(OtapTraces, NewSchemaIdDropsTheOlderStreamOfItsType) {
  const auto request = model::RandomSpans(20, 5);
  OtapTestProducer producer;
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  ASSERT_OK(decoder->Decode(producer.Produce(request).Views()).status());
  const OtapBar second = producer.Produce(request);
  ASSERT_OK(decoder->Decode(second.Views()).status());  // the old streams still work
  OtapBar other{{WholePayload("new", OtapPayloadType::kSpans, *Batch(SpanIds(1)))}};
  ASSERT_OK(decoder->Decode(other.Views()).status());
  auto third = decoder->Decode(producer.Produce(request).Views());
  ASSERT_TRUE(third.status().IsInvalid()) << third.status().ToString();
  EXPECT_NE(third.status().message().find("SPANS payload"), std::string::npos)
      << third.status().ToString();
}

TEST(OtapTraces, AppendToTwiceGivesTheRowsTwice) {
  const auto request = model::RandomSpans(100, 8);
  OtapTestProducer producer;
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  ASSERT_OK_AND_ASSIGN(auto traces, decoder->Decode(producer.Produce(request).Views()));
  SpanTableEncoder encoder;
  ASSERT_OK(traces->AppendTo(&encoder));
  ASSERT_OK(traces->AppendTo(&encoder));
  ASSERT_OK_AND_ASSIGN(auto batch, encoder.Finish());
  ASSERT_EQ(batch->num_rows(), 200);
  otlp::ExportTraceServiceRequest first, second;
  ASSERT_OK(DecodeSpanTable(*batch->Slice(0, 100), &first));
  ASSERT_OK(DecodeSpanTable(*batch->Slice(100, 100), &second));
  testing::ExpectSameOtlp(GoConsumerForm(request), first);
  testing::ExpectSameOtlp(first, second);
  EXPECT_GT(traces->EstimatedEncodedBytes(), 0);
}

// The estimate is meant for queue accounting: not below what the encoder then holds,
// and not far above.
TEST(OtapTraces, EstimatedBytesBoundTheEncodedBytes) {
  for (const char* workload : {"realistic", "otel", "seed"}) {
    const auto request = model::MakeWorkload(workload, 1000).ValueOrDie();
    OtapTestProducer producer;
    ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
    ASSERT_OK_AND_ASSIGN(auto traces, decoder->Decode(producer.Produce(request).Views()));
    SpanTableEncoder encoder;
    ASSERT_OK(traces->AppendTo(&encoder));
    EXPECT_GE(traces->EstimatedEncodedBytes(), encoder.EncodedBytes()) << workload;
    EXPECT_LE(traces->EstimatedEncodedBytes(), 3 * encoder.EncodedBytes()) << workload;
  }
}

// A pool whose allocations fail past `limit` live bytes.
class LimitedPool : public arrow::MemoryPool {
 public:
  arrow::Status Allocate(int64_t size, int64_t alignment, uint8_t** out) override {
    if (allocated_ + size > limit) return arrow::Status::OutOfMemory("test limit");
    allocated_ += size;
    return backend_->Allocate(size, alignment, out);
  }
  arrow::Status Reallocate(int64_t old_size, int64_t new_size, int64_t alignment,
                           uint8_t** ptr) override {
    if (allocated_ + new_size - old_size > limit) {
      return arrow::Status::OutOfMemory("test limit");
    }
    allocated_ += new_size - old_size;
    return backend_->Reallocate(old_size, new_size, alignment, ptr);
  }
  void Free(uint8_t* buffer, int64_t size, int64_t alignment) override {
    allocated_ -= size;
    backend_->Free(buffer, size, alignment);
  }
  int64_t bytes_allocated() const override { return allocated_; }
  int64_t total_bytes_allocated() const override { return 0; }
  int64_t num_allocations() const override { return 0; }
  std::string backend_name() const override { return "limited"; }

  int64_t limit = INT64_MAX;

 private:
  arrow::MemoryPool* backend_ = arrow::default_memory_pool();
  int64_t allocated_ = 0;
};

// An AppendTo that fails (here the encoder's memory runs out) leaves the encoder with
// exactly the rows it had.
TEST(OtapTraces, FailedAppendToLeavesTheEncoderAsBefore) {
  const auto small = model::RandomSpans(3, 1);
  const auto large = model::RandomSpans(2000, 2);
  OtapTestProducer producer;
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  ASSERT_OK_AND_ASSIGN(auto traces, decoder->Decode(producer.Produce(large).Views()));
  LimitedPool pool;
  SpanTableEncoder encoder(&pool);
  ASSERT_OK(encoder.Append(small));
  pool.limit = pool.bytes_allocated() + (64 << 10);
  const auto status = traces->AppendTo(&encoder);
  ASSERT_TRUE(status.IsCapacityError()) << status.ToString();
  pool.limit = INT64_MAX;
  EXPECT_EQ(encoder.num_rows(), model::CountSpans(small));
  ASSERT_OK_AND_ASSIGN(auto batch, encoder.Finish());
  otlp::ExportTraceServiceRequest back;
  ASSERT_OK(DecodeSpanTable(*batch, &back));
  testing::ExpectSameOtlp(CanonicalSpanTableForm(small), back);
}

}  // namespace
}  // namespace otlp_arrow::convert
