// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/model/trace_request_file.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <utility>

#include <arrow/util/compression.h>

#include "otlp_arrow/model/otlp_json.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::model {

namespace {

constexpr unsigned char kZstdMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
constexpr size_t kLengthPrefixBytes = 4;

bool StartsWithZstdMagic(std::string_view bytes) {
  return bytes.size() >= sizeof(kZstdMagic) &&
         std::memcmp(bytes.data(), kZstdMagic, sizeof(kZstdMagic)) == 0;
}

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// JSON lines start with an object (after blank lines, perhaps). A length prefix never
// starts with '{' (0x7B): that would be a record of over 2 GB.
bool LooksLikeJson(std::string_view bytes) {
  for (char c : bytes) {
    if (!IsJsonWhitespace(c)) return c == '{';
  }
  return !bytes.empty();  // whitespace only: JSON lines with no record
}

// Decompresses zstd frames (one or several, concatenated), refusing to produce more than
// `limit` bytes: the output grows as it comes, never to a size the input claims.
arrow::Result<std::string> DecompressZstd(std::string_view input, int64_t limit,
                                          const std::string& what) {
  ARROW_ASSIGN_OR_RAISE(auto codec, arrow::util::Codec::Create(arrow::Compression::ZSTD));
  ARROW_ASSIGN_OR_RAISE(auto decompressor, codec->MakeDecompressor());
  std::string out;
  size_t in_pos = 0;
  while (true) {
    const int64_t room = limit + 1 - static_cast<int64_t>(out.size());
    const int64_t chunk = std::min<int64_t>(
        room, std::max<int64_t>(int64_t{1} << 16,
                                std::min<int64_t>(static_cast<int64_t>(out.size()),
                                                  int64_t{64} << 20)));
    const size_t old_size = out.size();
    out.resize(old_size + static_cast<size_t>(chunk));
    auto result = decompressor->Decompress(
        static_cast<int64_t>(input.size() - in_pos),
        reinterpret_cast<const uint8_t*>(input.data() + in_pos), chunk,
        reinterpret_cast<uint8_t*>(out.data() + old_size));
    if (!result.ok()) {
      return arrow::Status::Invalid(what,
                                    ": corrupt zstd data: ", result.status().message());
    }
    in_pos += static_cast<size_t>(result->bytes_read);
    out.resize(old_size + static_cast<size_t>(result->bytes_written));
    if (static_cast<int64_t>(out.size()) > limit) {
      return arrow::Status::Invalid(what, ": decompresses to more than ", limit,
                                    " bytes");
    }
    const bool input_done = in_pos == input.size();
    if (input_done && result->bytes_written < chunk) break;
    if (!input_done && result->bytes_read == 0 && result->bytes_written == 0) {
      return arrow::Status::Invalid(what, ": corrupt zstd data (no progress at byte ",
                                    in_pos, ")");
    }
  }
  if (!decompressor->IsFinished()) {
    return arrow::Status::Invalid(what,
                                  ": truncated zstd data (the last frame has no end)");
  }
  return out;
}

std::string RecordName(std::string_view name, int64_t record, size_t offset,
                       bool decompressed) {
  return std::string(name) + ": record " + std::to_string(record) + " at byte " +
         std::to_string(offset) + (decompressed ? " of the decompressed stream" : "");
}

arrow::Status ParseRecord(std::string_view payload, const std::string& where,
                          const TraceRequestFileOptions& options,
                          TraceRequestFile* file) {
  std::string decompressed;
  if (StartsWithZstdMagic(payload)) {
    ARROW_ASSIGN_OR_RAISE(decompressed,
                          DecompressZstd(payload, options.max_record_bytes, where));
    payload = decompressed;
    file->zstd_records = true;
  }
  otlp::ExportTraceServiceRequest request;
  if (LooksLikeJson(payload)) {
    auto status = TraceRequestFromJson(payload, &request);
    if (!status.ok()) return arrow::Status::Invalid(where, ": ", status.message());
  } else if (payload.size() > static_cast<size_t>(INT32_MAX) ||
             !request.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return arrow::Status::Invalid(where, ": not an OTLP ExportTraceServiceRequest (",
                                  payload.size(),
                                  " bytes of protobuf that do not parse)");
  }
  file->requests.push_back(std::move(request));
  return arrow::Status::OK();
}

arrow::Status ParseJsonLines(std::string_view data, std::string_view name,
                             bool decompressed, const TraceRequestFileOptions& options,
                             TraceRequestFile* file) {
  file->format = TraceRequestFile::Format::kJsonLines;
  int64_t record = 0;
  size_t offset = 0;
  while (offset < data.size()) {
    size_t end = data.find('\n', offset);
    if (end == std::string_view::npos) end = data.size();
    const std::string_view line = data.substr(offset, end - offset);
    if (!std::all_of(line.begin(), line.end(), IsJsonWhitespace)) {
      ++record;
      const std::string where = RecordName(name, record, offset, decompressed);
      if (static_cast<int64_t>(line.size()) > options.max_record_bytes) {
        return arrow::Status::Invalid(where, ": a line of ", line.size(),
                                      " bytes, more than the limit of ",
                                      options.max_record_bytes);
      }
      otlp::ExportTraceServiceRequest request;
      auto status = TraceRequestFromJson(line, &request);
      if (!status.ok()) return arrow::Status::Invalid(where, ": ", status.message());
      file->requests.push_back(std::move(request));
    }
    offset = end + 1;
  }
  return arrow::Status::OK();
}

arrow::Status ParseLengthPrefixed(std::string_view data, std::string_view name,
                                  bool decompressed,
                                  const TraceRequestFileOptions& options,
                                  TraceRequestFile* file) {
  file->format = TraceRequestFile::Format::kLengthPrefixedProtobuf;
  int64_t record = 0;
  size_t offset = 0;
  while (offset < data.size()) {
    ++record;
    const std::string where = RecordName(name, record, offset, decompressed);
    const size_t left = data.size() - offset;
    if (left < kLengthPrefixBytes) {
      return arrow::Status::Invalid(where, ": truncated: ", left,
                                    " byte(s) where a 4-byte length prefix should be");
    }
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + offset);
    const uint64_t length = (uint64_t{p[0]} << 24) | (uint64_t{p[1]} << 16) |
                            (uint64_t{p[2]} << 8) | uint64_t{p[3]};
    if (length > static_cast<uint64_t>(options.max_record_bytes)) {
      return arrow::Status::Invalid(
          where, ": the length prefix says ", length, " bytes, more than the limit of ",
          options.max_record_bytes, " (not a file of length-prefixed records?)");
    }
    if (length > left - kLengthPrefixBytes) {
      return arrow::Status::Invalid(where, ": truncated: the length prefix says ", length,
                                    " bytes, ", left - kLengthPrefixBytes, " follow");
    }
    ARROW_RETURN_NOT_OK(ParseRecord(data.substr(offset + kLengthPrefixBytes, length),
                                    where, options, file));
    offset += kLengthPrefixBytes + length;
  }
  return arrow::Status::OK();
}

}  // namespace

std::string TraceRequestFile::DescribeFormat() const {
  std::string out =
      format == Format::kJsonLines ? "OTLP/JSON lines" : "length-prefixed records";
  if (zstd_stream) out += ", one zstd stream";
  if (zstd_records) out += ", zstd records";
  return out;
}

arrow::Result<TraceRequestFile> ParseTraceRequestFile(
    std::string_view contents, std::string_view name,
    const TraceRequestFileOptions& options) {
  TraceRequestFile file;
  std::string decompressed;
  if (StartsWithZstdMagic(contents)) {
    ARROW_ASSIGN_OR_RAISE(decompressed, DecompressZstd(contents, options.max_total_bytes,
                                                       std::string(name)));
    contents = decompressed;
    file.zstd_stream = true;
  } else if (static_cast<int64_t>(contents.size()) > options.max_total_bytes) {
    return arrow::Status::Invalid(name, ": ", contents.size(),
                                  " bytes, more than the limit of ",
                                  options.max_total_bytes);
  }
  if (LooksLikeJson(contents)) {
    ARROW_RETURN_NOT_OK(ParseJsonLines(contents, name, file.zstd_stream, options, &file));
  } else {
    ARROW_RETURN_NOT_OK(
        ParseLengthPrefixed(contents, name, file.zstd_stream, options, &file));
  }
  return file;
}

arrow::Result<TraceRequestFile> ReadTraceRequestFile(
    const std::string& path, const TraceRequestFileOptions& options) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return arrow::Status::IOError(path, ": cannot open: ", std::strerror(errno));
  const std::streamoff size = in.tellg();
  if (size < 0) return arrow::Status::IOError(path, ": cannot tell its size");
  if (size > options.max_total_bytes) {
    return arrow::Status::Invalid(path, ": ", size, " bytes, more than the limit of ",
                                  options.max_total_bytes);
  }
  std::string contents(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(contents.data(), size)) {
    return arrow::Status::IOError(path, ": cannot read: ", std::strerror(errno));
  }
  ARROW_ASSIGN_OR_RAISE(auto file, ParseTraceRequestFile(contents, path, options));
  int64_t spans = 0;
  for (const auto& request : file.requests) spans += CountSpans(request);
  if (spans == 0) {
    return arrow::Status::Invalid(path, ": no spans (", file.requests.size(),
                                  " request(s), ", file.DescribeFormat(), ")");
  }
  return file;
}

std::vector<otlp::ExportTraceServiceRequest> Rebatch(
    const std::vector<otlp::ExportTraceServiceRequest>& requests,
    int64_t spans_per_request, int64_t max_spans) {
  std::vector<otlp::ExportTraceServiceRequest> out;
  if (spans_per_request <= 0) return out;
  int64_t in_current = spans_per_request;  // start a new request on the first span
  int64_t total = 0;
  for (const auto& request : requests) {
    for (const auto& resource_spans : request.resource_spans()) {
      otlp::ResourceSpans* resource_out = nullptr;
      for (const auto& scope_spans : resource_spans.scope_spans()) {
        otlp::ScopeSpans* scope_out = nullptr;
        for (const auto& span : scope_spans.spans()) {
          if (max_spans > 0 && total == max_spans) return out;
          if (in_current == spans_per_request) {
            out.emplace_back();
            in_current = 0;
            resource_out = nullptr;
            scope_out = nullptr;
          }
          if (resource_out == nullptr) {
            resource_out = out.back().add_resource_spans();
            if (resource_spans.has_resource()) {
              *resource_out->mutable_resource() = resource_spans.resource();
            }
            resource_out->set_schema_url(resource_spans.schema_url());
            scope_out = nullptr;
          }
          if (scope_out == nullptr) {
            scope_out = resource_out->add_scope_spans();
            if (scope_spans.has_scope())
              *scope_out->mutable_scope() = scope_spans.scope();
            scope_out->set_schema_url(scope_spans.schema_url());
          }
          *scope_out->add_spans() = span;
          ++in_current;
          ++total;
        }
      }
    }
  }
  return out;
}

}  // namespace otlp_arrow::model
