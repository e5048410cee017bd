// SPDX-License-Identifier: Apache-2.0

#include "otap_messages_internal.h"

#include <zlib.h>
#include <zstd.h>

#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hpack_test_util.h"
#include "opentelemetry/proto/experimental/arrow/v1/arrow_service.pb.h"
#include "service_test_util.h"

namespace otlp_arrow::service::internal {
namespace {

using testing::Gzip;
using ::testing::HasSubstr;
using testing::HpackEncoder;

std::string Zstd(const std::string& input, int level = 3) {
  std::string out(ZSTD_compressBound(input.size()), '\0');
  const size_t n =
      ZSTD_compress(out.data(), out.size(), input.data(), input.size(), level);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A zstd frame without its content size in the header, as a streaming compressor
// (the Go exporter's) writes it.
std::string ZstdStreamed(const std::string& input) {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(ctx, ZSTD_c_contentSizeFlag, 0);
  std::string out(ZSTD_compressBound(input.size()) + 64, '\0');
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  const size_t left = ZSTD_compressStream2(ctx, &o, &in, ZSTD_e_end);
  EXPECT_EQ(left, 0u);
  ZSTD_freeCCtx(ctx);
  out.resize(o.pos);
  return out;
}

std::string SampleBatch(int64_t id, size_t payload_bytes) {
  opentelemetry::proto::experimental::arrow::v1::BatchArrowRecords batch;
  batch.set_batch_id(id);
  auto* payload = batch.add_arrow_payloads();
  payload->set_schema_id("0");
  payload->set_type(opentelemetry::proto::experimental::arrow::v1::SPANS);
  payload->set_record(std::string(payload_bytes, 'x'));
  return batch.SerializeAsString();
}

TEST(DecompressOtapMessage, PassesUncompressedMessagesThrough) {
  const std::string message = SampleBatch(7, 100);
  ASSERT_FALSE(LooksLikeZstd(message));
  std::string scratch;
  auto out = DecompressOtapMessage(message, 1 << 20, &scratch);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, message);
  EXPECT_EQ(out->data(), message.data());  // no copy
}

TEST(DecompressOtapMessage, UndoesZstdAndGzip) {
  const std::string message = SampleBatch(7, 100'000);
  for (const std::string& compressed :
       {Zstd(message), ZstdStreamed(message), Gzip(message)}) {
    std::string scratch;
    auto out = DecompressOtapMessage(compressed, 1 << 20, &scratch);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, message);
  }
}

TEST(DecompressOtapMessage, TwoZstdFramesMakeOneMessage) {
  const std::string message = SampleBatch(1, 5000);
  const std::string compressed =
      Zstd(message.substr(0, 1000)) + ZstdStreamed(message.substr(1000));
  std::string scratch;
  auto out = DecompressOtapMessage(compressed, 1 << 20, &scratch);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, message);
}

TEST(DecompressOtapMessage, StopsAtTheLimit) {
  const std::string message = SampleBatch(7, 10'000);
  const auto limit = static_cast<int64_t>(message.size());
  for (const std::string& compressed :
       {Zstd(message), ZstdStreamed(message), Gzip(message)}) {
    std::string scratch;
    // Exactly the limit is fine; one byte less is not.
    auto fits = DecompressOtapMessage(compressed, limit, &scratch);
    ASSERT_TRUE(fits.ok()) << fits.status();
    EXPECT_EQ(*fits, message);
    auto over = DecompressOtapMessage(compressed, limit - 1, &scratch);
    ASSERT_FALSE(over.ok());
    EXPECT_TRUE(over.status().IsCapacityError()) << over.status();
    EXPECT_LE(scratch.size(), static_cast<size_t>(limit));
  }
}

TEST(DecompressOtapMessage, ABombCostsNoMoreThanTheLimit) {
  // 64 MiB of zeros in a few KiB; the frame says its size, which is not trusted.
  const std::string bomb = Zstd(std::string(64 << 20, '\0'), 19);
  ASSERT_LT(bomb.size(), 64u << 10);
  std::string scratch;
  auto out = DecompressOtapMessage(bomb, 4 << 20, &scratch);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.status().IsCapacityError());
  EXPECT_LE(scratch.capacity(), size_t{8} << 20);
}

TEST(DecompressOtapMessage, RefusesCorruptAndTruncatedFrames) {
  const std::string message = SampleBatch(7, 10'000);
  const std::string zstd = ZstdStreamed(message);
  const std::string gzip = Gzip(message);
  // (A frame changed in its middle may still decode, to other bytes: zstd frames carry
  // no checksum unless asked to. The protobuf parse after it catches those.)
  for (const std::string& bad :
       {zstd.substr(0, zstd.size() / 2), std::string("\x28\xb5\x2f\xfd", 4),
        std::string("\x28\xb5\x2f\xfd garbage"), gzip.substr(0, gzip.size() - 4),
        std::string("\x1f\x8b")}) {
    std::string scratch;
    auto out = DecompressOtapMessage(bad, 1 << 20, &scratch);
    ASSERT_FALSE(out.ok()) << bad.size();
    EXPECT_TRUE(out.status().IsInvalid()) << out.status();
  }
}

TEST(HpackHeaderDecoder, FollowsTheStreamsDynamicTable) {
  HpackEncoder encoder;
  auto decoder = HpackHeaderDecoder::Make();
  ASSERT_TRUE(decoder.ok());
  const HpackHeaderDecoder::Headers first = {{"authorization", "Bearer s3cret"},
                                             {"otlp-pdata-size", "1234"}};
  const HpackHeaderDecoder::Headers second = {{"authorization", "Bearer s3cret"},
                                              {"otlp-pdata-size", "99"}};
  const std::string block1 = encoder.Encode(first);
  const std::string block2 = encoder.Encode(second);
  // The second block refers to the table the first one filled.
  EXPECT_LT(block2.size(), block1.size());
  auto one = (*decoder)->Decode(block1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, first);
  auto two = (*decoder)->Decode(block2);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(*two, second);

  // A decoder that missed the first block cannot read the second.
  auto fresh = HpackHeaderDecoder::Make();
  ASSERT_TRUE(fresh.ok());
  auto lost = (*fresh)->Decode(block2);
  ASSERT_FALSE(lost.ok());
  EXPECT_THAT(lost.status().message(), HasSubstr("HPACK"));
}

TEST(HpackHeaderDecoder, ABadBlockBreaksTheDecoder) {
  auto decoder = HpackHeaderDecoder::Make();
  ASSERT_TRUE(decoder.ok());
  // An indexed field with an index far past both tables.
  auto bad = (*decoder)->Decode(std::string("\xff\xff\xff\xff\x0f", 5));
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalid());
  HpackEncoder encoder;
  auto after = (*decoder)->Decode(encoder.Encode({{"a", "b"}}));
  ASSERT_FALSE(after.ok());
  EXPECT_THAT(after.status().message(), HasSubstr("earlier block"));
}

TEST(HpackHeaderDecoder, BoundsTheBytesOfOneBlock) {
  auto decoder = HpackHeaderDecoder::Make(/*max_header_bytes=*/100);
  ASSERT_TRUE(decoder.ok());
  HpackEncoder encoder;
  auto big = (*decoder)->Decode(encoder.Encode({{"x-big", std::string(200, 'v')}}));
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.status().message(), HasSubstr("100 bytes"));
}

TEST(EncodeBatchStatus, EchoesTheBatchWithValidUtf8) {
  opentelemetry::proto::experimental::arrow::v1::BatchStatus status;
  ASSERT_TRUE(status.ParseFromString(EncodeBatchStatus(42, 3, "bad \xff column")));
  EXPECT_EQ(status.batch_id(), 42);
  EXPECT_EQ(status.status_code(),
            opentelemetry::proto::experimental::arrow::v1::INVALID_ARGUMENT);
  EXPECT_THAT(status.status_message(), HasSubstr("column"));
  EXPECT_EQ(status.status_message().find('\xff'), std::string::npos);
}

}  // namespace
}  // namespace otlp_arrow::service::internal
