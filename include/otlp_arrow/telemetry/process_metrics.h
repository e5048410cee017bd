// SPDX-License-Identifier: Apache-2.0
// The process's own resource use (the standard Prometheus process-collector metrics,
// read from /proc) and the Arrow memory pool's, for the MetricRegistry.

#pragma once

#include <cstdint>

#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/telemetry/metric_registry.h"

namespace arrow {
class MemoryPool;
}  // namespace arrow

namespace otlp_arrow::telemetry {

/// \brief One reading of the process's resource use (Linux).
struct ProcessStats {
  /// \brief Resident set size (/proc/self/statm, pages × page size).
  int64_t resident_memory_bytes = 0;
  /// \brief Virtual memory size (/proc/self/statm).
  int64_t virtual_memory_bytes = 0;
  /// \brief User + system CPU time of all threads (getrusage).
  double cpu_seconds = 0;
  /// \brief Entries of /proc/self/fd.
  int64_t open_fds = 0;
  /// \brief Soft limit of open files (RLIMIT_NOFILE); -1 when unlimited.
  int64_t max_fds = 0;
  /// \brief Threads of the process (/proc/self/stat).
  int64_t threads = 0;
  /// \brief When the process started, in seconds since the Unix epoch (/proc/self/stat
  /// start time after /proc/stat btime).
  double start_time_seconds = 0;
};

/// \brief Reads the process's resource use now.
///
/// \return IOError naming the file when /proc cannot be read or parsed.
arrow::Result<ProcessStats> ReadProcessStats();

/// \brief What RegisterProcessMetrics() registers besides the process metrics.
struct ProcessMetricsOptions {
  /// \brief Whether to register the Arrow memory pool's metrics too.
  bool include_arrow_pool = true;
  /// \brief The pool whose use is exposed (see RegisterArrowMemoryPoolMetrics()); null
  /// means arrow::default_memory_pool(), the pool the converters and the store allocate
  /// from. Must outlive the registry's use of it.
  arrow::MemoryPool* arrow_pool = nullptr;
};

/// \brief Registers, in one call, the standard Prometheus process-collector metrics:
/// `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
/// `process_cpu_seconds_total`, `process_open_fds`, `process_max_fds`,
/// `process_start_time_seconds` and `process_threads`, plus the Arrow memory pool's
/// (unless `options.include_arrow_pool` is false). A value that cannot be read at a
/// scrape is exposed as NaN rather than failing the whole scrape.
///
/// \return the registry's error if a name is registered already (e.g. a second call).
arrow::Status RegisterProcessMetrics(MetricRegistry* registry,
                                     const ProcessMetricsOptions& options = {});

/// \brief Registers the use of one Arrow memory pool, labelled `backend` (its
/// backend_name(): "jemalloc", "mimalloc", "system") plus `extra_labels` (e.g.
/// `{"pool", "ingest"}` when several pools are exposed):
/// `otlp_arrow_arrow_memory_pool_bytes` (bytes_allocated now),
/// `otlp_arrow_arrow_memory_pool_max_bytes` (peak; left out when the pool does not know
/// it), `otlp_arrow_arrow_memory_pool_allocations_total` (allocations and
/// reallocations) and `otlp_arrow_arrow_memory_pool_allocated_bytes_total` (bytes ever
/// allocated). `pool` must outlive the registry's use of it.
arrow::Status RegisterArrowMemoryPoolMetrics(MetricRegistry* registry,
                                             arrow::MemoryPool* pool,
                                             const Labels& extra_labels = {});

}  // namespace otlp_arrow::telemetry
