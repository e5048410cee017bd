// SPDX-License-Identifier: Apache-2.0
// Files of OTLP trace requests as the OpenTelemetry Collector's `file` exporter writes
// them, so that users can measure and replay traffic they captured with a Collector they
// already run (`otlp-arrow bench --input`, `otlp-arrow loadgen --input`).

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::model {

struct TraceRequestFileOptions {
  /// Largest request, in bytes after decompression (JSON line or protobuf record).
  int64_t max_record_bytes = int64_t{64} << 20;
  /// Largest file, in bytes after decompression: every request is held in memory.
  int64_t max_total_bytes = int64_t{4} << 30;
};

/// \brief What a file held, and how it was written.
struct TraceRequestFile {
  enum class Format { kJsonLines, kLengthPrefixedProtobuf };
  Format format = Format::kJsonLines;
  /// The whole file is one zstd stream (the file exporter's native compression).
  bool zstd_stream = false;
  /// Each record is a zstd frame (the file exporter's `compression: zstd` without
  /// native compression).
  bool zstd_records = false;
  std::vector<otlp::ExportTraceServiceRequest> requests;

  /// \brief e.g. "length-prefixed protobuf, zstd stream".
  std::string DescribeFormat() const;
};

/// \brief Parses the contents of a file of ExportTraceServiceRequests in any of the forms
/// the Collector's `file` exporter writes for traces (exporter/fileexporter,
/// file_writer.go and marshaller.go of opentelemetry-collector-contrib):
///   - `format: json` (the default): OTLP/JSON, one request per line;
///   - `format: proto`: each request preceded by its length as a 4-byte big-endian
///     unsigned integer;
///   - `compression: zstd`: each record a zstd frame behind the same 4-byte length
///     (JSON too), or, with the exporter's native compression, the whole file one zstd
///     stream around JSON lines or length-prefixed records.
/// Told apart by their first bytes: the zstd magic number, `{` (or whitespace) for JSON,
/// anything else a length prefix. Errors name `name`, the record (from 1) and its byte
/// offset (in the decompressed stream when the file is one); nothing is trusted before
/// it is checked against `options` and the bytes that are really there.
arrow::Result<TraceRequestFile> ParseTraceRequestFile(
    std::string_view contents, std::string_view name,
    const TraceRequestFileOptions& options = {});

/// \brief Reads `path` and parses it (see ParseTraceRequestFile). A file with no request
/// is an error.
arrow::Result<TraceRequestFile> ReadTraceRequestFile(
    const std::string& path, const TraceRequestFileOptions& options = {});

/// \brief Every span of `requests`, in order, in as many requests of at most
/// `spans_per_request` spans (the last may hold fewer), each resource and scope
/// carried with its spans. Stops after `max_spans` spans (0: all).
std::vector<otlp::ExportTraceServiceRequest> Rebatch(
    const std::vector<otlp::ExportTraceServiceRequest>& requests,
    int64_t spans_per_request, int64_t max_spans = 0);

}  // namespace otlp_arrow::model
