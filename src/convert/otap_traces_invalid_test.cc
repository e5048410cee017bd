// SPDX-License-Identifier: Apache-2.0
// OTAP traces input the decoder refuses: each class with its error (payload type,
// column, row), the limits, and a bounded mutation test.

#include <random>

#include <gtest/gtest.h>

#include "../common/test_macros_internal.h"
#include "otap_test_producer.h"
#include "otap_test_util.h"
#include "otlp_arrow/model/workloads.h"
#include "span_table_test_util.h"

namespace otlp_arrow::convert {
namespace {

using testing::Batch;
using testing::Binaries;
using testing::Columns;
using testing::Dict;
using testing::J;
using testing::OtapBar;
using testing::OtapTestProducer;
using testing::SpanIds;
using testing::Struct;
using testing::WholePayload;

arrow::Status DecodeBar(const std::vector<OtapBar::Payload>& payloads) {
  ARROW_ASSIGN_OR_RAISE(auto decoder, OtapTraceStreamDecoder::Make());
  OtapBar bar{payloads};
  return decoder->Decode(bar.Views()).status();
}

void ExpectInvalid(const std::vector<OtapBar::Payload>& payloads,
                   const std::string& message) {
  const auto status = DecodeBar(payloads);
  ASSERT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_NE(status.message().find(message), std::string::npos)
      << "expected \"" << message << "\" in: " << status.ToString();
}

OtapBar::Payload Spans(Columns columns, int n = 2) {
  auto all = SpanIds(n);
  for (auto& c : columns) all.push_back(std::move(c));
  return WholePayload("s", OtapPayloadType::kSpans, *Batch(all));
}

OtapBar::Payload SpanAttrs(Columns columns) {
  return WholePayload("a", OtapPayloadType::kSpanAttrs, *Batch(columns));
}

// Spans 0 and 1 with ids 0 and 1.
OtapBar::Payload SpansWithIds() { return Spans({{"id", J(arrow::uint16(), "[0, 1]")}}); }

Columns IntAttrs(const std::string& parents) {
  return {{"parent_id", J(arrow::uint16(), parents)},
          {"key", J(arrow::utf8(), R"(["a", "b"])")},
          {"type", J(arrow::uint8(), "[2, 2]")},
          {"int", J(arrow::int64(), "[1, 2]")}};
}

TEST(OtapTracesInvalid, AttributesOfNoParent) {
  ExpectInvalid(
      {SpansWithIds(), SpanAttrs(IntAttrs("[0, 5]"))},
      "SPAN_ATTRS column 'parent_id' row 1: the parent id matches no SPANS 'id'");
  ExpectInvalid(
      {SpanAttrs(IntAttrs("[0, 1]"))},
      "SPAN_ATTRS column 'parent_id' row 0: the parent id matches no SPANS 'id'");
  auto resource_attrs =
      WholePayload("r", OtapPayloadType::kResourceAttrs, *Batch(IntAttrs("[0, 3]")));
  ExpectInvalid({Spans({{"resource", Struct({{"id", J(arrow::uint16(), "[0, 0]")}})}}),
                 resource_attrs},
                "RESOURCE_ATTRS column 'parent_id' row 1: the parent id matches no SPANS "
                "'resource.id'");
}

TEST(OtapTracesInvalid, EventsAndLinksOfNoSpan) {
  auto events = Batch({{"parent_id", J(arrow::uint16(), "[1, 7]")},
                       {"name", J(arrow::utf8(), R"(["a", "b"])")}});
  ExpectInvalid(
      {SpansWithIds(), WholePayload("e", OtapPayloadType::kSpanEvents, *events)},
      "SPAN_EVENTS column 'parent_id' row 1: the parent id matches no SPANS 'id'");
  auto links = Batch({{"parent_id", J(arrow::uint16(), "[9]")}});
  ExpectInvalid(
      {SpansWithIds(), WholePayload("l", OtapPayloadType::kSpanLinks, *links)},
      "SPAN_LINKS column 'parent_id' row 0: the parent id matches no SPANS 'id'");
  auto event_attrs = WholePayload("x", OtapPayloadType::kSpanEventAttrs,
                                  *Batch({{"parent_id", J(arrow::uint32(), "[4]")},
                                          {"key", J(arrow::utf8(), R"(["k"])")},
                                          {"type", J(arrow::uint8(), "[0]")}}));
  ExpectInvalid({SpansWithIds(), event_attrs},
                "SPAN_EVENT_ATTRS column 'parent_id' row 0: the parent id matches no "
                "SPAN_EVENTS 'id'");
}

// Two spans with one id and events: the Go consumer would move the events to the first
// and leave empty events on the second.
TEST(OtapTracesInvalid, EventsOfASpanIdTwoSpansShare) {
  auto events = Batch({{"parent_id", J(arrow::uint16(), "[0]")}});
  ExpectInvalid({Spans({{"id", J(arrow::uint16(), "[0, 0]")}}),
                 WholePayload("e", OtapPayloadType::kSpanEvents, *events)},
                "SPANS column 'id' row 1: span id 0 is also that of row 0");
}

TEST(OtapTracesInvalid, ColumnOfTheWrongType) {
  ExpectInvalid(
      {Spans({{"name", J(arrow::large_utf8(), R"(["a", "b"])")}})},
      "SPANS column 'name': expected utf8 or a dictionary of it, got large_string");
  ExpectInvalid(
      {Spans({{"kind", Dict(arrow::uint8(), arrow::utf8(), "[0, 0]", R"(["x"])")}})},
      "SPANS column 'kind': expected int32 or a dictionary of it");
  ExpectInvalid({Spans({{"start_time_unix_nano",
                         J(arrow::timestamp(arrow::TimeUnit::MILLI), "[1, 2]")}})},
                "SPANS column 'start_time_unix_nano': expected timestamp[ns]");
  ExpectInvalid({Spans({{"resource", J(arrow::uint16(), "[0, 0]")}})},
                "SPANS column 'resource': expected a struct, got uint16");
  ExpectInvalid(
      {Spans({{"scope", Struct({{"name", J(arrow::binary(), R"(["a", "b"])")}})}})},
      "SPANS column 'scope.name': expected utf8");
  auto attrs = IntAttrs("[0, 1]");
  attrs[3] = {"int", J(arrow::int32(), "[1, 2]")};
  ExpectInvalid({SpansWithIds(), SpanAttrs(attrs)},
                "SPAN_ATTRS column 'int': expected int64");
}

TEST(OtapTracesInvalid, IdOfTheWrongWidth) {
  auto spans = SpanIds(1);
  spans[0] = {"trace_id", J(arrow::fixed_size_binary(15), R"(["123456789012345"])")};
  ExpectInvalid({WholePayload("s", OtapPayloadType::kSpans, *Batch(spans))},
                "SPANS column 'trace_id': expected fixed_size_binary[16]");
  auto links = Batch({{"parent_id", J(arrow::uint16(), "[0]")},
                      {"span_id", J(arrow::fixed_size_binary(4), R"(["abcd"])")}});
  ExpectInvalid({SpansWithIds(), WholePayload("l", OtapPayloadType::kSpanLinks, *links)},
                "SPAN_LINKS column 'span_id': expected fixed_size_binary[8]");
}

TEST(OtapTracesInvalid, MissingTraceOrSpanId) {
  auto spans = SpanIds(2);
  spans[0] = {"trace_id",
              J(arrow::fixed_size_binary(16), R"(["0123456789abcdef", null])")};
  ExpectInvalid({WholePayload("s", OtapPayloadType::kSpans, *Batch(spans))},
                "SPANS column 'trace_id' row 1: missing");
  ExpectInvalid({WholePayload("s", OtapPayloadType::kSpans,
                              *Batch({{"trace_id", J(arrow::fixed_size_binary(16),
                                                     R"(["0123456789abcdef"])")}}))},
                "SPANS column 'span_id' row 0: missing");
}

TEST(OtapTracesInvalid, DictionaryIndexOutOfRange) {
  auto name = std::make_shared<arrow::DictionaryArray>(
      arrow::dictionary(arrow::uint8(), arrow::utf8()), J(arrow::uint8(), "[0, 5]"),
      J(arrow::utf8(), R"(["a", "b"])"));
  ExpectInvalid({Spans({{"name", name}})},
                "SPANS column 'name' row 1: dictionary index 5 out of range (the "
                "dictionary has 2 values)");
}

TEST(OtapTracesInvalid, UnknownAttributeType) {
  auto attrs = IntAttrs("[0, 1]");
  attrs[2] = {"type", J(arrow::uint8(), "[2, 9]")};
  ExpectInvalid({SpansWithIds(), SpanAttrs(attrs)},
                "SPAN_ATTRS column 'type' row 1: 9 is not an attribute type (0..7)");
}

TEST(OtapTracesInvalid, MissingAttributeColumn) {
  auto attrs = IntAttrs("[0, 1]");
  attrs.erase(attrs.begin() + 1);
  ExpectInvalid({SpansWithIds(), SpanAttrs(attrs)}, "SPAN_ATTRS column 'key': missing");
}

TEST(OtapTracesInvalid, ParentIdPastTheIdWidth) {
  auto attrs = IntAttrs("[0, 1]");
  attrs[0] = {"parent_id", J(arrow::uint32(), "[0, 70000]")};
  ExpectInvalid({SpansWithIds(), SpanAttrs(attrs)},
                "SPAN_ATTRS column 'parent_id' row 1: 70000 does not fit the 16-bit id");
}

TEST(OtapTracesInvalid, BadCbor) {
  Columns attrs = {{"parent_id", J(arrow::uint16(), "[0, 1]")},
                   {"key", J(arrow::utf8(), R"(["m", "l"])")},
                   {"type", J(arrow::uint8(), "[5, 6]")},
                   {"ser", Binaries({"\xbf\xff", "\x9f\x61"})}};
  ExpectInvalid({SpansWithIds(), SpanAttrs(attrs)},
                "SPAN_ATTRS column 'ser' row 1: CBOR: truncated");
  attrs[3] = {"ser", Binaries({"\xbf\xff", "\x01"})};
  ExpectInvalid(
      {SpansWithIds(), SpanAttrs(attrs)},
      "SPAN_ATTRS column 'ser' row 1: type 6 (slice) but the CBOR holds another "
      "kind of value");
  arrow::BinaryBuilder with_null;
  ASSERT_OK(with_null.Append(std::string("\xbf\xff")));
  ASSERT_OK(with_null.AppendNull());
  ASSERT_OK_AND_ASSIGN(auto ser, with_null.Finish());
  attrs[3] = {"ser", ser};
  ExpectInvalid({SpansWithIds(), SpanAttrs(attrs)},
                "SPAN_ATTRS column 'ser' row 1: null for a slice value");
}

TEST(OtapTracesInvalid, KindOrStatusCodeOutOfRange) {
  ExpectInvalid({Spans({{"kind", J(arrow::int32(), "[1, 9]")}})},
                "SPANS column 'kind' row 1: 9 is not a SpanKind (0..5)");
  ExpectInvalid({Spans({{"status", Struct({{"code", J(arrow::int32(), "[3, 0]")}})}})},
                "SPANS column 'status.code' row 0: 3 is not a StatusCode (0..2)");
}

TEST(OtapTracesInvalid, DuplicateColumn) {
  ExpectInvalid({Spans({{"name", J(arrow::utf8(), R"(["a", "b"])")},
                        {"name", J(arrow::utf8(), R"(["a", "b"])")}})},
                "SPANS column 'name': appears 2 times");
}

TEST(OtapTracesInvalid, PayloadTypes) {
  auto unknown = SpansWithIds();
  unknown.type = 7;
  unknown.schema_id = "u";
  ExpectInvalid({SpansWithIds(), unknown},
                "payload type UNKNOWN(7) is not a traces payload");
  auto second = SpansWithIds();
  second.schema_id = "other";
  ExpectInvalid({SpansWithIds(), second}, "SPANS payload: more than one");
}

TEST(OtapTracesInvalid, PayloadsThatAreNotOneIpcRecordBatch) {
  auto garbage = SpansWithIds();
  garbage.record = "not arrow at all";
  ExpectInvalid({garbage}, "SPANS payload (schema_id 's'): holds 0 record batches");
  garbage.record = std::string(8, '\xff');
  ExpectInvalid({garbage}, "SPANS payload (schema_id 's'): not an Arrow IPC stream");
  auto truncated = SpansWithIds();
  truncated.record.resize(truncated.record.size() - 9);
  ExpectInvalid({truncated}, "SPANS payload (schema_id 's'): ");
  auto empty = SpansWithIds();
  empty.record.clear();
  ExpectInvalid({empty}, "SPANS payload (schema_id 's'): empty record");
  // Two record batches in one payload.
  auto batch = Batch(SpanIds(1));
  testing::PayloadStream stream;
  int counter = 0;
  std::string id;
  auto two = WholePayload("s", OtapPayloadType::kSpans, *batch);
  two.record = stream.Write(*batch, &counter, arrow::Compression::UNCOMPRESSED, &id);
  two.record += stream.Write(*batch, &counter, arrow::Compression::UNCOMPRESSED, &id);
  ExpectInvalid({two}, "holds 2 record batches, expected 1");
  // One record batch, then the start of another message.
  auto cut = WholePayload("s", OtapPayloadType::kSpans, *batch);
  cut.record +=
      stream.Write(*batch, &counter, arrow::Compression::UNCOMPRESSED, &id).substr(0, 12);
  ExpectInvalid({cut}, "a message is cut short after the record batch");
  // A schema_id of another payload type.
  auto attrs = SpanAttrs(IntAttrs("[0, 1]"));
  attrs.schema_id = "s";
  ExpectInvalid(
      {SpansWithIds(), attrs},
      "SPAN_ATTRS payload: schema_id 's' is the IPC stream of another payload type");
}

// A refused batch still moves the stream's IPC state on: every payload is fed first.
TEST(OtapTracesInvalid, ARefusedBatchKeepsTheStreamInStep) {
  const auto request = model::RealisticSpans(300, 9);
  OtapTestProducer producer;
  ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make());
  auto first = testing::GoConsumerForm(request);
  ASSERT_OK(decoder->Decode(producer.Produce(request).Views()).status());
  auto other = model::RealisticSpans(300, 10);  // new values: dictionary deltas
  OtapBar refused = producer.Produce(other);
  auto bogus = refused.payloads[0];
  bogus.type = 99;
  bogus.schema_id = "bogus";
  refused.payloads.insert(refused.payloads.begin(), bogus);
  ASSERT_TRUE(decoder->Decode(refused.Views()).status().IsInvalid());
  const auto third_request = model::RealisticSpans(300, 11);
  auto third = decoder->Decode(producer.Produce(third_request).Views());
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  ASSERT_OK_AND_ASSIGN(auto actual, testing::ToOtlp(**third));
  testing::ExpectSameOtlp(testing::GoConsumerForm(third_request), actual);
}

TEST(OtapTracesInvalid, MemoryLimits) {
  const auto request = model::RealisticSpans(500, 4);
  {
    OtapTestProducer producer;
    OtapTraceStreamDecoderOptions options;
    options.max_stream_dictionary_bytes = 2000;
    ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make(options));
    const auto status = decoder->Decode(producer.Produce(request).Views()).status();
    ASSERT_TRUE(status.IsCapacityError()) << status.ToString();
    EXPECT_NE(status.message().find("max_stream_dictionary_bytes"), std::string::npos);
  }
  {
    OtapTestProducer producer;
    OtapTraceStreamDecoderOptions options;
    options.max_batch_decoded_bytes = 20000;
    ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make(options));
    const auto status = decoder->Decode(producer.Produce(request).Views()).status();
    ASSERT_TRUE(status.IsCapacityError()) << status.ToString();
  }
  {
    // Allocation while decoding stops at the stream's memory bound.
    OtapTestProducer producer;
    OtapTraceStreamDecoderOptions options;
    options.max_stream_dictionary_bytes = 1000;
    options.max_batch_decoded_bytes = 1000;
    ASSERT_OK_AND_ASSIGN(auto decoder, OtapTraceStreamDecoder::Make(options));
    const auto status = decoder->Decode(producer.Produce(request).Views()).status();
    ASSERT_TRUE(status.IsCapacityError()) << status.ToString();
  }
  OtapTraceStreamDecoderOptions bad;
  bad.max_batch_decoded_bytes = 0;
  EXPECT_TRUE(OtapTraceStreamDecoder::Make(bad).status().IsInvalid());
}

// Mutated streams (bytes flipped, payloads cut, duplicated, dropped, schema ids
// swapped): every outcome is a decoded batch or an error, never a crash (run under
// ASan and UBSan too).
TEST(OtapTracesInvalid, MutatedStreams) {
  std::vector<OtapBar> bars;
  for (auto compression : {arrow::Compression::ZSTD, arrow::Compression::UNCOMPRESSED}) {
    testing::OtapProducerOptions options;
    options.compression = compression;
    OtapTestProducer producer(options);
    for (int b = 0; b < 2; ++b)
      bars.push_back(producer.Produce(model::RandomSpans(30, 20 + b)));
  }
  std::mt19937_64 random(12345);
  int decoded = 0, refused = 0;
  for (int mutation = 0; mutation < 2500; ++mutation) {
    const size_t stream = (mutation % 2) * 2;  // bars [stream, stream + 1]
    std::vector<OtapBar> mutated = {bars[stream], bars[stream + 1]};
    OtapBar& bar = mutated[random() % 2];
    auto& payloads = bar.payloads;
    auto& payload = payloads[random() % payloads.size()];
    switch (random() % 6) {
      case 0:
      case 1: {  // flip 1 to 4 bytes
        const int flips = 1 + static_cast<int>(random() % 4);
        for (int f = 0; f < flips; ++f) {
          payload.record[random() % payload.record.size()] ^=
              static_cast<char>(1 + random() % 255);
        }
        break;
      }
      case 2:
        payload.record.resize(random() % payload.record.size());
        break;
      case 3:
        payloads.push_back(payload);
        break;
      case 4:
        payload.schema_id = payloads[random() % payloads.size()].schema_id;
        break;
      default:
        payloads.erase(payloads.begin() + static_cast<long>(random() % payloads.size()));
        break;
    }
    auto decoder = OtapTraceStreamDecoder::Make().ValueOrDie();
    for (const OtapBar& b : mutated) {
      auto traces = decoder->Decode(b.Views());
      if (!traces.ok()) {
        ASSERT_TRUE(traces.status().IsInvalid() || traces.status().IsCapacityError())
            << traces.status().ToString();
        ++refused;
        continue;
      }
      SpanTableEncoder encoder;
      ASSERT_OK((*traces)->AppendTo(&encoder));
      ASSERT_OK_AND_ASSIGN(auto table, encoder.Finish());
      ASSERT_OK(ValidateSpanTable(*table));
      ++decoded;
    }
  }
  EXPECT_GT(decoded, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace otlp_arrow::convert
