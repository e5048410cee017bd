// SPDX-License-Identifier: Apache-2.0
// SpanTableEncoder::AppendOtlpProtobuf (OTLP bytes → span table, no protobuf objects)
// gives exactly what parsing the bytes and encoding the message gives.

#include <fstream>
#include <random>
#include <sstream>

#include <arrow/api.h>
#include <arrow/util/utf8.h>
#include <gmock/gmock.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include "attributes_internal.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::convert {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

arrow::Result<std::shared_ptr<arrow::RecordBatch>> FromWire(std::string_view bytes) {
  SpanTableEncoder encoder;
  ARROW_RETURN_NOT_OK(encoder.AppendOtlpProtobuf(bytes));
  return encoder.Finish();
}

// Asserts the wire path agrees with protobuf's parser followed by the message path: same
// batch when both succeed, and it fails whenever protobuf cannot parse the bytes.
void ExpectSameAsParsing(std::string_view bytes) {
  otlp::ExportTraceServiceRequest parsed;
  const bool parses = parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  auto wire = FromWire(bytes);
  if (!parses) {
    EXPECT_FALSE(wire.ok()) << "protobuf refuses these bytes, the wire path took them";
    return;
  }
  auto message = SpanTableEncoder::Encode(parsed);
  ASSERT_EQ(wire.ok(), message.ok()) << "wire: " << wire.status().ToString()
                                     << " / message: " << message.status().ToString();
  if (!wire.ok()) {
    EXPECT_EQ(wire.status().message(), message.status().message());
    return;
  }
  // NaN attribute values must compare equal to themselves here.
  const auto options =
      arrow::EqualOptions::Defaults().nans_equal(true).signed_zeros_equal(false);
  EXPECT_TRUE((*wire)->Equals(**message, /*check_metadata=*/true, options));
  for (int i = 0; i < (*wire)->num_columns(); ++i) {
    EXPECT_TRUE((*wire)->column(i)->Equals(*(*message)->column(i), options))
        << "column " << (*wire)->schema()->field(i)->name();
  }
  EXPECT_TRUE((*wire)->ValidateFull().ok());
}

TEST(SpanTableWire, RandomSpansAndWorkloads) {
  for (uint64_t seed : {31, 32, 33}) {
    SCOPED_TRACE(seed);
    ExpectSameAsParsing(model::RandomSpans(3000, seed).SerializeAsString());
  }
  for (const char* name : {"seed", "otel", "realistic"}) {
    SCOPED_TRACE(name);
    ExpectSameAsParsing(model::MakeWorkload(name, 2000).ValueOrDie().SerializeAsString());
  }
}

TEST(SpanTableWire, RequestMadeByThePythonSdk) {
  std::ifstream in(
      std::string(OTLP_ARROW_SOURCE_DIR) + "/tests/fixtures/python_sdk_traces.binpb",
      std::ios::binary);
  ASSERT_TRUE(in.good());
  std::stringstream bytes;
  bytes << in.rdbuf();
  ExpectSameAsParsing(bytes.str());
  auto batch = FromWire(bytes.str());
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ((*batch)->num_rows(), 5);
}

TEST(SpanTableWire, UnknownFieldsAreSkipped) {
  auto request = model::RandomSpans(200, 5);
  auto* span =
      request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  auto* unknown = span->GetReflection()->MutableUnknownFields(span);
  unknown->AddVarint(77, 5);
  unknown->AddLengthDelimited(78, "future field");
  unknown->AddFixed32(79, 7);
  unknown->AddFixed64(80, 9);
  auto* rs = request.mutable_resource_spans(0);
  rs->GetReflection()->MutableUnknownFields(rs)->AddLengthDelimited(99, "x");
  ExpectSameAsParsing(request.SerializeAsString());
}

TEST(SpanTableWire, FieldsInAnyOrder) {
  // A ScopeSpans whose scope and schema URL come after its spans, and a span whose id
  // comes last: legal protobuf that protobuf's own serializer never writes.
  auto request = model::RandomSpans(20, 6);
  const auto& ss = request.resource_spans(0).scope_spans(0);
  std::string scope_spans;
  for (const auto& span : ss.spans()) {
    otlp::Span rest = span;
    rest.clear_trace_id();
    std::string body = rest.SerializeAsString();
    otlp::Span id_only;
    id_only.set_trace_id(span.trace_id());
    body += id_only.SerializeAsString();
    otlp::ScopeSpans holder;
    holder.add_spans()->ParseFromString(body);
    scope_spans += holder.SerializeAsString();
  }
  otlp::ScopeSpans tail;
  *tail.mutable_scope() = ss.scope();
  tail.set_schema_url(ss.schema_url());
  scope_spans += tail.SerializeAsString();
  otlp::ResourceSpans rs_tail;
  *rs_tail.mutable_resource() = request.resource_spans(0).resource();
  otlp::ResourceSpans holder;
  holder.add_scope_spans()->ParseFromString(scope_spans);
  otlp::ExportTraceServiceRequest out;
  out.add_resource_spans()->ParseFromString(holder.SerializeAsString() +
                                            rs_tail.SerializeAsString());
  // Protobuf re-serializes canonically; build the unusual order by hand instead.
  std::string rs_bytes;
  {
    std::string ss_field;
    ss_field.push_back(0x12);  // ResourceSpans.scope_spans, LEN
    std::string len;
    size_t n = scope_spans.size();
    while (n >= 0x80) {
      len.push_back(static_cast<char>(n | 0x80));
      n >>= 7;
    }
    len.push_back(static_cast<char>(n));
    rs_bytes = ss_field + len + scope_spans + rs_tail.SerializeAsString();
  }
  std::string request_bytes;
  {
    std::string len;
    size_t n = rs_bytes.size();
    while (n >= 0x80) {
      len.push_back(static_cast<char>(n | 0x80));
      n >>= 7;
    }
    len.push_back(static_cast<char>(n));
    request_bytes = std::string(1, 0x0a) + len + rs_bytes;
  }
  ExpectSameAsParsing(request_bytes);
  auto batch = FromWire(request_bytes);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ((*batch)->num_rows(), 20);
}

TEST(SpanTableWire, EveryTruncationIsRefusedOrExact) {
  const std::string bytes = model::RandomSpans(3, 7).SerializeAsString();
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    ExpectSameAsParsing(std::string_view(bytes).substr(0, n));
  }
}

TEST(SpanTableWire, RandomCorruptionNeverCrashesAndAgreesWithProtobuf) {
  const std::string original = model::RandomSpans(40, 8).SerializeAsString();
  std::mt19937_64 rng(8);
  for (int i = 0; i < 5000; ++i) {
    std::string bytes = original;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f)
      bytes[rng() % bytes.size()] = static_cast<char>(rng());
    SCOPED_TRACE(i);
    ExpectSameAsParsing(bytes);
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(SpanTableWire, ErrorsNameTheField) {
  auto request = model::SeedSpans(3);
  request.mutable_resource_spans(0)
      ->mutable_scope_spans(0)
      ->mutable_spans(1)
      ->set_span_id("x");
  auto wire = FromWire(request.SerializeAsString());
  ASSERT_FALSE(wire.ok());
  EXPECT_THAT(
      wire.status().message(),
      HasSubstr("resource_spans[0].scope_spans[0].spans[1].span_id: expected 8 bytes"));
  auto garbage = FromWire("\x0a\x05\x12\x03\x12\x01");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.status().message(), HasSubstr("malformed protobuf"));
}

// The resource and scope are read once, by hand: what protobuf refuses in them must be
// refused also when no span carries them into the batch, and in fields not stored.
TEST(SpanTableWire, ResourceAndScopeAreCheckedWithoutSpansToo) {
  for (const bool spans : {true, false}) {
    for (const char* where : {"resource", "scope"}) {
      SCOPED_TRACE(std::string(where) + (spans ? " with spans" : " without spans"));
      auto request = model::SeedSpans(2);
      auto* rs = request.mutable_resource_spans(0);
      if (!spans) rs->mutable_scope_spans(0)->clear_spans();
      auto* kv = std::string(where) == "resource"
                     ? rs->mutable_resource()->add_attributes()
                     : rs->mutable_scope_spans(0)->mutable_scope()->add_attributes();
      kv->set_key("k");
      kv->mutable_value()->set_string_value("bad\xff");
      std::string bytes;
      request.SerializePartialToString(&bytes);
      auto wire = FromWire(bytes);
      ASSERT_FALSE(wire.ok());
      EXPECT_THAT(wire.status().message(),
                  AllOf(HasSubstr(std::string(where) + ".attributes["),
                        HasSubstr("not valid UTF-8")));
      ExpectSameAsParsing(bytes);
    }
  }
  // A malformed entity reference (not stored) is refused as protobuf refuses it.
  auto request = model::SeedSpans(1);
  std::string resource;
  request.resource_spans(0).resource().SerializeToString(&resource);
  resource += std::string("\x1a\x02\x0a\x05", 4);  // entity_refs: a string cut short
  std::string resource_spans;
  resource_spans +=
      std::string("\x0a", 1) + static_cast<char>(resource.size()) + resource;
  std::string bytes =
      std::string("\x0a", 1) + static_cast<char>(resource_spans.size()) + resource_spans;
  ASSERT_LT(resource.size(), 128u);
  ASSERT_LT(resource_spans.size(), 128u);
  auto wire = FromWire(bytes);
  ASSERT_FALSE(wire.ok());
  EXPECT_THAT(wire.status().message(), HasSubstr("entity_refs"));
  ExpectSameAsParsing(bytes);
}

TEST(SpanTableWire, InvalidUtf8IsRefused) {
  auto request = model::SeedSpans(2);
  request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(1)->set_name(
      "bad\xff");
  std::string bytes;
  request.SerializePartialToString(&bytes);
  auto wire = FromWire(bytes);
  ASSERT_FALSE(wire.ok());
  EXPECT_THAT(wire.status().message(), HasSubstr("spans[1].name: not valid UTF-8"));
}

// Keys and string values are checked for UTF-8 when they first go into the batch's
// dictionary; a bad one must be refused wherever it comes, also after valid ones at the
// same position.
TEST(SpanTableWire, InvalidUtf8InAttributesIsRefusedWhereverItIs) {
  for (const bool in_key : {true, false}) {
    SCOPED_TRACE(in_key ? "key" : "value");
    auto request = model::SeedSpans(3);
    auto* kv = request.mutable_resource_spans(0)
                   ->mutable_scope_spans(0)
                   ->mutable_spans(2)
                   ->mutable_attributes(0);
    if (in_key) {
      kv->set_key("http.\xffmethod");
    } else {
      kv->mutable_value()->set_string_value("G\xffT");
    }
    std::string bytes;
    request.SerializePartialToString(&bytes);
    auto wire = FromWire(bytes);
    ASSERT_FALSE(wire.ok());
    EXPECT_THAT(wire.status().message(),
                AllOf(HasSubstr("spans[2].attributes[0]"), HasSubstr("not valid UTF-8")));
    ExpectSameAsParsing(bytes);
  }
}

// protobuf checks every occurrence of a repeated string field, not only the one that
// wins.
TEST(SpanTableWire, InvalidEarlierOccurrenceOfAKeyOrValueIsRefused) {
  auto field = [](int number, const std::string& bytes) {
    std::string out(1, static_cast<char>(number << 3 | 2));
    size_t n = bytes.size();
    while (n >= 0x80) {
      out += static_cast<char>((n & 0x7f) | 0x80);
      n >>= 7;
    }
    out += static_cast<char>(n);
    return out + bytes;
  };
  auto span = model::SeedSpans(1).resource_spans(0).scope_spans(0).spans(0);
  span.clear_attributes();
  const std::string span_bytes = span.SerializeAsString();
  auto request_with = [&](const std::string& key_value) {
    return field(1, field(2, field(2, span_bytes + field(9, key_value))));
  };
  const std::string bad_key = field(1, "\xff") + field(1, "ok") + field(2, field(1, "v"));
  const std::string bad_value =
      field(1, "k") + field(2, field(1, "\xff") + field(1, "v"));
  const std::string good = field(1, "k") + field(2, field(1, "x") + field(1, "v"));
  for (const auto& kv : {bad_key, bad_value}) {
    auto wire = FromWire(request_with(kv));
    ASSERT_FALSE(wire.ok());
    EXPECT_THAT(wire.status().message(), HasSubstr("not valid UTF-8"));
    ExpectSameAsParsing(request_with(kv));
  }
  ExpectSameAsParsing(request_with(good));
  ASSERT_TRUE(FromWire(request_with(good)).ok());
}

// The encoder's ASCII shortcut must agree with Arrow's validator on every length and
// wherever the non-ASCII bytes sit (first word, middle, the overlapping tail, < 8 bytes).
TEST(SpanTableWire, Utf8CheckAgreesWithArrowEverywhereInAString) {
  arrow::util::InitializeUTF8();
  const std::vector<std::string> inserts = {
      "\x80",     "\xc3",         "\xff",
      "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
      "\xe2\x82", "\xed\xa0\x80", std::string(1, '\0')};
  int invalid = 0;
  for (size_t size = 0; size <= 40; ++size) {
    for (size_t at = 0; at <= size; ++at) {
      for (const auto& insert : inserts) {
        std::string text(size, 'a');
        text.replace(at, std::min(insert.size(), size - at), insert);
        const bool expected = arrow::util::ValidateUTF8(text);
        invalid += !expected;
        ASSERT_EQ(internal::ValidUtf8(text), expected)
            << "size " << size << " at " << at << " insert " << insert.size() << " bytes";
      }
    }
  }
  EXPECT_GT(invalid, 0);
}

}  // namespace
}  // namespace otlp_arrow::convert
