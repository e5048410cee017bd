// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/bench/arrow_vs_protobuf.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <utility>

#include <arrow/array.h>
#include <arrow/buffer.h>
#include <arrow/config.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>
#include <arrow/record_batch.h>
#include <arrow/util/byte_size.h>
#include <arrow/util/compression.h>
#include <fmt/format.h>
#include <google/protobuf/arena.h>
#include <google/protobuf/stubs/common.h>
#include <nlohmann/json.hpp>

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
  std::unique_ptr<Fixture> fixture(new Fixture());
  Impl& f = *fixture->impl_;
  f.workload = std::string(workload);
  f.spans = spans;
  ARROW_ASSIGN_OR_RAISE(f.source, model::MakeWorkload(workload, spans));
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

// ---- measuring

namespace {

double CpuNow() {
  // Process CPU time: Arrow could use helper threads (it is told not to).
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double WallNow() {
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double PageFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt);
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string ReadCpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        return value;
      }
    }
  }
  return "unknown";
}

double LoadAverage() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

}  // namespace

const OperationResult* CaseResult::Find(Operation op) const {
  for (const auto& r : operations) {
    if (r.op == op) return &r;
  }
  return nullptr;
}

Machine DescribeMachine() {
  Machine m;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  m.date = date;
  utsname u{};
  if (uname(&u) == 0) m.host = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
  m.cpu = ReadCpuModel();
  m.cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  m.load_before = m.load_after = LoadAverage();
  m.arrow_version = arrow::GetBuildInfo().version_string;
  m.arrow_pool = arrow::default_memory_pool()->backend_name();
  m.protobuf_version = google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION);
  m.heap_counted = HeapCountingAvailable();
  return m;
}

arrow::Result<CaseResult> RunCase(Fixture* fixture, const Options& options) {
  if (options.repetitions < 1) return arrow::Status::Invalid("repetitions must be ≥ 1");
  CaseResult result;
  result.workload = fixture->workload();
  result.spans = fixture->spans();
  result.sizes = fixture->sizes();
  ARROW_ASSIGN_OR_RAISE(result.round_trips_equal, fixture->CheckRoundTrips());
  ARROW_ASSIGN_OR_RAISE(result.columns, fixture->ColumnSizes());

  const size_t n = options.operations.size();
  std::vector<std::unique_ptr<Fixture::Runner>> runners(n);
  std::vector<int64_t> runs(n, 1);
  for (size_t i = 0; i < n; ++i) {
    ARROW_ASSIGN_OR_RAISE(runners[i], fixture->NewRunner(options.operations[i]));
    ARROW_RETURN_NOT_OK(runners[i]->Run());  // warm: buffers sized, code and data cached
    const double start = CpuNow();
    ARROW_RETURN_NOT_OK(runners[i]->Run());
    const double once = std::max(CpuNow() - start, 1.0);
    runs[i] = std::max<int64_t>(
        1, static_cast<int64_t>(std::ceil(options.min_sample_seconds * 1e9 / once)));
  }
  std::vector<std::vector<double>> cpu(n), wall(n), faults(n);
  // A new order each repetition (the same from run to run): what an operation leaves
  // behind (a fragmented heap, evicted caches) must not always fall on the same next one.
  std::vector<size_t> order(n);
  for (size_t k = 0; k < n; ++k) order[k] = k;
  std::mt19937 shuffle(20261127);
  for (int r = 0; r < options.repetitions; ++r) {
    std::shuffle(order.begin(), order.end(), shuffle);
    for (const size_t i : order) {
      const double cpu0 = CpuNow(), wall0 = WallNow(), faults0 = PageFaults();
      for (int64_t j = 0; j < runs[i]; ++j) ARROW_RETURN_NOT_OK(runners[i]->Run());
      const double runs_i = static_cast<double>(runs[i]);
      cpu[i].push_back((CpuNow() - cpu0) / runs_i);
      wall[i].push_back((WallNow() - wall0) / runs_i);
      faults[i].push_back((PageFaults() - faults0) / runs_i);
    }
  }
  runners.clear();  // their results would count as live memory below

  for (size_t i = 0; i < n; ++i) {
    OperationResult op;
    op.op = options.operations[i];
    op.cpu_ns = Median(cpu[i]);
    op.wall_ns = Median(wall[i]);
    op.cpu_ns_min = *std::min_element(cpu[i].begin(), cpu[i].end());
    op.cpu_ns_max = *std::max_element(cpu[i].begin(), cpu[i].end());
    op.cpu_ns_samples = cpu[i];
    op.samples = static_cast<int>(cpu[i].size());
    op.runs_per_sample = runs[i];
    op.page_faults = Median(faults[i]);
    // Memory of a one-shot conversion from a new state, growth included.
    ARROW_ASSIGN_OR_RAISE(auto runner, fixture->NewRunner(op.op));
    MemoryMeasurement measurement;
    measurement.Start();
    auto status = runner->RunOneShot();
    op.memory = measurement.Stop();
    ARROW_RETURN_NOT_OK(status);
    result.operations.push_back(op);
  }
  return result;
}

arrow::Result<Report> Run(
    const Options& options,
    const std::function<void(const std::string& workload, int64_t spans)>& progress) {
  Report report;
  report.machine = DescribeMachine();
  report.options = options;
  for (const auto& workload : options.workloads) {
    for (int64_t spans : options.sizes) {
      if (progress) progress(workload, spans);
      ARROW_ASSIGN_OR_RAISE(auto fixture,
                            Fixture::Make(workload, spans, options.zstd_level));
      ARROW_ASSIGN_OR_RAISE(auto result, RunCase(fixture.get(), options));
      report.cases.push_back(std::move(result));
    }
  }
  report.machine.load_after = LoadAverage();
  return report;
}

// ---- output

namespace {

std::string FormatTime(double ns) {
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e6)
    return fmt::format("{:.{}f} µs", ns / 1e3, ns < 1e4 ? 2 : ns < 1e5 ? 1 : 0);
  if (ns < 1e9)
    return fmt::format("{:.{}f} ms", ns / 1e6, ns < 1e7 ? 2 : ns < 1e8 ? 1 : 0);
  return fmt::format("{:.2f} s", ns / 1e9);
}

std::string FormatBytes(double bytes) {
  if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
  if (bytes < 1024 * 1024) {
    const double k = bytes / 1024;
    return fmt::format("{:.{}f} KiB", k, k < 10 ? 2 : k < 100 ? 1 : 0);
  }
  const double m = bytes / (1024 * 1024);
  return fmt::format("{:.{}f} MiB", m, m < 10 ? 2 : m < 100 ? 1 : 0);
}

std::string SpansLabel(int64_t spans) {
  if (spans >= 1000 && spans % 1000 == 0) return fmt::format("{}K spans", spans / 1000);
  return fmt::format("{} spans", spans);
}

/// One row: what Protobuf costs divided by what Arrow costs (above 1: Arrow is better,
/// as the design document's "提升倍数" column).
struct Row {
  std::string scenario;
  std::string arrow, protobuf;
  double ratio;  ///< protobuf / arrow
};

std::string Table(const std::vector<Row>& rows) {
  size_t w0 = 8, w1 = 5, w2 = 8;
  auto width = [](const std::string& s) {
    // Display width: count UTF-8 code points (µ is two bytes, one column).
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (const auto& r : rows) {
    w0 = std::max(w0, width(r.scenario));
    w1 = std::max(w1, width(r.arrow));
    w2 = std::max(w2, width(r.protobuf));
  }
  auto pad = [&](const std::string& s, size_t w) {
    return s + std::string(w > width(s) ? w - width(s) : 0, ' ');
  };
  std::string out;
  out += "  " + pad("scenario", w0) + " │ " + pad("Arrow", w1) + " │ " +
         pad("Protobuf", w2) + " │ Protobuf/Arrow\n";
  out += "  " + std::string(w0, '-') + "-┼-" + std::string(w1, '-') + "-┼-" +
         std::string(w2, '-') + "-┼---------------\n";
  std::string last_group;
  for (const auto& r : rows) {
    const std::string group = r.scenario.substr(0, r.scenario.find(" ("));
    if (!last_group.empty() && group != last_group) {
      out += "  " + std::string(w0, '-') + "-┼-" + std::string(w1, '-') + "-┼-" +
             std::string(w2, '-') + "-┼---------------\n";
    }
    last_group = group;
    std::string ratio = std::isfinite(r.ratio) && r.ratio > 0
                            ? fmt::format("{:.2f}×", r.ratio)
                            : std::string("n/a");
    if (std::isfinite(r.ratio) && r.ratio > 0 && r.ratio < 1)
      ratio += "  Protobuf better";
    out += "  " + pad(r.scenario, w0) + " │ " + pad(r.arrow, w1) + " │ " +
           pad(r.protobuf, w2) + " │ " + ratio + "\n";
  }
  return out;
}

struct TimeRow {
  const char* scenario;
  Operation arrow, protobuf;
};

constexpr TimeRow kTimeRows[] = {
    {"encode: spans → batch | → bytes", Operation::kArrowEncode,
     Operation::kProtobufSerialize},
    {"decode: batch → spans | bytes → spans", Operation::kArrowDecode,
     Operation::kProtobufParse},
    {"round trip", Operation::kArrowRoundTrip, Operation::kProtobufRoundTrip},
    {"encode to wire, zstd", Operation::kArrowEncodeIpcZstd,
     Operation::kProtobufSerializeZstd},
    {"decode from wire, zstd", Operation::kArrowDecodeIpcZstd,
     Operation::kProtobufParseZstd},
    {"round trip via wire, zstd", Operation::kArrowRoundTripIpcZstd,
     Operation::kProtobufRoundTripZstd},
    {"wire → usable: IPC → valid batch | bytes → spans", Operation::kArrowReadIpc,
     Operation::kProtobufParse},
};

}  // namespace

std::string FormatTable(const Report& report) {
  const auto& m = report.machine;
  std::string out = fmt::format(
      "Arrow (span table, Arrow {}) vs Protobuf (libprotobuf {}), {}\n"
      "{}, {} CPUs, {}; load {:.2f} → {:.2f}\n"
      "CPU time per batch, median of {} samples run side by side; zstd level {}; heap "
      "{}\n",
      m.arrow_version, m.protobuf_version, m.date, m.cpu, m.cpus, m.host, m.load_before,
      m.load_after, report.options.repetitions, report.options.zstd_level,
      m.heap_counted ? "counted (operator new + Arrow pool)" : "NOT counted (pool only)");
  std::vector<std::string> workloads;
  for (const auto& c : report.cases) {
    if (std::find(workloads.begin(), workloads.end(), c.workload) == workloads.end())
      workloads.push_back(c.workload);
  }
  for (const auto& workload : workloads) {
    std::vector<const CaseResult*> cases;
    for (const auto& c : report.cases) {
      if (c.workload == workload) cases.push_back(&c);
    }
    std::vector<Row> rows;
    for (const auto& t : kTimeRows) {
      for (const CaseResult* c : cases) {
        const auto* a = c->Find(t.arrow);
        const auto* p = c->Find(t.protobuf);
        if (a == nullptr || p == nullptr) continue;
        rows.push_back({fmt::format("{} ({})", t.scenario, SpansLabel(c->spans)),
                        FormatTime(a->cpu_ns), FormatTime(p->cpu_ns),
                        p->cpu_ns / a->cpu_ns});
      }
    }
    auto memory_row = [&](const char* scenario, Operation arrow, Operation protobuf,
                          bool net) {
      for (const CaseResult* c : cases) {
        const auto* a = c->Find(arrow);
        const auto* p = c->Find(protobuf);
        if (a == nullptr || p == nullptr) continue;
        const double av =
            static_cast<double>(net ? a->memory.net_bytes : a->memory.peak_bytes);
        const double pv =
            static_cast<double>(net ? p->memory.net_bytes : p->memory.peak_bytes);
        rows.push_back({fmt::format("{} ({})", scenario, SpansLabel(c->spans)),
                        FormatBytes(av), FormatBytes(pv), pv / av});
      }
    };
    memory_row("memory: encode, peak heap", Operation::kArrowEncode,
               Operation::kProtobufSerialize, false);
    memory_row("memory: decode, peak heap", Operation::kArrowDecode,
               Operation::kProtobufParse, false);
    memory_row("memory: spans held, batch | parsed message", Operation::kArrowEncode,
               Operation::kProtobufParse, true);
    auto size_row = [&](const char* scenario, int64_t Fixture::Sizes::*arrow,
                        int64_t Fixture::Sizes::*protobuf) {
      for (const CaseResult* c : cases) {
        const double av = static_cast<double>(c->sizes.*arrow);
        const double pv = static_cast<double>(c->sizes.*protobuf);
        rows.push_back({fmt::format("{} ({})", scenario, SpansLabel(c->spans)),
                        FormatBytes(av), FormatBytes(pv), pv / av});
      }
    };
    size_row("size on the wire, uncompressed", &Fixture::Sizes::arrow_ipc,
             &Fixture::Sizes::protobuf);
    size_row("size on the wire, lz4", &Fixture::Sizes::arrow_ipc_lz4,
             &Fixture::Sizes::protobuf_lz4);
    size_row("size on the wire, zstd", &Fixture::Sizes::arrow_ipc_zstd,
             &Fixture::Sizes::protobuf_zstd);
    size_row("size at rest: Parquet | protobuf zstd", &Fixture::Sizes::parquet,
             &Fixture::Sizes::protobuf_zstd);
    bool equal = true;
    for (const CaseResult* c : cases) equal = equal && c->round_trips_equal;
    out += fmt::format("\nworkload {}: round trips {}\n", workload,
                       equal ? "equal to the input" : "DIFFER FROM THE INPUT");
    out += Table(rows);
  }
  out +=
      "\nProtobuf/Arrow above 1: Arrow is faster or smaller. Arrow = the span table "
      "(RecordBatch; on the wire an IPC stream), Protobuf = OTLP "
      "ExportTraceServiceRequest; "
      "spans = protobuf messages on an arena.\n";
  return out;
}

std::string FormatColumnSizes(const Report& report) {
  std::string out;
  for (const auto& c : report.cases) {
    auto columns = c.columns;
    std::sort(columns.begin(), columns.end(),
              [](const auto& a, const auto& b) { return a.zstd_bytes > b.zstd_bytes; });
    int64_t bytes = 0, zstd_bytes = 0;
    for (const auto& col : columns) {
      bytes += col.bytes;
      zstd_bytes += col.zstd_bytes;
    }
    out += fmt::format(
        "\n{} at {}: span table columns, buffers raw and zstd level {} one by one\n",
        c.workload, SpansLabel(c.spans), report.options.zstd_level);
    out +=
        fmt::format("  {:<34} {:>10} {:>10} {:>6}\n", "column", "raw", "zstd", "share");
    for (const auto& col : columns) {
      out += fmt::format("  {:<34} {:>10} {:>10} {:>5.1f}%\n", col.column,
                         FormatBytes(static_cast<double>(col.bytes)),
                         FormatBytes(static_cast<double>(col.zstd_bytes)),
                         zstd_bytes > 0 ? 100.0 * static_cast<double>(col.zstd_bytes) /
                                              static_cast<double>(zstd_bytes)
                                        : 0.0);
    }
    out += fmt::format("  {:<34} {:>10} {:>10}\n", "total",
                       FormatBytes(static_cast<double>(bytes)),
                       FormatBytes(static_cast<double>(zstd_bytes)));
  }
  return out;
}

std::string ToJson(const Report& report) {
  using nlohmann::json;
  const auto& m = report.machine;
  json j;
  j["machine"] = {{"date", m.date},
                  {"host", m.host},
                  {"cpu", m.cpu},
                  {"cpus", m.cpus},
                  {"load_before", m.load_before},
                  {"load_after", m.load_after},
                  {"arrow_version", m.arrow_version},
                  {"arrow_pool", m.arrow_pool},
                  {"protobuf_version", m.protobuf_version},
                  {"heap_counted", m.heap_counted}};
  json ops = json::array();
  for (Operation op : report.options.operations) ops.push_back(OperationName(op));
  j["options"] = {{"workloads", report.options.workloads},
                  {"sizes", report.options.sizes},
                  {"operations", ops},
                  {"repetitions", report.options.repetitions},
                  {"min_sample_seconds", report.options.min_sample_seconds},
                  {"zstd_level", report.options.zstd_level}};
  auto stats = [](const AllocationStats& s) {
    return json{{"allocations", s.allocations},
                {"bytes_allocated", s.bytes_allocated},
                {"peak_bytes", s.peak_bytes},
                {"net_bytes", s.net_bytes}};
  };
  json cases = json::array();
  for (const auto& c : report.cases) {
    json operations = json::array();
    for (const auto& r : c.operations) {
      operations.push_back({{"name", OperationName(r.op)},
                            {"cpu_ns", r.cpu_ns},
                            {"wall_ns", r.wall_ns},
                            {"cpu_ns_min", r.cpu_ns_min},
                            {"cpu_ns_max", r.cpu_ns_max},
                            {"cpu_ns_samples", r.cpu_ns_samples},
                            {"samples", r.samples},
                            {"runs_per_sample", r.runs_per_sample},
                            {"page_faults", r.page_faults},
                            {"memory",
                             {{"heap", stats(r.memory.heap)},
                              {"pool", stats(r.memory.pool)},
                              {"peak_bytes", r.memory.peak_bytes},
                              {"net_bytes", r.memory.net_bytes}}}});
    }
    json columns = json::array();
    for (const auto& col : c.columns) {
      columns.push_back(
          {{"column", col.column}, {"bytes", col.bytes}, {"zstd_bytes", col.zstd_bytes}});
    }
    const auto& s = c.sizes;
    cases.push_back({{"workload", c.workload},
                     {"spans", c.spans},
                     {"round_trips_equal", c.round_trips_equal},
                     {"sizes",
                      {{"arrow_batch", s.arrow_batch},
                       {"arrow_ipc", s.arrow_ipc},
                       {"arrow_ipc_schema", s.arrow_ipc_schema},
                       {"arrow_ipc_lz4", s.arrow_ipc_lz4},
                       {"arrow_ipc_zstd", s.arrow_ipc_zstd},
                       {"protobuf", s.protobuf},
                       {"protobuf_lz4", s.protobuf_lz4},
                       {"protobuf_zstd", s.protobuf_zstd},
                       {"parquet", s.parquet}}},
                     {"columns", columns},
                     {"operations", operations}});
  }
  j["cases"] = cases;
  return j.dump(2) + "\n";
}

}  // namespace otlp_arrow::bench
