// SPDX-License-Identifier: Apache-2.0
// Tests of the OTLP/JSON codec: AnyValue and base64, whole trace requests both ways, the
// OTLP specification's form of the encoding, and the errors bad input must give.

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../common/test_macros_internal.h"
#include "otlp_arrow/model/otlp_json.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::model {
namespace {

using ::testing::HasSubstr;

// Whether `st` is Invalid with a message containing `needle`.
::testing::AssertionResult IsInvalidWith(const arrow::Status& st,
                                         std::string_view needle) {
  if (st.IsInvalid() && st.message().find(needle) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected Invalid containing \"" << needle << "\", got " << st.ToString();
}

std::string ToJson(const otlp::ExportTraceServiceRequest& request) {
  std::string json;
  EXPECT_OK(TraceRequestToJson(request, &json));
  return json;
}

otlp::ExportTraceServiceRequest FromJson(std::string_view json) {
  otlp::ExportTraceServiceRequest request;
  EXPECT_OK(TraceRequestFromJson(json, &request));
  return request;
}

void ExpectRoundTrip(const otlp::ExportTraceServiceRequest& request) {
  const std::string json = ToJson(request);
  otlp::ExportTraceServiceRequest parsed;
  ASSERT_OK(TraceRequestFromJson(json, &parsed));
  ASSERT_EQ(otlp::DeterministicBytes(parsed), otlp::DeterministicBytes(request));
  // Encoding is a function of the message: the parsed copy writes the same text.
  EXPECT_EQ(ToJson(parsed), json);
}

// Expects `json` to be refused with Invalid and a message containing `message`.
void ExpectInvalid(std::string_view json, std::string_view message) {
  otlp::ExportTraceServiceRequest request;
  const arrow::Status st = TraceRequestFromJson(json, &request);
  EXPECT_TRUE(st.IsInvalid()) << st.ToString() << "\n  for " << json;
  EXPECT_THAT(st.message(), HasSubstr(std::string(message))) << "for " << json;
}

// A request with one span whose members are `span_members`.
std::string SpanDoc(std::string_view span_members) {
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[{)" + std::string(span_members) +
         "}]}]}]}";
}

constexpr std::string_view kSpanPath = "$.resourceSpans[0].scopeSpans[0].spans[0]";

// --- AnyValue and base64 ---------------------------------------------------------------

std::string AnyJson(const otlp::AnyValue& value) {
  std::string json;
  EXPECT_OK(AnyValueToJson(value, &json));
  return json;
}

otlp::AnyValue AnyFromJson(std::string_view json) {
  otlp::AnyValue value;
  EXPECT_OK(AnyValueFromJson(json, &value));
  return value;
}

TEST(AnyValueJson, EachKind) {
  otlp::AnyValue v;
  EXPECT_EQ(AnyJson(v), "{}");

  v.set_string_value("a\"b\\c\n\x01é");
  EXPECT_EQ(AnyJson(v), R"({"stringValue":"a\"b\\c\n\u0001é"})");
  EXPECT_EQ(AnyFromJson(AnyJson(v)).string_value(), v.string_value());

  v.set_bool_value(false);
  EXPECT_EQ(AnyJson(v), R"({"boolValue":false})");
  EXPECT_EQ(AnyFromJson(AnyJson(v)).value_case(), otlp::AnyValue::kBoolValue);

  v.set_int_value(std::numeric_limits<int64_t>::min());
  EXPECT_EQ(AnyJson(v), R"({"intValue":"-9223372036854775808"})");
  EXPECT_EQ(AnyFromJson(AnyJson(v)).int_value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(AnyFromJson(R"({"intValue":42})").int_value(), 42);  // numbers too

  v.set_double_value(0.1);
  EXPECT_EQ(AnyJson(v), R"({"doubleValue":0.1})");
  EXPECT_EQ(AnyFromJson(R"({"doubleValue":"1.5"})").double_value(), 1.5);

  v.set_bytes_value(std::string("\x00\x01\xfe\xff", 4));
  EXPECT_EQ(AnyJson(v), R"({"bytesValue":"AAH+/w=="})");
  EXPECT_EQ(AnyFromJson(AnyJson(v)).bytes_value(), v.bytes_value());

  v.mutable_array_value()->add_values()->set_int_value(1);
  v.mutable_array_value()->add_values();
  EXPECT_EQ(AnyJson(v), R"({"arrayValue":{"values":[{"intValue":"1"},{}]}})");
  EXPECT_EQ(otlp::DeterministicBytes(AnyFromJson(AnyJson(v))),
            otlp::DeterministicBytes(v));

  auto* kv = v.mutable_kvlist_value()->add_values();
  kv->set_key("k");
  kv->mutable_value()->set_bool_value(true);
  v.mutable_kvlist_value()->add_values()->set_key("no value");
  EXPECT_EQ(AnyJson(v),
            R"({"kvlistValue":{"values":[{"key":"k","value":{"boolValue":true}},)"
            R"({"key":"no value"}]}})");
  EXPECT_EQ(otlp::DeterministicBytes(AnyFromJson(AnyJson(v))),
            otlp::DeterministicBytes(v));

  v.set_string_value_strindex(7);
  EXPECT_EQ(AnyJson(v), R"({"stringValueStrindex":7})");
  EXPECT_EQ(AnyFromJson(AnyJson(v)).string_value_strindex(), 7);

  // Empty containers are still values of their kind.
  v.mutable_array_value();
  EXPECT_EQ(AnyJson(v), R"({"arrayValue":{"values":[]}})");
  EXPECT_EQ(AnyFromJson(AnyJson(v)).value_case(), otlp::AnyValue::kArrayValue);
}

TEST(AnyValueJson, SnakeCaseAndNull) {
  EXPECT_EQ(AnyFromJson(R"({"string_value":"x"})").string_value(), "x");
  EXPECT_EQ(AnyFromJson(R"({"int_value":"-3"})").int_value(), -3);
  EXPECT_EQ(AnyFromJson(R"({"kvlist_value":{"values":[{"key":"a"}]}})")
                .kvlist_value()
                .values(0)
                .key(),
            "a");
  // null is absent, and so is an unknown key.
  EXPECT_EQ(
      AnyFromJson(R"({"stringValue":null,"boolValue":true,"future":1})").value_case(),
      otlp::AnyValue::kBoolValue);
}

TEST(AnyValueJson, Doubles) {
  otlp::AnyValue v;
  v.set_double_value(-0.0);
  EXPECT_EQ(AnyJson(v), R"({"doubleValue":-0.0})");
  const double negative_zero = AnyFromJson(AnyJson(v)).double_value();
  EXPECT_EQ(negative_zero, 0.0);
  EXPECT_TRUE(std::signbit(negative_zero));

  v.set_double_value(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(AnyJson(v), R"({"doubleValue":"NaN"})");
  EXPECT_TRUE(std::isnan(AnyFromJson(AnyJson(v)).double_value()));

  v.set_double_value(std::numeric_limits<double>::infinity());
  EXPECT_EQ(AnyJson(v), R"({"doubleValue":"Infinity"})");
  EXPECT_EQ(AnyFromJson(AnyJson(v)).double_value(), v.double_value());

  v.set_double_value(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(AnyJson(v), R"({"doubleValue":"-Infinity"})");
  EXPECT_EQ(AnyFromJson(AnyJson(v)).double_value(), v.double_value());

  for (double d : {std::numeric_limits<double>::denorm_min(),
                   std::numeric_limits<double>::max(), -1e-300, 1.0 / 3}) {
    v.set_double_value(d);
    EXPECT_EQ(AnyFromJson(AnyJson(v)).double_value(), d) << AnyJson(v);
  }
}

TEST(AnyValueJson, Errors) {
  otlp::AnyValue v;
  EXPECT_TRUE(IsInvalidWith(AnyValueFromJson(R"({"stringValue":"x","intValue":"1"})", &v),
                            "$: more than one value in an AnyValue"));
  EXPECT_TRUE(IsInvalidWith(AnyValueFromJson(R"({"intValue":"1.5"})", &v), "$.intValue"));
  EXPECT_TRUE(
      IsInvalidWith(AnyValueFromJson(R"({"boolValue":"true"})", &v), "$.boolValue"));
  EXPECT_TRUE(IsInvalidWith(AnyValueFromJson(R"({"bytesValue":"a b"})", &v),
                            "$.bytesValue: not base64"));
  EXPECT_TRUE(IsInvalidWith(AnyValueFromJson(R"({"arrayValue":{"values":[{},1]}})", &v),
                            "$.arrayValue.values[1]: expected an object"));
  EXPECT_TRUE(
      IsInvalidWith(AnyValueFromJson(R"({"stringValue":)", &v), "not valid JSON"));

  std::string json;
  v.set_string_value("\xff");
  EXPECT_TRUE(IsInvalidWith(AnyValueToJson(v, &json), "UTF-8"));
}

TEST(Base64, Rfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    std::string decoded = "stale";
    ASSERT_OK(Base64Decode(encoded, &decoded));
    EXPECT_EQ(decoded, plain);
  }
}

TEST(Base64, UrlSafeAndUnpadded) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  std::string decoded;
  ASSERT_OK(Base64Decode("-_-_", &decoded));
  EXPECT_EQ(decoded, bytes);
  ASSERT_OK(Base64Decode("Zm8", &decoded));
  EXPECT_EQ(decoded, "fo");
  ASSERT_OK(Base64Decode("Zg", &decoded));
  EXPECT_EQ(decoded, "f");
}

TEST(Base64, RejectsBadInput) {
  std::string decoded;
  for (const char* bad : {"Zm9v!", "Zm 9v", "Zm9v\n", "Zg=a", "Z", "Zm9vY", "Zm9\x80",
                          "Zg===", "Zh==", "Zm9=", "Zg="}) {
    EXPECT_TRUE(IsInvalidWith(Base64Decode(bad, &decoded), "not base64")) << bad;
  }
}

TEST(AnyValueJson, DeepNestingIsRefusedNotACrash) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "{\"arrayValue\":{\"values\":[";
  for (int i = 0; i < 100000; ++i) deep += "]}}";
  otlp::AnyValue value;
  EXPECT_FALSE(AnyValueFromJson(deep, &value).ok());
  otlp::ArrayValue array;
  EXPECT_FALSE(ArrayValueFromJson("{\"values\":[" + deep + "]}", &array).ok());
}

TEST(AnyValueJson, StrindexOutOfInt32RangeIsRefused) {
  otlp::AnyValue value;
  EXPECT_FALSE(AnyValueFromJson(R"({"stringValueStrindex": 4294967297})", &value).ok());
  otlp::KeyValueList list;
  EXPECT_FALSE(KeyValueListFromJson(
                   R"({"values":[{"key":"k","keyStrindex":"-4294967297"}]})", &list)
                   .ok());
}

// --- whole requests: round trips -------------------------------------------------------

TEST(TraceRequestJson, RoundTripRandomSpans) {
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(seed);
    ExpectRoundTrip(RandomSpans(2000, seed));
  }
}

TEST(TraceRequestJson, RoundTripWorkloads) {
  for (const char* name : {"seed", "otel", "realistic"}) {
    SCOPED_TRACE(name);
    auto request = MakeWorkload(name, 1000);
    ASSERT_TRUE(request.ok()) << request.status().ToString();
    ExpectRoundTrip(*request);
  }
}

TEST(TraceRequestJson, RoundTripEveryField) {
  // Fields the workloads leave alone: entity refs, strindex forms, open enum values, and
  // sub-messages that are present but empty.
  otlp::ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  auto* resource = rs->mutable_resource();
  resource->set_dropped_attributes_count(3);
  auto* ref = resource->add_entity_refs();
  ref->set_schema_url("https://opentelemetry.io/schemas/1.30.0");
  ref->set_type("service");
  ref->add_id_keys("service.name");
  ref->add_id_keys("service.namespace");
  ref->add_description_keys("service.version");
  resource->add_entity_refs();  // an empty one
  auto* kv = resource->add_attributes();
  kv->set_key_strindex(5);
  kv->mutable_value()->set_string_value_strindex(9);
  rs->add_scope_spans()->mutable_scope();  // empty scope, no spans
  auto* ss = rs->add_scope_spans();
  ss->set_schema_url("s");
  auto* span = ss->add_spans();
  span->set_kind(static_cast<otlp::Span::SpanKind>(17));
  span->mutable_status()->set_code(static_cast<otlp::Status::StatusCode>(-4));
  span->add_links()->set_flags(std::numeric_limits<uint32_t>::max());
  span->add_events();
  ss->add_spans()->mutable_status();  // present, empty
  request.add_resource_spans();       // entirely empty
  ExpectRoundTrip(request);
  ExpectRoundTrip(otlp::ExportTraceServiceRequest());
}

TEST(TraceRequestJson, ParsesIntoArena) {
  const auto request = RandomSpans(300, 7);
  google::protobuf::Arena arena;
  auto* parsed =
      google::protobuf::Arena::CreateMessage<otlp::ExportTraceServiceRequest>(&arena);
  ASSERT_OK(TraceRequestFromJson(ToJson(request), parsed));
  EXPECT_EQ(otlp::DeterministicBytes(*parsed), otlp::DeterministicBytes(request));
}

TEST(TraceRequestJson, FromJsonReplacesContents) {
  auto request = RandomSpans(10, 1);
  ASSERT_OK(TraceRequestFromJson(R"({"resourceSpans":[{}]})", &request));
  ASSERT_EQ(request.resource_spans_size(), 1);
  EXPECT_FALSE(request.resource_spans(0).has_resource());
}

// --- the form the OTLP specification gives ---------------------------------------------

// The OTLP specification's example request (opentelemetry-proto examples/trace.json),
// with an event, a link, a status and an intValue added: upper-case hex ids, integers as
// strings and as numbers, kind as an integer.
constexpr std::string_view kSpecExample = R"({
  "resourceSpans": [
    {
      "resource": {
        "attributes": [
          { "key": "service.name", "value": { "stringValue": "my.service" } }
        ]
      },
      "scopeSpans": [
        {
          "scope": {
            "name": "my.library",
            "version": "1.0.0",
            "attributes": [
              { "key": "my.scope.attribute",
                "value": { "stringValue": "some scope attribute" } }
            ]
          },
          "spans": [
            {
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "EEE19B7EC3C1B174",
              "parentSpanId": "EEE19B7EC3C1B173",
              "name": "I'm a server span",
              "startTimeUnixNano": "1544712660000000000",
              "endTimeUnixNano": 1544712661000000000,
              "kind": 2,
              "attributes": [
                { "key": "my.span.attr", "value": { "stringValue": "some value" } },
                { "key": "http.response.status_code", "value": { "intValue": "200" } }
              ],
              "events": [
                { "timeUnixNano": "1544712660500000000", "name": "retry",
                  "attributes": [ { "key": "attempt", "value": { "intValue": 2 } } ] }
              ],
              "links": [
                { "traceId": "5b8efff798038103d269b633813fc60d",
                  "spanId": "eee19b7ec3c1b175",
                  "traceState": "k=v", "flags": 256 }
              ],
              "flags": 257,
              "status": { "code": 2, "message": "boom" }
            }
          ]
        }
      ]
    }
  ]
})";

// The same request with snake_case keys, enum names, and mixed-case hex.
constexpr std::string_view kSnakeCaseExample = R"({
  "resource_spans": [{
    "resource": {"attributes": [{"key": "service.name",
                                 "value": {"string_value": "my.service"}}]},
    "scope_spans": [{
      "scope": {"name": "my.library", "version": "1.0.0",
                "attributes": [{"key": "my.scope.attribute",
                                "value": {"string_value": "some scope attribute"}}]},
      "spans": [{
        "trace_id": "5b8efff798038103D269B633813FC60C",
        "span_id": "eee19b7ec3c1b174",
        "parent_span_id": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "start_time_unix_nano": 1544712660000000000,
        "end_time_unix_nano": "1544712661000000000",
        "kind": "SPAN_KIND_SERVER",
        "attributes": [
          {"key": "my.span.attr", "value": {"string_value": "some value"}},
          {"key": "http.response.status_code", "value": {"int_value": 200}}],
        "events": [{"time_unix_nano": "1544712660500000000", "name": "retry",
                    "attributes": [{"key": "attempt", "value": {"int_value": "2"}}]}],
        "links": [{"trace_id": "5B8EFFF798038103D269B633813FC60D",
                   "span_id": "EEE19B7EC3C1B175", "trace_state": "k=v", "flags": "256"}],
        "flags": "257",
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"}
      }]
    }]
  }]
})";

TEST(TraceRequestJson, ParsesSpecificationExample) {
  const auto request = FromJson(kSpecExample);
  ASSERT_EQ(request.resource_spans_size(), 1);
  const auto& rs = request.resource_spans(0);
  ASSERT_TRUE(rs.has_resource());
  ASSERT_EQ(rs.resource().attributes_size(), 1);
  EXPECT_EQ(rs.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "my.service");
  ASSERT_EQ(rs.scope_spans_size(), 1);
  const auto& ss = rs.scope_spans(0);
  EXPECT_EQ(ss.scope().name(), "my.library");
  EXPECT_EQ(ss.scope().version(), "1.0.0");
  EXPECT_EQ(ss.scope().attributes(0).value().string_value(), "some scope attribute");
  ASSERT_EQ(ss.spans_size(), 1);
  const auto& span = ss.spans(0);
  EXPECT_EQ(span.trace_id(),
            "\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0c");
  EXPECT_EQ(span.span_id(), "\xee\xe1\x9b\x7e\xc3\xc1\xb1\x74");
  EXPECT_EQ(span.parent_span_id(), "\xee\xe1\x9b\x7e\xc3\xc1\xb1\x73");
  EXPECT_EQ(span.name(), "I'm a server span");
  EXPECT_EQ(span.start_time_unix_nano(), 1544712660000000000u);
  EXPECT_EQ(span.end_time_unix_nano(), 1544712661000000000u);
  EXPECT_EQ(span.kind(), otlp::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(span.flags(), 257u);
  ASSERT_EQ(span.attributes_size(), 2);
  EXPECT_EQ(span.attributes(0).value().string_value(), "some value");
  EXPECT_EQ(span.attributes(1).value().int_value(), 200);
  ASSERT_EQ(span.events_size(), 1);
  EXPECT_EQ(span.events(0).time_unix_nano(), 1544712660500000000u);
  EXPECT_EQ(span.events(0).name(), "retry");
  EXPECT_EQ(span.events(0).attributes(0).value().int_value(), 2);
  ASSERT_EQ(span.links_size(), 1);
  EXPECT_EQ(span.links(0).trace_id(),
            "\x5b\x8e\xff\xf7\x98\x03\x81\x03\xd2\x69\xb6\x33\x81\x3f\xc6\x0d");
  EXPECT_EQ(span.links(0).span_id(), "\xee\xe1\x9b\x7e\xc3\xc1\xb1\x75");
  EXPECT_EQ(span.links(0).trace_state(), "k=v");
  EXPECT_EQ(span.links(0).flags(), 256u);
  ASSERT_TRUE(span.has_status());
  EXPECT_EQ(span.status().code(), otlp::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(span.status().message(), "boom");
}

TEST(TraceRequestJson, SnakeCaseAndEnumNamesParseTheSame) {
  EXPECT_EQ(otlp::DeterministicBytes(FromJson(kSnakeCaseExample)),
            otlp::DeterministicBytes(FromJson(kSpecExample)));
}

TEST(TraceRequestJson, NullIsAbsentAndUnknownKeysAreIgnored) {
  const auto request = FromJson(R"({
    "future": {"x": [1, 2]},
    "resourceSpans": [{
      "resource": null, "schemaUrl": null, "droppedEverything": 1,
      "scopeSpans": [{
        "scope": null, "spans": [{
          "traceId": null, "spanId": "", "name": null, "kind": null, "status": null,
          "attributes": null, "events": null, "startTimeUnixNano": null,
          "links": [{"flags": null, "whatever": "x"}]
        }]
      }]
    }]
  })");
  ASSERT_EQ(request.resource_spans_size(), 1);
  EXPECT_FALSE(request.resource_spans(0).has_resource());
  EXPECT_FALSE(request.resource_spans(0).scope_spans(0).has_scope());
  const auto& span = request.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(otlp::DeterministicBytes(span.links(0)), "");
  otlp::Span expected;
  expected.add_links();
  EXPECT_EQ(otlp::DeterministicBytes(span), otlp::DeterministicBytes(expected));
}

TEST(TraceRequestJson, EntityRefsBothWays) {
  const auto request = FromJson(R"({"resourceSpans":[{"resource":{"entity_refs":[
      {"schema_url":"u","type":"service","id_keys":["service.name"],
       "description_keys":["a","b"]}]}}]})");
  const auto& ref = request.resource_spans(0).resource().entity_refs(0);
  EXPECT_EQ(ref.schema_url(), "u");
  EXPECT_EQ(ref.type(), "service");
  EXPECT_THAT(ref.id_keys(), ::testing::ElementsAre("service.name"));
  EXPECT_THAT(ref.description_keys(), ::testing::ElementsAre("a", "b"));
  EXPECT_EQ(
      ToJson(request),
      R"({"resourceSpans":[{"resource":{"entityRefs":[{"schemaUrl":"u",)"
      R"("type":"service","idKeys":["service.name"],"descriptionKeys":["a","b"]}]}}]})");
}

// --- whole requests: the text written --------------------------------------------------

TEST(TraceRequestJson, WritesOtlpForm) {
  otlp::ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  rs->mutable_resource();
  auto* span = rs->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(
      "\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc\xba\x98\x76\x54\x32\x10", 16));
  span->set_span_id(std::string("\x00\x00\x00\x00\x00\x00\x00\xff", 8));
  span->set_parent_span_id(std::string("\xab\xcd\xab\xcd\xab\xcd\xab\xcd", 8));
  span->set_name("n");
  span->set_kind(otlp::Span::SPAN_KIND_CLIENT);
  span->set_flags(0x301);
  span->set_start_time_unix_nano(std::numeric_limits<uint64_t>::max());
  span->set_end_time_unix_nano(1);
  auto add = [&](const char* key) {
    auto* kv = span->add_attributes();
    kv->set_key(key);
    return kv->mutable_value();
  };
  add("neg0")->set_double_value(-0.0);
  add("nan")->set_double_value(std::numeric_limits<double>::quiet_NaN());
  add("inf")->set_double_value(std::numeric_limits<double>::infinity());
  add("-inf")->set_double_value(-std::numeric_limits<double>::infinity());
  add("bytes")->set_bytes_value("\xfb\xff");
  add("int")->set_int_value(-1);
  auto* event = span->add_events();
  event->set_time_unix_nano(5);
  auto* link = span->add_links();
  link->set_trace_id(std::string(16, '\xAA'));
  link->set_span_id(std::string(8, '\x0B'));
  span->mutable_status()->set_code(otlp::Status::STATUS_CODE_OK);

  EXPECT_EQ(ToJson(request),
            R"({"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{)"
            R"("traceId":"0123456789abcdeffedcba9876543210","spanId":"00000000000000ff",)"
            R"("parentSpanId":"abcdabcdabcdabcd","flags":769,"name":"n","kind":3,)"
            R"("startTimeUnixNano":"18446744073709551615","endTimeUnixNano":"1",)"
            R"("attributes":[{"key":"neg0","value":{"doubleValue":-0.0}},)"
            R"({"key":"nan","value":{"doubleValue":"NaN"}},)"
            R"({"key":"inf","value":{"doubleValue":"Infinity"}},)"
            R"({"key":"-inf","value":{"doubleValue":"-Infinity"}},)"
            R"({"key":"bytes","value":{"bytesValue":"+/8="}},)"
            R"({"key":"int","value":{"intValue":"-1"}}],)"
            R"("events":[{"timeUnixNano":"5"}],)"
            R"("links":[{"traceId":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",)"
            R"("spanId":"0b0b0b0b0b0b0b0b"}],)"
            R"("status":{"code":1}}]}]}]})");
}

TEST(TraceRequestJson, OmitsDefaults) {
  otlp::ExportTraceServiceRequest request;
  EXPECT_EQ(ToJson(request), "{}");
  auto* ss = request.add_resource_spans()->add_scope_spans();
  ss->add_spans();
  ss->add_spans()->mutable_status();
  EXPECT_EQ(ToJson(request),
            R"({"resourceSpans":[{"scopeSpans":[{"spans":[{},{"status":{}}]}]}]})");
}

TEST(TraceRequestJson, OutputIsValidJsonWithHexIds) {
  const auto request = RandomSpans(500, 11);
  const std::string text = ToJson(request);
  const auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded());
  int ids = 0;
  for (const auto& rs : doc["resourceSpans"]) {
    for (const auto& ss : rs.value("scopeSpans", nlohmann::json::array())) {
      for (const auto& span : ss.value("spans", nlohmann::json::array())) {
        for (const char* key : {"traceId", "spanId", "parentSpanId"}) {
          if (!span.contains(key)) continue;
          const std::string id = span[key].get<std::string>();
          EXPECT_EQ(id.size(), std::string_view(key) == "traceId" ? 32u : 16u);
          EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
          ++ids;
        }
        for (const char* key : {"startTimeUnixNano", "endTimeUnixNano"}) {
          if (span.contains(key)) {
            EXPECT_TRUE(span[key].is_string()) << key;
          }
        }
        if (span.contains("kind")) {
          EXPECT_TRUE(span["kind"].is_number_integer());
        }
      }
    }
  }
  EXPECT_GT(ids, 1000);
}

TEST(TraceRequestJson, AppendsAndLeavesOutputAloneOnError) {
  std::string out = "prefix:";
  ASSERT_OK(TraceRequestToJson(otlp::ExportTraceServiceRequest(), &out));
  EXPECT_EQ(out, "prefix:{}");

  otlp::ExportTraceServiceRequest bad;
  bad.add_resource_spans()->add_scope_spans()->add_spans()->set_name("ok \xc3");
  EXPECT_TRUE(IsInvalidWith(TraceRequestToJson(bad, &out), "UTF-8"));
  EXPECT_EQ(out, "prefix:{}");
}

// --- whole requests: bad input ---------------------------------------------------------

TEST(TraceRequestJson, MalformedJson) {
  ExpectInvalid("", "not valid JSON");
  ExpectInvalid(R"({"resourceSpans": [)", "not valid JSON");
  ExpectInvalid(R"({"resourceSpans": []} trailing)", "not valid JSON");
  ExpectInvalid("{\"resourceSpans\": [{\"schemaUrl\": \"\xff\"}]}", "not valid JSON");
  ExpectInvalid("[]", "$: expected an object");
  ExpectInvalid("42", "$: expected an object");
}

TEST(TraceRequestJson, WrongTypes) {
  ExpectInvalid(R"({"resourceSpans": {}})", "$.resourceSpans: expected an array");
  ExpectInvalid(R"({"resourceSpans": [7]})", "$.resourceSpans[0]: expected an object");
  ExpectInvalid(R"({"resourceSpans": [{"resource": []}]})",
                "$.resourceSpans[0].resource: expected an object");
  ExpectInvalid(R"({"resourceSpans": [{"scopeSpans": [{"spans": {}}]}]})",
                "$.resourceSpans[0].scopeSpans[0].spans: expected an array");
  ExpectInvalid(R"({"resourceSpans": [{"schemaUrl": 1}]})",
                "$.resourceSpans[0].schemaUrl: expected a string");
  ExpectInvalid(R"({"resourceSpans": [{"scopeSpans": [{"scope": {"name": true}}]}]})",
                "$.resourceSpans[0].scopeSpans[0].scope.name: expected a string");
  ExpectInvalid(R"({"resourceSpans":[{"resource":{"entityRefs":[{"idKeys":["a",1]}]}}]})",
                "$.resourceSpans[0].resource.entityRefs[0].idKeys[1]: expected a string");
  const std::string span_path(kSpanPath);
  ExpectInvalid(SpanDoc(R"("traceId": 5)"),
                span_path + ".traceId: expected a hex string");
  ExpectInvalid(SpanDoc(R"("name": ["x"])"), span_path + ".name: expected a string");
  ExpectInvalid(SpanDoc(R"("attributes": {})"),
                span_path + ".attributes: expected an array");
  ExpectInvalid(SpanDoc(R"("attributes": [{"key": 1}])"),
                span_path + ".attributes[0].key");
  ExpectInvalid(SpanDoc(R"("events": [null])"),
                span_path + ".events[0]: expected an object");
  ExpectInvalid(SpanDoc(R"("status": "ok")"), span_path + ".status: expected an object");
  ExpectInvalid(SpanDoc(R"("kind": true)"), span_path + ".kind: expected an integer");
  ExpectInvalid(SpanDoc(R"("kind": 2.5)"), span_path + ".kind: expected an integer");
  ExpectInvalid(SpanDoc(R"("flags": {})"), span_path + ".flags: expected an integer");
}

TEST(TraceRequestJson, BadIds) {
  const std::string span_path(kSpanPath);
  ExpectInvalid(SpanDoc(R"("traceId": "5B8EFFF798038103D269B633813FC60G")"),
                span_path + ".traceId: not hex at character 31");
  ExpectInvalid(SpanDoc(R"("spanId": "eee19b7e-3c1b174")"),
                span_path + ".spanId: not hex at character 8");
  ExpectInvalid(SpanDoc(R"("traceId": "5B8EFFF798038103D269B633813FC6")"),
                span_path + ".traceId: expected 32 hex digits, got 30");
  ExpectInvalid(SpanDoc(R"("parentSpanId": "EEE19B7EC3C1B17300")"),
                span_path + ".parentSpanId: expected 16 hex digits");
  // base64, as protobuf's own JSON mapping would write it, is not what OTLP asks for.
  ExpectInvalid(SpanDoc(R"("spanId": "7uGbfsPBsXQ=")"), span_path + ".spanId");
  ExpectInvalid(SpanDoc(R"("links": [{"traceId": "00"}])"),
                span_path + ".links[0].traceId: expected 32 hex digits");
  ExpectInvalid(SpanDoc(R"("links": [{}, {"spanId": "zzzzzzzzzzzzzzzz"}])"),
                span_path + ".links[1].spanId: not hex");
}

TEST(TraceRequestJson, IntegersOutOfRange) {
  const std::string span_path(kSpanPath);
  ExpectInvalid(SpanDoc(R"("startTimeUnixNano": "-1")"),
                span_path + ".startTimeUnixNano: expected an integer in range");
  ExpectInvalid(SpanDoc(R"("endTimeUnixNano": "18446744073709551616")"),
                span_path + ".endTimeUnixNano");
  ExpectInvalid(SpanDoc(R"("endTimeUnixNano": "12ns")"), span_path + ".endTimeUnixNano");
  ExpectInvalid(SpanDoc(R"("flags": 4294967296)"), span_path + ".flags");
  ExpectInvalid(SpanDoc(R"("droppedAttributesCount": -1)"),
                span_path + ".droppedAttributesCount");
  ExpectInvalid(SpanDoc(R"("events": [{"timeUnixNano": 1.5}])"),
                span_path + ".events[0].timeUnixNano");
  ExpectInvalid(SpanDoc(R"("kind": 2147483648)"),
                span_path + ".kind: enum value out of range");
  ExpectInvalid(SpanDoc(R"("attributes": [{"key": "a",)"
                        R"( "value": {"intValue": "9223372036854775808"}}])"),
                span_path + ".attributes[0].value.intValue");
}

TEST(TraceRequestJson, UnknownEnumNames) {
  const std::string span_path(kSpanPath);
  ExpectInvalid(SpanDoc(R"("kind": "SPAN_KIND_SERVERLESS")"),
                span_path + ".kind: unknown enum value name \"SPAN_KIND_SERVERLESS\"");
  ExpectInvalid(SpanDoc(R"("kind": "2")"), span_path + ".kind: unknown enum value name");
  ExpectInvalid(SpanDoc(R"("status": {"code": "STATUS_CODE_FINE"})"),
                span_path + ".status.code: unknown enum value name");
  // A Status name is not a SpanKind name.
  ExpectInvalid(SpanDoc(R"("kind": "STATUS_CODE_OK")"), span_path + ".kind");
}

TEST(TraceRequestJson, TwoValuesInOneAnyValue) {
  ExpectInvalid(SpanDoc(R"("attributes": [{"key": "a",)"
                        R"( "value": {"stringValue": "x", "boolValue": true}}])"),
                std::string(kSpanPath) +
                    ".attributes[0].value: more than one value in an AnyValue");
  ExpectInvalid(SpanDoc(R"("attributes": [{"key": "a", "value": {"bytesValue": "!!"}}])"),
                std::string(kSpanPath) + ".attributes[0].value.bytesValue: not base64");
}

TEST(TraceRequestJson, ErrorPathsNameEveryIndex) {
  ExpectInvalid(R"({"resourceSpans": [{}, {"scopeSpans": [{}, {"spans": [{}, {}, {},
                   {"traceId": "xyz"}]}]}]})",
                "$.resourceSpans[1].scopeSpans[1].spans[3].traceId:");
  ExpectInvalid(R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"events": [{},
                   {"attributes": [{"key": "k", "value": {"arrayValue": {"values": [{},
                   {"kvlistValue": {"values": [{"key": "x", "value": {"intValue": "x"}}]}}
                   ]}}}]}]}]}]}]})",
                "$.resourceSpans[0].scopeSpans[0].spans[0].events[1].attributes[0].value"
                ".arrayValue.values[1].kvlistValue.values[0].value.intValue");
}

// 100,000 nested arrays in an attribute value: nlohmann's parser is iterative, but
// walking the DOM recurses per level, so the depth is refused before parsing, without a
// crash.
TEST(TraceRequestJson, DeepNestingIsRefused) {
  constexpr int kLevels = 100'000;
  std::string json = SpanDoc(R"("attributes": [{"key": "deep", "value": @}])");
  std::string value;
  value.reserve(kLevels * 30);
  for (int i = 0; i < kLevels; ++i) value += R"({"arrayValue":{"values":[)";
  value += "{}";
  for (int i = 0; i < kLevels; ++i) value += "]}}";
  json.replace(json.find('@'), 1, value);
  ExpectInvalid(json, "JSON nested deeper than 256 levels");

  // Unbalanced input, deep or not, is the parser's to refuse.
  ExpectInvalid(std::string(kLevels, '['), "nested deeper");
  ExpectInvalid(std::string(kLevels, ']'), "not valid JSON");
  // Brackets inside strings, escaped quotes included, are not nesting.
  otlp::ExportTraceServiceRequest request;
  ASSERT_OK(TraceRequestFromJson(
      SpanDoc(R"("name": ")" + std::string(1000, '[') + R"(\"{{{")"), &request));
  EXPECT_EQ(request.resource_spans(0).scope_spans(0).spans(0).name(),
            std::string(1000, '[') + "\"{{{");
}

TEST(TraceRequestJson, ModerateNestingIsAccepted) {
  // 60 arrayValue levels inside a span attribute: 192 JSON levels, under the limit.
  otlp::ExportTraceServiceRequest request;
  auto* value =
      request.add_resource_spans()->add_scope_spans()->add_spans()->add_attributes();
  value->set_key("nested");
  otlp::AnyValue* v = value->mutable_value();
  for (int i = 0; i < 60; ++i) v = v->mutable_array_value()->add_values();
  v->set_string_value("bottom");
  ExpectRoundTrip(request);
}

}  // namespace
}  // namespace otlp_arrow::model
