// SPDX-License-Identifier: Apache-2.0

#include "receiver_internal.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "service_test_util.h"

namespace otlp_arrow::service::internal {
namespace {

using pipeline::IngestCode;
using testing::DecodedStatus;
using testing::DecodeRpcStatus;

TEST(AnswerForTest, MapsEveryIngestCode) {
  struct Row {
    IngestCode code;
    int32_t rpc;
    int http;
    bool retry;
  };
  for (const Row& row : {Row{IngestCode::kAccepted, kRpcOk, 200, false},
                         Row{IngestCode::kInvalid, kRpcInvalidArgument, 400, false},
                         Row{IngestCode::kQueueFull, kRpcResourceExhausted, 429, true},
                         Row{IngestCode::kTooLarge, kRpcResourceExhausted, 413, false},
                         Row{IngestCode::kShuttingDown, kRpcUnavailable, 503, true}}) {
    const IngestAnswer answer = AnswerFor(row.code);
    EXPECT_EQ(answer.rpc_code, row.rpc) << static_cast<int>(row.code);
    EXPECT_EQ(answer.http_status, row.http) << static_cast<int>(row.code);
    EXPECT_EQ(answer.retry, row.retry) << static_cast<int>(row.code);
  }
  const IngestAnswer unknown = AnswerFor(static_cast<IngestCode>(99));
  EXPECT_EQ(unknown.rpc_code, kRpcInternal);
  EXPECT_EQ(unknown.http_status, 500);
}

TEST(RpcStatusTest, EncodesCodeMessageAndRetryInfo) {
  const std::string bytes = EncodeRpcStatus(kRpcResourceExhausted, "queue full",
                                            std::chrono::milliseconds(2500));
  DecodedStatus status;
  ASSERT_TRUE(DecodeRpcStatus(bytes, &status));
  EXPECT_EQ(status.code, 8);
  EXPECT_EQ(status.message, "queue full");
  EXPECT_EQ(status.details, 1);
  EXPECT_EQ(status.detail_type_url, "type.googleapis.com/google.rpc.RetryInfo");
  ASSERT_TRUE(status.retry_delay.has_value());
  EXPECT_EQ(*status.retry_delay, std::chrono::milliseconds(2500));
}

TEST(RpcStatusTest, WholeSecondsAndZeroDelay) {
  DecodedStatus whole;
  ASSERT_TRUE(DecodeRpcStatus(
      EncodeRpcStatus(kRpcUnavailable, "x", std::chrono::seconds(3)), &whole));
  EXPECT_EQ(*whole.retry_delay, std::chrono::seconds(3));

  DecodedStatus zero;
  ASSERT_TRUE(DecodeRpcStatus(
      EncodeRpcStatus(kRpcUnavailable, "x", std::chrono::milliseconds(0)), &zero));
  ASSERT_TRUE(zero.retry_delay.has_value());
  EXPECT_EQ(zero.retry_delay->count(), 0);
}

TEST(RpcStatusTest, WithoutRetryInfoHasNoDetails) {
  DecodedStatus status;
  ASSERT_TRUE(DecodeRpcStatus(
      EncodeRpcStatus(kRpcInvalidArgument, "bad span id", std::nullopt), &status));
  EXPECT_EQ(status.code, 3);
  EXPECT_EQ(status.message, "bad span id");
  EXPECT_EQ(status.details, 0);
}

TEST(RpcStatusTest, LongMessageAndInvalidUtf8) {
  const std::string message = std::string(300, 'm') + "\xff\xfe" + "ok";
  DecodedStatus status;
  ASSERT_TRUE(DecodeRpcStatus(EncodeRpcStatus(kRpcInvalidArgument, message, std::nullopt),
                              &status));
  EXPECT_EQ(status.message, std::string(300, 'm') + "\xEF\xBF\xBD\xEF\xBF\xBD" + "ok");
}

TEST(RpcStatusTest, JsonMapping) {
  const auto status = nlohmann::json::parse(EncodeRpcStatusJson(8, "queue \"full\"\n"));
  EXPECT_EQ(status["code"], 8);
  EXPECT_EQ(status["message"], "queue \"full\"\n");
  // Invalid UTF-8 would make nlohmann::json throw on dump; it is replaced first.
  const auto replaced = nlohmann::json::parse(EncodeRpcStatusJson(3, "a\xc3"));
  EXPECT_EQ(replaced["message"], "a\xEF\xBF\xBD");
}

TEST(ValidUtf8Test, KeepsValidAndReplacesInvalid) {
  EXPECT_EQ(ValidUtf8("héllo ✓ 𝄞"), "héllo ✓ 𝄞");
  EXPECT_EQ(ValidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"),                           // surrogate U+D800
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ValidUtf8("\xf4\x90\x80\x80").substr(0, 3), "\xEF\xBF\xBD");  // > U+10FFFF
  EXPECT_EQ(ValidUtf8("\xe2\x9c"), "\xEF\xBF\xBD\xEF\xBF\xBD");           // truncated
}

TEST(GzipInflaterTest, InflatesInChunksAndStopsAtTheLimit) {
  const std::string data(100000, 'x');
  const std::string gz = testing::Gzip(data) + testing::Gzip("tail");
  GzipInflater inflater(1 << 20);
  std::string out;
  for (size_t i = 0; i < gz.size(); i += 3) {
    ASSERT_EQ(inflater.Inflate(std::string_view(gz).substr(i, 3), &out),
              GzipInflater::Result::kOk);
  }
  EXPECT_TRUE(inflater.Complete());
  EXPECT_EQ(out, data + "tail");

  // 64 MiB of zeros against a 1 MiB limit: stops with at most the limit in hand.
  const std::string bomb = testing::GzipZeros(64);
  EXPECT_LT(bomb.size(), 100u << 10);
  GzipInflater bounded(1 << 20);
  std::string bounded_out;
  EXPECT_EQ(bounded.Inflate(bomb, &bounded_out), GzipInflater::Result::kTooLarge);
  EXPECT_LE(bounded_out.size(), 1u << 20);

  // The bomb is a valid stream: with room, it inflates to its 64 MiB.
  GzipInflater roomy(64 << 20);
  std::string all;
  ASSERT_EQ(roomy.Inflate(bomb, &all), GzipInflater::Result::kOk);
  EXPECT_TRUE(roomy.Complete());
  EXPECT_EQ(all.size(), 64u << 20);
  EXPECT_EQ(all.find_first_not_of('\0'), std::string::npos);
}

TEST(GzipInflaterTest, CorruptAndTruncated) {
  std::string out;
  GzipInflater not_gzip(1 << 20);
  EXPECT_EQ(not_gzip.Inflate("definitely not gzip", &out),
            GzipInflater::Result::kCorrupt);
  const std::string gz = testing::Gzip("hello");
  GzipInflater truncated(1 << 20);
  EXPECT_EQ(truncated.Inflate(std::string_view(gz).substr(0, gz.size() - 4), &out),
            GzipInflater::Result::kOk);
  EXPECT_FALSE(truncated.Complete());
  GzipInflater empty(1 << 20);
  EXPECT_FALSE(empty.Complete());
  std::string flipped = gz;
  flipped[flipped.size() - 6] ^= 1;  // CRC-32 mismatch
  GzipInflater bad_crc(1 << 20);
  EXPECT_EQ(bad_crc.Inflate(flipped, &out), GzipInflater::Result::kCorrupt);
}

TEST(LooksLikeGzipTest, MagicBytes) {
  EXPECT_TRUE(LooksLikeGzip(testing::Gzip("x")));
  EXPECT_FALSE(LooksLikeGzip(testing::SampleRequest(1).SerializeAsString()));
  EXPECT_FALSE(LooksLikeGzip("\x1f"));
  EXPECT_FALSE(LooksLikeGzip(""));
}

TEST(ReceiverCountersTest, CountsOutcomesAndSpans) {
  ReceiverCounters counters;
  const auto result = [](IngestCode code, int64_t spans) {
    pipeline::IngestResult r;
    r.code = code;
    r.spans = spans;
    return r;
  };
  counters.AddRequest(true);
  counters.AddResult(result(IngestCode::kAccepted, 10));
  counters.AddRequest(false);
  counters.AddResult(result(IngestCode::kQueueFull, 7));
  counters.AddRequest(false);
  counters.AddResult(result(IngestCode::kInvalid, 0));
  counters.AddRequest(false);
  counters.AddResult(result(IngestCode::kTooLarge, 5));
  counters.AddRequest(false);
  counters.AddResult(result(IngestCode::kShuttingDown, 3));
  counters.AddRequest(false);
  counters.AddRefusedTooLarge();
  counters.AddWireBytes(100);
  counters.AddDecompressedBytes(400);
  const OtlpReceiverStats s = counters.Snapshot();
  EXPECT_EQ(s.requests, 6);
  EXPECT_EQ(s.requests_compressed, 1);
  EXPECT_EQ(s.requests_accepted, 1);
  EXPECT_EQ(s.requests_refused_queue_full, 1);
  EXPECT_EQ(s.requests_refused_invalid, 1);
  EXPECT_EQ(s.requests_refused_too_large, 2);
  EXPECT_EQ(s.requests_refused_shutting_down, 1);
  EXPECT_EQ(s.spans_received, 25);
  EXPECT_EQ(s.spans_accepted, 10);
  EXPECT_EQ(s.spans_refused_queue_full, 7);
  EXPECT_EQ(s.spans_refused_too_large, 5);
  EXPECT_EQ(s.spans_refused_shutting_down, 3);
  EXPECT_EQ(s.bytes_received_wire, 100);
  EXPECT_EQ(s.bytes_received_decompressed, 400);
}

}  // namespace
}  // namespace otlp_arrow::service::internal
