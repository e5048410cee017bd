// SPDX-License-Identifier: Apache-2.0
//
// OTAP traces → span table. Decode() feeds the payloads to their IPC streams, binds
// the columns by name, resolves every id exactly as the Go consumer (otel-arrow v0.46.0
// traces/otlp, common/otlp) does and refuses what cannot be appended; AppendTo() then
// only copies values into the SpanTableEncoder's writers. Rows are grouped by parent id
// with a counting sort (ids are small integers: the Go producer numbers them 0, 1, …).

#include "otlp_arrow/convert/otap_traces_decoder.h"

#include <algorithm>
#include <array>
#include <string>
#include <unordered_map>
#include <utility>

#include "attributes_internal.h"
#include "otap_cbor_internal.h"
#include "otap_columns_internal.h"
#include "otap_ipc_streams_internal.h"
#include "otlp_arrow/model/otlp_json.h"
#include "span_table_encoder_internal.h"

namespace otlp_arrow::convert {

std::string OtapPayloadTypeName(int32_t type) {
  switch (static_cast<OtapPayloadType>(type)) {
    case OtapPayloadType::kResourceAttrs:
      return "RESOURCE_ATTRS";
    case OtapPayloadType::kScopeAttrs:
      return "SCOPE_ATTRS";
    case OtapPayloadType::kSpans:
      return "SPANS";
    case OtapPayloadType::kSpanAttrs:
      return "SPAN_ATTRS";
    case OtapPayloadType::kSpanEvents:
      return "SPAN_EVENTS";
    case OtapPayloadType::kSpanLinks:
      return "SPAN_LINKS";
    case OtapPayloadType::kSpanEventAttrs:
      return "SPAN_EVENT_ATTRS";
    case OtapPayloadType::kSpanLinkAttrs:
      return "SPAN_LINK_ATTRS";
  }
  return "UNKNOWN(" + std::to_string(type) + ")";
}

arrow::Status OtapTraceStreamDecoderOptions::Validate() const {
  if (max_stream_dictionary_bytes <= 0) {
    return arrow::Status::Invalid("max_stream_dictionary_bytes must be positive");
  }
  if (max_batch_decoded_bytes <= 0) {
    return arrow::Status::Invalid("max_batch_decoded_bytes must be positive");
  }
  if (pool == nullptr) return arrow::Status::Invalid("pool must not be null");
  return arrow::Status::OK();
}

namespace {

using internal::OtapColumn;
using internal::OtapKind;
using internal::OtapValidatedDictionaries;

constexpr int kMaxSpanKind = 5;
constexpr int kMaxStatusCode = 2;
constexpr int32_t kNone = -1;

// Rough bytes of a span-table row and of nested entries, for EstimatedEncodedBytes():
// the fixed-width columns and offsets, before any string.
constexpr int64_t kSpanRowBytes = 16 + 8 + 8 + 4 * 8 + 8 * 2 + 4 * 4 + 8 * 2;
constexpr int64_t kEventBytes = 8 + 4 + 4 + 4 + 4;
constexpr int64_t kLinkBytes = 16 + 8 + 4 + 4 + 4 + 4;
// An attribute: its slots, and about the characters of a key and a value (which the
// span table keeps in per-batch dictionaries: counted once per entry here, an upper
// bound).
constexpr int64_t kAttributeBytes = 1 + 4 + 4 + 8 + 8 + 4 + 4 + 1 + 24;

// Rows grouped by a parent id: order() lists the rows of each id contiguously, in row
// order (a stable counting sort), so that the rows of id k are
// order()[begin(k) .. end(k)). Ids are dense in practice; far-apart ids (possible with
// uint32 ids) go through a sorted map of their own instead of a huge count array.
class Buckets {
 public:
  // `ids[row]`: the row's parent id, or -1 for a row without one.
  void Build(const std::vector<int64_t>& ids) {
    int64_t max_id = -1;
    int64_t n = 0;
    for (int64_t id : ids) {
      max_id = std::max(max_id, id);
      n += id >= 0;
    }
    order_.assign(static_cast<size_t>(n), 0);
    if (n == 0) {
      start_.assign(1, 0);
      return;
    }
    if (max_id <= 4 * n + 1024) {
      dense_ = true;
      start_.assign(static_cast<size_t>(max_id) + 2, 0);
      for (int64_t id : ids) {
        if (id >= 0) ++start_[static_cast<size_t>(id) + 1];
      }
    } else {
      dense_ = false;
      std::vector<int64_t> distinct;
      for (int64_t id : ids) {
        if (id >= 0) distinct.push_back(id);
      }
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
      sparse_.reserve(distinct.size());
      for (size_t b = 0; b < distinct.size(); ++b) {
        sparse_.emplace(distinct[b], static_cast<int32_t>(b));
      }
      start_.assign(distinct.size() + 1, 0);
      for (int64_t id : ids) {
        if (id >= 0) ++start_[static_cast<size_t>(sparse_.at(id)) + 1];
      }
    }
    for (size_t b = 1; b < start_.size(); ++b) start_[b] += start_[b - 1];
    std::vector<int32_t> next(start_.begin(), start_.end() - 1);
    for (size_t row = 0; row < ids.size(); ++row) {
      if (ids[row] >= 0) order_[next[Bucket(ids[row])]++] = static_cast<int32_t>(row);
    }
    user_.assign(start_.size() - 1, -1);
  }

  // The bucket of `id`, or -1 when no row has it.
  int32_t Find(int64_t id) const {
    if (id < 0) return -1;
    int32_t b;
    if (dense_) {
      if (id >= static_cast<int64_t>(start_.size()) - 1) return -1;
      b = static_cast<int32_t>(id);
    } else {
      auto it = sparse_.find(id);
      if (it == sparse_.end()) return -1;
      b = it->second;
    }
    return start_[b] == start_[b + 1] ? -1 : b;
  }
  int32_t begin(int32_t b) const { return start_[b]; }
  int32_t end(int32_t b) const { return start_[b + 1]; }
  const std::vector<int32_t>& order() const { return order_; }
  std::vector<int32_t>& mutable_order() { return order_; }
  int32_t num_buckets() const { return static_cast<int32_t>(start_.size()) - 1; }

  // Marks bucket `b` as referenced by the owner at `row`; returns the row of an earlier
  // owner, or -1.
  int32_t Use(int32_t b, int32_t row = 0) {
    const int32_t earlier = user_[b];
    if (earlier < 0) user_[b] = row;
    return earlier;
  }
  // The first row of a bucket that nothing refers to, or -1.
  int32_t FirstUnusedRow() const {
    int32_t first = -1;
    for (int32_t b = 0; b < num_buckets(); ++b) {
      if (user_[b] < 0 && start_[b] != start_[b + 1]) {
        const int32_t row = order_[start_[b]];
        if (first < 0 || row < first) first = row;
      }
    }
    return first;
  }

 private:
  int32_t Bucket(int64_t id) const {
    return dense_ ? static_cast<int32_t>(id) : sparse_.at(id);
  }

  bool dense_ = true;
  std::vector<int32_t> start_{0};
  std::vector<int32_t> order_;
  std::unordered_map<int64_t, int32_t> sparse_;
  std::vector<int32_t> user_;  // per bucket: the first row that refers to it, or -1
};

// One attribute table (RESOURCE_ATTRS, SCOPE_ATTRS, SPAN_ATTRS, SPAN_EVENT_ATTRS,
// SPAN_LINK_ATTRS): rows grouped by their resolved parent id.
struct AttrsTable {
  std::string payload;
  std::shared_ptr<arrow::RecordBatch> batch;
  OtapColumn parent_id, key, type, str, int_value, double_value, bool_value, bytes, ser;
  Buckets buckets;
  // OTLP/JSON of the nested values (types 5 and 6), by row.
  std::unordered_map<int32_t, std::string> json;
  int64_t json_bytes = 0;
  // CollapseDuplicateKeys()'s table, by key index: the bucket that last had the key and
  // where. Keys of larger dictionaries take the slower path.
  static constexpr int64_t kMaxKeyTable = int64_t{1} << 20;
  std::vector<int32_t> key_bucket_;
  std::vector<int32_t> key_position_;

  int64_t num_rows() const { return batch == nullptr ? 0 : batch->num_rows(); }

  arrow::Status Bind(OtapValidatedDictionaries* validated, bool wide_ids) {
    const auto& b = *batch;
    ARROW_RETURN_NOT_OK(
        parent_id.Bind(b, payload, "parent_id", OtapKind::kUnsigned, validated));
    ARROW_RETURN_NOT_OK(key.Bind(b, payload, "key", OtapKind::kUtf8, validated));
    ARROW_RETURN_NOT_OK(type.Bind(b, payload, "type", OtapKind::kUInt8, validated));
    ARROW_RETURN_NOT_OK(str.Bind(b, payload, "str", OtapKind::kUtf8, validated));
    ARROW_RETURN_NOT_OK(int_value.Bind(b, payload, "int", OtapKind::kInt64, validated));
    ARROW_RETURN_NOT_OK(
        double_value.Bind(b, payload, "double", OtapKind::kDouble, validated));
    ARROW_RETURN_NOT_OK(bool_value.Bind(b, payload, "bool", OtapKind::kBool, validated));
    ARROW_RETURN_NOT_OK(bytes.Bind(b, payload, "bytes", OtapKind::kBinary, validated));
    ARROW_RETURN_NOT_OK(ser.Bind(b, payload, "ser", OtapKind::kBinary, validated));
    // The Go consumer requires these three (MandatoryFieldIDFromSchema).
    for (const OtapColumn* column : {&parent_id, &key, &type}) {
      if (!column->present()) {
        return arrow::Status::Invalid(column->name().Prefix(), ": missing");
      }
    }
    const uint64_t max_id = wide_ids ? UINT32_MAX : UINT16_MAX;
    const int64_t rows = num_rows();
    std::vector<int64_t> ids(static_cast<size_t>(rows));
    // Quasi-delta parent ids (common/otlp/attributes.go AttrsParentIDDecoder): a row
    // with the key and an equal value of the last absolute row adds to the last id.
    int64_t prev = -1;
    uint64_t prev_id = 0;
    otlp::AnyValue nested;
    std::string scratch;
    for (int64_t row = 0; row < rows; ++row) {
      const uint64_t value = parent_id.Unsigned(row);
      if (value > max_id) {
        return arrow::Status::Invalid(parent_id.name().Row(row), ": ", value,
                                      " does not fit the ", wide_ids ? 32 : 16,
                                      "-bit id of the parent");
      }
      const uint8_t code = type.Get<uint8_t>(row);
      if (code > kMaxAttributeType) {
        return arrow::Status::Invalid(type.name().Row(row), ": ", static_cast<int>(code),
                                      " is not an attribute type (0..7)");
      }
      if (code == static_cast<uint8_t>(AttributeType::kKvlist) ||
          code == static_cast<uint8_t>(AttributeType::kArray)) {
        ARROW_RETURN_NOT_OK(DecodeNested(row, code, &nested, &scratch));
      }
      uint64_t id;
      if (prev >= 0 && SameEntry(prev, row)) {
        id = (prev_id + value) & max_id;
      } else {
        id = value;
        prev = row;
      }
      prev_id = id;
      ids[static_cast<size_t>(row)] = static_cast<int64_t>(id);
    }
    buckets.Build(ids);
    CollapseDuplicateKeys();
    return arrow::Status::OK();
  }

  arrow::Status DecodeNested(int64_t row, uint8_t code, otlp::AnyValue* nested,
                             std::string* json_out) {
    if (!ser.IsValid(row)) {
      return arrow::Status::Invalid(ser.name().Row(row), ": null for a ",
                                    code == 5 ? "map" : "slice", " value");
    }
    arrow::Status status = internal::DecodeCbor(ser.View(row), nested);
    if (!status.ok())
      return arrow::Status::Invalid(ser.name().Row(row), ": ", status.message());
    const bool is_map = code == static_cast<uint8_t>(AttributeType::kKvlist);
    if (is_map ? !nested->has_kvlist_value() : !nested->has_array_value()) {
      return arrow::Status::Invalid(
          ser.name().Row(row), ": type ", static_cast<int>(code), " (",
          is_map ? "map" : "slice", ") but the CBOR holds another kind of value");
    }
    json_out->clear();
    status = is_map ? model::KeyValueListToJson(nested->kvlist_value(), json_out)
                    : model::ArrayValueToJson(nested->array_value(), json_out);
    if (!status.ok())
      return arrow::Status::Invalid(ser.name().Row(row), ": ", status.message());
    json_bytes += static_cast<int64_t>(json_out->size());
    json.emplace(static_cast<int32_t>(row), *json_out);
    return arrow::Status::OK();
  }

  // Go's carrow.Equal on the values of two rows, with the keys compared too.
  bool SameEntry(int64_t a, int64_t b) const {
    const uint8_t code = type.Get<uint8_t>(a);
    if (code != type.Get<uint8_t>(b)) return false;
    if (!key.SameView(a, b)) return false;
    switch (static_cast<AttributeType>(code)) {
      case AttributeType::kString:
        return str.SameView(a, b);
      case AttributeType::kInt:
        return int_value.Get<int64_t>(a) == int_value.Get<int64_t>(b);
      case AttributeType::kDouble:
        return double_value.Get<double>(a) == double_value.Get<double>(b);
      case AttributeType::kBool:
        return bool_value.GetBool(a) == bool_value.GetBool(b);
      case AttributeType::kBytes:
        return bytes.SameView(a, b);
      default:  // empty, map, slice: never equal
        return false;
    }
  }

  // pcommon's PutEmpty, which the Go consumer builds each map with: a repeated key keeps
  // its first position and takes the last value. The later rows are marked -1.
  void CollapseDuplicateKeys() {
    auto& order = buckets.mutable_order();
    // Keys as indices of a dictionary of distinct values (what the Go producer sends):
    // the last position of each key in the current bucket, stamped with the bucket, in
    // one pass per bucket instead of comparing every pair.
    const int64_t distinct = key.distinct_dictionary_length();
    if (distinct > 0 && distinct <= kMaxKeyTable) {
      key_bucket_.assign(static_cast<size_t>(distinct), -1);
      key_position_.resize(static_cast<size_t>(distinct));
      for (int32_t b = 0; b < buckets.num_buckets(); ++b) {
        for (int32_t i = buckets.begin(b); i < buckets.end(b); ++i) {
          const auto k = static_cast<size_t>(key.Index(order[i]));
          if (key_bucket_[k] == b) {
            order[key_position_[k]] = order[i];
            order[i] = -1;
          } else {
            key_bucket_[k] = b;
            key_position_[k] = i;
          }
        }
      }
      return;
    }
    for (int32_t b = 0; b < buckets.num_buckets(); ++b) {
      const int32_t first = buckets.begin(b), last = buckets.end(b);
      if (last - first < 2) continue;
      if (last - first <= 32) {
        for (int32_t i = first + 1; i < last; ++i) {
          for (int32_t j = first; j < i; ++j) {
            if (order[j] >= 0 && key.SameView(order[j], order[i])) {
              order[j] = order[i];
              order[i] = -1;
              break;
            }
          }
        }
      } else {
        std::unordered_map<std::string_view, int32_t> position;
        for (int32_t i = first; i < last; ++i) {
          auto [it, inserted] = position.try_emplace(key.View(order[i]), i);
          if (!inserted) {
            order[it->second] = order[i];
            order[i] = -1;
          }
        }
      }
    }
  }

  // Appends the entries of bucket `b` (-1: none) as one slot of `writer`.
  void AppendSlot(int32_t b, internal::AttributesWriter* writer) const {
    if (b >= 0) {
      const auto& order = buckets.order();
      for (int32_t i = buckets.begin(b); i < buckets.end(b); ++i) {
        if (order[i] >= 0) AppendEntry(order[i], writer);
      }
    }
    writer->CloseSlot();
  }

  void AppendEntry(int64_t row, internal::AttributesWriter* writer) const {
    writer->AppendKey(key.View(row));
    switch (static_cast<AttributeType>(type.Get<uint8_t>(row))) {
      case AttributeType::kEmpty:
        return writer->AppendEmptyValue();
      case AttributeType::kString:
        return writer->AppendStrValue(str.View(row));
      case AttributeType::kInt:
        return writer->AppendIntValue(int_value.Get<int64_t>(row));
      case AttributeType::kDouble:
        return writer->AppendDoubleValue(double_value.Get<double>(row));
      case AttributeType::kBool:
        return writer->AppendBoolValue(bool_value.GetBool(row));
      case AttributeType::kBytes:
        return writer->AppendBytesValue(bytes.View(row));
      case AttributeType::kKvlist:
      case AttributeType::kArray:
        return writer->AppendSerializedValue(
            static_cast<AttributeType>(type.Get<uint8_t>(row)),
            json.at(static_cast<int32_t>(row)));
    }
  }

  // The string value of `service.name` in bucket `b`, or "".
  std::string_view ServiceName(int32_t b) const {
    if (b < 0) return {};
    const auto& order = buckets.order();
    for (int32_t i = buckets.begin(b); i < buckets.end(b); ++i) {
      const int32_t row = order[i];
      if (row >= 0 && key.View(row) == "service.name" &&
          type.Get<uint8_t>(row) == static_cast<uint8_t>(AttributeType::kString)) {
        return str.View(row);
      }
    }
    return {};
  }

  int64_t Entries(int32_t b) const {
    return b < 0 ? 0 : buckets.end(b) - buckets.begin(b);
  }

  // Every row must belong to a parent that exists: the Go consumer drops the others
  // silently; here that would be lost data, so the batch is refused.
  arrow::Status CheckNoOrphans(const char* owner) const {
    const int32_t row = buckets.FirstUnusedRow();
    if (row < 0) return arrow::Status::OK();
    return arrow::Status::Invalid(parent_id.name().Row(row),
                                  ": the parent id matches no ", owner);
  }
};

struct Group {  // a run of spans of one resource and one scope
  int32_t first_row, end_row;
  int32_t resource_row, scope_row;
  int32_t resource_attrs, scope_attrs;  // buckets, -1 for none
};

class OtapTracesImpl final : public OtapTraces {
 public:
  explicit OtapTracesImpl(std::shared_ptr<internal::CappedMemoryPool> pool)
      : pool_(std::move(pool)) {
    resource_attrs_.payload = "RESOURCE_ATTRS";
    scope_attrs_.payload = "SCOPE_ATTRS";
    span_attrs_.payload = "SPAN_ATTRS";
    event_attrs_.payload = "SPAN_EVENT_ATTRS";
    link_attrs_.payload = "SPAN_LINK_ATTRS";
  }

  int64_t num_spans() const override {
    return spans_ == nullptr ? 0 : spans_->num_rows();
  }
  int64_t EstimatedEncodedBytes() const override { return estimated_bytes_; }
  arrow::Status AppendTo(SpanTableEncoder* encoder) const override;

  arrow::Status Set(int32_t type, std::shared_ptr<arrow::RecordBatch> batch);
  arrow::Status Resolve(OtapValidatedDictionaries* validated);

 private:
  arrow::Status BindSpans(OtapValidatedDictionaries* validated);
  arrow::Status ResolveEvents(OtapValidatedDictionaries* validated);
  arrow::Status ResolveLinks(OtapValidatedDictionaries* validated);
  arrow::Status ResolveSpans();
  void AppendRows(internal::SpanTableEncoderAccess::Impl& impl) const;

  std::shared_ptr<internal::CappedMemoryPool> pool_;  // outlives the batches
  std::shared_ptr<arrow::RecordBatch> spans_, events_, links_;
  AttrsTable resource_attrs_, scope_attrs_, span_attrs_, event_attrs_, link_attrs_;

  // SPANS
  const arrow::StructArray *resource_ = nullptr, *scope_ = nullptr, *status_ = nullptr;
  OtapColumn id_, resource_id_, resource_schema_url_, resource_dropped_, scope_id_,
      scope_name_, scope_version_, scope_dropped_, schema_url_, start_, duration_,
      trace_id_, span_id_, trace_state_, parent_span_id_, flags_, name_, kind_,
      dropped_attributes_, dropped_events_, dropped_links_, status_code_, status_message_;
  std::vector<Group> groups_;
  // Per span row: its buckets in SPAN_ATTRS, SPAN_EVENTS, SPAN_LINKS (-1: none).
  std::vector<std::array<int32_t, 3>> span_buckets_;

  // SPAN_EVENTS
  OtapColumn event_id_, event_parent_, event_time_, event_name_, event_dropped_;
  Buckets events_by_span_;
  std::vector<int32_t> event_attrs_bucket_;  // per event row
  // SPAN_LINKS
  OtapColumn link_id_, link_parent_, link_trace_id_, link_span_id_, link_trace_state_,
      link_dropped_, link_flags_;
  Buckets links_by_span_;
  std::vector<int32_t> link_attrs_bucket_;  // per link row

  int64_t estimated_bytes_ = 0;
};

arrow::Status OtapTracesImpl::Set(int32_t type,
                                  std::shared_ptr<arrow::RecordBatch> batch) {
  std::shared_ptr<arrow::RecordBatch>* slot = nullptr;
  switch (static_cast<OtapPayloadType>(type)) {
    case OtapPayloadType::kResourceAttrs:
      slot = &resource_attrs_.batch;
      break;
    case OtapPayloadType::kScopeAttrs:
      slot = &scope_attrs_.batch;
      break;
    case OtapPayloadType::kSpans:
      slot = &spans_;
      break;
    case OtapPayloadType::kSpanAttrs:
      slot = &span_attrs_.batch;
      break;
    case OtapPayloadType::kSpanEvents:
      slot = &events_;
      break;
    case OtapPayloadType::kSpanLinks:
      slot = &links_;
      break;
    case OtapPayloadType::kSpanEventAttrs:
      slot = &event_attrs_.batch;
      break;
    case OtapPayloadType::kSpanLinkAttrs:
      slot = &link_attrs_.batch;
      break;
  }
  if (slot == nullptr) {
    return arrow::Status::Invalid("payload type ", OtapPayloadTypeName(type),
                                  " is not a traces payload");
  }
  if (*slot != nullptr) {
    return arrow::Status::Invalid(OtapPayloadTypeName(type),
                                  " payload: more than one in a BatchArrowRecords");
  }
  *slot = std::move(batch);
  return arrow::Status::OK();
}

arrow::Status OtapTracesImpl::Resolve(OtapValidatedDictionaries* validated) {
  for (AttrsTable* table : {&resource_attrs_, &scope_attrs_, &span_attrs_}) {
    if (table->batch != nullptr) ARROW_RETURN_NOT_OK(table->Bind(validated, false));
  }
  for (AttrsTable* table : {&event_attrs_, &link_attrs_}) {
    if (table->batch != nullptr) ARROW_RETURN_NOT_OK(table->Bind(validated, true));
  }
  ARROW_RETURN_NOT_OK(ResolveEvents(validated));
  ARROW_RETURN_NOT_OK(ResolveLinks(validated));
  ARROW_RETURN_NOT_OK(BindSpans(validated));
  ARROW_RETURN_NOT_OK(ResolveSpans());
  ARROW_RETURN_NOT_OK(resource_attrs_.CheckNoOrphans("SPANS 'resource.id'"));
  ARROW_RETURN_NOT_OK(scope_attrs_.CheckNoOrphans("SPANS 'scope.id'"));
  ARROW_RETURN_NOT_OK(span_attrs_.CheckNoOrphans("SPANS 'id'"));
  ARROW_RETURN_NOT_OK(event_attrs_.CheckNoOrphans("SPAN_EVENTS 'id'"));
  ARROW_RETURN_NOT_OK(link_attrs_.CheckNoOrphans("SPAN_LINKS 'id'"));
  const int32_t orphan_event = events_by_span_.FirstUnusedRow();
  if (orphan_event >= 0) {
    return arrow::Status::Invalid(event_parent_.name().Row(orphan_event),
                                  ": the parent id matches no SPANS 'id'");
  }
  const int32_t orphan_link = links_by_span_.FirstUnusedRow();
  if (orphan_link >= 0) {
    return arrow::Status::Invalid(link_parent_.name().Row(orphan_link),
                                  ": the parent id matches no SPANS 'id'");
  }
  return arrow::Status::OK();
}

arrow::Status OtapTracesImpl::ResolveEvents(OtapValidatedDictionaries* validated) {
  if (events_ == nullptr) return arrow::Status::OK();
  const auto& b = *events_;
  const std::string payload = "SPAN_EVENTS";
  ARROW_RETURN_NOT_OK(event_id_.Bind(b, payload, "id", OtapKind::kUInt32, validated));
  ARROW_RETURN_NOT_OK(
      event_parent_.Bind(b, payload, "parent_id", OtapKind::kUInt16, validated));
  ARROW_RETURN_NOT_OK(
      event_time_.Bind(b, payload, "time_unix_nano", OtapKind::kTimestampNs, validated));
  ARROW_RETURN_NOT_OK(event_name_.Bind(b, payload, "name", OtapKind::kUtf8, validated));
  ARROW_RETURN_NOT_OK(event_dropped_.Bind(b, payload, "dropped_attributes_count",
                                          OtapKind::kUInt32, validated));
  const int64_t rows = b.num_rows();
  std::vector<int64_t> parents(static_cast<size_t>(rows));
  event_attrs_bucket_.assign(static_cast<size_t>(rows), kNone);
  // traces/otlp/event.go: parent ids are quasi-delta keyed on the name (the first
  // "previous name" is ""); attribute ids are deltas over the rows that have one.
  std::string_view prev_name;
  uint16_t prev_parent = 0;
  uint32_t attrs_id = 0;
  for (int64_t row = 0; row < rows; ++row) {
    const std::string_view name = event_name_.View(row);
    const uint16_t value = event_parent_.Get<uint16_t>(row);
    if (name == prev_name) {
      prev_parent = static_cast<uint16_t>(prev_parent + value);
    } else {
      prev_name = name;
      prev_parent = value;
    }
    parents[static_cast<size_t>(row)] = prev_parent;
    if (event_id_.IsValid(row)) {
      attrs_id += event_id_.Get<uint32_t>(row);
      const int32_t bucket = event_attrs_.buckets.Find(attrs_id);
      event_attrs_bucket_[static_cast<size_t>(row)] = bucket;
      if (bucket >= 0) event_attrs_.buckets.Use(bucket);
    }
    estimated_bytes_ += kEventBytes + static_cast<int64_t>(name.size());
  }
  events_by_span_.Build(parents);
  return arrow::Status::OK();
}

arrow::Status OtapTracesImpl::ResolveLinks(OtapValidatedDictionaries* validated) {
  if (links_ == nullptr) return arrow::Status::OK();
  const auto& b = *links_;
  const std::string payload = "SPAN_LINKS";
  ARROW_RETURN_NOT_OK(link_id_.Bind(b, payload, "id", OtapKind::kUInt32, validated));
  ARROW_RETURN_NOT_OK(
      link_parent_.Bind(b, payload, "parent_id", OtapKind::kUInt16, validated));
  ARROW_RETURN_NOT_OK(
      link_trace_id_.Bind(b, payload, "trace_id", OtapKind::kFixedBinary16, validated));
  ARROW_RETURN_NOT_OK(
      link_span_id_.Bind(b, payload, "span_id", OtapKind::kFixedBinary8, validated));
  ARROW_RETURN_NOT_OK(
      link_trace_state_.Bind(b, payload, "trace_state", OtapKind::kUtf8, validated));
  ARROW_RETURN_NOT_OK(link_dropped_.Bind(b, payload, "dropped_attributes_count",
                                         OtapKind::kUInt32, validated));
  ARROW_RETURN_NOT_OK(
      link_flags_.Bind(b, payload, "flags", OtapKind::kUInt32, validated));
  const int64_t rows = b.num_rows();
  std::vector<int64_t> parents(static_cast<size_t>(rows));
  link_attrs_bucket_.assign(static_cast<size_t>(rows), kNone);
  // traces/otlp/link.go: parent ids are quasi-delta keyed on the trace id bytes (a
  // null trace id is nil, equal to the initial nil).
  const uint8_t* prev_trace = nullptr;
  uint16_t prev_parent = 0;
  uint32_t attrs_id = 0;
  for (int64_t row = 0; row < rows; ++row) {
    const uint8_t* trace = link_trace_id_.Fixed(row);
    const uint16_t value = link_parent_.Get<uint16_t>(row);
    const bool same = (trace == nullptr || prev_trace == nullptr)
                          ? trace == prev_trace
                          : std::memcmp(trace, prev_trace, otlp::kTraceIdSize) == 0;
    if (same) {
      prev_parent = static_cast<uint16_t>(prev_parent + value);
    } else {
      prev_trace = trace;
      prev_parent = value;
    }
    parents[static_cast<size_t>(row)] = prev_parent;
    if (link_id_.IsValid(row)) {
      attrs_id += link_id_.Get<uint32_t>(row);
      const int32_t bucket = link_attrs_.buckets.Find(attrs_id);
      link_attrs_bucket_[static_cast<size_t>(row)] = bucket;
      if (bucket >= 0) link_attrs_.buckets.Use(bucket);
    }
    estimated_bytes_ +=
        kLinkBytes + static_cast<int64_t>(link_trace_state_.View(row).size());
  }
  links_by_span_.Build(parents);
  return arrow::Status::OK();
}

arrow::Status OtapTracesImpl::BindSpans(OtapValidatedDictionaries* validated) {
  if (spans_ == nullptr) return arrow::Status::OK();
  const auto& b = *spans_;
  const std::string p = "SPANS";
  ARROW_RETURN_NOT_OK(internal::BindStruct(b, p, "resource", &resource_));
  ARROW_RETURN_NOT_OK(internal::BindStruct(b, p, "scope", &scope_));
  ARROW_RETURN_NOT_OK(internal::BindStruct(b, p, "status", &status_));
  ARROW_RETURN_NOT_OK(resource_id_.BindChild(resource_, p, "resource", "id",
                                             OtapKind::kUInt16, validated));
  ARROW_RETURN_NOT_OK(resource_schema_url_.BindChild(
      resource_, p, "resource", "schema_url", OtapKind::kUtf8, validated));
  ARROW_RETURN_NOT_OK(resource_dropped_.BindChild(resource_, p, "resource",
                                                  "dropped_attributes_count",
                                                  OtapKind::kUInt32, validated));
  ARROW_RETURN_NOT_OK(
      scope_id_.BindChild(scope_, p, "scope", "id", OtapKind::kUInt16, validated));
  ARROW_RETURN_NOT_OK(
      scope_name_.BindChild(scope_, p, "scope", "name", OtapKind::kUtf8, validated));
  ARROW_RETURN_NOT_OK(scope_version_.BindChild(scope_, p, "scope", "version",
                                               OtapKind::kUtf8, validated));
  ARROW_RETURN_NOT_OK(scope_dropped_.BindChild(
      scope_, p, "scope", "dropped_attributes_count", OtapKind::kUInt32, validated));
  ARROW_RETURN_NOT_OK(
      status_code_.BindChild(status_, p, "status", "code", OtapKind::kInt32, validated));
  ARROW_RETURN_NOT_OK(status_message_.BindChild(status_, p, "status", "status_message",
                                                OtapKind::kUtf8, validated));
  ARROW_RETURN_NOT_OK(id_.Bind(b, p, "id", OtapKind::kUInt16, validated));
  ARROW_RETURN_NOT_OK(schema_url_.Bind(b, p, "schema_url", OtapKind::kUtf8, validated));
  ARROW_RETURN_NOT_OK(
      start_.Bind(b, p, "start_time_unix_nano", OtapKind::kTimestampNs, validated));
  ARROW_RETURN_NOT_OK(
      duration_.Bind(b, p, "duration_time_unix_nano", OtapKind::kDurationNs, validated));
  ARROW_RETURN_NOT_OK(
      trace_id_.Bind(b, p, "trace_id", OtapKind::kFixedBinary16, validated));
  ARROW_RETURN_NOT_OK(span_id_.Bind(b, p, "span_id", OtapKind::kFixedBinary8, validated));
  ARROW_RETURN_NOT_OK(trace_state_.Bind(b, p, "trace_state", OtapKind::kUtf8, validated));
  ARROW_RETURN_NOT_OK(
      parent_span_id_.Bind(b, p, "parent_span_id", OtapKind::kFixedBinary8, validated));
  ARROW_RETURN_NOT_OK(flags_.Bind(b, p, "flags", OtapKind::kUInt32, validated));
  ARROW_RETURN_NOT_OK(name_.Bind(b, p, "name", OtapKind::kUtf8, validated));
  ARROW_RETURN_NOT_OK(kind_.Bind(b, p, "kind", OtapKind::kInt32, validated));
  ARROW_RETURN_NOT_OK(dropped_attributes_.Bind(b, p, "dropped_attributes_count",
                                               OtapKind::kUInt32, validated));
  ARROW_RETURN_NOT_OK(
      dropped_events_.Bind(b, p, "dropped_events_count", OtapKind::kUInt32, validated));
  ARROW_RETURN_NOT_OK(
      dropped_links_.Bind(b, p, "dropped_links_count", OtapKind::kUInt32, validated));
  return arrow::Status::OK();
}

arrow::Status OtapTracesImpl::ResolveSpans() {
  const int64_t rows = num_spans();
  span_buckets_.assign(static_cast<size_t>(rows), {kNone, kNone, kNone});
  groups_.clear();
  // traces/otlp/traces.go: resource and scope ids are deltas over every row (null adds
  // 0); a new ResourceSpans starts where the resource id changes, a new ScopeSpans where
  // the scope id or the resource changes. Span ids are deltas over the non-null rows.
  uint16_t resource_id = 0, scope_id = 0, span_id = 0;
  int32_t prev_resource = kNone, prev_scope = kNone;
  for (int64_t row = 0; row < rows; ++row) {
    if (!trace_id_.IsValid(row)) {
      return arrow::Status::Invalid(trace_id_.name().Row(row),
                                    ": missing (a span needs a 16-byte trace id)");
    }
    if (!span_id_.IsValid(row)) {
      return arrow::Status::Invalid(span_id_.name().Row(row),
                                    ": missing (a span needs an 8-byte span id)");
    }
    const int32_t kind = kind_.Get<int32_t>(row);
    if (kind < 0 || kind > kMaxSpanKind) {
      return arrow::Status::Invalid(kind_.name().Row(row), ": ", kind,
                                    " is not a SpanKind (0..", kMaxSpanKind, ")");
    }
    const int32_t code = status_code_.Get<int32_t>(row);
    if (code < 0 || code > kMaxStatusCode) {
      return arrow::Status::Invalid(status_code_.name().Row(row), ": ", code,
                                    " is not a StatusCode (0..", kMaxStatusCode, ")");
    }
    resource_id = static_cast<uint16_t>(resource_id + resource_id_.Get<uint16_t>(row));
    scope_id = static_cast<uint16_t>(scope_id + scope_id_.Get<uint16_t>(row));
    const bool new_resource = prev_resource != resource_id;
    if (new_resource || prev_scope != scope_id) {
      if (!groups_.empty()) groups_.back().end_row = static_cast<int32_t>(row);
      Group group{
          static_cast<int32_t>(row), static_cast<int32_t>(rows), 0, 0, kNone, kNone};
      if (new_resource) {
        group.resource_row = static_cast<int32_t>(row);
        if (resource_id_.IsValid(row)) {
          group.resource_attrs = resource_attrs_.buckets.Find(resource_id);
        }
      } else {
        group.resource_row = groups_.back().resource_row;
        group.resource_attrs = groups_.back().resource_attrs;
      }
      group.scope_row = static_cast<int32_t>(row);
      if (scope_id_.IsValid(row)) group.scope_attrs = scope_attrs_.buckets.Find(scope_id);
      if (group.resource_attrs >= 0) resource_attrs_.buckets.Use(group.resource_attrs);
      if (group.scope_attrs >= 0) scope_attrs_.buckets.Use(group.scope_attrs);
      groups_.push_back(group);
      prev_resource = resource_id;
      prev_scope = scope_id;
    }
    estimated_bytes_ += kSpanRowBytes + static_cast<int64_t>(name_.View(row).size());
    if (!id_.IsValid(row)) continue;
    span_id = static_cast<uint16_t>(span_id + id_.Get<uint16_t>(row));
    auto& buckets = span_buckets_[static_cast<size_t>(row)];
    buckets[0] = span_attrs_.buckets.Find(span_id);
    buckets[1] = events_by_span_.Find(span_id);
    buckets[2] = links_by_span_.Find(span_id);
    if (buckets[0] >= 0) span_attrs_.buckets.Use(buckets[0]);
    int32_t earlier = -1;
    if (buckets[1] >= 0)
      earlier = events_by_span_.Use(buckets[1], static_cast<int32_t>(row));
    if (buckets[2] >= 0 && earlier < 0) {
      earlier = links_by_span_.Use(buckets[2], static_cast<int32_t>(row));
    }
    if (earlier >= 0) {
      return arrow::Status::Invalid(
          id_.name().Row(row), ": span id ", span_id, " is also that of row ", earlier,
          "; its events and links can belong to one span only (the Go consumer moves "
          "them to the first and leaves empty ones on the others)");
    }
  }
  // Attribute entries, events and links, as the span table will repeat them.
  for (const Group& group : groups_) {
    const int64_t n = group.end_row - group.first_row;
    estimated_bytes_ += n * kAttributeBytes *
                        (resource_attrs_.Entries(group.resource_attrs) +
                         scope_attrs_.Entries(group.scope_attrs));
  }
  for (const AttrsTable* table :
       {&resource_attrs_, &scope_attrs_, &span_attrs_, &event_attrs_, &link_attrs_}) {
    estimated_bytes_ += table->num_rows() * kAttributeBytes + table->json_bytes;
  }
  return arrow::Status::OK();
}

void OtapTracesImpl::AppendRows(internal::SpanTableEncoderAccess::Impl& e) const {
  for (const Group& group : groups_) {
    const int64_t n = group.end_row - group.first_row;
    for (int64_t row = group.first_row; row < group.end_row; ++row) {
      const auto& buckets = span_buckets_[static_cast<size_t>(row)];
      e.trace_id.Append(reinterpret_cast<const char*>(trace_id_.Fixed(row)));
      e.span_id.Append(reinterpret_cast<const char*>(span_id_.Fixed(row)));
      // The Go consumer turns a null or all-zero parent span id into an empty one.
      const uint8_t* parent = parent_span_id_.Fixed(row);
      static constexpr uint8_t kZero[otlp::kSpanIdSize] = {};
      if (parent == nullptr || std::memcmp(parent, kZero, otlp::kSpanIdSize) == 0) {
        e.parent_span_id.AppendNull();
      } else {
        e.parent_span_id.Append(reinterpret_cast<const char*>(parent));
      }
      const std::string_view trace_state = trace_state_.View(row);
      trace_state.empty() ? e.trace_state.AppendNull()
                          : e.trace_state.Append(trace_state);
      e.flags.Append(flags_.Get<uint32_t>(row));
      e.name.Append(name_.View(row));
      e.kind.Append(kind_.Get<int32_t>(row));
      // end = start + duration in int64 (wrapping), as Go's time.Add then UnixNano.
      const uint64_t start = static_cast<uint64_t>(start_.Get<int64_t>(row));
      e.start_time_unix_nano.Append(start);
      e.end_time_unix_nano.Append(start +
                                  static_cast<uint64_t>(duration_.Get<int64_t>(row)));
      e.status_code.Append(status_code_.Get<int32_t>(row));
      const std::string_view message = status_message_.View(row);
      message.empty() ? e.status_message.AppendNull() : e.status_message.Append(message);
      span_attrs_.AppendSlot(buckets[0], &e.attributes);
      e.dropped_attributes_count.Append(dropped_attributes_.Get<uint32_t>(row));
      if (buckets[1] >= 0) {
        const auto& order = events_by_span_.order();
        for (int32_t i = events_by_span_.begin(buckets[1]);
             i < events_by_span_.end(buckets[1]); ++i) {
          const int32_t event = order[i];
          e.event_time.Append(static_cast<uint64_t>(event_time_.Get<int64_t>(event)));
          e.event_name.Append(event_name_.View(event));
          event_attrs_.AppendSlot(event_attrs_bucket_[static_cast<size_t>(event)],
                                  &e.event_attributes);
          e.event_dropped.Append(event_dropped_.Get<uint32_t>(event));
        }
        e.num_events +=
            events_by_span_.end(buckets[1]) - events_by_span_.begin(buckets[1]);
      }
      e.events.Append(e.num_events);
      e.dropped_events_count.Append(dropped_events_.Get<uint32_t>(row));
      if (buckets[2] >= 0) {
        const auto& order = links_by_span_.order();
        static constexpr uint8_t kZeroTrace[otlp::kTraceIdSize] = {};
        for (int32_t i = links_by_span_.begin(buckets[2]);
             i < links_by_span_.end(buckets[2]); ++i) {
          const int32_t link = order[i];
          const uint8_t* trace = link_trace_id_.Fixed(link);
          const uint8_t* span = link_span_id_.Fixed(link);
          e.link_trace_id.Append(
              reinterpret_cast<const char*>(trace != nullptr ? trace : kZeroTrace));
          e.link_span_id.Append(
              reinterpret_cast<const char*>(span != nullptr ? span : kZero));
          const std::string_view state = link_trace_state_.View(link);
          state.empty() ? e.link_trace_state.AppendNull()
                        : e.link_trace_state.Append(state);
          link_attrs_.AppendSlot(link_attrs_bucket_[static_cast<size_t>(link)],
                                 &e.link_attributes);
          e.link_dropped.Append(link_dropped_.Get<uint32_t>(link));
          e.link_flags.Append(link_flags_.Get<uint32_t>(link));
        }
        e.num_links += links_by_span_.end(buckets[2]) - links_by_span_.begin(buckets[2]);
      }
      e.links.Append(e.num_links);
      e.dropped_links_count.Append(dropped_links_.Get<uint32_t>(row));
    }
    // The resource and scope columns: written once for the group, then repeated.
    const int32_t r = group.resource_row, s = group.scope_row;
    e.service_name.AppendRepeated(resource_attrs_.ServiceName(group.resource_attrs), n);
    for (auto [table, bucket, writer] :
         {std::tuple{&resource_attrs_, group.resource_attrs, &e.resource_attributes},
          std::tuple{&scope_attrs_, group.scope_attrs, &e.scope_attributes}}) {
      if (bucket < 0) {
        writer->AppendEmptySlots(n);
      } else {
        const auto begin = writer->sizes();
        table->AppendSlot(bucket, writer);
        writer->RepeatSlot(begin, n - 1);
      }
    }
    e.resource_dropped_attributes_count.AppendRepeated(resource_dropped_.Get<uint32_t>(r),
                                                       n);
    e.resource_schema_url.AppendRepeated(resource_schema_url_.View(r), n);
    e.scope_name.AppendRepeated(scope_name_.View(s), n);
    e.scope_version.AppendRepeated(scope_version_.View(s), n);
    e.scope_dropped_attributes_count.AppendRepeated(scope_dropped_.Get<uint32_t>(s), n);
    e.scope_schema_url.AppendRepeated(schema_url_.View(s), n);
    e.rows += n;
  }
}

arrow::Status OtapTracesImpl::AppendTo(SpanTableEncoder* encoder) const {
  using Access = internal::SpanTableEncoderAccess;
  Access::BeginAppend(*encoder);
  AppendRows(Access::impl(*encoder));
  return Access::EndAppend(*encoder, arrow::Status::OK());
}

class OtapTraceStreamDecoderImpl final : public OtapTraceStreamDecoder {
 public:
  explicit OtapTraceStreamDecoderImpl(const OtapTraceStreamDecoderOptions& options)
      : options_(options),
        pool_(std::make_shared<internal::CappedMemoryPool>(
            options.pool,
            options.max_stream_dictionary_bytes + 2 * options.max_batch_decoded_bytes)),
        streams_(pool_) {}

  arrow::Result<std::shared_ptr<const OtapTraces>> Decode(
      const std::vector<OtapPayload>& payloads) override {
    // Every payload first: the IPC streams must follow the sender's whatever is wrong
    // with this batch.
    std::vector<std::pair<int32_t, arrow::Result<std::shared_ptr<arrow::RecordBatch>>>>
        decoded;
    decoded.reserve(payloads.size());
    for (const OtapPayload& payload : payloads) {
      decoded.emplace_back(payload.type,
                           streams_.Feed(payload.schema_id, payload.type, payload.record,
                                         OtapPayloadTypeName(payload.type)));
    }
    if (streams_.dictionary_bytes() > options_.max_stream_dictionary_bytes) {
      return arrow::Status::CapacityError(
          "the stream's Arrow dictionaries hold ", streams_.dictionary_bytes(),
          " bytes, more than max_stream_dictionary_bytes (",
          options_.max_stream_dictionary_bytes, ")");
    }
    for (const auto& [type, result] : decoded) {
      if (result.status().IsCapacityError()) return result.status();
    }
    auto traces = std::make_shared<OtapTracesImpl>(pool_);
    int64_t decoded_bytes = 0;
    for (auto& [type, result] : decoded) {
      ARROW_RETURN_NOT_OK(result.status());
      decoded_bytes += internal::BatchBytesWithoutDictionaries(**result);
      ARROW_RETURN_NOT_OK(traces->Set(type, std::move(result).ValueUnsafe()));
    }
    if (decoded_bytes > options_.max_batch_decoded_bytes) {
      return arrow::Status::CapacityError("the payloads decode to ", decoded_bytes,
                                          " bytes, more than max_batch_decoded_bytes (",
                                          options_.max_batch_decoded_bytes, ")");
    }
    ARROW_RETURN_NOT_OK(traces->Resolve(&validated_));
    return std::shared_ptr<const OtapTraces>(std::move(traces));
  }

  int64_t dictionary_bytes() const override { return streams_.dictionary_bytes(); }

 private:
  OtapTraceStreamDecoderOptions options_;
  std::shared_ptr<internal::CappedMemoryPool> pool_;
  internal::OtapIpcStreams streams_;
  OtapValidatedDictionaries validated_;
};

}  // namespace

arrow::Result<std::unique_ptr<OtapTraceStreamDecoder>> OtapTraceStreamDecoder::Make(
    OtapTraceStreamDecoderOptions options) {
  ARROW_RETURN_NOT_OK(options.Validate());
  return std::make_unique<OtapTraceStreamDecoderImpl>(options);
}

}  // namespace otlp_arrow::convert
