// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/model/trace_request_file.h"

#include <cstdint>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <arrow/util/compression.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "otlp_arrow/model/otlp_json.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::model {
namespace {

using ::testing::HasSubstr;

constexpr char kRealTraces[] = "/tests/fixtures/real/real_traces.binpb.zst";

std::vector<otlp::ExportTraceServiceRequest> SomeRequests() {
  std::vector<otlp::ExportTraceServiceRequest> requests;
  for (int i = 0; i < 3; ++i) requests.push_back(RealisticSpans(20 + i, 7 + i));
  return requests;
}

std::string Zstd(const std::string& data) {
  auto codec = arrow::util::Codec::Create(arrow::Compression::ZSTD).ValueOrDie();
  std::string out(static_cast<size_t>(codec->MaxCompressedLen(
                      static_cast<int64_t>(data.size()),
                      reinterpret_cast<const uint8_t*>(data.data()))),
                  '\0');
  const int64_t n = codec
                        ->Compress(static_cast<int64_t>(data.size()),
                                   reinterpret_cast<const uint8_t*>(data.data()),
                                   static_cast<int64_t>(out.size()),
                                   reinterpret_cast<uint8_t*>(out.data()))
                        .ValueOrDie();
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string LengthPrefixed(const std::string& payload) {
  const auto n = static_cast<uint32_t>(payload.size());
  std::string out = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)};
  return out + payload;
}

std::string Json(const otlp::ExportTraceServiceRequest& request) {
  std::string json;
  EXPECT_TRUE(TraceRequestToJson(request, &json).ok());
  return json;
}

// The forms the Collector's file exporter writes (exporter/fileexporter, file_writer.go).
enum class Form {
  kJson,
  kProto,
  kJsonZstdRecords,
  kProtoZstdRecords,
  kJsonZstdStream,
  kProtoZstdStream
};

std::string Write(const std::vector<otlp::ExportTraceServiceRequest>& requests,
                  Form form) {
  std::string out;
  for (const auto& r : requests) {
    switch (form) {
      case Form::kJson:
      case Form::kJsonZstdStream:
        out += Json(r) + "\n";
        break;
      case Form::kProto:
      case Form::kProtoZstdStream:
        out += LengthPrefixed(r.SerializeAsString());
        break;
      case Form::kJsonZstdRecords:
        out += LengthPrefixed(Zstd(Json(r)));
        break;
      case Form::kProtoZstdRecords:
        out += LengthPrefixed(Zstd(r.SerializeAsString()));
        break;
    }
  }
  if (form == Form::kJsonZstdStream || form == Form::kProtoZstdStream) return Zstd(out);
  return out;
}

void ExpectSameRequests(const std::vector<otlp::ExportTraceServiceRequest>& expected,
                        const std::vector<otlp::ExportTraceServiceRequest>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(expected[i].SerializeAsString(), actual[i].SerializeAsString()) << i;
  }
}

TEST(TraceRequestFile, ReadsEveryFormOfTheCollectorsFileExporter) {
  const auto requests = SomeRequests();
  struct Case {
    Form form;
    TraceRequestFile::Format format;
    bool zstd_stream, zstd_records;
  };
  using F = TraceRequestFile::Format;
  for (const Case& c :
       {Case{Form::kJson, F::kJsonLines, false, false},
        Case{Form::kProto, F::kLengthPrefixedProtobuf, false, false},
        Case{Form::kJsonZstdRecords, F::kLengthPrefixedProtobuf, false, true},
        Case{Form::kProtoZstdRecords, F::kLengthPrefixedProtobuf, false, true},
        Case{Form::kJsonZstdStream, F::kJsonLines, true, false},
        Case{Form::kProtoZstdStream, F::kLengthPrefixedProtobuf, true, false}}) {
    SCOPED_TRACE(static_cast<int>(c.form));
    auto file = ParseTraceRequestFile(Write(requests, c.form), "f");
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    EXPECT_EQ(file->format, c.format);
    EXPECT_EQ(file->zstd_stream, c.zstd_stream);
    EXPECT_EQ(file->zstd_records, c.zstd_records);
    ExpectSameRequests(requests, file->requests);
  }
}

TEST(TraceRequestFile, JsonLinesMaySkipBlankLinesAndEndInCrLf) {
  const auto requests = SomeRequests();
  const std::string text = "\n" + Json(requests[0]) + "\r\n\r\n" + Json(requests[1]) +
                           "\n" + Json(requests[2]);
  auto file = ParseTraceRequestFile(text, "f");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ExpectSameRequests(requests, file->requests);
}

TEST(TraceRequestFile, ErrorsNameTheFileTheRecordAndItsOffset) {
  const auto requests = SomeRequests();
  const std::string first = LengthPrefixed(requests[0].SerializeAsString());
  const std::string second = requests[1].SerializeAsString();

  // A length prefix cut short.
  auto status = ParseTraceRequestFile(first + std::string("\0\0", 2), "cap.bin").status();
  EXPECT_TRUE(status.IsInvalid());
  EXPECT_THAT(status.message(), HasSubstr("cap.bin: record 2 at byte " +
                                          std::to_string(first.size()) + ": truncated"));

  // A record cut short.
  std::string cut = LengthPrefixed(second);
  cut.resize(cut.size() - 3);
  status = ParseTraceRequestFile(first + cut, "cap.bin").status();
  EXPECT_THAT(
      status.message(),
      HasSubstr("record 2 at byte " + std::to_string(first.size()) +
                ": truncated: the length prefix says " + std::to_string(second.size()) +
                " bytes, " + std::to_string(second.size() - 3) + " follow"));

  // Bytes that are not a request.
  status =
      ParseTraceRequestFile(first + LengthPrefixed("\xff\xff\xff"), "cap.bin").status();
  EXPECT_THAT(status.message(), HasSubstr("record 2"));
  EXPECT_THAT(status.message(), HasSubstr("not an OTLP ExportTraceServiceRequest"));

  // A bad JSON line: the JSON path as well.
  status = ParseTraceRequestFile(Json(requests[0]) + "\n" +
                                     R"({"resourceSpans":[{"scopeSpans":[{"spans":[)"
                                     R"({"traceId":"xyz"}]}]}]})",
                                 "cap.json")
               .status();
  EXPECT_THAT(status.message(), HasSubstr("cap.json: record 2 at byte "));
  EXPECT_THAT(status.message(), HasSubstr("traceId"));

  // In a zstd stream the offset is in the decompressed bytes, and says so.
  status = ParseTraceRequestFile(Zstd(first + std::string("\0", 1)), "cap.zst").status();
  EXPECT_THAT(status.message(),
              HasSubstr("record 2 at byte " + std::to_string(first.size()) +
                        " of the decompressed stream"));
}

TEST(TraceRequestFile, RefusesRecordsOverTheLimitBeforeAllocatingThem) {
  TraceRequestFileOptions options;
  options.max_record_bytes = 1000;
  // The prefix claims 4 GB - 1: refused on sight, not read or allocated.
  auto status =
      ParseTraceRequestFile(std::string("\x0f\xff\xff\xff", 4) + "abc", "big", options)
          .status();
  EXPECT_THAT(status.message(), HasSubstr("more than the limit of 1000"));
  // A zstd record decompressing past the limit (a small "bomb").
  status =
      ParseTraceRequestFile(LengthPrefixed(Zstd(std::string(5000, 'a'))), "bomb", options)
          .status();
  EXPECT_THAT(status.message(), HasSubstr("decompresses to more than 1000 bytes"));
  // The same for the whole stream.
  options.max_total_bytes = 2000;
  status =
      ParseTraceRequestFile(Zstd(std::string(1 << 20, '\n')), "bomb", options).status();
  EXPECT_THAT(status.message(), HasSubstr("bomb: decompresses to more than 2000 bytes"));
}

TEST(TraceRequestFile, TruncatedOrCorruptZstdIsAnErrorNotACrash) {
  const std::string whole = Write(SomeRequests(), Form::kProtoZstdStream);
  auto status = ParseTraceRequestFile(whole.substr(0, whole.size() / 2), "half").status();
  EXPECT_TRUE(status.IsInvalid());
  EXPECT_THAT(status.message(), HasSubstr("half: truncated zstd data"));

  std::string corrupt = whole;
  for (size_t i = 8; i < corrupt.size(); i += 7)
    corrupt[i] = static_cast<char>(~corrupt[i]);
  EXPECT_FALSE(ParseTraceRequestFile(corrupt, "corrupt").ok());

  // Garbage after the last frame.
  status = ParseTraceRequestFile(whole + "trailing", "tail").status();
  EXPECT_THAT(status.message(), HasSubstr("tail: corrupt zstd data"));
}

// Hostile files: every prefix and many mutations of valid files in each form give a
// result or an error, never a crash (the sanitizer build checks the memory side).
TEST(TraceRequestFile, SurvivesTruncationAndMutationAnywhere) {
  std::vector<otlp::ExportTraceServiceRequest> requests = {RealisticSpans(3, 1),
                                                           RealisticSpans(2, 2)};
  std::mt19937_64 rng(5);
  TraceRequestFileOptions options;
  options.max_record_bytes = 1 << 16;
  options.max_total_bytes = 1 << 20;
  for (Form form :
       {Form::kJson, Form::kProto, Form::kJsonZstdRecords, Form::kProtoZstdRecords,
        Form::kJsonZstdStream, Form::kProtoZstdStream}) {
    const std::string valid = Write(requests, form);
    for (size_t n = 0; n < valid.size(); n += 1 + valid.size() / 200) {
      (void)ParseTraceRequestFile(valid.substr(0, n), "prefix", options);
    }
    for (int i = 0; i < 300; ++i) {
      std::string mutated = valid;
      for (int k = 0; k < 1 + i % 4; ++k) {
        mutated[rng() % mutated.size()] = static_cast<char>(rng());
      }
      (void)ParseTraceRequestFile(mutated, "mutated", options);
    }
  }
}

TEST(TraceRequestFile, ReadingAFileNamesItInErrors) {
  auto missing = ReadTraceRequestFile("/nonexistent/requests.json");
  EXPECT_TRUE(missing.status().IsIOError());
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/requests.json"));

  const std::string path = ::testing::TempDir() + "empty_requests.json";
  std::ofstream(path) << "\n\n";
  auto empty = ReadTraceRequestFile(path);
  EXPECT_THAT(empty.status().message(), HasSubstr(path + ": no spans (0 request(s)"));
}

// The committed corpus of real instrumentation (tests/fixtures/real/README.md).
TEST(TraceRequestFile, ReadsTheRealTracesFixture) {
  auto file = ReadTraceRequestFile(std::string(OTLP_ARROW_SOURCE_DIR) + kRealTraces);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->format, TraceRequestFile::Format::kLengthPrefixedProtobuf);
  EXPECT_TRUE(file->zstd_stream);
  EXPECT_EQ(file->requests.size(), 61u);
  int64_t spans = 0;
  std::set<std::string> services, scopes;
  for (const auto& request : file->requests) {
    spans += CountSpans(request);
    for (const auto& rs : request.resource_spans()) {
      for (const auto& kv : rs.resource().attributes()) {
        if (kv.key() == "service.name") services.insert(kv.value().string_value());
      }
      for (const auto& ss : rs.scope_spans()) scopes.insert(ss.scope().name());
    }
  }
  EXPECT_EQ(spans, 30003);
  EXPECT_EQ(services,
            (std::set<std::string>{"frontend", "inventory", "orders", "worker"}));
  for (const char* scope :
       {"opentelemetry.instrumentation.flask", "opentelemetry.instrumentation.requests",
        "opentelemetry.instrumentation.urllib3", "opentelemetry.instrumentation.sqlite3",
        "shop.worker"}) {
    EXPECT_TRUE(scopes.count(scope)) << scope;
  }
}

TEST(TraceRequestFile, RebatchKeepsEverySpanWithItsResourceAndScope) {
  const auto requests = SomeRequests();  // 20 + 21 + 22 spans
  const auto batches = Rebatch(requests, 25);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(CountSpans(batches[0]), 25);
  EXPECT_EQ(CountSpans(batches[1]), 25);
  EXPECT_EQ(CountSpans(batches[2]), 13);
  // Span by span, in order, under equal resources and scopes.
  std::vector<std::string> in, out;
  for (const auto* list : {&requests, &batches}) {
    auto& flat = list == &requests ? in : out;
    for (const auto& r : *list) {
      for (const auto& rs : r.resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& span : ss.spans()) {
            flat.push_back(rs.resource().SerializeAsString() + "|" + rs.schema_url() +
                           "|" + ss.scope().SerializeAsString() + "|" +
                           span.SerializeAsString());
          }
        }
      }
    }
  }
  EXPECT_EQ(in, out);
  const auto first = Rebatch(requests, 1000, 30);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(CountSpans(first[0]), 30);
}

}  // namespace
}  // namespace otlp_arrow::model
