// SPDX-License-Identifier: Apache-2.0
// Decodes an ExportTraceServiceRequest serialized by the OpenTelemetry Python SDK
// (tests/fixtures/python_sdk_traces.binpb, made by make_python_sdk_fixture.py beside it)
// with our protoc-compiled protos, and checks every field the script put in. The expected
// values are written here literally, copied from the script's inputs, not read from the
// fixture.

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::otlp {
namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;
using ::google::protobuf::RepeatedPtrField;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kFixturePath[] = "/tests/fixtures/python_sdk_traces.binpb";

// The script's time origin: 2023-11-14T22:13:20Z.
constexpr uint64_t kT0 = 1'700'000'000'000'000'000ULL;
constexpr uint64_t At(uint64_t offset_ns) { return kT0 + offset_ns; }

// Span.flags / Link.flags bits (SpanFlags enum of trace.proto).
constexpr uint32_t kHasIsRemote =
    ::opentelemetry::proto::trace::v1::SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK;
constexpr uint32_t kIsRemote =
    ::opentelemetry::proto::trace::v1::SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK;
static_assert(kHasIsRemote == 0x100 && kIsRemote == 0x200);

// Ids from the script, as lowercase hex of the big-endian bytes.
constexpr char kTraceA[] = "0af7651916cd43dd8448eb211c80319c";
constexpr char kRemoteParentSpan[] = "b7ad6b7169203331";
constexpr char kTraceB[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kServerSpan[] = "00f067aa0ba902b7";
constexpr char kClientSpan[] = "53995c3f42cd8ad8";
constexpr char kProducerSpan[] = "1122334455667788";
constexpr char kInternalSpan[] = "8877665544332211";
constexpr char kConsumerSpan[] = "fffffffffffffffe";
constexpr char kLinkedRemoteTrace[] = "5b8efff798038103d269b633813fc60c";
constexpr char kLinkedRemoteSpan[] = "eee19b7ec3c1b174";

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string ReadFixture() {
  std::ifstream in(std::string(OTLP_ARROW_SOURCE_DIR) + kFixturePath, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Appends the path of every message under `msg` (itself included) that holds unknown
// fields.
void CollectUnknownFields(const Message& msg, const std::string& path,
                          std::vector<std::string>* out) {
  const Reflection* reflection = msg.GetReflection();
  if (!reflection->GetUnknownFields(msg).empty()) out->push_back(path);
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(msg, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(msg, field); ++i) {
        CollectUnknownFields(reflection->GetRepeatedMessage(msg, field, i),
                             path + "." + field->name() + "[" + std::to_string(i) + "]",
                             out);
      }
    } else {
      CollectUnknownFields(reflection->GetMessage(msg, field), path + "." + field->name(),
                           out);
    }
  }
}

std::vector<std::string> UnknownFieldPaths(const Message& msg) {
  std::vector<std::string> paths;
  CollectUnknownFields(msg, msg.GetDescriptor()->name(), &paths);
  return paths;
}

std::vector<std::string> Keys(const RepeatedPtrField<KeyValue>& attributes) {
  std::vector<std::string> keys;
  for (const KeyValue& kv : attributes) keys.push_back(kv.key());
  return keys;
}

// The value of the attribute `key`; a test failure and an empty AnyValue if it is
// missing.
const AnyValue& Attr(const RepeatedPtrField<KeyValue>& attributes, std::string_view key) {
  for (const KeyValue& kv : attributes) {
    if (kv.key() == key) return kv.value();
  }
  ADD_FAILURE() << "no attribute " << key;
  return AnyValue::default_instance();
}

const Span& FindSpan(const ScopeSpans& scope_spans, std::string_view name) {
  for (const Span& span : scope_spans.spans()) {
    if (span.name() == name) return span;
  }
  ADD_FAILURE() << "no span " << name;
  return Span::default_instance();
}

// AnyValue matchers: each checks the oneof case as well as the value.
MATCHER_P(StringValue, expected, "") {
  return arg.value_case() == AnyValue::kStringValue && arg.string_value() == expected;
}
MATCHER_P(BoolValue, expected, "") {
  return arg.value_case() == AnyValue::kBoolValue && arg.bool_value() == expected;
}
MATCHER_P(IntValue, expected, "") {
  return arg.value_case() == AnyValue::kIntValue &&
         arg.int_value() == static_cast<int64_t>(expected);
}
MATCHER_P(DoubleValue, expected, "") {  // exact: the bits must survive
  return arg.value_case() == AnyValue::kDoubleValue && arg.double_value() == expected;
}
MATCHER_P(BytesValue, expected, "") {
  return arg.value_case() == AnyValue::kBytesValue && arg.bytes_value() == expected;
}
MATCHER(NoValue, "") { return arg.value_case() == AnyValue::VALUE_NOT_SET; }
MATCHER_P(ArrayValueIs, elements, "") {
  return arg.value_case() == AnyValue::kArrayValue &&
         ::testing::ExplainMatchResult(elements, arg.array_value().values(),
                                       result_listener);
}
MATCHER_P(KvListValueIs, elements, "") {
  return arg.value_case() == AnyValue::kKvlistValue &&
         ::testing::ExplainMatchResult(elements, arg.kvlist_value().values(),
                                       result_listener);
}
MATCHER_P2(KeyValueIs, key, value, "") {
  return arg.key() == key &&
         ::testing::ExplainMatchResult(value, arg.value(), result_listener);
}

class PythonSdkFixtureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bytes_ = new std::string(ReadFixture());
    request_ = new ExportTraceServiceRequest();
    parsed_ = request_->ParseFromString(*bytes_);
  }
  static void TearDownTestSuite() {
    delete request_;
    delete bytes_;
  }

  void SetUp() override {
    ASSERT_FALSE(bytes_->empty())
        << "cannot read " << OTLP_ARROW_SOURCE_DIR << kFixturePath;
    ASSERT_TRUE(parsed_);
    ASSERT_EQ(request_->resource_spans_size(), 1);
    ASSERT_EQ(request_->resource_spans(0).scope_spans_size(), 2);
  }

  static const ResourceSpans& resource_spans() { return request_->resource_spans(0); }
  static const ScopeSpans& main_scope() { return resource_spans().scope_spans(0); }
  static const ScopeSpans& worker_scope() { return resource_spans().scope_spans(1); }

  static std::string* bytes_;
  static ExportTraceServiceRequest* request_;
  static bool parsed_;
};

std::string* PythonSdkFixtureTest::bytes_ = nullptr;
ExportTraceServiceRequest* PythonSdkFixtureTest::request_ = nullptr;
bool PythonSdkFixtureTest::parsed_ = false;

TEST_F(PythonSdkFixtureTest, HasNoUnknownFields) {
  // An unknown field anywhere would mean the SDK sends something our protos lack.
  EXPECT_THAT(UnknownFieldPaths(*request_), IsEmpty());
}

TEST_F(PythonSdkFixtureTest, UnknownFieldWalkerSeesNestedFields) {
  // The check above is only as good as the walk: plant one deep inside and find it.
  ExportTraceServiceRequest copy = *request_;
  AnyValue* value = copy.mutable_resource_spans(0)
                        ->mutable_scope_spans(0)
                        ->mutable_spans(2)
                        ->mutable_attributes(22)
                        ->mutable_value()
                        ->mutable_kvlist_value()
                        ->mutable_values(2)
                        ->mutable_value();
  value->GetReflection()->MutableUnknownFields(value)->AddVarint(99, 1);
  EXPECT_THAT(UnknownFieldPaths(copy),
              ElementsAre("ExportTraceServiceRequest.resource_spans[0].scope_spans[0]"
                          ".spans[2].attributes[22].value.kvlist_value.values[2].value"));
}

TEST_F(PythonSdkFixtureTest, ReserializesToTheSameBytes) {
  // Both encoders write fields in field-number order, so equal bytes mean nothing was
  // lost or reinterpreted (e.g. a fixed64 read as varint).
  EXPECT_EQ(request_->SerializeAsString(), *bytes_);
}

TEST_F(PythonSdkFixtureTest, SpansAreGroupedByScope) {
  EXPECT_EQ(resource_spans().schema_url(), "https://opentelemetry.io/schemas/1.26.0");
  // The SDK groups spans by scope in the order they ended.
  std::vector<std::string> names;
  for (const Span& span : main_scope().spans()) names.push_back(span.name());
  EXPECT_THAT(names, ElementsAre("SELECT orders", "publish orders", "GET /orders/{id}",
                                 "process orders"));
  ASSERT_EQ(worker_scope().spans_size(), 1);
  EXPECT_EQ(worker_scope().spans(0).name(), "render");
}

TEST_F(PythonSdkFixtureTest, Resource) {
  const Resource& resource = resource_spans().resource();
  EXPECT_THAT(
      resource.attributes(),
      ElementsAre(
          KeyValueIs("service.name", StringValue("otlp-arrow-fixture")),
          KeyValueIs("deployment.environment.name", StringValue("test")),
          KeyValueIs("process.pid", IntValue(4242)),
          KeyValueIs("fixture.ratio", DoubleValue(0.25)),
          KeyValueIs("fixture.enabled", BoolValue(true)),
          KeyValueIs("fixture.tags", ArrayValueIs(ElementsAre(StringValue("alpha"),
                                                              StringValue("beta")))),
          KeyValueIs("fixture.ports",
                     ArrayValueIs(ElementsAre(IntValue(8080), IntValue(8443))))));
  // The Python encoder never sets these.
  EXPECT_EQ(resource.dropped_attributes_count(), 0u);
  EXPECT_THAT(resource.entity_refs(), IsEmpty());
}

TEST_F(PythonSdkFixtureTest, Scopes) {
  const InstrumentationScope& scope = main_scope().scope();
  EXPECT_EQ(scope.name(), "otlp_arrow.fixture");
  EXPECT_EQ(scope.version(), "1.2.3");
  EXPECT_THAT(scope.attributes(),
              ElementsAre(KeyValueIs("fixture.scope.str", StringValue("scoped")),
                          KeyValueIs("fixture.scope.int", IntValue(3))));
  EXPECT_EQ(scope.dropped_attributes_count(), 0u);
  EXPECT_EQ(main_scope().schema_url(), "https://opentelemetry.io/schemas/1.24.0");

  const InstrumentationScope& worker = worker_scope().scope();
  EXPECT_EQ(worker.name(), "otlp_arrow.fixture.worker");
  EXPECT_EQ(worker.version(), "");
  EXPECT_THAT(worker.attributes(), IsEmpty());
  EXPECT_EQ(worker_scope().schema_url(), "");
}

TEST_F(PythonSdkFixtureTest, ServerSpanWithRemoteParent) {
  const Span& span = FindSpan(main_scope(), "GET /orders/{id}");
  EXPECT_EQ(ToHex(span.trace_id()), kTraceA);
  EXPECT_EQ(ToHex(span.span_id()), kServerSpan);
  EXPECT_EQ(ToHex(span.parent_span_id()), kRemoteParentSpan);
  EXPECT_EQ(span.trace_state(), "vendor1=value1,vendor2=value2");
  EXPECT_EQ(span.kind(), Span::SPAN_KIND_SERVER);
  EXPECT_EQ(span.start_time_unix_nano(), At(1'000'001));
  EXPECT_EQ(span.end_time_unix_nano(), At(9'999'999));
  // The parent is remote. The SDK leaves the W3C trace flags (sampled) out of `flags`.
  EXPECT_EQ(span.flags(), kHasIsRemote | kIsRemote);
  EXPECT_TRUE(span.has_status());
  EXPECT_EQ(span.status().code(), Status::STATUS_CODE_OK);
  EXPECT_EQ(span.status().message(), "");
}

TEST_F(PythonSdkFixtureTest, ServerSpanAttributesOfEveryType) {
  const Span& span = FindSpan(main_scope(), "GET /orders/{id}");
  // max_span_attributes = 24: the two oldest ("fixture.evicted.a/b") were dropped.
  EXPECT_EQ(span.dropped_attributes_count(), 2u);
  EXPECT_THAT(
      Keys(span.attributes()),
      ElementsAre("http.request.method", "fixture.str.unicode", "fixture.str.empty",
                  "fixture.bool.true", "fixture.bool.false", "fixture.int.zero",
                  "fixture.int.negative", "fixture.int.max", "fixture.int.min",
                  "fixture.double", "fixture.double.negative", "fixture.double.large",
                  "fixture.double.integral", "fixture.str_array", "fixture.bool_array",
                  "fixture.int_array", "fixture.double_array", "fixture.empty_array",
                  "fixture.bytes", "fixture.array_with_none", "fixture.mixed_array",
                  "fixture.nested_array", "fixture.map", "fixture.none"));
  const auto& attrs = span.attributes();
  EXPECT_THAT(Attr(attrs, "http.request.method"), StringValue("GET"));
  EXPECT_THAT(Attr(attrs, "fixture.str.unicode"),
              StringValue("h\u00e9llo w\u00f6rld \u2713"));
  EXPECT_THAT(Attr(attrs, "fixture.str.empty"), StringValue(""));
  EXPECT_THAT(Attr(attrs, "fixture.bool.true"), BoolValue(true));
  EXPECT_THAT(Attr(attrs, "fixture.bool.false"), BoolValue(false));
  EXPECT_THAT(Attr(attrs, "fixture.int.zero"), IntValue(0));
  EXPECT_THAT(Attr(attrs, "fixture.int.negative"), IntValue(-42));
  EXPECT_THAT(Attr(attrs, "fixture.int.max"), IntValue(INT64_MAX));
  EXPECT_THAT(Attr(attrs, "fixture.int.min"), IntValue(INT64_MIN));
  EXPECT_THAT(Attr(attrs, "fixture.double"), DoubleValue(3.141592653589793));
  EXPECT_THAT(Attr(attrs, "fixture.double.negative"), DoubleValue(-0.5));
  EXPECT_THAT(Attr(attrs, "fixture.double.large"), DoubleValue(1.5e300));
  EXPECT_THAT(Attr(attrs, "fixture.double.integral"), DoubleValue(2.0));
  EXPECT_THAT(
      Attr(attrs, "fixture.str_array"),
      ArrayValueIs(ElementsAre(StringValue("a"), StringValue("b"), StringValue("c"))));
  EXPECT_THAT(
      Attr(attrs, "fixture.bool_array"),
      ArrayValueIs(ElementsAre(BoolValue(true), BoolValue(false), BoolValue(true))));
  EXPECT_THAT(Attr(attrs, "fixture.int_array"),
              ArrayValueIs(ElementsAre(IntValue(1), IntValue(-2), IntValue(1LL << 40))));
  EXPECT_THAT(
      Attr(attrs, "fixture.double_array"),
      ArrayValueIs(ElementsAre(DoubleValue(0.5), DoubleValue(-1.25), DoubleValue(1e-9))));
  EXPECT_THAT(Attr(attrs, "fixture.empty_array"), ArrayValueIs(IsEmpty()));
  EXPECT_THAT(Attr(attrs, "fixture.bytes"),
              BytesValue(std::string("\x00\x01\xfe\xff", 4)));
  EXPECT_THAT(Attr(attrs, "fixture.array_with_none"),
              ArrayValueIs(ElementsAre(StringValue("x"), NoValue(), StringValue("z"))));
  EXPECT_THAT(Attr(attrs, "fixture.mixed_array"),
              ArrayValueIs(ElementsAre(StringValue("s"), IntValue(1), DoubleValue(2.5),
                                       BoolValue(true))));
  EXPECT_THAT(
      Attr(attrs, "fixture.nested_array"),
      ArrayValueIs(ElementsAre(ArrayValueIs(ElementsAre(IntValue(1), IntValue(2))),
                               ArrayValueIs(ElementsAre(StringValue("a"))))));
  EXPECT_THAT(
      Attr(attrs, "fixture.map"),
      KvListValueIs(ElementsAre(
          KeyValueIs("inner.str", StringValue("v")), KeyValueIs("inner.int", IntValue(7)),
          KeyValueIs("inner.map",
                     KvListValueIs(ElementsAre(KeyValueIs("deep", BoolValue(true))))))));
  EXPECT_THAT(Attr(attrs, "fixture.none"), NoValue());
}

TEST_F(PythonSdkFixtureTest, ServerSpanEvents) {
  const Span& span = FindSpan(main_scope(), "GET /orders/{id}");
  // max_events = 3: "evicted.event.1" and "evicted.event.2" were dropped.
  EXPECT_EQ(span.dropped_events_count(), 2u);
  ASSERT_EQ(span.events_size(), 3);

  const Span::Event& received = span.events(0);
  EXPECT_EQ(received.name(), "request.received");
  EXPECT_EQ(received.time_unix_nano(), At(1'300'003));
  EXPECT_THAT(received.attributes(), IsEmpty());
  EXPECT_EQ(received.dropped_attributes_count(), 0u);

  const Span::Event& miss = span.events(1);
  EXPECT_EQ(miss.name(), "cache.miss");
  EXPECT_EQ(miss.time_unix_nano(), At(1'400'004));
  EXPECT_THAT(miss.attributes(),
              ElementsAre(KeyValueIs("cache.key", StringValue("order:17")),
                          KeyValueIs("cache.shard", IntValue(5))));
  EXPECT_EQ(miss.dropped_attributes_count(), 0u);

  const Span::Event& sent = span.events(2);
  EXPECT_EQ(sent.name(), "response.sent");
  EXPECT_EQ(sent.time_unix_nano(), At(9'000'009));
  EXPECT_THAT(
      sent.attributes(),
      ElementsAre(KeyValueIs("http.response.status_code", IntValue(200)),
                  KeyValueIs("fixture.latency_ms", DoubleValue(12.5)),
                  KeyValueIs("fixture.cached", BoolValue(false)),
                  KeyValueIs("fixture.stages", ArrayValueIs(ElementsAre(
                                                   StringValue("auth"), StringValue("db"),
                                                   StringValue("render"))))));
  EXPECT_EQ(sent.dropped_attributes_count(), 0u);
}

TEST_F(PythonSdkFixtureTest, ClientSpanWithErrorStatus) {
  const Span& span = FindSpan(main_scope(), "SELECT orders");
  EXPECT_EQ(ToHex(span.trace_id()), kTraceA);
  EXPECT_EQ(ToHex(span.span_id()), kClientSpan);
  EXPECT_EQ(ToHex(span.parent_span_id()), kServerSpan);
  EXPECT_EQ(span.trace_state(), "vendor1=value1,vendor2=value2");  // inherited
  EXPECT_EQ(span.kind(), Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(span.start_time_unix_nano(), At(2'000'002));
  EXPECT_EQ(span.end_time_unix_nano(), At(3'000'003));
  EXPECT_EQ(span.flags(), kHasIsRemote);  // local parent
  EXPECT_THAT(span.attributes(),
              ElementsAre(KeyValueIs("db.system.name", StringValue("postgresql"))));
  EXPECT_EQ(span.dropped_attributes_count(), 0u);
  EXPECT_EQ(span.status().code(), Status::STATUS_CODE_ERROR);
  EXPECT_EQ(span.status().message(), "connection reset by peer");
  EXPECT_THAT(span.links(), IsEmpty());
  EXPECT_EQ(span.dropped_links_count(), 0u);

  // max_event_attributes = 4: "fixture.evicted.1/2" were dropped.
  ASSERT_EQ(span.events_size(), 1);
  EXPECT_EQ(span.dropped_events_count(), 0u);
  const Span::Event& retry = span.events(0);
  EXPECT_EQ(retry.name(), "retry");
  EXPECT_EQ(retry.time_unix_nano(), At(2'500'005));
  EXPECT_THAT(retry.attributes(),
              ElementsAre(KeyValueIs("retry.attempt", IntValue(2)),
                          KeyValueIs("retry.delay_s", DoubleValue(0.125)),
                          KeyValueIs("retry.final", BoolValue(true)),
                          KeyValueIs("error.type", StringValue("ECONNRESET"))));
  EXPECT_EQ(retry.dropped_attributes_count(), 2u);
}

TEST_F(PythonSdkFixtureTest, ProducerAndInternalSpans) {
  const Span& producer = FindSpan(main_scope(), "publish orders");
  EXPECT_EQ(ToHex(producer.trace_id()), kTraceA);
  EXPECT_EQ(ToHex(producer.span_id()), kProducerSpan);
  EXPECT_EQ(ToHex(producer.parent_span_id()), kServerSpan);
  EXPECT_EQ(producer.trace_state(), "vendor1=value1,vendor2=value2");
  EXPECT_EQ(producer.kind(), Span::SPAN_KIND_PRODUCER);
  EXPECT_EQ(producer.start_time_unix_nano(), At(3'500'000));
  EXPECT_EQ(producer.end_time_unix_nano(), At(4'000'000));
  EXPECT_EQ(producer.flags(), kHasIsRemote);
  EXPECT_THAT(producer.attributes(),
              ElementsAre(KeyValueIs("messaging.system", StringValue("kafka"))));
  EXPECT_THAT(producer.events(), IsEmpty());
  EXPECT_THAT(producer.links(), IsEmpty());
  // The encoder always writes a Status, UNSET when none was set.
  EXPECT_TRUE(producer.has_status());
  EXPECT_EQ(producer.status().code(), Status::STATUS_CODE_UNSET);
  EXPECT_EQ(producer.status().message(), "");

  const Span& internal = worker_scope().spans(0);
  EXPECT_EQ(internal.name(), "render");
  EXPECT_EQ(ToHex(internal.trace_id()), kTraceA);
  EXPECT_EQ(ToHex(internal.span_id()), kInternalSpan);
  EXPECT_EQ(ToHex(internal.parent_span_id()), kServerSpan);
  EXPECT_EQ(internal.trace_state(), "vendor1=value1,vendor2=value2");
  EXPECT_EQ(internal.kind(), Span::SPAN_KIND_INTERNAL);
  EXPECT_EQ(internal.start_time_unix_nano(), At(4'500'000));
  EXPECT_EQ(internal.end_time_unix_nano(), At(8'000'000));
  EXPECT_EQ(internal.flags(), kHasIsRemote);
  EXPECT_THAT(internal.attributes(), IsEmpty());
  EXPECT_THAT(internal.events(), IsEmpty());
  EXPECT_THAT(internal.links(), IsEmpty());
  EXPECT_EQ(internal.dropped_attributes_count(), 0u);
  EXPECT_EQ(internal.dropped_events_count(), 0u);
  EXPECT_EQ(internal.dropped_links_count(), 0u);
  EXPECT_EQ(internal.status().code(), Status::STATUS_CODE_UNSET);
}

TEST_F(PythonSdkFixtureTest, ConsumerRootSpanWithLinks) {
  const Span& span = FindSpan(main_scope(), "process orders");
  EXPECT_EQ(ToHex(span.trace_id()), kTraceB);
  EXPECT_EQ(ToHex(span.span_id()), kConsumerSpan);
  EXPECT_EQ(span.parent_span_id(), "");  // a root span
  EXPECT_EQ(span.trace_state(), "");
  EXPECT_EQ(span.kind(), Span::SPAN_KIND_CONSUMER);
  EXPECT_EQ(span.start_time_unix_nano(), At(20'000'000));
  EXPECT_EQ(span.end_time_unix_nano(), At(25'000'000));
  EXPECT_EQ(span.flags(), kHasIsRemote);
  EXPECT_THAT(span.attributes(),
              ElementsAre(KeyValueIs("messaging.batch.message_count", IntValue(3))));
  EXPECT_THAT(span.events(), IsEmpty());
  EXPECT_EQ(span.status().code(), Status::STATUS_CODE_UNSET);

  // max_links = 2: the first link (to trace ...ab / span ...cd) was dropped.
  EXPECT_EQ(span.dropped_links_count(), 1u);
  ASSERT_EQ(span.links_size(), 2);

  const Span::Link& to_producer = span.links(0);
  EXPECT_EQ(ToHex(to_producer.trace_id()), kTraceA);
  EXPECT_EQ(ToHex(to_producer.span_id()), kProducerSpan);
  // The producer's context carries "vendor1=value1,vendor2=value2", but the Python
  // encoder (1.45.2) never writes Link.trace_state.
  EXPECT_EQ(to_producer.trace_state(), "");
  EXPECT_EQ(to_producer.flags(), kHasIsRemote);
  EXPECT_THAT(to_producer.attributes(),
              ElementsAre(KeyValueIs("messaging.operation.type", StringValue("receive")),
                          KeyValueIs("fixture.link.index", IntValue(1))));
  EXPECT_EQ(to_producer.dropped_attributes_count(), 0u);

  const Span::Link& to_remote = span.links(1);
  EXPECT_EQ(ToHex(to_remote.trace_id()), kLinkedRemoteTrace);
  EXPECT_EQ(ToHex(to_remote.span_id()), kLinkedRemoteSpan);
  EXPECT_EQ(to_remote.trace_state(),
            "");  // "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" lost
  EXPECT_EQ(to_remote.flags(), kHasIsRemote | kIsRemote);
  // max_link_attributes = 3: "fixture.evicted" was dropped.
  EXPECT_THAT(to_remote.attributes(),
              ElementsAre(KeyValueIs("fixture.link.index", IntValue(2)),
                          KeyValueIs("fixture.link.weight", DoubleValue(0.75)),
                          KeyValueIs("fixture.link.sampled", BoolValue(true))));
  EXPECT_EQ(to_remote.dropped_attributes_count(), 1u);
}

}  // namespace
}  // namespace otlp_arrow::otlp
