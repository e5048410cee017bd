// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/model/workloads.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>

namespace otlp_arrow::model {

namespace {

void SetString(otlp::KeyValue* kv, std::string key, std::string value) {
  kv->set_key(std::move(key));
  kv->mutable_value()->set_string_value(std::move(value));
}

void SetInt(otlp::KeyValue* kv, std::string key, int64_t value) {
  kv->set_key(std::move(key));
  kv->mutable_value()->set_int_value(value);
}

std::string Id(std::mt19937_64& rng, int width) {
  std::string id(width, '\0');
  for (int i = 0; i < width; i += 8) {
    const uint64_t v = rng();
    for (int b = 0; b < 8 && i + b < width; ++b)
      id[i + b] = static_cast<char>(v >> (8 * b));
  }
  return id;
}

constexpr uint64_t kBaseTimeNs = 1'767'225'600'000'000'000ULL;  // 2026-01-01T00:00:00Z

}  // namespace

otlp::ExportTraceServiceRequest SeedSpans(int64_t count) {
  otlp::ExportTraceServiceRequest request;
  auto* spans = request.add_resource_spans()->add_scope_spans()->mutable_spans();
  spans->Reserve(static_cast<int>(count));
  for (int64_t i = 0; i < count; ++i) {
    otlp::Span* span = spans->Add();
    const char b = static_cast<char>(static_cast<uint8_t>(i));
    span->set_trace_id(std::string(otlp::kTraceIdSize, b));
    span->set_span_id(std::string(otlp::kSpanIdSize, b));
    span->set_name("span_" + std::to_string(i));
    span->set_kind(otlp::Span::SPAN_KIND_SERVER);
    span->set_start_time_unix_nano(1'000'000'000ULL + i);
    span->set_end_time_unix_nano(2'000'000'000ULL + i);
    SetString(span->add_attributes(), "http.method", "GET");
    SetInt(span->add_attributes(), "http.status_code", 200);
    span->mutable_status()->set_code(otlp::Status::STATUS_CODE_OK);
  }
  return request;
}

otlp::ExportTraceServiceRequest OtelBenchmarkSpans(int64_t count) {
  otlp::ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  SetString(rs->mutable_resource()->add_attributes(), "service.name", "otel-benchmark");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("benchmark");
  auto* spans = ss->mutable_spans();
  spans->Reserve(static_cast<int>(count));
  std::mt19937_64 rng(7);
  for (int64_t i = 0; i < count; ++i) {
    otlp::Span* span = spans->Add();
    span->set_trace_id(Id(rng, otlp::kTraceIdSize));
    span->set_span_id(Id(rng, otlp::kSpanIdSize));
    span->set_name("benchmark-span");
    span->set_kind(otlp::Span::SPAN_KIND_INTERNAL);
    span->set_start_time_unix_nano(kBaseTimeNs + i * 1000);
    span->set_end_time_unix_nano(kBaseTimeNs + i * 1000 + 500);
    for (int a = 0; a < 10; ++a) {
      // 20-character keys and values, as in the specification's benchmark.
      char key[21], value[21];
      std::snprintf(key, sizeof key, "attribute.key.%06d", a);
      std::snprintf(value, sizeof value, "attribute-value%05d",
                    static_cast<int>(i % 100000));
      SetString(span->add_attributes(), key, value);
    }
  }
  return request;
}

otlp::ExportTraceServiceRequest RealisticSpans(int64_t count, uint64_t seed) {
  static const std::array<const char*, 12> kNames = {
      "GET /api/users", "POST /api/orders", "GET /api/products",
      "SELECT orders",  "INSERT orders",    "redis GET",
      "redis SET",      "kafka.produce",    "kafka.consume",
      "grpc.Checkout",  "render",           "auth.verify"};
  static const std::array<const char*, 4> kServices = {"frontend", "checkout", "payments",
                                                       "inventory"};
  std::mt19937_64 rng(seed);
  otlp::ExportTraceServiceRequest request;
  constexpr int64_t kSpansPerResource = 1000;
  otlp::ScopeSpans* ss = nullptr;
  std::string trace_id = Id(rng, otlp::kTraceIdSize);
  std::string parent;
  for (int64_t i = 0; i < count; ++i) {
    if (i % kSpansPerResource == 0) {
      auto* rs = request.add_resource_spans();
      rs->set_schema_url("https://opentelemetry.io/schemas/1.26.0");
      auto* attrs = rs->mutable_resource()->mutable_attributes();
      const auto service = kServices[(i / kSpansPerResource) % kServices.size()];
      SetString(attrs->Add(), "service.name", service);
      SetString(attrs->Add(), "service.namespace", "shop");
      SetString(attrs->Add(), "service.version", "1.4.2");
      SetString(attrs->Add(), "service.instance.id", "instance-7f9c2");
      SetString(attrs->Add(), "host.name", "node-12.eu-west-1.compute.internal");
      SetString(attrs->Add(), "host.arch", "amd64");
      SetString(attrs->Add(), "os.type", "linux");
      SetString(attrs->Add(), "telemetry.sdk.name", "opentelemetry");
      SetString(attrs->Add(), "telemetry.sdk.language", "cpp");
      SetString(attrs->Add(), "telemetry.sdk.version", "1.28.0");
      ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name("io.opentelemetry.contrib.http");
      ss->mutable_scope()->set_version("2.1.0");
    }
    otlp::Span* span = ss->add_spans();
    if (i % 8 == 0) {  // a new trace every 8 spans
      trace_id = Id(rng, otlp::kTraceIdSize);
      parent.clear();
    }
    span->set_trace_id(trace_id);
    span->set_span_id(Id(rng, otlp::kSpanIdSize));
    if (!parent.empty()) span->set_parent_span_id(parent);
    parent = span->span_id();
    span->set_flags(0x101);
    span->set_name(kNames[rng() % kNames.size()]);
    span->set_kind(static_cast<otlp::Span::SpanKind>(1 + rng() % 5));
    const uint64_t start =
        kBaseTimeNs + static_cast<uint64_t>(i) * 250'000 + rng() % 1000;
    span->set_start_time_unix_nano(start);
    span->set_end_time_unix_nano(start + 1000 + rng() % 50'000'000);
    const int n_attrs = 5 + static_cast<int>(rng() % 16);
    for (int a = 0; a < n_attrs; ++a) {
      otlp::KeyValue* kv = span->add_attributes();
      switch (a % 5) {
        case 0:
          SetString(kv, "http.route." + std::to_string(a), "/api/v1/items/{id}");
          break;
        case 1:
          SetInt(kv, "http.status_code." + std::to_string(a), 200 + (rng() % 4) * 100);
          break;
        case 2:
          kv->set_key("net.peer.port." + std::to_string(a));
          kv->mutable_value()->set_int_value(static_cast<int64_t>(1024 + rng() % 60000));
          break;
        case 3:
          kv->set_key("sampler.ratio." + std::to_string(a));
          kv->mutable_value()->set_double_value(static_cast<double>(rng() % 1000) /
                                                1000.0);
          break;
        default:
          kv->set_key("cache.hit." + std::to_string(a));
          kv->mutable_value()->set_bool_value(rng() % 2 == 0);
      }
    }
    if (rng() % 100 < 20) {
      auto* event = span->add_events();
      event->set_time_unix_nano(start + 500);
      event->set_name("exception");
      SetString(event->add_attributes(), "exception.type", "java.io.IOException");
      SetString(event->add_attributes(), "exception.message", "connection reset by peer");
    }
    if (rng() % 100 < 5) {
      auto* link = span->add_links();
      link->set_trace_id(Id(rng, otlp::kTraceIdSize));
      link->set_span_id(Id(rng, otlp::kSpanIdSize));
      SetString(link->add_attributes(), "messaging.operation", "receive");
    }
    if (rng() % 100 < 1) {
      span->mutable_status()->set_code(otlp::Status::STATUS_CODE_ERROR);
      span->mutable_status()->set_message("upstream timed out");
    }
  }
  return request;
}

namespace {

class RandomSpanMaker {
 public:
  explicit RandomSpanMaker(uint64_t seed) : rng_(seed) {}

  uint64_t Below(uint64_t n) { return rng_() % n; }
  bool Chance(int percent) { return Below(100) < static_cast<uint64_t>(percent); }

  std::string String() {
    static const std::array<const char*, 12> kPieces = {
        "",     "a",       "span",        "ü",           "日本語", "🚀",
        "\t\n", "quote\"", "back\\slash", "null\\u0000", "ß∂ƒ",    "a-much-longer-piece"};
    std::string out;
    const int parts = static_cast<int>(Below(4));
    for (int i = 0; i < parts; ++i) out += kPieces[Below(kPieces.size())];
    if (Chance(5)) out.push_back('\0');  // embedded NUL is valid UTF-8
    return out;
  }

  std::string Bytes() {
    std::string out(Below(24), '\0');
    for (auto& c : out) c = static_cast<char>(Below(256));
    return out;
  }

  int64_t Int() {
    switch (Below(6)) {
      case 0:
        return 0;
      case 1:
        return std::numeric_limits<int64_t>::max();
      case 2:
        return std::numeric_limits<int64_t>::min();
      case 3:
        return -1;
      default:
        return static_cast<int64_t>(rng_());
    }
  }

  double Double() {
    switch (Below(8)) {
      case 0:
        return 0.0;
      case 1:
        return -0.0;
      case 2:
        return std::numeric_limits<double>::infinity();
      case 3:
        return -std::numeric_limits<double>::infinity();
      case 4:
        return std::numeric_limits<double>::quiet_NaN();
      case 5:
        return std::numeric_limits<double>::max();
      case 6:
        return std::numeric_limits<double>::denorm_min();
      default:
        return std::ldexp(static_cast<double>(rng_() >> 11), -20) - 1e6;
    }
  }

  uint64_t Time() {
    switch (Below(5)) {
      case 0:
        return 0;
      case 1:
        return std::numeric_limits<uint64_t>::max();
      default:
        return kBaseTimeNs + Below(1'000'000'000'000ULL);
    }
  }

  uint32_t Count() {
    switch (Below(4)) {
      case 0:
        return std::numeric_limits<uint32_t>::max();
      case 1:
        return static_cast<uint32_t>(Below(10));
      default:
        return 0;
    }
  }

  void Value(otlp::AnyValue* v, int depth) {
    switch (Below(depth < 3 ? 8 : 6)) {
      case 0:
        v->set_string_value(String());
        break;
      case 1:
        v->set_bool_value(Chance(50));
        break;
      case 2:
        v->set_int_value(Int());
        break;
      case 3:
        v->set_double_value(Double());
        break;
      case 4:
        v->set_bytes_value(Bytes());
        break;
      case 5:
        break;  // empty AnyValue
      case 6: {
        auto* array = v->mutable_array_value();
        const int n = static_cast<int>(Below(4));
        for (int i = 0; i < n; ++i) Value(array->add_values(), depth + 1);
        break;
      }
      default: {
        auto* list = v->mutable_kvlist_value();
        const int n = static_cast<int>(Below(4));
        for (int i = 0; i < n; ++i) {
          auto* kv = list->add_values();
          kv->set_key(String());
          Value(kv->mutable_value(), depth + 1);
        }
      }
    }
  }

  void Attributes(google::protobuf::RepeatedPtrField<otlp::KeyValue>* out, int max) {
    const int n = static_cast<int>(Below(max + 1));
    for (int i = 0; i < n; ++i) {
      auto* kv = out->Add();
      kv->set_key(String() + "." + std::to_string(i));
      Value(kv->mutable_value(), 0);
    }
  }

  void Span(otlp::Span* span) {
    span->set_trace_id(Id(rng_, otlp::kTraceIdSize));
    span->set_span_id(Id(rng_, otlp::kSpanIdSize));
    if (Chance(70)) span->set_parent_span_id(Id(rng_, otlp::kSpanIdSize));
    if (Chance(20)) span->set_trace_state("vendor=" + std::to_string(Below(1000)));
    if (Chance(50))
      span->set_flags(Chance(50) ? 0x301 : std::numeric_limits<uint32_t>::max());
    span->set_name(String());
    span->set_kind(static_cast<otlp::Span::SpanKind>(Below(6)));
    span->set_start_time_unix_nano(Time());
    span->set_end_time_unix_nano(Time());
    Attributes(span->mutable_attributes(), 8);
    span->set_dropped_attributes_count(Count());
    const int events = Chance(30) ? static_cast<int>(Below(4)) : 0;
    for (int e = 0; e < events; ++e) {
      auto* event = span->add_events();
      event->set_time_unix_nano(Time());
      event->set_name(String());
      Attributes(event->mutable_attributes(), 3);
      event->set_dropped_attributes_count(Count());
    }
    span->set_dropped_events_count(Count());
    const int links = Chance(20) ? static_cast<int>(Below(3)) : 0;
    for (int l = 0; l < links; ++l) {
      auto* link = span->add_links();
      link->set_trace_id(Id(rng_, otlp::kTraceIdSize));
      link->set_span_id(Id(rng_, otlp::kSpanIdSize));
      if (Chance(30)) link->set_trace_state("k=v");
      Attributes(link->mutable_attributes(), 3);
      link->set_dropped_attributes_count(Count());
      if (Chance(50)) link->set_flags(static_cast<uint32_t>(Below(1024)));
    }
    span->set_dropped_links_count(Count());
    if (Chance(70)) {
      auto* status = span->mutable_status();
      status->set_code(static_cast<otlp::Status::StatusCode>(Below(3)));
      if (Chance(50)) status->set_message(String());
    }
  }

  void Resource(otlp::ResourceSpans* rs) {
    if (Chance(80)) {
      auto* resource = rs->mutable_resource();
      if (Chance(70)) SetString(resource->add_attributes(), "service.name", String());
      Attributes(resource->mutable_attributes(), 6);
      resource->set_dropped_attributes_count(Count());
    }
    if (Chance(50))
      rs->set_schema_url("https://opentelemetry.io/schemas/1." +
                         std::to_string(Below(30)) + ".0");
  }

  void Scope(otlp::ScopeSpans* ss) {
    if (Chance(80)) {
      auto* scope = ss->mutable_scope();
      scope->set_name(String());
      if (Chance(50)) scope->set_version(String());
      Attributes(scope->mutable_attributes(), 3);
      scope->set_dropped_attributes_count(Count());
    }
    if (Chance(30)) ss->set_schema_url("https://example.com/scope/" + String());
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

otlp::ExportTraceServiceRequest RandomSpans(int64_t count, uint64_t seed) {
  RandomSpanMaker maker(seed);
  otlp::ExportTraceServiceRequest request;
  int64_t made = 0;
  while (made < count) {
    auto* rs = request.add_resource_spans();
    maker.Resource(rs);
    const int scopes = 1 + static_cast<int>(maker.Below(3));
    for (int k = 0; k < scopes && made < count; ++k) {
      auto* ss = rs->add_scope_spans();
      maker.Scope(ss);
      const int64_t n = std::min<int64_t>(count - made, 1 + maker.Below(300));
      for (int64_t j = 0; j < n; ++j) maker.Span(ss->add_spans());
      made += n;
    }
  }
  return request;
}

arrow::Result<otlp::ExportTraceServiceRequest> MakeWorkload(std::string_view name,
                                                            int64_t count) {
  if (name == "seed") return SeedSpans(count);
  if (name == "otel") return OtelBenchmarkSpans(count);
  if (name == "realistic") return RealisticSpans(count);
  return arrow::Status::Invalid("unknown workload '", name,
                                "' (expected seed, otel or realistic)");
}

int64_t CountSpans(const otlp::ExportTraceServiceRequest& request) {
  int64_t n = 0;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

void RestampSpans(otlp::ExportTraceServiceRequest* request, uint64_t earliest_start_ns) {
  constexpr uint64_t kExtreme = std::numeric_limits<uint64_t>::max();
  auto ordinary = [](uint64_t t) { return t != 0 && t != kExtreme; };
  uint64_t earliest = kExtreme;
  for (const auto& rs : request->resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        if (ordinary(span.start_time_unix_nano())) {
          earliest = std::min(earliest, span.start_time_unix_nano());
        }
      }
    }
  }
  if (earliest == kExtreme) return;
  // Unsigned arithmetic wraps, so one offset moves times either way.
  const uint64_t offset = earliest_start_ns - earliest;
  auto move = [&](uint64_t t) { return ordinary(t) ? t + offset : t; };
  for (auto& rs : *request->mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        span.set_start_time_unix_nano(move(span.start_time_unix_nano()));
        span.set_end_time_unix_nano(move(span.end_time_unix_nano()));
        for (auto& event : *span.mutable_events()) {
          event.set_time_unix_nano(move(event.time_unix_nano()));
        }
      }
    }
  }
}

namespace {

// Finds `tag` followed by `id` at or after `*cursor`, moves the cursor past it and
// returns the offset of the id. Spans serialize their fields in field-number order and
// the request its spans in order, so a search onward from the last id found meets each
// id at its own field.
arrow::Result<size_t> FindId(const std::string& bytes, std::string_view tag,
                             const std::string& id, size_t* cursor) {
  std::string needle(tag);
  needle += id;
  const size_t at = bytes.find(needle, *cursor);
  if (at == std::string::npos) {
    return arrow::Status::Invalid("id not found in the serialized request");
  }
  *cursor = at + needle.size();
  return at + tag.size();
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void XorAt(std::string* bytes, size_t offset, const uint64_t* mask, size_t words) {
  for (size_t w = 0; w < words; ++w) {
    uint64_t value;
    std::memcpy(&value, bytes->data() + offset + 8 * w, 8);
    value ^= mask[w];
    std::memcpy(bytes->data() + offset + 8 * w, &value, 8);
  }
}

}  // namespace

arrow::Result<RequestIdRewriter> RequestIdRewriter::Make(
    const otlp::ExportTraceServiceRequest& request) {
  // Tags of Span and Span.Link: trace_id = 1 and span_id = 2 (both messages),
  // parent_span_id = 4, each length-delimited with the id's length.
  static constexpr std::string_view kTraceIdTag("\x0a\x10", 2);
  static constexpr std::string_view kSpanIdTag("\x12\x08", 2);
  static constexpr std::string_view kParentSpanIdTag("\x22\x08", 2);
  RequestIdRewriter rewriter;
  if (!request.SerializeToString(&rewriter.bytes_)) {
    return arrow::Status::Invalid("cannot serialize the request");
  }
  size_t cursor = 0;
  auto note = [&](std::string_view tag, const std::string& id, size_t width,
                  std::vector<size_t>* offsets) -> arrow::Status {
    if (id.size() != width) return arrow::Status::OK();  // absent: nothing to renew
    ARROW_ASSIGN_OR_RAISE(const size_t offset, FindId(rewriter.bytes_, tag, id, &cursor));
    offsets->push_back(offset);
    return arrow::Status::OK();
  };
  auto& trace_ids = rewriter.trace_id_offsets_;
  auto& span_ids = rewriter.span_id_offsets_;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        ARROW_RETURN_NOT_OK(note(kTraceIdTag, span.trace_id(), 16, &trace_ids));
        ARROW_RETURN_NOT_OK(note(kSpanIdTag, span.span_id(), 8, &span_ids));
        ARROW_RETURN_NOT_OK(note(kParentSpanIdTag, span.parent_span_id(), 8, &span_ids));
        for (const auto& link : span.links()) {
          ARROW_RETURN_NOT_OK(note(kTraceIdTag, link.trace_id(), 16, &trace_ids));
          ARROW_RETURN_NOT_OK(note(kSpanIdTag, link.span_id(), 8, &span_ids));
        }
      }
    }
  }
  return rewriter;
}

std::string RequestIdRewriter::WithFreshIds(uint64_t key) const {
  uint64_t state = key;
  const uint64_t trace_mask[2] = {SplitMix64(&state), SplitMix64(&state)};
  const uint64_t span_mask[1] = {SplitMix64(&state)};
  std::string bytes = bytes_;
  for (const size_t offset : trace_id_offsets_) XorAt(&bytes, offset, trace_mask, 2);
  for (const size_t offset : span_id_offsets_) XorAt(&bytes, offset, span_mask, 1);
  return bytes;
}

}  // namespace otlp_arrow::model
