// SPDX-License-Identifier: Apache-2.0
// The receiver's own handling of IPC messages: ZSTD bodies decompressed with one context
// read as Arrow reads the originals, and each batch's received messages make a stream
// that reads back as that batch.

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/api.h>
#include <arrow/json/from_string.h>
#include <arrow/util/compression.h>
#include <gtest/gtest.h>

#include "decode_memory_internal.h"
#include "ipc_messages_internal.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::transport::internal {
namespace {

#define ASSERT_OK(expr)                              \
  do {                                               \
    const arrow::Status _status = (expr);            \
    ASSERT_TRUE(_status.ok()) << _status.ToString(); \
  } while (false)

std::shared_ptr<arrow::Buffer> WriteStream(
    const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
    arrow::Compression::type codec, bool deltas) {
  auto options = arrow::ipc::IpcWriteOptions::Defaults();
  options.codec = arrow::util::Codec::Create(codec).ValueOrDie();
  options.emit_dictionary_deltas = deltas;
  auto sink = arrow::io::BufferOutputStream::Create().ValueOrDie();
  auto writer =
      arrow::ipc::MakeStreamWriter(sink, batches.front()->schema(), options).ValueOrDie();
  for (const auto& batch : batches) EXPECT_TRUE(writer->WriteRecordBatch(*batch).ok());
  EXPECT_TRUE(writer->Close().ok());
  return sink->Finish().ValueOrDie();
}

std::vector<std::shared_ptr<arrow::RecordBatch>> ReadAll(
    std::unique_ptr<arrow::ipc::MessageReader> messages) {
  auto options = arrow::ipc::IpcReadOptions::Defaults();
  options.use_threads = false;
  auto reader = arrow::ipc::RecordBatchStreamReader::Open(std::move(messages), options)
                    .ValueOrDie();
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (;;) {
    std::shared_ptr<arrow::RecordBatch> batch;
    EXPECT_TRUE(reader->ReadNext(&batch).ok());
    if (batch == nullptr) return batches;
    batches.push_back(batch);
  }
}

std::unique_ptr<arrow::ipc::MessageReader> Messages(
    std::shared_ptr<arrow::Buffer> stream) {
  return arrow::ipc::MessageReader::Open(
      std::make_shared<arrow::io::BufferReader>(std::move(stream)));
}

// What the receiver does to each message; after each batch, the recorded stream of that
// batch is kept.
class ReceiverMessageReader : public arrow::ipc::MessageReader {
 public:
  explicit ReceiverMessageReader(std::shared_ptr<arrow::Buffer> stream,
                                 std::vector<std::shared_ptr<arrow::Buffer>>* recorded)
      : messages_(Messages(std::move(stream))), recorded_(recorded) {}

  arrow::Result<std::unique_ptr<arrow::ipc::Message>> ReadNextMessage() override {
    ARROW_ASSIGN_OR_RAISE(auto message, messages_->ReadNextMessage());
    if (message == nullptr) return message;
    ARROW_ASSIGN_OR_RAISE(const auto header, ReadIpcMessageHeader(*message));
    recorder_.Record(*message, header);
    if (header.type == arrow::ipc::MessageType::RECORD_BATCH) {
      ARROW_ASSIGN_OR_RAISE(auto recorded,
                            recorder_.LatestBatchStream(arrow::default_memory_pool()));
      recorded_->push_back(std::move(recorded));
    }
    return decompressor_.Decompress(std::move(message), header,
                                    arrow::default_memory_pool());
  }

 private:
  std::unique_ptr<arrow::ipc::MessageReader> messages_;
  std::vector<std::shared_ptr<arrow::Buffer>>* recorded_;
  IpcStreamRecorder recorder_;
  ZstdBodyDecompressor decompressor_;
};

void ExpectSameBatches(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                       arrow::Compression::type codec, bool deltas) {
  const auto stream = WriteStream(batches, codec, deltas);
  std::vector<std::shared_ptr<arrow::Buffer>> recorded;
  const auto read = ReadAll(std::make_unique<ReceiverMessageReader>(stream, &recorded));
  ASSERT_EQ(read.size(), batches.size());
  ASSERT_EQ(recorded.size(), batches.size());
  // Random spans have NaN attribute values.
  const auto equal = arrow::EqualOptions::Defaults().nans_equal(true);
  for (size_t i = 0; i < batches.size(); ++i) {
    SCOPED_TRACE("batch " + std::to_string(i));
    EXPECT_TRUE(read[i]->Equals(*batches[i], /*check_metadata=*/false, equal));
    // The batch's own stream, compressed as it came, reads back as the batch alone.
    const auto alone = ReadAll(Messages(recorded[i]));
    ASSERT_EQ(alone.size(), 1u);
    EXPECT_TRUE(alone[0]->Equals(*batches[i], /*check_metadata=*/false, equal));
  }
}

std::vector<std::shared_ptr<arrow::RecordBatch>> SpanBatches() {
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  for (const auto& request :
       {model::RealisticSpans(300, 1), model::RealisticSpans(200, 2),
        model::RandomSpans(100, 3)}) {
    batches.push_back(convert::SpanTableEncoder::Encode(request).ValueOrDie());
  }
  return batches;
}

TEST(IpcMessagesTest, ZstdBodiesReadAsArrowReadsThem) {
  ExpectSameBatches(SpanBatches(), arrow::Compression::ZSTD, /*deltas=*/false);
}

TEST(IpcMessagesTest, OtherCodecsAndNoneAreLeftToArrow) {
  ExpectSameBatches(SpanBatches(), arrow::Compression::LZ4_FRAME, /*deltas=*/false);
  ExpectSameBatches(SpanBatches(), arrow::Compression::UNCOMPRESSED, /*deltas=*/false);
}

// Dictionaries kept from batch to batch, extended by deltas and replaced: each batch's
// stream carries the dictionary in force for it.
TEST(IpcMessagesTest, EachBatchStreamCarriesTheDictionariesInForce) {
  auto schema = arrow::schema(
      {arrow::field("d", arrow::dictionary(arrow::int32(), arrow::utf8())),
       arrow::field("e", arrow::dictionary(arrow::int32(), arrow::utf8()))});
  auto make = [&](const char* d_values, const char* e_values) {
    auto d_dictionary =
        arrow::json::ArrayFromJSONString(arrow::utf8(), d_values).ValueOrDie();
    auto e_dictionary =
        arrow::json::ArrayFromJSONString(arrow::utf8(), e_values).ValueOrDie();
    auto indices =
        arrow::json::ArrayFromJSONString(arrow::int32(), "[0, 1, 0]").ValueOrDie();
    return arrow::RecordBatch::Make(schema, 3,
                                    {arrow::DictionaryArray::FromArrays(
                                         schema->field(0)->type(), indices, d_dictionary)
                                         .ValueOrDie(),
                                     arrow::DictionaryArray::FromArrays(
                                         schema->field(1)->type(), indices, e_dictionary)
                                         .ValueOrDie()});
  };
  const std::vector<std::shared_ptr<arrow::RecordBatch>> batches = {
      make(R"(["a", "b"])", R"(["p", "q"])"),
      make(R"(["a", "b", "c"])", R"(["p", "q"])"),       // d: delta; e: unchanged
      make(R"(["a", "b", "c", "d"])", R"(["x", "y"])"),  // d: delta; e: replaced
      make(R"(["z", "y"])", R"(["x", "y"])"),            // d: replaced
  };
  for (const auto codec : {arrow::Compression::ZSTD, arrow::Compression::UNCOMPRESSED}) {
    ExpectSameBatches(batches, codec, /*deltas=*/true);
    ExpectSameBatches(batches, codec, /*deltas=*/false);
  }
}

// The first record batch message of a ZSTD stream of span batches, and its header.
std::unique_ptr<arrow::ipc::Message> FirstBatchMessage(IpcMessageHeader* header) {
  auto messages = Messages(WriteStream(SpanBatches(), arrow::Compression::ZSTD, false));
  for (;;) {
    auto message = messages->ReadNextMessage().ValueOrDie();
    EXPECT_NE(message, nullptr);
    *header = ReadIpcMessageHeader(*message).ValueOrDie();
    if (header->type == arrow::ipc::MessageType::RECORD_BATCH) return message;
  }
}

// `message` with the length prefix of its first buffer (at the start of the body: the
// buffers before it are empty) replaced.
std::unique_ptr<arrow::ipc::Message> WithFirstPrefix(const arrow::ipc::Message& message,
                                                     int64_t prefix) {
  auto body = arrow::AllocateBuffer(message.body()->size()).ValueOrDie();
  std::memcpy(body->mutable_data(), message.body()->data(), message.body()->size());
  std::memcpy(body->mutable_data(), &prefix, sizeof(prefix));
  return arrow::ipc::Message::Open(message.metadata(), std::move(body)).ValueOrDie();
}

TEST(IpcMessagesTest, BufferThatIsNotItsClaimedLengthIsInvalid) {
  IpcMessageHeader header;
  auto message = FirstBatchMessage(&header);
  ASSERT_EQ(header.codec, IpcMessageHeader::BodyCodec::kZstd);
  int64_t claimed = 0;
  std::memcpy(&claimed, message->body()->data(), sizeof(claimed));
  ASSERT_GT(claimed, 0);
  ZstdBodyDecompressor decompressor;
  for (const int64_t wrong : {claimed + 8, claimed - 1, int64_t{-2}}) {
    auto result = decompressor.Decompress(WithFirstPrefix(*message, wrong), header,
                                          arrow::default_memory_pool());
    ASSERT_FALSE(result.ok()) << wrong;
    EXPECT_TRUE(result.status().IsInvalid()) << result.status().ToString();
  }
  // The context is still good for the next message.
  EXPECT_TRUE(
      decompressor.Decompress(std::move(message), header, arrow::default_memory_pool())
          .ok());
}

// A decompression bomb: the prefix claims a terabyte. The decoding pool refuses the
// body before allocating it.
TEST(IpcMessagesTest, ClaimedLengthOverTheDecodingLimitIsRefusedBeforeAllocating) {
  IpcMessageHeader header;
  auto message = FirstBatchMessage(&header);
  InFlightBudget budget(int64_t{64} << 20);
  DecodeScope scope(&budget, int64_t{16} << 20);
  ZstdBodyDecompressor decompressor;
  auto result = decompressor.Decompress(WithFirstPrefix(*message, int64_t{1} << 40),
                                        header, DecodeMemoryPool());
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().IsOutOfMemory()) << result.status().ToString();
  EXPECT_EQ(scope.refusal(), DecodeRefusal::kMessageLimit);
  EXPECT_LT(budget.used(), 1 << 20);  // the copy of the header, no more
}

}  // namespace
}  // namespace otlp_arrow::transport::internal
