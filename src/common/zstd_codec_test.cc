// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/zstd_codec.h"

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <arrow/array.h>
#include <arrow/buffer.h>
#include <arrow/builder.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>
#include <arrow/record_batch.h>
#include <arrow/util/compression.h>
#include <gtest/gtest.h>

#include "test_macros_internal.h"

namespace otlp_arrow::common {
namespace {

std::string Text(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "span " + std::to_string(i % 97) + " ";
  return out;
}

TEST(ZstdCodecTest, FramesAreReadByArrowsCodecAndBack) {
  ASSERT_OK_AND_ASSIGN(auto ours, MakeZstdCodec());
  ASSERT_OK_AND_ASSIGN(auto arrows, arrow::util::Codec::Create(arrow::Compression::ZSTD));
  EXPECT_EQ(ours->compression_type(), arrow::Compression::ZSTD);
  EXPECT_EQ(ours->compression_level(), 1);
  for (int size : {0, 1, 100, 100000}) {
    const std::string input = Text(size);
    const auto* in = reinterpret_cast<const uint8_t*>(input.data());
    const int64_t n = static_cast<int64_t>(input.size());
    std::vector<uint8_t> frame(static_cast<size_t>(ours->MaxCompressedLen(n, in)));
    ASSERT_OK_AND_ASSIGN(
        int64_t written,
        ours->Compress(n, in, static_cast<int64_t>(frame.size()), frame.data()));
    std::vector<uint8_t> back(input.size() + 1);
    ASSERT_OK_AND_ASSIGN(int64_t read,
                         arrows->Decompress(written, frame.data(), n, back.data()));
    ASSERT_EQ(read, n);
    EXPECT_EQ(std::string(back.begin(), back.begin() + n), input);

    ASSERT_OK_AND_ASSIGN(
        written,
        arrows->Compress(n, in, static_cast<int64_t>(frame.size()), frame.data()));
    ASSERT_OK_AND_ASSIGN(read, ours->Decompress(written, frame.data(), n, back.data()));
    ASSERT_EQ(read, n);
    EXPECT_EQ(std::string(back.begin(), back.begin() + n), input);
  }
}

TEST(ZstdCodecTest, CorruptFrameIsAnErrorNotACrash) {
  ASSERT_OK_AND_ASSIGN(auto codec, MakeZstdCodec());
  const std::string garbage = "this is not a zstd frame at all";
  std::vector<uint8_t> out(64);
  auto result = codec->Decompress(static_cast<int64_t>(garbage.size()),
                                  reinterpret_cast<const uint8_t*>(garbage.data()),
                                  static_cast<int64_t>(out.size()), out.data());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("zstd decompression failed"),
            std::string::npos);
  // An output buffer smaller than the frame's content is refused too.
  const std::string input = Text(1000);
  std::vector<uint8_t> frame(
      codec->MaxCompressedLen(static_cast<int64_t>(input.size()), nullptr));
  ASSERT_OK_AND_ASSIGN(int64_t n,
                       codec->Compress(static_cast<int64_t>(input.size()),
                                       reinterpret_cast<const uint8_t*>(input.data()),
                                       static_cast<int64_t>(frame.size()), frame.data()));
  EXPECT_FALSE(codec->Decompress(n, frame.data(), 10, out.data()).ok());
}

TEST(ZstdCodecTest, LevelOutOfRangeIsRefused) {
  EXPECT_FALSE(MakeZstdCodec(1000).ok());
  ASSERT_OK_AND_ASSIGN(auto codec, MakeZstdCodec(3));
  EXPECT_EQ(codec->compression_level(), 3);
}

// The IPC writer takes the codec and a reader with Arrow's own codec reads the stream;
// several threads at once each use their own context.
TEST(ZstdCodecTest, IpcStreamWrittenFromThreadsIsReadBack) {
  ASSERT_OK_AND_ASSIGN(auto codec, MakeZstdCodec());
  auto schema = arrow::schema({arrow::field("name", arrow::utf8())});
  arrow::StringBuilder builder;
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(builder.Append(Text(i % 7)).ok());
  ASSERT_OK_AND_ASSIGN(auto array, builder.Finish());
  auto batch = arrow::RecordBatch::Make(schema, array->length(), {array});
  std::vector<std::thread> threads;
  std::vector<arrow::Status> results(4);
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      results[t] = [&]() -> arrow::Status {
        for (int round = 0; round < 5; ++round) {
          ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create());
          auto options = arrow::ipc::IpcWriteOptions::Defaults();
          options.codec = codec;
          ARROW_ASSIGN_OR_RAISE(auto writer,
                                arrow::ipc::MakeStreamWriter(sink, schema, options));
          ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(*batch));
          ARROW_RETURN_NOT_OK(writer->Close());
          ARROW_ASSIGN_OR_RAISE(auto bytes, sink->Finish());
          ARROW_ASSIGN_OR_RAISE(auto reader,
                                arrow::ipc::RecordBatchStreamReader::Open(
                                    std::make_shared<arrow::io::BufferReader>(bytes)));
          ARROW_ASSIGN_OR_RAISE(auto read, reader->Next());
          if (read == nullptr || !read->Equals(*batch)) {
            return arrow::Status::Invalid("batch differs after the round trip");
          }
        }
        return arrow::Status::OK();
      }();
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& status : results) EXPECT_OK(status);
}

}  // namespace
}  // namespace otlp_arrow::common
