// SPDX-License-Identifier: Apache-2.0
// The Arrow-vs-Protobuf fixture: the spans of one case in every form, and the operations
// measured on them (Fixture::NewRunner).

#include "otlp_arrow/bench/arrow_vs_protobuf.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <arrow/array.h>
#include <arrow/buffer.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>
#include <arrow/record_batch.h>
#include <arrow/util/byte_size.h>
#include <arrow/util/compression.h>
#include <google/protobuf/arena.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/otlp.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/storage/parquet_span_writer.h"

namespace otlp_arrow::bench {

namespace {

struct OperationInfo {
  Operation op;
  const char* name;
};

constexpr OperationInfo kOperations[] = {
    {Operation::kArrowEncode, "arrow.encode"},
    {Operation::kArrowEncodeIpc, "arrow.encode_ipc"},
    {Operation::kArrowEncodeIpcLz4, "arrow.encode_ipc_lz4"},
    {Operation::kArrowEncodeIpcZstd, "arrow.encode_ipc_zstd"},
    {Operation::kArrowDecode, "arrow.decode"},
    {Operation::kArrowReadIpc, "arrow.read_ipc"},
    {Operation::kArrowReadIpcZstd, "arrow.read_ipc_zstd"},
    {Operation::kArrowDecodeIpc, "arrow.decode_ipc"},
    {Operation::kArrowDecodeIpcZstd, "arrow.decode_ipc_zstd"},
    {Operation::kArrowRoundTrip, "arrow.round_trip"},
    {Operation::kArrowRoundTripIpcZstd, "arrow.round_trip_ipc_zstd"},
    {Operation::kProtobufSerialize, "protobuf.serialize"},
    {Operation::kProtobufSerializeLz4, "protobuf.serialize_lz4"},
    {Operation::kProtobufSerializeZstd, "protobuf.serialize_zstd"},
    {Operation::kProtobufParse, "protobuf.parse"},
    {Operation::kProtobufParseZstd, "protobuf.parse_zstd"},
    {Operation::kProtobufRoundTrip, "protobuf.round_trip"},
    {Operation::kProtobufRoundTripZstd, "protobuf.round_trip_zstd"},
};

using Arena = google::protobuf::Arena;
using Request = otlp::ExportTraceServiceRequest;

// ---- Arrow IPC and compression helpers

/// One IPC stream (schema, dictionaries, the batch as it goes on the wire, end): as
/// FlightSpanExporter sends it by default, without the derived time columns, which a
/// receiver computes again.
arrow::Result<std::shared_ptr<arrow::Buffer>> WriteIpc(
    const arrow::RecordBatch& spans, const std::shared_ptr<arrow::util::Codec>& codec,
    arrow::MemoryPool* pool, int64_t capacity_hint) {
  const auto wire = convert::WithoutDerivedTimeColumns(spans);
  const arrow::RecordBatch& batch = *wire;
  auto options = arrow::ipc::IpcWriteOptions::Defaults();
  options.memory_pool = pool;
  // One core, measured: Arrow would otherwise compress buffers on its thread pool.
  options.use_threads = false;
  options.codec = codec;
  ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create(
                                       std::max<int64_t>(capacity_hint, 4096), pool));
  ARROW_ASSIGN_OR_RAISE(auto writer,
                        arrow::ipc::MakeStreamWriter(sink, batch.schema(), options));
  ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(batch));
  ARROW_RETURN_NOT_OK(writer->Close());
  return sink->Finish();
}

/// Bytes of an IPC stream holding no batch: the schema message and the end marker.
arrow::Result<int64_t> IpcSchemaBytes(const arrow::Schema& schema) {
  ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create());
  ARROW_ASSIGN_OR_RAISE(auto writer, arrow::ipc::MakeStreamWriter(
                                         sink, std::make_shared<arrow::Schema>(schema)));
  ARROW_RETURN_NOT_OK(writer->Close());
  ARROW_ASSIGN_OR_RAISE(auto buffer, sink->Finish());
  return buffer->size();
}

/// The one batch of an IPC stream, as a receiver reads it: no validation beyond the
/// IPC reader's own (the span-table decoder validates).
arrow::Result<std::shared_ptr<arrow::RecordBatch>> ReadIpc(
    const std::shared_ptr<arrow::Buffer>& bytes, arrow::MemoryPool* pool) {
  auto options = arrow::ipc::IpcReadOptions::Defaults();
  options.memory_pool = pool;
  options.use_threads = false;
  auto input = std::make_shared<arrow::io::BufferReader>(bytes);
  ARROW_ASSIGN_OR_RAISE(auto reader,
                        arrow::ipc::RecordBatchStreamReader::Open(input, options));
  std::shared_ptr<arrow::RecordBatch> batch;
  ARROW_RETURN_NOT_OK(reader->ReadNext(&batch));
  if (batch == nullptr) return arrow::Status::Invalid("IPC stream without a batch");
  std::shared_ptr<arrow::RecordBatch> more;
  ARROW_RETURN_NOT_OK(reader->ReadNext(&more));
  if (more != nullptr) return arrow::Status::Invalid("IPC stream with several batches");
  return batch;
}

/// `in` compressed into `out` (its capacity reused): one frame, as an OTLP/HTTP body
/// with Content-Encoding or a gRPC message with compression would carry it.
arrow::Status Compress(arrow::util::Codec* codec, const std::string& in,
                       std::string* out) {
  const auto* data = reinterpret_cast<const uint8_t*>(in.data());
  const auto n = static_cast<int64_t>(in.size());
  out->resize(static_cast<size_t>(codec->MaxCompressedLen(n, data)));
  ARROW_ASSIGN_OR_RAISE(int64_t written,
                        codec->Compress(n, data, static_cast<int64_t>(out->size()),
                                        reinterpret_cast<uint8_t*>(out->data())));
  out->resize(static_cast<size_t>(written));
  return arrow::Status::OK();
}

/// The receiver knows the decompressed size here (a favour to protobuf: a real one
/// reads a frame header or streams).
arrow::Status Decompress(arrow::util::Codec* codec, const std::string& in, size_t size,
                         std::string* out) {
  out->resize(size);
  ARROW_ASSIGN_OR_RAISE(int64_t written,
                        codec->Decompress(static_cast<int64_t>(in.size()),
                                          reinterpret_cast<const uint8_t*>(in.data()),
                                          static_cast<int64_t>(size),
                                          reinterpret_cast<uint8_t*>(out->data())));
  if (static_cast<size_t>(written) != size) {
    return arrow::Status::Invalid("decompressed ", written, " bytes, expected ", size);
  }
  return arrow::Status::OK();
}

/// Bytes of the Parquet files storage makes of `batch`, written in a temporary
/// directory that is removed again.
arrow::Result<int64_t> ParquetBytes(const arrow::RecordBatch& batch) {
  std::string dir = (std::filesystem::temp_directory_path() / "otlp-arrow-bench-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return arrow::Status::IOError("mkdtemp ", dir, ": ", std::strerror(errno));
  }
  auto options = storage::ParquetSpanWriterOptions::Defaults();
  options.data_dir = dir;
  auto written = storage::ParquetSpanWriter(options).Write(batch);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  ARROW_RETURN_NOT_OK(written.status());
  return written->total_bytes();
}

}  // namespace

const std::vector<Operation>& AllOperations() {
  static const std::vector<Operation> all = [] {
    std::vector<Operation> ops;
    for (const auto& info : kOperations) ops.push_back(info.op);
    return ops;
  }();
  return all;
}

std::string_view OperationName(Operation op) {
  for (const auto& info : kOperations) {
    if (info.op == op) return info.name;
  }
  return "unknown";
}

// ---- Fixture

struct Fixture::Impl {
  std::string workload;
  int64_t spans = 0;
  CountingMemoryPool pool;
  Request source;  // as the generator made it
  // The same spans as a receiver holds them: parsed into an arena, in wire order.
  Arena arena;
  Request* request = nullptr;
  std::shared_ptr<arrow::util::Codec> lz4;
  std::shared_ptr<arrow::util::Codec> zstd;
  std::string protobuf, protobuf_lz4, protobuf_zstd;
  std::shared_ptr<arrow::RecordBatch> batch;
  std::shared_ptr<arrow::Buffer> ipc, ipc_lz4, ipc_zstd;
  Sizes sizes;
};

Fixture::Fixture() : impl_(std::make_unique<Impl>()) {}
Fixture::~Fixture() = default;

arrow::Result<std::unique_ptr<Fixture>> Fixture::Make(std::string_view workload,
                                                      int64_t spans, int zstd_level) {
  if (spans <= 0) return arrow::Status::Invalid("spans must be positive, got ", spans);
  ARROW_ASSIGN_OR_RAISE(auto request, model::MakeWorkload(workload, spans));
  return FromRequest(workload, request, zstd_level);
}

arrow::Result<std::unique_ptr<Fixture>> Fixture::FromRequest(std::string_view name,
                                                             const Request& request,
                                                             int zstd_level) {
  std::unique_ptr<Fixture> fixture(new Fixture());
  Impl& f = *fixture->impl_;
  f.workload = std::string(name);
  f.spans = model::CountSpans(request);
  if (f.spans == 0) return arrow::Status::Invalid(name, ": no spans");
  f.source = request;
  f.protobuf = f.source.SerializeAsString();
  f.request = Arena::CreateMessage<Request>(&f.arena);
  if (!f.request->ParseFromString(f.protobuf)) {
    return arrow::Status::Invalid("the workload's own bytes do not parse");
  }
  ARROW_ASSIGN_OR_RAISE(f.lz4, arrow::util::Codec::Create(arrow::Compression::LZ4_FRAME));
  ARROW_ASSIGN_OR_RAISE(f.zstd,
                        arrow::util::Codec::Create(arrow::Compression::ZSTD, zstd_level));
  ARROW_RETURN_NOT_OK(Compress(f.lz4.get(), f.protobuf, &f.protobuf_lz4));
  ARROW_RETURN_NOT_OK(Compress(f.zstd.get(), f.protobuf, &f.protobuf_zstd));
  ARROW_ASSIGN_OR_RAISE(f.batch, convert::SpanTableEncoder::Encode(*f.request, &f.pool));
  ARROW_ASSIGN_OR_RAISE(f.ipc, WriteIpc(*f.batch, nullptr, &f.pool, 0));
  ARROW_ASSIGN_OR_RAISE(f.ipc_lz4, WriteIpc(*f.batch, f.lz4, &f.pool, 0));
  ARROW_ASSIGN_OR_RAISE(f.ipc_zstd, WriteIpc(*f.batch, f.zstd, &f.pool, 0));
  f.sizes.arrow_batch = arrow::util::TotalBufferSize(*f.batch);
  f.sizes.arrow_ipc = f.ipc->size();
  const auto wire = convert::WithoutDerivedTimeColumns(*f.batch);
  ARROW_ASSIGN_OR_RAISE(f.sizes.arrow_ipc_schema, IpcSchemaBytes(*wire->schema()));
  f.sizes.arrow_ipc_lz4 = f.ipc_lz4->size();
  f.sizes.arrow_ipc_zstd = f.ipc_zstd->size();
  f.sizes.protobuf = static_cast<int64_t>(f.protobuf.size());
  f.sizes.protobuf_lz4 = static_cast<int64_t>(f.protobuf_lz4.size());
  f.sizes.protobuf_zstd = static_cast<int64_t>(f.protobuf_zstd.size());
  ARROW_ASSIGN_OR_RAISE(f.sizes.parquet, ParquetBytes(*f.batch));
  return fixture;
}

namespace {

void AddBufferSizes(const arrow::ArrayData& data, arrow::util::Codec* codec,
                    int64_t* bytes, int64_t* zstd_bytes, arrow::Status* status) {
  for (const auto& buffer : data.buffers) {
    if (buffer == nullptr || buffer->size() == 0) continue;
    *bytes += buffer->size();
    std::string in(reinterpret_cast<const char*>(buffer->data()),
                   static_cast<size_t>(buffer->size()));
    std::string out;
    if (auto st = Compress(codec, in, &out); !st.ok()) *status = st;
    *zstd_bytes += static_cast<int64_t>(out.size());
  }
  for (const auto& child : data.child_data) {
    AddBufferSizes(*child, codec, bytes, zstd_bytes, status);
  }
  if (data.dictionary != nullptr) {
    AddBufferSizes(*data.dictionary, codec, bytes, zstd_bytes, status);
  }
}

}  // namespace

arrow::Result<std::vector<Fixture::ColumnSize>> Fixture::ColumnSizes() const {
  const Impl& f = *impl_;
  std::vector<ColumnSize> out;
  for (int i = 0; i < f.batch->num_columns(); ++i) {
    ColumnSize size;
    size.column = f.batch->schema()->field(i)->name();
    arrow::Status status;
    AddBufferSizes(*f.batch->column(i)->data(), f.zstd.get(), &size.bytes,
                   &size.zstd_bytes, &status);
    ARROW_RETURN_NOT_OK(status);
    out.push_back(std::move(size));
  }
  return out;
}

const std::string& Fixture::workload() const { return impl_->workload; }
int64_t Fixture::spans() const { return impl_->spans; }
const Fixture::Sizes& Fixture::sizes() const { return impl_->sizes; }

arrow::Result<bool> Fixture::CheckRoundTrips() {
  Impl& f = *impl_;
  const std::string expected =
      otlp::DeterministicBytes(convert::CanonicalSpanTableForm(f.source));
  Request decoded;
  ARROW_RETURN_NOT_OK(convert::DecodeSpanTable(*f.batch, &decoded));
  bool equal = otlp::DeterministicBytes(decoded) == expected;
  const auto wire = convert::WithoutDerivedTimeColumns(*f.batch);
  for (const auto* ipc : {&f.ipc, &f.ipc_lz4, &f.ipc_zstd}) {
    ARROW_ASSIGN_OR_RAISE(auto batch, ReadIpc(*ipc, &f.pool));
    equal = equal && batch->Equals(*wire);
  }
  Request parsed;
  equal = equal && parsed.ParseFromString(f.protobuf) &&
          otlp::DeterministicBytes(parsed) == otlp::DeterministicBytes(f.source);
  std::string raw;
  ARROW_RETURN_NOT_OK(Decompress(f.zstd.get(), f.protobuf_zstd, f.protobuf.size(), &raw));
  equal = equal && raw == f.protobuf;
  ARROW_RETURN_NOT_OK(Decompress(f.lz4.get(), f.protobuf_lz4, f.protobuf.size(), &raw));
  return equal && raw == f.protobuf;
}

namespace {

using Runner = Fixture::Runner;

/// A fresh arena per result, as a receiver would use one per request: protobuf objects
/// are bump-allocated and freed at once (std::string buffers longer than 15 bytes
/// still come from the heap).
class ArenaResult {
 public:
  Request* Next() {
    arena_.reset();  // the previous result goes first, as on a server thread
    arena_ = std::make_unique<Arena>();
    return Arena::CreateMessage<Request>(arena_.get());
  }

 private:
  std::unique_ptr<Arena> arena_;
};

class ArrowEncode : public Runner {
 public:
  ArrowEncode(const Request& in, arrow::MemoryPool* pool)
      : in_(in), pool_(pool), encoder_(pool) {}
  arrow::Status Run() override {
    batch_.reset();
    ARROW_RETURN_NOT_OK(encoder_.Append(in_));
    return encoder_.Finish().Value(&batch_);
  }
  arrow::Status RunOneShot() override {
    batch_.reset();
    return convert::SpanTableEncoder::Encode(in_, pool_).Value(&batch_);
  }

 private:
  const Request& in_;
  arrow::MemoryPool* pool_;
  convert::SpanTableEncoder encoder_;
  std::shared_ptr<arrow::RecordBatch> batch_;
};

class ArrowEncodeIpc : public Runner {
 public:
  ArrowEncodeIpc(const Request& in, std::shared_ptr<arrow::util::Codec> codec,
                 arrow::MemoryPool* pool)
      : in_(in), codec_(std::move(codec)), pool_(pool), encoder_(pool) {}
  arrow::Status Run() override {
    out_.reset();
    ARROW_RETURN_NOT_OK(encoder_.Append(in_));
    ARROW_ASSIGN_OR_RAISE(auto batch, encoder_.Finish());
    // The output stream starts at the last size, as a sender reusing its buffers would.
    ARROW_ASSIGN_OR_RAISE(out_, WriteIpc(*batch, codec_, pool_, last_size_));
    last_size_ = out_->size();
    return arrow::Status::OK();
  }

 private:
  const Request& in_;
  std::shared_ptr<arrow::util::Codec> codec_;
  arrow::MemoryPool* pool_;
  convert::SpanTableEncoder encoder_;
  std::shared_ptr<arrow::Buffer> out_;
  int64_t last_size_ = 0;
};

class ArrowDecode : public Runner {
 public:
  explicit ArrowDecode(const arrow::RecordBatch& batch) : batch_(batch) {}
  arrow::Status Run() override { return convert::DecodeSpanTable(batch_, out_.Next()); }

 private:
  const arrow::RecordBatch& batch_;
  ArenaResult out_;
};

class ArrowReadIpc : public Runner {
 public:
  ArrowReadIpc(std::shared_ptr<arrow::Buffer> bytes, arrow::MemoryPool* pool)
      : bytes_(std::move(bytes)), pool_(pool) {}
  arrow::Status Run() override {
    batch_.reset();
    ARROW_ASSIGN_OR_RAISE(batch_, ReadIpc(bytes_, pool_));
    // Off the network, a batch is checked before anything reads it.
    return convert::ValidateSpanTable(*batch_);
  }

 private:
  std::shared_ptr<arrow::Buffer> bytes_;
  arrow::MemoryPool* pool_;
  std::shared_ptr<arrow::RecordBatch> batch_;
};

class ArrowDecodeIpc : public Runner {
 public:
  ArrowDecodeIpc(std::shared_ptr<arrow::Buffer> bytes, arrow::MemoryPool* pool)
      : bytes_(std::move(bytes)), pool_(pool) {}
  arrow::Status Run() override {
    Request* out = out_.Next();
    ARROW_ASSIGN_OR_RAISE(auto batch, ReadIpc(bytes_, pool_));
    return convert::DecodeSpanTable(*batch, out);  // validates
  }

 private:
  std::shared_ptr<arrow::Buffer> bytes_;
  arrow::MemoryPool* pool_;
  ArenaResult out_;
};

class ArrowRoundTrip : public Runner {
 public:
  ArrowRoundTrip(const Request& in, std::shared_ptr<arrow::util::Codec> codec, bool ipc,
                 arrow::MemoryPool* pool)
      : in_(in), codec_(std::move(codec)), ipc_(ipc), pool_(pool), encoder_(pool) {}
  arrow::Status Run() override {
    Request* out = out_.Next();
    ARROW_RETURN_NOT_OK(encoder_.Append(in_));
    ARROW_ASSIGN_OR_RAISE(auto batch, encoder_.Finish());
    if (ipc_) {
      ARROW_ASSIGN_OR_RAISE(auto bytes, WriteIpc(*batch, codec_, pool_, last_size_));
      last_size_ = bytes->size();
      batch.reset();
      ARROW_ASSIGN_OR_RAISE(batch, ReadIpc(bytes, pool_));
    }
    return convert::DecodeSpanTable(*batch, out);
  }

 private:
  const Request& in_;
  std::shared_ptr<arrow::util::Codec> codec_;
  bool ipc_;
  arrow::MemoryPool* pool_;
  convert::SpanTableEncoder encoder_;
  ArenaResult out_;
  int64_t last_size_ = 0;
};

class ProtobufSerialize : public Runner {
 public:
  ProtobufSerialize(const Request& in, arrow::util::Codec* codec)
      : in_(in), codec_(codec) {}
  arrow::Status Run() override {
    if (!in_.SerializeToString(&bytes_)) return arrow::Status::Invalid("serialize");
    if (codec_ != nullptr) return Compress(codec_, bytes_, &compressed_);
    return arrow::Status::OK();
  }

 private:
  const Request& in_;
  arrow::util::Codec* codec_;
  std::string bytes_;  // capacity reused from run to run
  std::string compressed_;
};

class ProtobufParse : public Runner {
 public:
  ProtobufParse(const std::string& bytes, arrow::util::Codec* codec, size_t raw_size)
      : bytes_(bytes), codec_(codec), raw_size_(raw_size) {}
  arrow::Status Run() override {
    Request* out = out_.Next();
    const std::string* raw = &bytes_;
    if (codec_ != nullptr) {
      ARROW_RETURN_NOT_OK(Decompress(codec_, bytes_, raw_size_, &raw_));
      raw = &raw_;
    }
    if (!out->ParseFromString(*raw)) return arrow::Status::Invalid("parse");
    return arrow::Status::OK();
  }

 private:
  const std::string& bytes_;
  arrow::util::Codec* codec_;
  size_t raw_size_;
  std::string raw_;
  ArenaResult out_;
};

class ProtobufRoundTrip : public Runner {
 public:
  ProtobufRoundTrip(const Request& in, arrow::util::Codec* codec)
      : in_(in), codec_(codec) {}
  arrow::Status Run() override {
    Request* out = out_.Next();
    if (!in_.SerializeToString(&bytes_)) return arrow::Status::Invalid("serialize");
    const std::string* wire = &bytes_;
    if (codec_ != nullptr) {
      ARROW_RETURN_NOT_OK(Compress(codec_, bytes_, &compressed_));
      ARROW_RETURN_NOT_OK(Decompress(codec_, compressed_, bytes_.size(), &raw_));
      wire = &raw_;
    }
    if (!out->ParseFromString(*wire)) return arrow::Status::Invalid("parse");
    return arrow::Status::OK();
  }

 private:
  const Request& in_;
  arrow::util::Codec* codec_;
  std::string bytes_, compressed_, raw_;
  ArenaResult out_;
};

}  // namespace

arrow::Result<std::unique_ptr<Runner>> Fixture::NewRunner(Operation op) {
  Impl& f = *impl_;
  arrow::MemoryPool* pool = &f.pool;
  const size_t raw = f.protobuf.size();
  switch (op) {
    case Operation::kArrowEncode:
      return std::make_unique<ArrowEncode>(*f.request, pool);
    case Operation::kArrowEncodeIpc:
      return std::make_unique<ArrowEncodeIpc>(*f.request, nullptr, pool);
    case Operation::kArrowEncodeIpcLz4:
      return std::make_unique<ArrowEncodeIpc>(*f.request, f.lz4, pool);
    case Operation::kArrowEncodeIpcZstd:
      return std::make_unique<ArrowEncodeIpc>(*f.request, f.zstd, pool);
    case Operation::kArrowDecode:
      return std::make_unique<ArrowDecode>(*f.batch);
    case Operation::kArrowReadIpc:
      return std::make_unique<ArrowReadIpc>(f.ipc, pool);
    case Operation::kArrowReadIpcZstd:
      return std::make_unique<ArrowReadIpc>(f.ipc_zstd, pool);
    case Operation::kArrowDecodeIpc:
      return std::make_unique<ArrowDecodeIpc>(f.ipc, pool);
    case Operation::kArrowDecodeIpcZstd:
      return std::make_unique<ArrowDecodeIpc>(f.ipc_zstd, pool);
    case Operation::kArrowRoundTrip:
      return std::make_unique<ArrowRoundTrip>(*f.request, nullptr, false, pool);
    case Operation::kArrowRoundTripIpcZstd:
      return std::make_unique<ArrowRoundTrip>(*f.request, f.zstd, true, pool);
    case Operation::kProtobufSerialize:
      return std::make_unique<ProtobufSerialize>(*f.request, nullptr);
    case Operation::kProtobufSerializeLz4:
      return std::make_unique<ProtobufSerialize>(*f.request, f.lz4.get());
    case Operation::kProtobufSerializeZstd:
      return std::make_unique<ProtobufSerialize>(*f.request, f.zstd.get());
    case Operation::kProtobufParse:
      return std::make_unique<ProtobufParse>(f.protobuf, nullptr, raw);
    case Operation::kProtobufParseZstd:
      return std::make_unique<ProtobufParse>(f.protobuf_zstd, f.zstd.get(), raw);
    case Operation::kProtobufRoundTrip:
      return std::make_unique<ProtobufRoundTrip>(*f.request, nullptr);
    case Operation::kProtobufRoundTripZstd:
      return std::make_unique<ProtobufRoundTrip>(*f.request, f.zstd.get());
  }
  return arrow::Status::Invalid("unknown operation ", static_cast<int>(op));
}

}  // namespace otlp_arrow::bench
