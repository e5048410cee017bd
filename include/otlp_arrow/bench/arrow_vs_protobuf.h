// SPDX-License-Identifier: Apache-2.0
// The span table (Arrow) against OTLP protobuf (libprotobuf) on the same spans: CPU time,
// heap, and bytes raw and compressed. Used by `otlp-arrow bench`, the Google Benchmark
// suite (src/bench/arrow_vs_protobuf_benchmark.cc) and their test.

#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/bench/memory_counter.h"
#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::bench {

/// \brief Every operation measured. "Spans" are OTLP protobuf messages (an
/// ExportTraceServiceRequest), which is what otlp-arrow's converters read and write.
/// Inputs are laid out as a receiver holds them: the request parsed into an arena.
enum class Operation {
  // Arrow
  kArrowEncode,         ///< spans → RecordBatch (SpanTableEncoder, reused)
  kArrowEncodeIpc,      ///< spans → RecordBatch → IPC stream bytes, uncompressed
  kArrowEncodeIpcLz4,   ///< the same, IPC buffers lz4-frame compressed
  kArrowEncodeIpcZstd,  ///< the same, IPC buffers zstd compressed
  kArrowDecode,         ///< RecordBatch → spans, into a fresh arena (DecodeSpanTable)
  kArrowReadIpc,        ///< IPC bytes → RecordBatch, validated (ValidateSpanTable)
  kArrowReadIpcZstd,    ///< the same from zstd-compressed IPC
  kArrowDecodeIpc,      ///< IPC bytes → RecordBatch → spans
  kArrowDecodeIpcZstd,  ///< the same from zstd-compressed IPC
  kArrowRoundTrip,      ///< spans → RecordBatch → spans
  kArrowRoundTripIpcZstd,  ///< spans → zstd IPC bytes → spans
  // Protobuf
  kProtobufSerialize,      ///< spans → bytes (into a reused string)
  kProtobufSerializeLz4,   ///< spans → bytes → lz4 frame
  kProtobufSerializeZstd,  ///< spans → bytes → zstd
  kProtobufParse,          ///< bytes → spans, into a fresh arena
  kProtobufParseZstd,      ///< zstd → bytes → spans
  kProtobufRoundTrip,      ///< spans → bytes → spans
  kProtobufRoundTripZstd,  ///< spans → zstd bytes → spans
};

/// \brief All operations, in the order above.
const std::vector<Operation>& AllOperations();

/// \brief A stable name ("arrow.encode", "protobuf.parse_zstd", ...), used in JSON and
/// benchmark names.
std::string_view OperationName(Operation op);

/// \brief The spans of one workload and size, prepared once, and every Operation on
/// them.
class Fixture {
 public:
  /// \brief `workload` is "seed", "otel" or "realistic" (model::MakeWorkload).
  /// `zstd_level` is used for Arrow IPC and protobuf alike (Arrow's IPC default is 1).
  static arrow::Result<std::unique_ptr<Fixture>> Make(std::string_view workload,
                                                      int64_t spans, int zstd_level = 1);
  /// \brief The spans of `request` (e.g. read from a user's file), named `name`.
  static arrow::Result<std::unique_ptr<Fixture>> FromRequest(
      std::string_view name, const otlp::ExportTraceServiceRequest& request,
      int zstd_level = 1);
  ~Fixture();
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  /// \brief Runs one operation repeatedly with its own state (an encoder, an output
  /// string) kept between runs, as a server thread would. Each Run() replaces the
  /// previous result; the last one is kept until the next Run() or destruction, so a
  /// MemoryMeasurement around one Run() of a new Runner sees the result's size as
  /// `net_bytes`.
  class Runner {
   public:
    virtual ~Runner() = default;
    virtual arrow::Status Run() = 0;
    /// \brief Runs once as a one-off conversion would: state that a reused runner
    /// keeps (the span-table encoder) is made and dropped inside, so that afterwards
    /// only the result is held. What the memory figures measure.
    virtual arrow::Status RunOneShot() { return Run(); }
  };
  arrow::Result<std::unique_ptr<Runner>> NewRunner(Operation op);

  /// \brief Whether every conversion gives back its input: the span-table round trip
  /// (in the canonical form of docs/span-table.md), through each IPC compression, and
  /// the protobuf round trip. Not an error when they differ: the report shows it.
  arrow::Result<bool> CheckRoundTrips();

  const std::string& workload() const;
  int64_t spans() const;

  /// \brief Sizes in bytes of the prepared batch.
  struct Sizes {
    int64_t arrow_batch = 0;       ///< buffers of the RecordBatch in memory
    int64_t arrow_ipc = 0;         ///< IPC stream (schema, dictionaries, batch, EOS)
    int64_t arrow_ipc_schema = 0;  ///< of which schema message and EOS: once a stream
    int64_t arrow_ipc_lz4 = 0;     ///< with lz4-frame buffer compression
    int64_t arrow_ipc_zstd = 0;    ///< with zstd buffer compression
    int64_t protobuf = 0;          ///< serialized ExportTraceServiceRequest
    int64_t protobuf_lz4 = 0;      ///< one lz4 frame of it
    int64_t protobuf_zstd = 0;     ///< one zstd frame of it
    /// The batch as storage writes it: a Parquet file from storage::ParquetSpanWriter
    /// with its defaults (zstd level 3, dictionary encoding), for comparison at rest.
    int64_t parquet = 0;
  };
  const Sizes& sizes() const;

  /// \brief Where the bytes of the batch are: per column, its buffers in memory and
  /// the sum of its buffers zstd-compressed one by one, as the IPC writer compresses
  /// them (without the IPC framing).
  struct ColumnSize {
    std::string column;
    int64_t bytes = 0;
    int64_t zstd_bytes = 0;
  };
  arrow::Result<std::vector<ColumnSize>> ColumnSizes() const;

 private:
  Fixture();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// \brief Where and when a report was made.
struct Machine {
  std::string date;        ///< UTC, ISO 8601
  std::string host;        ///< uname: system, release, machine
  std::string cpu;         ///< /proc/cpuinfo model name
  int cpus = 0;            ///< online CPUs
  double load_before = 0;  ///< 1-minute load average when the run started
  double load_after = 0;   ///< and when it ended
  std::string arrow_version;
  std::string arrow_pool;  ///< backend of Arrow's default memory pool
  std::string protobuf_version;
  bool heap_counted = false;  ///< HeapCountingAvailable()
};
Machine DescribeMachine();

struct Options {
  std::vector<std::string> workloads = {"seed", "otel", "realistic"};
  /// When set, the spans of this file of OTLP requests (model::ReadTraceRequestFile)
  /// instead of `workloads`: at each size its first that many spans, in one request
  /// (sizes past the file's spans become all of them).
  std::string input;
  std::vector<int64_t> sizes = {100, 1000, 10000};
  std::vector<Operation> operations = AllOperations();
  /// Samples per operation; reported times are their medians.
  int repetitions = 5;
  /// An operation runs enough times in a row for one sample to take at least this
  /// long; the sample is the mean CPU time per run.
  double min_sample_seconds = 0.05;
  int zstd_level = 1;
};

/// \brief One operation of one case.
struct OperationResult {
  Operation op;
  double cpu_ns = 0;   ///< median over the samples of CPU time per run (process CPU)
  double wall_ns = 0;  ///< median of wall time per run, for reference
  double cpu_ns_min = 0;
  double cpu_ns_max = 0;
  std::vector<double> cpu_ns_samples;  ///< every sample, in the order taken
  int samples = 0;
  int64_t runs_per_sample = 0;
  /// Median over the samples of minor page faults per run: memory the allocator had
  /// given back to the system and that the run touched afresh (Arrow's default pool,
  /// mimalloc, returns freed pages after a short delay).
  double page_faults = 0;
  MemoryStats memory;  ///< one RunOneShot() of a new Runner
};

/// \brief One workload at one size.
struct CaseResult {
  std::string workload;
  int64_t spans = 0;
  Fixture::Sizes sizes;
  bool round_trips_equal = false;
  std::vector<Fixture::ColumnSize> columns;
  std::vector<OperationResult> operations;
  /// The result of `op`, or nullptr when it was not measured.
  const OperationResult* Find(Operation op) const;
};

struct Report {
  Machine machine;
  Options options;
  std::vector<CaseResult> cases;
};

/// \brief Measures one case. The operations are measured side by side: each
/// repetition takes one sample of every operation in turn (in a shuffled order), so a
/// change of machine load shifts all of them alike; then each one runs once more under
/// a MemoryMeasurement.
arrow::Result<CaseResult> RunCase(Fixture* fixture, const Options& options);

/// \brief Every workload × size of `options`, one after the other. `progress`, when
/// set, is told each case as it starts.
arrow::Result<Report> Run(
    const Options& options,
    const std::function<void(const std::string& workload, int64_t spans)>& progress = {});

/// \brief The report as text: per workload a table laid out like the design document's
/// §3.3 (scenario, Arrow, Protobuf, ratio), then memory and sizes.
std::string FormatTable(const Report& report);

/// \brief Per case, the bytes of each column raw and zstd-compressed, largest first.
std::string FormatColumnSizes(const Report& report);

/// \brief The report as JSON (every operation, every counter, every column).
std::string ToJson(const Report& report);

}  // namespace otlp_arrow::bench
