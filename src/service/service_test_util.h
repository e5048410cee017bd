// SPDX-License-Identifier: Apache-2.0
// Test helpers of the receivers: a scripted TraceIngest, OTLP requests, and decoders of
// google.rpc.Status and of the process's memory.

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "otlp_arrow/convert/otap_traces_decoder.h"
#include "otlp_arrow/pipeline/trace_ingest.h"

namespace otlp_arrow::service::testing {

/// Records every request and answers with a scripted result; can hold calls until
/// released, to test calls in flight.
class FakeTraceIngest : public pipeline::TraceIngest {
 public:
  struct Call {
    std::string api;    // "protobuf", "json" or "otap"
    std::string bytes;  // for "otap": the number of spans
    std::shared_ptr<const convert::OtapTraces> otap;
  };

  pipeline::IngestResult IngestOtlpProtobuf(std::string_view request) override {
    return Take("protobuf", request);
  }
  pipeline::IngestResult IngestOtlpJson(std::string_view request) override {
    return Take("json", request);
  }
  pipeline::IngestResult IngestOtap(
      const std::shared_ptr<const convert::OtapTraces>& traces) override {
    return Take("otap", std::to_string(traces->num_spans()), traces);
  }

  void Answer(pipeline::IngestResult result) {
    std::lock_guard<std::mutex> lock(mutex_);
    result_ = std::move(result);
  }

  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }

  /// Calls from now on wait in TraceIngest until Release().
  void Hold() {
    std::lock_guard<std::mutex> lock(mutex_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      held_ = false;
    }
    changed_.notify_all();
  }
  /// Waits until `n` calls are waiting in Hold(); false after 10 s.
  bool WaitForWaiting(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10),
                             [&] { return waiting_ >= n; });
  }

 private:
  pipeline::IngestResult Take(std::string api, std::string_view request,
                              std::shared_ptr<const convert::OtapTraces> otap = nullptr) {
    std::unique_lock<std::mutex> lock(mutex_);
    calls_.push_back({std::move(api), std::string(request), std::move(otap)});
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !held_; });
    --waiting_;
    return result_;
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Call> calls_;
  pipeline::IngestResult result_;
  bool held_ = false;
  int waiting_ = 0;
};

/// Breaks the TraceIngest contract by throwing: the receivers must answer 500 /
/// INTERNAL and go on serving.
class ThrowingTraceIngest : public pipeline::TraceIngest {
 public:
  pipeline::IngestResult IngestOtlpProtobuf(std::string_view) override {
    throw std::runtime_error("boom");
  }
  pipeline::IngestResult IngestOtlpJson(std::string_view) override { throw 42; }
  pipeline::IngestResult IngestOtap(
      const std::shared_ptr<const convert::OtapTraces>&) override {
    throw std::runtime_error("boom");
  }
};

/// An ExportTraceServiceRequest with `spans` spans in one resource and scope.
inline opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest
SampleRequest(int spans) {
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
  auto* resource_spans = request.add_resource_spans();
  auto* attribute = resource_spans->mutable_resource()->add_attributes();
  attribute->set_key("service.name");
  attribute->mutable_value()->set_string_value("checkout");
  auto* scope_spans = resource_spans->add_scope_spans();
  scope_spans->mutable_scope()->set_name("test");
  for (int i = 0; i < spans; ++i) {
    auto* span = scope_spans->add_spans();
    span->set_trace_id(std::string(16, static_cast<char>(i + 1)));
    span->set_span_id(std::string(8, static_cast<char>(i + 1)));
    span->set_name("span " + std::to_string(i));
    span->set_start_time_unix_nano(1'700'000'000'000'000'000 + i);
    span->set_end_time_unix_nano(1'700'000'000'000'000'000 + i + 1000);
  }
  return request;
}

/// google.rpc.Status decoded from its protobuf wire format, with the RetryInfo detail.
struct DecodedStatus {
  int64_t code = 0;
  std::string message;
  int details = 0;
  std::string detail_type_url;
  std::optional<std::chrono::nanoseconds> retry_delay;
};

/// Decodes google.rpc.RetryInfo{retry_delay = Duration{seconds, nanos}}.
inline ::testing::AssertionResult DecodeRetryInfo(
    const std::string& bytes, std::optional<std::chrono::nanoseconds>* retry_delay) {
  using google::protobuf::UnknownFieldSet;
  UnknownFieldSet retry_info;
  if (!retry_info.ParseFromString(bytes) || retry_info.field_count() != 1 ||
      retry_info.field(0).number() != 1) {
    return ::testing::AssertionFailure() << "RetryInfo without retry_delay";
  }
  UnknownFieldSet duration;
  if (!duration.ParseFromString(retry_info.field(0).length_delimited())) {
    return ::testing::AssertionFailure() << "retry_delay is not a Duration";
  }
  std::chrono::nanoseconds delay{0};
  for (int j = 0; j < duration.field_count(); ++j) {
    if (duration.field(j).number() == 1) {
      delay += std::chrono::seconds(static_cast<int64_t>(duration.field(j).varint()));
    }
    if (duration.field(j).number() == 2) {
      delay += std::chrono::nanoseconds(static_cast<int32_t>(duration.field(j).varint()));
    }
  }
  *retry_delay = delay;
  return ::testing::AssertionSuccess();
}

/// Decodes with protobuf's UnknownFieldSet, independently of the receivers' encoder.
inline ::testing::AssertionResult DecodeRpcStatus(const std::string& bytes,
                                                  DecodedStatus* out) {
  using google::protobuf::UnknownField;
  using google::protobuf::UnknownFieldSet;
  UnknownFieldSet status;
  if (!status.ParseFromString(bytes)) {
    return ::testing::AssertionFailure() << "not protobuf: " << bytes.size() << " bytes";
  }
  for (int i = 0; i < status.field_count(); ++i) {
    const UnknownField& field = status.field(i);
    if (field.number() == 1 && field.type() == UnknownField::TYPE_VARINT) {
      out->code = static_cast<int32_t>(field.varint());
    } else if (field.number() == 2 &&
               field.type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      out->message = field.length_delimited();
    } else if (field.number() == 3 &&
               field.type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      ++out->details;
      UnknownFieldSet any;
      if (!any.ParseFromString(field.length_delimited())) {
        return ::testing::AssertionFailure() << "detail is not an Any";
      }
      std::string value;
      for (int j = 0; j < any.field_count(); ++j) {
        if (any.field(j).number() == 1)
          out->detail_type_url = any.field(j).length_delimited();
        if (any.field(j).number() == 2) value = any.field(j).length_delimited();
      }
      if (out->detail_type_url != "type.googleapis.com/google.rpc.RetryInfo") continue;
      auto decoded = DecodeRetryInfo(value, &out->retry_delay);
      if (!decoded) return decoded;
    } else {
      return ::testing::AssertionFailure() << "unexpected field " << field.number();
    }
  }
  return ::testing::AssertionSuccess();
}

/// gzip of `data` (one member).
inline std::string Gzip(std::string_view data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// A valid gzip stream of `mebibytes` MiB of zeros (about 1 KiB per MiB), made without
/// compressing them all: a decompression bomb. One MiB is deflated and ended with a
/// full flush, which resets the compressor, so the same bytes can follow themselves.
inline std::string GzipZeros(uint32_t mebibytes) {
  const std::string zeros(1 << 20, '\0');
  const auto deflate_raw = [](const std::string& input, int flush) {
    z_stream z{};
    // Negative window bits: raw deflate, no wrapper.
    EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&z, static_cast<uLong>(input.size())) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    z.avail_in = static_cast<uInt>(input.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, flush);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  };
  const std::string block = deflate_raw(zeros, Z_FULL_FLUSH);
  const std::string last = deflate_raw("", Z_FINISH);  // an empty final block
  const uLong crc_mib = crc32(0, reinterpret_cast<const Bytef*>(zeros.data()),
                              static_cast<uInt>(zeros.size()));
  uLong crc = crc32(0, nullptr, 0);
  std::string out("\x1f\x8b\x08\0\0\0\0\0\0\x03", 10);  // gzip header, no name
  out.reserve(10 + block.size() * mebibytes + last.size() + 8);
  for (uint32_t i = 0; i < mebibytes; ++i) {
    out += block;
    crc = crc32_combine(crc, crc_mib, static_cast<z_off_t>(zeros.size()));
  }
  out += last;
  const uint64_t size = uint64_t{mebibytes} << 20;
  for (const uint32_t word : {static_cast<uint32_t>(crc), static_cast<uint32_t>(size)}) {
    for (int byte = 0; byte < 4; ++byte)
      out += static_cast<char>((word >> (8 * byte)) & 0xff);
  }
  return out;
}

/// Peak resident memory of this process since the last ResetPeakRss(), in bytes.
inline int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

/// Sets the peak to the current resident size (Linux clear_refs 5); false when the
/// kernel does not allow it.
inline bool ResetPeakRss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return clear_refs.good();
}

}  // namespace otlp_arrow::service::testing
