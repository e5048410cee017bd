// SPDX-License-Identifier: Apache-2.0
// What would make the zstd-compressed span table smaller than zstd-compressed OTLP
// protobuf (issue #5's size target)? Rebuilds the encoder's batch in alternative
// layouts and measures each with the real IPC stream writer, plus whether Arrow's
// Parquet writer (the storage path) accepts it. An experiment, not a converter: the
// rebuilt batches are not span tables the decoder reads.
//
//   build/src/bench/span_table_layout_sizes [spans=10000] [zstd_level=1]

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <arrow/api.h>
#include <arrow/array/concatenate.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/writer.h>
#include <arrow/util/compression.h>
#include <parquet/arrow/writer.h>

#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::bench {
namespace {

using Data = std::shared_ptr<arrow::ArrayData>;
using Batch = std::shared_ptr<arrow::RecordBatch>;

arrow::Result<int64_t> IpcZstdBytes(const Batch& batch, int level) {
  auto options = arrow::ipc::IpcWriteOptions::Defaults();
  options.use_threads = false;
  ARROW_ASSIGN_OR_RAISE(options.codec,
                        arrow::util::Codec::Create(arrow::Compression::ZSTD, level));
  ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create());
  ARROW_ASSIGN_OR_RAISE(auto writer,
                        arrow::ipc::MakeStreamWriter(sink, batch->schema(), options));
  ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(*batch));
  ARROW_RETURN_NOT_OK(writer->Close());
  ARROW_ASSIGN_OR_RAISE(auto buffer, sink->Finish());
  return buffer->size();
}

/// OK when Arrow's Parquet writer (the storage path) accepts the batch.
arrow::Status ParquetWritable(const Batch& batch) {
  ARROW_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches({batch}));
  ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create());
  return parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), sink);
}

arrow::Result<int64_t> ZstdBytes(const std::string& in, int level) {
  ARROW_ASSIGN_OR_RAISE(auto codec,
                        arrow::util::Codec::Create(arrow::Compression::ZSTD, level));
  const auto* data = reinterpret_cast<const uint8_t*>(in.data());
  std::string out(
      static_cast<size_t>(codec->MaxCompressedLen(static_cast<int64_t>(in.size()), data)),
      '\0');
  return codec->Compress(static_cast<int64_t>(in.size()), data,
                         static_cast<int64_t>(out.size()),
                         reinterpret_cast<uint8_t*>(out.data()));
}

/// utf8 → dictionary<int32, utf8>, values in order of first appearance.
arrow::Result<Data> DictionaryEncode(const Data& strings) {
  const arrow::StringArray array(strings);
  std::unordered_map<std::string_view, int32_t> memo;
  arrow::Int32Builder indices;
  arrow::StringBuilder values;
  for (int64_t i = 0; i < array.length(); ++i) {
    if (array.IsNull(i)) {
      ARROW_RETURN_NOT_OK(indices.AppendNull());
      continue;
    }
    auto [it, inserted] =
        memo.try_emplace(array.GetView(i), static_cast<int32_t>(memo.size()));
    if (inserted) ARROW_RETURN_NOT_OK(values.Append(array.GetView(i)));
    ARROW_RETURN_NOT_OK(indices.Append(it->second));
  }
  ARROW_ASSIGN_OR_RAISE(auto index_array, indices.Finish());
  ARROW_ASSIGN_OR_RAISE(auto value_array, values.Finish());
  auto out = index_array->data()->Copy();
  out->type = arrow::dictionary(arrow::int32(), arrow::utf8());
  out->dictionary = value_array->data();
  return out;
}

/// dictionary<int32, utf8> → utf8.
arrow::Result<Data> PlainStrings(const Data& dictionary) {
  const arrow::DictionaryArray array(dictionary);
  const auto& values = static_cast<const arrow::StringArray&>(*array.dictionary());
  arrow::StringBuilder out;
  for (int64_t i = 0; i < array.length(); ++i) {
    ARROW_RETURN_NOT_OK(array.IsNull(i)
                            ? out.AppendNull()
                            : out.Append(values.GetView(array.GetValueIndex(i))));
  }
  ARROW_ASSIGN_OR_RAISE(auto plain, out.Finish());
  return plain->data();
}

/// `map` with its keys and its values' `str` child replaced (the types follow them).
Data WithKeysAndStrings(const Data& map, Data keys, Data strings) {
  auto entries = map->child_data[0]->Copy();
  auto value = entries->child_data[1]->Copy();
  arrow::FieldVector fields = value->type->fields();
  fields[1] = fields[1]->WithType(strings->type);
  value->child_data[1] = std::move(strings);
  value->type = arrow::struct_(fields);
  auto type = std::make_shared<arrow::MapType>(arrow::field("key", keys->type, false),
                                               arrow::field("value", value->type, false));
  entries->child_data = {std::move(keys), value};
  entries->type = type->value_type();
  auto out = map->Copy();
  out->child_data = {entries};
  out->type = type;
  return out;
}

/// An attribute map of span table version 1: plain keys and `str` values.
arrow::Result<Data> PlainAttributes(const Data& map) {
  const auto& entries = map->child_data[0];
  ARROW_ASSIGN_OR_RAISE(auto keys, PlainStrings(entries->child_data[0]));
  ARROW_ASSIGN_OR_RAISE(auto strings,
                        PlainStrings(entries->child_data[1]->child_data[1]));
  return WithKeysAndStrings(map, std::move(keys), std::move(strings));
}

/// An attribute map with dictionary keys and, if `values`, dictionary `str` values.
arrow::Result<Data> DictionaryAttributes(const Data& map, bool values) {
  const auto& entries = map->child_data[0];
  ARROW_ASSIGN_OR_RAISE(auto keys, DictionaryEncode(entries->child_data[0]));
  Data strings = entries->child_data[1]->child_data[1];
  if (values) {
    ARROW_ASSIGN_OR_RAISE(strings, DictionaryEncode(strings));
  }
  return WithKeysAndStrings(map, std::move(keys), std::move(strings));
}

/// Runs of equal adjacent values (the rows of one resource).
std::vector<int64_t> RunStarts(const arrow::Array& array) {
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < array.length(); ++i) {
    if (i == 0 || !array.RangeEquals(i, i + 1, starts.back(), array)) starts.push_back(i);
  }
  return starts;
}

/// dictionary<int32, T>: each run's value once, one index per row.
arrow::Result<Data> DictionaryOfRuns(const Data& column) {
  const auto array = arrow::MakeArray(column);
  const auto starts = RunStarts(*array);
  arrow::ArrayVector values;
  arrow::Int32Builder indices;
  for (size_t r = 0; r < starts.size(); ++r) {
    values.push_back(array->Slice(starts[r], 1));
    const int64_t end = r + 1 < starts.size() ? starts[r + 1] : array->length();
    for (int64_t i = starts[r]; i < end; ++i) {
      ARROW_RETURN_NOT_OK(indices.Append(static_cast<int32_t>(r)));
    }
  }
  ARROW_ASSIGN_OR_RAISE(auto dictionary, arrow::Concatenate(values));
  ARROW_ASSIGN_OR_RAISE(auto index_array, indices.Finish());
  auto out = index_array->data()->Copy();
  out->type = arrow::dictionary(arrow::int32(), column->type);
  out->dictionary = dictionary->data();
  return out;
}

/// run_end_encoded<int32, T>: each run's value once, one run end per run.
arrow::Result<Data> RunEndEncode(const Data& column) {
  const auto array = arrow::MakeArray(column);
  const auto starts = RunStarts(*array);
  arrow::ArrayVector values;
  arrow::Int32Builder ends;
  for (size_t r = 0; r < starts.size(); ++r) {
    values.push_back(array->Slice(starts[r], 1));
    const int64_t end = r + 1 < starts.size() ? starts[r + 1] : array->length();
    ARROW_RETURN_NOT_OK(ends.Append(static_cast<int32_t>(end)));
  }
  ARROW_ASSIGN_OR_RAISE(auto value_array, arrow::Concatenate(values));
  ARROW_ASSIGN_OR_RAISE(auto end_array, ends.Finish());
  ARROW_ASSIGN_OR_RAISE(
      auto ree, arrow::RunEndEncodedArray::Make(array->length(), end_array, value_array));
  return ree->data();
}

arrow::Result<Batch> Replace(const Batch& batch, const std::string& name, Data data) {
  const int i = batch->schema()->GetFieldIndex(name);
  return batch->SetColumn(i, batch->schema()->field(i)->WithType(data->type),
                          arrow::MakeArray(data));
}

arrow::Result<Batch> DictionaryAttributeMaps(Batch batch, bool values) {
  for (const char* name : {"attributes", "resource_attributes", "scope_attributes"}) {
    ARROW_ASSIGN_OR_RAISE(
        auto column, DictionaryAttributes(batch->GetColumnByName(name)->data(), values));
    ARROW_ASSIGN_OR_RAISE(batch, Replace(batch, name, column));
  }
  return batch;
}

arrow::Result<Batch> PlainAttributeMaps(Batch batch) {
  for (const char* name : {"attributes", "resource_attributes", "scope_attributes"}) {
    ARROW_ASSIGN_OR_RAISE(auto column,
                          PlainAttributes(batch->GetColumnByName(name)->data()));
    ARROW_ASSIGN_OR_RAISE(batch, Replace(batch, name, column));
  }
  return batch;
}

struct Layout {
  std::string name;
  Batch batch;
};

arrow::Result<Batch> WithoutDerivedColumns(Batch batch) {
  for (const char* name : {"start_time", "duration_ns"}) {
    ARROW_ASSIGN_OR_RAISE(batch,
                          batch->RemoveColumn(batch->schema()->GetFieldIndex(name)));
  }
  return batch;
}

arrow::Result<std::vector<Layout>> Layouts(const Batch& today) {
  std::vector<Layout> out;
  // Events' and links' attribute maps stay as the encoder made them in every layout.
  ARROW_ASSIGN_OR_RAISE(auto v1, PlainAttributeMaps(today));
  out.push_back({"schema v1: plain attribute keys and values", v1});
  ARROW_ASSIGN_OR_RAISE(auto keys, DictionaryAttributeMaps(v1, false));
  out.push_back({"A: dictionary attribute keys", keys});
  out.push_back({"B: schema v2 (today), dictionary keys and str", today});
  const Batch& keys_values = today;
  ARROW_ASSIGN_OR_RAISE(auto b_underived, WithoutDerivedColumns(keys_values));
  out.push_back(
      {"B on the wire (exporter default: no start_time, duration_ns)", b_underived});
  const auto resource = v1->GetColumnByName("resource_attributes")->data();
  ARROW_ASSIGN_OR_RAISE(auto resource_b, DictionaryAttributes(resource, true));
  ARROW_ASSIGN_OR_RAISE(auto ree, RunEndEncode(resource_b));
  ARROW_ASSIGN_OR_RAISE(auto with_ree, Replace(keys_values, "resource_attributes", ree));
  out.push_back({"B + run-end encoded resource_attributes", with_ree});
  ARROW_ASSIGN_OR_RAISE(auto dict, DictionaryOfRuns(resource_b));
  ARROW_ASSIGN_OR_RAISE(auto with_dict,
                        Replace(keys_values, "resource_attributes", dict));
  out.push_back({"C: B + dictionary<map> resource_attributes", with_dict});
  ARROW_ASSIGN_OR_RAISE(auto c_underived, WithoutDerivedColumns(with_dict));
  out.push_back({"C without start_time, duration_ns", c_underived});
  return out;
}

/// Each buffer of `data` and its children, zstd-compressed alone, as "path buffer".
arrow::Status AddBufferSizes(const arrow::ArrayData& data, const std::string& path,
                             int level, std::vector<std::pair<std::string, int64_t>>* raw,
                             std::vector<int64_t>* zstd) {
  const auto id = data.type->id();
  const bool has_offsets = id == arrow::Type::STRING || id == arrow::Type::BINARY ||
                           id == arrow::Type::LIST || id == arrow::Type::MAP;
  const char* names[] = {"validity", has_offsets ? "offsets" : "values", "data"};
  for (size_t i = 0; i < data.buffers.size(); ++i) {
    const auto& buffer = data.buffers[i];
    if (buffer == nullptr || buffer->size() == 0) continue;
    ARROW_ASSIGN_OR_RAISE(auto bytes, ZstdBytes(buffer->ToString(), level));
    raw->push_back({path + " " + names[std::min<size_t>(i, 2)], buffer->size()});
    zstd->push_back(bytes);
  }
  if (data.dictionary != nullptr) {
    ARROW_RETURN_NOT_OK(
        AddBufferSizes(*data.dictionary, path + " dictionary", level, raw, zstd));
  }
  for (int c = 0; c < static_cast<int>(data.child_data.size()); ++c) {
    const std::string name =
        c < data.type->num_fields() ? data.type->field(c)->name() : std::to_string(c);
    ARROW_RETURN_NOT_OK(
        AddBufferSizes(*data.child_data[c], path + "." + name, level, raw, zstd));
  }
  return arrow::Status::OK();
}

/// Where the compressed bytes of a span table are: the buffers above 2% of the batch,
/// largest first.
arrow::Status PrintBuffers(const Batch& batch, const std::string& workload, int level) {
  std::vector<std::pair<std::string, int64_t>> raw;
  std::vector<int64_t> zstd;
  for (int c = 0; c < batch->num_columns(); ++c) {
    ARROW_RETURN_NOT_OK(AddBufferSizes(
        *batch->column_data(c), batch->schema()->field(c)->name(), level, &raw, &zstd));
  }
  int64_t total = 0;
  for (int64_t z : zstd) total += z;
  std::vector<size_t> order(raw.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return zstd[a] > zstd[b]; });
  std::printf("\n%s, schema v2: %lld bytes zstd, buffer by buffer\n", workload.c_str(),
              static_cast<long long>(total));
  for (size_t i : order) {
    if (zstd[i] * 50 < total) continue;
    std::printf("  %-56s raw %9lld  zstd %8lld  (%4.1f%%)\n", raw[i].first.c_str(),
                static_cast<long long>(raw[i].second), static_cast<long long>(zstd[i]),
                100.0 * static_cast<double>(zstd[i]) / static_cast<double>(total));
  }
  return arrow::Status::OK();
}

arrow::Status Main(int64_t spans, int level) {
  std::printf(
      "zstd level %d, %lld spans; bytes of one IPC stream (schema, dictionaries, "
      "batch) with zstd buffer compression\n\n",
      level, static_cast<long long>(spans));
  std::printf("%-62s %10s %10s %10s  %s\n", "layout", "seed", "otel", "realistic",
              "Parquet writer");
  std::vector<std::vector<Layout>> per_workload;
  std::vector<int64_t> protobuf;
  for (const char* workload : {"seed", "otel", "realistic"}) {
    ARROW_ASSIGN_OR_RAISE(auto request, model::MakeWorkload(workload, spans));
    ARROW_ASSIGN_OR_RAISE(auto bytes, ZstdBytes(request.SerializeAsString(), level));
    protobuf.push_back(bytes);
    ARROW_ASSIGN_OR_RAISE(auto batch, convert::SpanTableEncoder::Encode(request));
    ARROW_ASSIGN_OR_RAISE(auto layouts, Layouts(batch));
    per_workload.push_back(std::move(layouts));
  }
  std::printf("%-62s %10lld %10lld %10lld\n", "OTLP protobuf, one zstd frame",
              static_cast<long long>(protobuf[0]), static_cast<long long>(protobuf[1]),
              static_cast<long long>(protobuf[2]));
  std::vector<std::string> refusals;  // Parquet writer errors, printed after the table
  for (size_t l = 0; l < per_workload[0].size(); ++l) {
    std::printf("%-62s", per_workload[0][l].name.c_str());
    for (const auto& layouts : per_workload) {
      ARROW_ASSIGN_OR_RAISE(auto bytes, IpcZstdBytes(layouts[l].batch, level));
      std::printf(" %10lld", static_cast<long long>(bytes));
    }
    const auto parquet = ParquetWritable(per_workload[2][l].batch);
    if (!parquet.ok())
      refusals.push_back(per_workload[0][l].name + ": " + parquet.message());
    std::printf("  %s\n", parquet.ok() ? "yes" : "no (below)");
  }
  for (const auto& refusal : refusals) std::printf("  %s\n", refusal.c_str());
  ARROW_RETURN_NOT_OK(PrintBuffers(per_workload[1][2].batch, "otel", level));
  ARROW_RETURN_NOT_OK(PrintBuffers(per_workload[2][2].batch, "realistic", level));
  return arrow::Status::OK();
}

}  // namespace
}  // namespace otlp_arrow::bench

int main(int argc, char** argv) {
  const int64_t spans = argc > 1 ? std::atoll(argv[1]) : 10000;
  const int level = argc > 2 ? std::atoi(argv[2]) : 1;
  auto status = otlp_arrow::bench::Main(spans, level);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
