// SPDX-License-Identifier: Apache-2.0
// For tests and benchmarks: OTLP → OTAP traces payloads in the Go producer's layout
// (otel-arrow v0.46.0 traces/arrow, common/arrow; docs in
// ../shared/reference/otap-interop.md §2): the same column names and types, d8/d16
// dictionaries with uint8/uint16 indices that widen, grow by deltas and can be reset,
// delta and quasi-delta ids, CBOR for nested values, one Arrow IPC stream per payload
// type with a fresh schema_id whenever a schema changes. It writes the lossless simple
// form (one resource and scope id per ResourceSpans/ScopeSpans, rows in input order)
// rather than Go's sorted one: the decoder must rebuild both the same way.

#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/io/interfaces.h>
#include <arrow/ipc/writer.h>
#include <arrow/record_batch.h>
#include <arrow/util/compression.h>

#include "otlp_arrow/convert/otap_traces_decoder.h"
#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::testing {

/// \brief The payloads of one BatchArrowRecords, owning their bytes.
struct OtapBar {
  struct Payload {
    std::string schema_id;
    int32_t type = 0;
    std::string record;
  };
  std::vector<Payload> payloads;

  std::vector<convert::OtapPayload> Views() const {
    std::vector<convert::OtapPayload> out;
    for (const auto& p : payloads) out.push_back({p.schema_id, p.type, p.record});
    return out;
  }
};

/// \brief CBOR as the Go producer writes `ser` (common/cbor.go over fxamacker/cbor):
/// indefinite maps and arrays, shortest integers, float64 except NaN (f97e00) and ±Inf
/// (half precision), null for an empty value.
inline void AppendCborHead(int major, uint64_t n, std::string* out) {
  const auto m = static_cast<char>(major << 5);
  if (n < 24) {
    out->push_back(static_cast<char>(m | static_cast<char>(n)));
  } else if (n <= 0xff) {
    out->push_back(static_cast<char>(m | 24));
    out->push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    out->push_back(static_cast<char>(m | 25));
    for (int s = 8; s >= 0; s -= 8) out->push_back(static_cast<char>(n >> s));
  } else if (n <= 0xffffffffULL) {
    out->push_back(static_cast<char>(m | 26));
    for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<char>(n >> s));
  } else {
    out->push_back(static_cast<char>(m | 27));
    for (int s = 56; s >= 0; s -= 8) out->push_back(static_cast<char>(n >> s));
  }
}

inline void AppendCbor(const otlp::AnyValue& v, std::string* out) {
  using C = otlp::AnyValue::ValueCase;
  switch (v.value_case()) {
    case C::kStringValue:
      AppendCborHead(3, v.string_value().size(), out);
      out->append(v.string_value());
      break;
    case C::kBytesValue:
      AppendCborHead(2, v.bytes_value().size(), out);
      out->append(v.bytes_value());
      break;
    case C::kIntValue:
      if (v.int_value() >= 0) {
        AppendCborHead(0, static_cast<uint64_t>(v.int_value()), out);
      } else {
        AppendCborHead(1, static_cast<uint64_t>(-1 - v.int_value()), out);
      }
      break;
    case C::kBoolValue:
      out->push_back(v.bool_value() ? '\xf5' : '\xf4');
      break;
    case C::kDoubleValue: {
      const double d = v.double_value();
      if (std::isnan(d)) {
        out->append("\xf9\x7e\x00", 3);
      } else if (std::isinf(d)) {
        out->append(d > 0 ? std::string("\xf9\x7c\x00", 3)
                          : std::string("\xf9\xfc\x00", 3));
      } else {
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        out->push_back('\xfb');
        for (int s = 56; s >= 0; s -= 8) out->push_back(static_cast<char>(bits >> s));
      }
      break;
    }
    case C::kArrayValue:
      out->push_back('\x9f');
      for (const auto& e : v.array_value().values()) AppendCbor(e, out);
      out->push_back('\xff');
      break;
    case C::kKvlistValue:
      out->push_back('\xbf');
      for (const auto& kv : v.kvlist_value().values()) {
        AppendCborHead(3, kv.key().size(), out);
        out->append(kv.key());
        AppendCbor(kv.value(), out);
      }
      out->push_back('\xff');
      break;
    default:
      out->push_back('\xf6');
  }
}

/// \brief How the producer encodes its columns.
struct OtapProducerOptions {
  /// Columns (by name, "resource.schema_url" for struct children) written plain, as Go
  /// does past 65,535 distinct values.
  std::set<std::string> plain_columns;
  arrow::Compression::type compression = arrow::Compression::ZSTD;
};

/// \brief A dictionary column of one IPC stream: its values (kept from batch to batch
/// so that the IPC writer sends deltas) and this batch's indices.
class DictColumn {
 public:
  DictColumn(std::shared_ptr<arrow::DataType> value_type, bool d16)
      : value_type_(std::move(value_type)), d16_(d16) {}

  void Append(std::optional<std::string_view> value) {
    if (finished_) {
      rows_.clear();
      plain_.clear();
      finished_ = false;
    }
    if (!value) {
      rows_.push_back(-1);
      plain_.emplace_back();
      return;
    }
    auto [it, inserted] =
        index_.try_emplace(std::string(*value), static_cast<int64_t>(values_.size()));
    if (inserted) values_.emplace_back(*value);
    rows_.push_back(it->second);
    plain_.emplace_back(*value);
  }
  bool AllNull() const {
    for (auto r : rows_) {
      if (r >= 0) return false;
    }
    return true;
  }
  // Go's reset: a new dictionary (the IPC writer sends a replacement).
  void Reset() {
    values_.clear();
    index_.clear();
  }
  std::shared_ptr<arrow::Array> Finish(bool plain) {
    std::shared_ptr<arrow::Array> out;
    if (plain) {
      out = Values(plain_);
    } else {
      const bool wide = d16_ || values_.size() > 255;
      std::shared_ptr<arrow::DataType> index_type =
          wide ? arrow::uint16() : arrow::uint8();
      std::shared_ptr<arrow::Array> indices;
      if (wide) {
        arrow::UInt16Builder b;
        for (auto r : rows_)
          r < 0 ? (void)b.AppendNull() : (void)b.Append(static_cast<uint16_t>(r));
        indices = b.Finish().ValueOrDie();
      } else {
        arrow::UInt8Builder b;
        for (auto r : rows_)
          r < 0 ? (void)b.AppendNull() : (void)b.Append(static_cast<uint8_t>(r));
        indices = b.Finish().ValueOrDie();
      }
      std::vector<std::optional<std::string>> values(values_.begin(), values_.end());
      out = arrow::DictionaryArray::FromArrays(arrow::dictionary(index_type, value_type_),
                                               indices, Values(values))
                .ValueOrDie();
    }
    finished_ = true;  // AllNull() still answers for this batch
    return out;
  }

 private:
  std::shared_ptr<arrow::Array> Values(const std::vector<std::optional<std::string>>& v) {
    std::unique_ptr<arrow::ArrayBuilder> builder;
    (void)arrow::MakeBuilder(arrow::default_memory_pool(), value_type_, &builder);
    for (const auto& s : v) {
      if (!s) {
        (void)builder->AppendNull();
        continue;
      }
      switch (value_type_->id()) {
        case arrow::Type::STRING:
          (void)static_cast<arrow::StringBuilder*>(builder.get())->Append(*s);
          break;
        case arrow::Type::BINARY:
          (void)static_cast<arrow::BinaryBuilder*>(builder.get())->Append(*s);
          break;
        case arrow::Type::FIXED_SIZE_BINARY:
          (void)static_cast<arrow::FixedSizeBinaryBuilder*>(builder.get())
              ->Append(s->data());
          break;
        case arrow::Type::INT32: {
          int32_t x;
          std::memcpy(&x, s->data(), 4);
          (void)static_cast<arrow::Int32Builder*>(builder.get())->Append(x);
          break;
        }
        case arrow::Type::INT64: {
          int64_t x;
          std::memcpy(&x, s->data(), 8);
          (void)static_cast<arrow::Int64Builder*>(builder.get())->Append(x);
          break;
        }
        case arrow::Type::UINT32: {
          uint32_t x;
          std::memcpy(&x, s->data(), 4);
          (void)static_cast<arrow::UInt32Builder*>(builder.get())->Append(x);
          break;
        }
        case arrow::Type::DURATION: {
          int64_t x;
          std::memcpy(&x, s->data(), 8);
          (void)static_cast<arrow::DurationBuilder*>(builder.get())->Append(x);
          break;
        }
        default:
          break;
      }
    }
    return builder->Finish().ValueOrDie();
  }

  std::shared_ptr<arrow::DataType> value_type_;
  bool d16_;
  std::vector<std::string> values_;
  std::unordered_map<std::string, int64_t> index_;
  std::vector<int64_t> rows_;
  std::vector<std::optional<std::string>> plain_;
  bool finished_ = false;
};

template <typename T>
std::string Raw(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

/// \brief A plain column: values and nulls of one batch.
template <typename Builder>
class PlainColumn {
 public:
  explicit PlainColumn(std::shared_ptr<arrow::DataType> type)
      : builder_(type, arrow::default_memory_pool()) {}
  template <typename V>
  void Append(std::optional<V> v) {
    if (finished_) {
      any_ = false;
      finished_ = false;
    }
    if (v) {
      (void)builder_.Append(*v);
      any_ = true;
    } else {
      (void)builder_.AppendNull();
    }
  }
  bool AllNull() const { return !any_; }
  std::shared_ptr<arrow::Array> Finish() {
    finished_ = true;  // AllNull() still answers for this batch
    return builder_.Finish().ValueOrDie();
  }

 private:
  Builder builder_;
  bool any_ = false;
  bool finished_ = false;
};

/// \brief An IPC stream of one payload type, with the schema_id of its current schema.
class PayloadStream {
 public:
  // A sink the producer drains after each batch: those bytes are the payload.
  class Sink : public arrow::io::OutputStream {
   public:
    arrow::Status Close() override {
      closed_ = true;
      return arrow::Status::OK();
    }
    bool closed() const override { return closed_; }
    arrow::Result<int64_t> Tell() const override { return position_; }
    arrow::Status Write(const void* data, int64_t n) override {
      bytes_.append(static_cast<const char*>(data), static_cast<size_t>(n));
      position_ += n;
      return arrow::Status::OK();
    }
    std::string Take() { return std::exchange(bytes_, {}); }

   private:
    std::string bytes_;
    int64_t position_ = 0;
    bool closed_ = false;
  };

  std::string Write(const arrow::RecordBatch& batch, int* next_schema_id,
                    arrow::Compression::type compression, std::string* schema_id) {
    if (writer_ == nullptr || !schema_->Equals(*batch.schema())) {
      sink_ = std::make_shared<Sink>();
      auto options = arrow::ipc::IpcWriteOptions::Defaults();
      options.emit_dictionary_deltas = true;
      if (compression != arrow::Compression::UNCOMPRESSED) {
        options.codec = arrow::util::Codec::Create(compression).ValueOrDie();
      }
      writer_ = arrow::ipc::MakeStreamWriter(sink_, batch.schema(), options).ValueOrDie();
      schema_ = batch.schema();
      schema_id_ = std::to_string((*next_schema_id)++);
    }
    (void)writer_->WriteRecordBatch(batch);
    *schema_id = schema_id_;
    return sink_->Take();
  }

  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }

 private:
  std::shared_ptr<Sink> sink_;
  std::shared_ptr<arrow::ipc::RecordBatchWriter> writer_;
  std::shared_ptr<arrow::Schema> schema_;
  std::string schema_id_;
};

/// \brief An attribute table of one payload type.
class AttrsTableWriter {
 public:
  explicit AttrsTableWriter(bool wide_parent)
      : wide_parent_(wide_parent),
        parent_u16_(arrow::uint16()),
        parent_u32_(arrow::uint32(), false),
        key_(arrow::utf8(), false),
        type_(arrow::uint8()),
        str_(arrow::utf8(), true),
        int_(arrow::int64(), true),
        double_(arrow::float64()),
        bool_(arrow::boolean()),
        bytes_(arrow::binary(), true),
        ser_(arrow::binary(), true) {}

  // The Go producer drops attributes with an empty key or an empty value.
  void Append(uint32_t parent, const otlp::KeyValue& kv) {
    using C = otlp::AnyValue::ValueCase;
    const auto& v = kv.value();
    // Quasi-delta (the decoder's rule): the same key and an equal value as the last
    // absolute row → the difference of the ids.
    bool same = false;
    if (prev_ && prev_->key() == kv.key() &&
        v.value_case() == prev_->value().value_case()) {
      const auto& p = prev_->value();
      switch (v.value_case()) {
        case C::kStringValue:
          same = p.string_value() == v.string_value();
          break;
        case C::kIntValue:
          same = p.int_value() == v.int_value();
          break;
        case C::kDoubleValue:
          same = p.double_value() == v.double_value();
          break;
        case C::kBoolValue:
          same = p.bool_value() == v.bool_value();
          break;
        case C::kBytesValue:
          same = p.bytes_value() == v.bytes_value();
          break;
        default:
          break;
      }
    }
    uint32_t encoded = parent;
    if (same) {
      encoded = parent - prev_parent_;
    } else {
      prev_ = &kv;
    }
    prev_parent_ = parent;
    if (wide_parent_) {
      parent_u32_.Append(Raw(encoded));
    } else {
      parent_u16_.Append(std::optional<uint16_t>(static_cast<uint16_t>(encoded)));
    }
    key_.Append(kv.key());
    uint8_t type = 0;
    std::optional<std::string_view> s, b, ser;
    std::optional<int64_t> i;
    std::optional<double> d;
    std::optional<bool> bo;
    std::string* cbor = nullptr;
    switch (v.value_case()) {
      case C::kStringValue:
        type = 1;
        s = v.string_value();
        break;
      case C::kIntValue:
        type = 2;
        i = v.int_value();
        break;
      case C::kDoubleValue:
        type = 3;
        d = v.double_value();
        break;
      case C::kBoolValue:
        type = 4;
        bo = v.bool_value();
        break;
      case C::kKvlistValue:
        type = 5;
        break;
      case C::kArrayValue:
        type = 6;
        break;
      case C::kBytesValue:
        type = 7;
        b = v.bytes_value();
        break;
      default:
        break;
    }
    if (type == 5 || type == 6) {
      scratch_.emplace_back();
      cbor = &scratch_.back();
      AppendCbor(v, cbor);
      ser = *cbor;
    }
    type_.Append(std::optional<uint8_t>(type));
    str_.Append(s);
    int_.Append(i ? std::optional<std::string>(Raw(*i)) : std::nullopt);
    double_.Append(d);
    bool_.Append(bo);
    bytes_.Append(b);
    ser_.Append(ser);
    ++rows_;
  }
  int64_t rows() const { return rows_; }

  std::shared_ptr<arrow::RecordBatch> Finish(const OtapProducerOptions& o) {
    std::vector<std::shared_ptr<arrow::Field>> fields;
    std::vector<std::shared_ptr<arrow::Array>> arrays;
    auto add = [&](const char* name, std::shared_ptr<arrow::Array> a, bool keep) {
      if (keep) {
        fields.push_back(arrow::field(name, a->type()));
        arrays.push_back(std::move(a));
      }
    };
    auto p = [&](const char* name) { return o.plain_columns.count(name) != 0; };
    if (wide_parent_) {
      add("parent_id", parent_u32_.Finish(p("parent_id")), true);
    } else {
      add("parent_id", parent_u16_.Finish(), true);
    }
    add("key", key_.Finish(p("key")), true);
    add("type", type_.Finish(), true);
    const bool has_str = !str_.AllNull(), has_int = !int_.AllNull(),
               has_double = !double_.AllNull(), has_bool = !bool_.AllNull(),
               has_bytes = !bytes_.AllNull(), has_ser = !ser_.AllNull();
    add("str", str_.Finish(p("str")), has_str);
    add("int", int_.Finish(p("int")), has_int);
    add("double", double_.Finish(), has_double);
    add("bool", bool_.Finish(), has_bool);
    add("bytes", bytes_.Finish(p("bytes")), has_bytes);
    add("ser", ser_.Finish(p("ser")), has_ser);
    const int64_t n = rows_;
    rows_ = 0;
    prev_ = nullptr;
    prev_parent_ = 0;
    scratch_.clear();
    return arrow::RecordBatch::Make(arrow::schema(fields), n, arrays);
  }
  void Reset() {
    for (DictColumn* c : {&parent_u32_, &key_, &str_, &int_, &bytes_, &ser_}) c->Reset();
  }

 private:
  bool wide_parent_;
  PlainColumn<arrow::UInt16Builder> parent_u16_;
  DictColumn parent_u32_, key_;
  PlainColumn<arrow::UInt8Builder> type_;
  DictColumn str_, int_;
  PlainColumn<arrow::DoubleBuilder> double_;
  PlainColumn<arrow::BooleanBuilder> bool_;
  DictColumn bytes_, ser_;
  const otlp::KeyValue* prev_ = nullptr;
  uint32_t prev_parent_ = 0;
  int64_t rows_ = 0;
  std::vector<std::string> scratch_;
};

/// \brief OTLP requests → BatchArrowRecords payloads of one stream.
class OtapTestProducer {
 public:
  explicit OtapTestProducer(OtapProducerOptions options = {})
      : options_(std::move(options)),
        res_attrs_(false),
        scope_attrs_(false),
        span_attrs_(false),
        event_attrs_(true),
        link_attrs_(true) {}

  OtapProducerOptions& options() { return options_; }

  /// \brief The schema of the last batch of a payload type.
  std::shared_ptr<arrow::Schema> last_schema(convert::OtapPayloadType type) {
    return streams_[static_cast<int32_t>(type)].schema();
  }

  /// \brief Go's dictionary reset: every dictionary starts again (replacement
  /// dictionaries on the wire, same schemas).
  void ResetDictionaries() {
    for (auto* c :
         {&res_schema_url_, &scope_name_, &scope_version_, &schema_url_, &duration_,
          &trace_state_, &name_, &kind_, &status_code_, &status_message_, &event_name_,
          &link_trace_id_, &link_span_id_, &link_trace_state_}) {
      c->Reset();
    }
    for (auto* t :
         {&res_attrs_, &scope_attrs_, &span_attrs_, &event_attrs_, &link_attrs_}) {
      t->Reset();
    }
  }

  OtapBar Produce(const otlp::ExportTraceServiceRequest& request) {
    std::vector<std::pair<std::string, std::shared_ptr<arrow::Array>>> cols;
    PlainColumn<arrow::UInt16Builder> id(arrow::uint16()), res_id(arrow::uint16()),
        scope_id(arrow::uint16());
    PlainColumn<arrow::UInt32Builder> res_dropped(arrow::uint32()),
        scope_dropped(arrow::uint32()), flags(arrow::uint32()), dac(arrow::uint32()),
        dec(arrow::uint32()), dlc(arrow::uint32());
    PlainColumn<arrow::TimestampBuilder> start(
        arrow::timestamp(arrow::TimeUnit::NANO, "UTC"));
    PlainColumn<arrow::FixedSizeBinaryBuilder> trace_id(arrow::fixed_size_binary(16)),
        span_id(arrow::fixed_size_binary(8)), parent_id(arrow::fixed_size_binary(8));
    PlainColumn<arrow::UInt32Builder> ev_id(arrow::uint32()), ev_dropped(arrow::uint32()),
        ln_id(arrow::uint32()), ln_dropped(arrow::uint32()), ln_flags(arrow::uint32());
    PlainColumn<arrow::UInt16Builder> ev_parent(arrow::uint16()),
        ln_parent(arrow::uint16());
    PlainColumn<arrow::TimestampBuilder> ev_time(
        arrow::timestamp(arrow::TimeUnit::NANO, "UTC"));
    int64_t rows = 0, events = 0, links = 0;
    uint16_t res_counter = 0, scope_counter = 0, span_counter = 0;
    uint32_t event_counter = 0, link_counter = 0;
    uint16_t prev_res = 0, prev_scope = 0, prev_span = 0;
    uint32_t prev_event = 0, prev_link = 0;
    bool first_row = true;
    std::string prev_event_name;
    uint16_t prev_event_parent = 0;
    std::optional<std::string> prev_link_trace;
    uint16_t prev_link_parent = 0;
    for (const auto& rs : request.resource_spans()) {
      const uint16_t rid = res_counter++;
      bool res_attrs_written = false;
      for (const auto& ss : rs.scope_spans()) {
        const uint16_t sid = scope_counter++;
        bool scope_attrs_written = false;
        for (const auto& span : ss.spans()) {
          // resource and scope: deltas (the first row absolute)
          res_id.Append(std::optional<uint16_t>(
              first_row ? rid : static_cast<uint16_t>(rid - prev_res)));
          scope_id.Append(std::optional<uint16_t>(
              first_row ? sid : static_cast<uint16_t>(sid - prev_scope)));
          first_row = false;
          prev_res = rid;
          prev_scope = sid;
          if (!res_attrs_written) {
            for (const auto& kv : rs.resource().attributes()) res_attrs_.Append(rid, kv);
            res_attrs_written = true;
          }
          if (!scope_attrs_written) {
            for (const auto& kv : ss.scope().attributes()) scope_attrs_.Append(sid, kv);
            scope_attrs_written = true;
          }
          res_schema_url_.Append(Opt(rs.schema_url()));
          res_dropped.Append(
              std::optional<uint32_t>(rs.resource().dropped_attributes_count()));
          scope_name_.Append(Opt(ss.scope().name()));
          scope_version_.Append(Opt(ss.scope().version()));
          scope_dropped.Append(
              std::optional<uint32_t>(ss.scope().dropped_attributes_count()));
          schema_url_.Append(Opt(ss.schema_url()));
          const bool has_children = span.attributes_size() > 0 ||
                                    span.events_size() > 0 || span.links_size() > 0;
          if (has_children) {
            const uint16_t sp = span_counter++;
            id.Append(std::optional<uint16_t>(static_cast<uint16_t>(sp - prev_span)));
            prev_span = sp;
            for (const auto& kv : span.attributes()) span_attrs_.Append(sp, kv);
            for (const auto& e : span.events()) {
              const bool same = e.name() == prev_event_name;
              ev_parent.Append(std::optional<uint16_t>(
                  same ? static_cast<uint16_t>(sp - prev_event_parent) : sp));
              if (!same) prev_event_name = e.name();
              prev_event_parent = sp;
              ev_time.Append(
                  std::optional<int64_t>(static_cast<int64_t>(e.time_unix_nano())));
              event_name_.Append(Opt(e.name()));
              ev_dropped.Append(std::optional<uint32_t>(e.dropped_attributes_count()));
              if (e.attributes_size() > 0) {
                const uint32_t eid = event_counter++;
                ev_id.Append(std::optional<uint32_t>(eid - prev_event));
                prev_event = eid;
                for (const auto& kv : e.attributes()) event_attrs_.Append(eid, kv);
              } else {
                ev_id.Append(std::optional<uint32_t>());
              }
              ++events;
            }
            for (const auto& l : span.links()) {
              const bool same = prev_link_trace && *prev_link_trace == l.trace_id();
              ln_parent.Append(std::optional<uint16_t>(
                  same ? static_cast<uint16_t>(sp - prev_link_parent) : sp));
              if (!same) prev_link_trace = l.trace_id();
              prev_link_parent = sp;
              link_trace_id_.Append(l.trace_id());
              link_span_id_.Append(l.span_id());
              link_trace_state_.Append(Opt(l.trace_state()));
              ln_dropped.Append(std::optional<uint32_t>(l.dropped_attributes_count()));
              ln_flags.Append(std::optional<uint32_t>(l.flags()));
              if (l.attributes_size() > 0) {
                const uint32_t lid = link_counter++;
                ln_id.Append(std::optional<uint32_t>(lid - prev_link));
                prev_link = lid;
                for (const auto& kv : l.attributes()) link_attrs_.Append(lid, kv);
              } else {
                ln_id.Append(std::optional<uint32_t>());
              }
              ++links;
            }
          } else {
            id.Append(std::optional<uint16_t>());
          }
          start.Append(
              std::optional<int64_t>(static_cast<int64_t>(span.start_time_unix_nano())));
          duration_.Append(Raw(static_cast<int64_t>(span.end_time_unix_nano() -
                                                    span.start_time_unix_nano())));
          trace_id.Append(std::optional<const char*>(span.trace_id().data()));
          span_id.Append(std::optional<const char*>(span.span_id().data()));
          parent_id.Append(
              span.parent_span_id().empty()
                  ? std::optional<const char*>()
                  : std::optional<const char*>(span.parent_span_id().data()));
          trace_state_.Append(Opt(span.trace_state()));
          flags.Append(std::optional<uint32_t>(span.flags()));
          name_.Append(Opt(span.name()));
          kind_.Append(span.kind() == 0
                           ? std::nullopt
                           : std::optional<std::string>(Raw<int32_t>(span.kind())));
          dac.Append(NonZero(span.dropped_attributes_count()));
          dec.Append(NonZero(span.dropped_events_count()));
          dlc.Append(NonZero(span.dropped_links_count()));
          status_code_.Append(
              span.status().code() == 0
                  ? std::nullopt
                  : std::optional<std::string>(Raw<int32_t>(span.status().code())));
          status_message_.Append(Opt(span.status().message()));
          ++rows;
        }
      }
    }
    OtapBar bar;
    // SPANS first, as Go.
    {
      Fields f;
      auto p = [&](const std::string& n) { return options_.plain_columns.count(n) != 0; };
      f.Add("id", id.Finish(), !id.AllNull());
      f.AddStruct("resource",
                  {{"id", res_id.Finish(), true},
                   {"schema_url", res_schema_url_.Finish(p("resource.schema_url")),
                    !res_schema_url_.AllNull()},
                   {"dropped_attributes_count", res_dropped.Finish(), true}});
      f.AddStruct("scope",
                  {{"id", scope_id.Finish(), true},
                   {"name", scope_name_.Finish(p("scope.name")), !scope_name_.AllNull()},
                   {"version", scope_version_.Finish(p("scope.version")),
                    !scope_version_.AllNull()},
                   {"dropped_attributes_count", scope_dropped.Finish(), true}});
      f.Add("schema_url", schema_url_.Finish(p("schema_url")), !schema_url_.AllNull());
      f.Add("start_time_unix_nano", start.Finish(), true);
      f.Add("duration_time_unix_nano", duration_.Finish(p("duration_time_unix_nano")),
            true);
      f.Add("trace_id", trace_id.Finish(), true);
      f.Add("span_id", span_id.Finish(), true);
      f.Add("trace_state", trace_state_.Finish(p("trace_state")),
            !trace_state_.AllNull());
      f.Add("parent_span_id", parent_id.Finish(), !parent_id.AllNull());
      f.Add("flags", flags.Finish(), true);
      f.Add("name", name_.Finish(p("name")), !name_.AllNull());
      f.Add("kind", kind_.Finish(p("kind")), !kind_.AllNull());
      f.Add("dropped_attributes_count", dac.Finish(), !dac.AllNull());
      f.Add("dropped_events_count", dec.Finish(), !dec.AllNull());
      f.Add("dropped_links_count", dlc.Finish(), !dlc.AllNull());
      const bool any_status = !status_code_.AllNull() || !status_message_.AllNull();
      f.AddStruct(
          "status",
          {{"code", status_code_.Finish(p("status.code")), !status_code_.AllNull()},
           {"status_message", status_message_.Finish(p("status.status_message")),
            !status_message_.AllNull()}},
          any_status);
      Emit(&bar, convert::OtapPayloadType::kSpans, f.Make(rows));
    }
    EmitAttrs(&bar, convert::OtapPayloadType::kResourceAttrs, &res_attrs_);
    EmitAttrs(&bar, convert::OtapPayloadType::kScopeAttrs, &scope_attrs_);
    EmitAttrs(&bar, convert::OtapPayloadType::kSpanAttrs, &span_attrs_);
    if (events > 0) {
      Fields f;
      f.Add("id", ev_id.Finish(), !ev_id.AllNull());
      f.Add("parent_id", ev_parent.Finish(), true);
      f.Add("time_unix_nano", ev_time.Finish(), true);
      f.Add("name", event_name_.Finish(options_.plain_columns.count("events.name") != 0),
            !event_name_.AllNull());
      f.Add("dropped_attributes_count", ev_dropped.Finish(), true);
      Emit(&bar, convert::OtapPayloadType::kSpanEvents, f.Make(events));
    }
    if (links > 0) {
      Fields f;
      f.Add("id", ln_id.Finish(), !ln_id.AllNull());
      f.Add("parent_id", ln_parent.Finish(), true);
      f.Add("trace_id", link_trace_id_.Finish(false), true);
      f.Add("span_id", link_span_id_.Finish(false), true);
      f.Add("trace_state", link_trace_state_.Finish(false), !link_trace_state_.AllNull());
      f.Add("dropped_attributes_count", ln_dropped.Finish(), true);
      f.Add("flags", ln_flags.Finish(), true);
      Emit(&bar, convert::OtapPayloadType::kSpanLinks, f.Make(links));
    }
    EmitAttrs(&bar, convert::OtapPayloadType::kSpanEventAttrs, &event_attrs_);
    EmitAttrs(&bar, convert::OtapPayloadType::kSpanLinkAttrs, &link_attrs_);
    return bar;
  }

 private:
  struct Child {
    const char* name;
    std::shared_ptr<arrow::Array> array;
    bool keep;
  };
  struct Fields {
    std::vector<std::shared_ptr<arrow::Field>> fields;
    std::vector<std::shared_ptr<arrow::Array>> arrays;
    void Add(const char* name, std::shared_ptr<arrow::Array> a, bool keep) {
      if (!keep) return;
      fields.push_back(arrow::field(name, a->type()));
      arrays.push_back(std::move(a));
    }
    void AddStruct(const char* name, std::vector<Child> children, bool keep = true) {
      if (!keep) return;
      std::vector<std::shared_ptr<arrow::Array>> arrays_;
      std::vector<std::shared_ptr<arrow::Field>> fields_;
      for (auto& c : children) {
        if (!c.keep) continue;
        fields_.push_back(arrow::field(c.name, c.array->type()));
        arrays_.push_back(c.array);
      }
      Add(name, arrow::StructArray::Make(arrays_, fields_).ValueOrDie(), true);
    }
    std::shared_ptr<arrow::RecordBatch> Make(int64_t rows) {
      return arrow::RecordBatch::Make(arrow::schema(fields), rows, arrays);
    }
  };

  static std::optional<std::string_view> Opt(const std::string& s) {
    return s.empty() ? std::nullopt : std::optional<std::string_view>(s);
  }
  static std::optional<uint32_t> NonZero(uint32_t v) {
    return v == 0 ? std::nullopt : std::optional<uint32_t>(v);
  }

  void Emit(OtapBar* bar, convert::OtapPayloadType type,
            const std::shared_ptr<arrow::RecordBatch>& batch) {
    OtapBar::Payload payload;
    payload.type = static_cast<int32_t>(type);
    payload.record = streams_[payload.type].Write(
        *batch, &next_schema_id_, options_.compression, &payload.schema_id);
    bar->payloads.push_back(std::move(payload));
  }
  void EmitAttrs(OtapBar* bar, convert::OtapPayloadType type, AttrsTableWriter* table) {
    if (table->rows() == 0) return;
    Emit(bar, type, table->Finish(options_));
  }

  OtapProducerOptions options_;
  std::map<int32_t, PayloadStream> streams_;
  int next_schema_id_ = 0;
  DictColumn res_schema_url_{arrow::utf8(), false}, scope_name_{arrow::utf8(), false},
      scope_version_{arrow::utf8(), false}, schema_url_{arrow::utf8(), false},
      duration_{arrow::duration(arrow::TimeUnit::NANO), false},
      trace_state_{arrow::utf8(), false}, name_{arrow::utf8(), false},
      kind_{arrow::int32(), false}, status_code_{arrow::int32(), false},
      status_message_{arrow::utf8(), false}, event_name_{arrow::utf8(), false},
      link_trace_id_{arrow::fixed_size_binary(16), false},
      link_span_id_{arrow::fixed_size_binary(8), false},
      link_trace_state_{arrow::utf8(), false};
  AttrsTableWriter res_attrs_, scope_attrs_, span_attrs_, event_attrs_, link_attrs_;
};

}  // namespace otlp_arrow::testing
