// SPDX-License-Identifier: Apache-2.0
// The OTLP trace model: the protobuf classes generated from the vendored
// opentelemetry-proto.

#pragma once

// Generated code is not ours to keep warning-free under -Wextra; the include directory is
// already SYSTEM, the pragmas keep it so when a tool ignores that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wshadow"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"  // IWYU pragma: export
#include "opentelemetry/proto/common/v1/common.pb.h"      // IWYU pragma: export
#include "opentelemetry/proto/resource/v1/resource.pb.h"  // IWYU pragma: export
#include "opentelemetry/proto/trace/v1/trace.pb.h"        // IWYU pragma: export
#pragma GCC diagnostic pop

#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace otlp_arrow::otlp {

using ::opentelemetry::proto::collector::trace::v1::ExportTracePartialSuccess;
using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using ::opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using ::opentelemetry::proto::common::v1::AnyValue;
using ::opentelemetry::proto::common::v1::ArrayValue;
using ::opentelemetry::proto::common::v1::InstrumentationScope;
using ::opentelemetry::proto::common::v1::KeyValue;
using ::opentelemetry::proto::common::v1::KeyValueList;
using ::opentelemetry::proto::resource::v1::Resource;
using ::opentelemetry::proto::trace::v1::ResourceSpans;
using ::opentelemetry::proto::trace::v1::ScopeSpans;
using ::opentelemetry::proto::trace::v1::Span;
using ::opentelemetry::proto::trace::v1::Status;

/// Width of OTLP ids in bytes.
inline constexpr int kTraceIdSize = 16;
inline constexpr int kSpanIdSize = 8;

/// Deterministic wire bytes of a message: equal bytes mean equal messages bit for bit
/// (NaN payloads and the sign of zero included, which MessageDifferencer's float
/// comparison misses).
inline std::string DeterministicBytes(const google::protobuf::MessageLite& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

}  // namespace otlp_arrow::otlp
