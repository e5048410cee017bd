// SPDX-License-Identifier: Apache-2.0

#include <gtest/gtest.h>

#include "../common/test_macros_internal.h"
#include "otap_ipc_streams_internal.h"
#include "otap_test_util.h"

namespace otlp_arrow::convert::internal {
namespace {

using testing::Batch;
using testing::Dict;
using testing::J;
using testing::WholePayload;

TEST(CappedMemoryPool, RefusesPastTheCapAndCountsFrees) {
  CappedMemoryPool pool(arrow::default_memory_pool(), 1000);
  uint8_t* a = nullptr;
  uint8_t* b = nullptr;
  ASSERT_OK(pool.Allocate(600, 64, &a));
  EXPECT_FALSE(pool.TakeRefused());
  EXPECT_TRUE(pool.Allocate(600, 64, &b).IsOutOfMemory());
  EXPECT_TRUE(pool.TakeRefused());
  EXPECT_FALSE(pool.TakeRefused());
  EXPECT_TRUE(pool.Reallocate(600, 1200, 64, &a).IsOutOfMemory());
  ASSERT_OK(pool.Reallocate(600, 900, 64, &a));
  EXPECT_EQ(pool.bytes_allocated(), 900);
  ASSERT_OK(pool.Reallocate(900, 100, 64, &a));
  ASSERT_OK(pool.Allocate(800, 64, &b));
  pool.Free(a, 100, 64);
  pool.Free(b, 800, 64);
  EXPECT_EQ(pool.bytes_allocated(), 0);
}

std::shared_ptr<arrow::RecordBatch> Names(const char* indices, const char* dictionary) {
  return Batch({{"name", Dict(arrow::uint8(), arrow::utf8(), indices, dictionary)}});
}

// The dictionaries a stream holds are counted, and given back when a new schema_id of
// the same payload type replaces the stream.
TEST(OtapIpcStreams, CountsDictionariesAndDropsReplacedStreams) {
  OtapIpcStreams streams(
      std::make_shared<CappedMemoryPool>(arrow::default_memory_pool(), 1 << 20));
  const auto spans = static_cast<int32_t>(OtapPayloadType::kSpans);
  const auto attrs = static_cast<int32_t>(OtapPayloadType::kSpanAttrs);
  auto a = WholePayload("0", OtapPayloadType::kSpans,
                        *Names("[0, 1]", R"(["a long enough name", "b"])"));
  ASSERT_OK_AND_ASSIGN(auto batch, streams.Feed("0", spans, a.record, "SPANS"));
  EXPECT_EQ(batch->num_rows(), 2);
  const int64_t one = streams.dictionary_bytes();
  EXPECT_GT(one, 0);
  auto b = WholePayload("1", OtapPayloadType::kSpanAttrs, *Names("[0]", R"(["k"])"));
  ASSERT_OK(streams.Feed("1", attrs, b.record, "SPAN_ATTRS").status());
  const int64_t two = streams.dictionary_bytes();
  EXPECT_GT(two, one);
  auto c = WholePayload("2", OtapPayloadType::kSpans, *Names("[0]", R"(["x"])"));
  ASSERT_OK(streams.Feed("2", spans, c.record, "SPANS").status());  // drops "0"
  EXPECT_LT(streams.dictionary_bytes(), two);  // "x" instead of the longer two names
  // "0" is gone: a whole stream (Schema first) decodes from scratch under it again,
  // which its old IPC stream would refuse (a second Schema message).
  ASSERT_OK(streams.Feed("0", spans, a.record, "SPANS").status());
}

TEST(OtapIpcStreams, AFailedStreamStaysFailed) {
  OtapIpcStreams streams(
      std::make_shared<CappedMemoryPool>(arrow::default_memory_pool(), 1 << 20));
  const auto spans = static_cast<int32_t>(OtapPayloadType::kSpans);
  const auto payload =
      WholePayload("0", OtapPayloadType::kSpans, *Names("[0]", R"(["a"])"));
  ASSERT_TRUE(
      streams.Feed("0", spans, std::string(8, '\xff'), "SPANS").status().IsInvalid());
  const auto status = streams.Feed("0", spans, payload.record, "SPANS").status();
  ASSERT_TRUE(status.IsInvalid());
  EXPECT_NE(status.message().find("failed on an earlier payload"), std::string::npos)
      << status.ToString();
}

// An IPC body that declares more bytes than the stream may hold is refused before
// being allocated: CapacityError.
TEST(OtapIpcStreams, BodiesPastTheMemoryCapAreCapacityErrors) {
  OtapIpcStreams streams(
      std::make_shared<CappedMemoryPool>(arrow::default_memory_pool(), 4096));
  std::string big(100000, 'x');
  auto payload = WholePayload("0", OtapPayloadType::kSpans,
                              *Batch({{"name", J(arrow::utf8(), "[\"" + big + "\"]")}}),
                              arrow::Compression::ZSTD);
  ASSERT_LT(payload.record.size(), 4096u);  // small on the wire, large decoded
  const auto status = streams
                          .Feed("0", static_cast<int32_t>(OtapPayloadType::kSpans),
                                payload.record, "SPANS")
                          .status();
  ASSERT_TRUE(status.IsCapacityError()) << status.ToString();
}

}  // namespace
}  // namespace otlp_arrow::convert::internal
