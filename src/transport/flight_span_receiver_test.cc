// SPDX-License-Identifier: Apache-2.0
// FlightSpanReceiver over loopback, driven by Arrow's own Flight client, on an in-memory
// store.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arrow/api.h>
#include <arrow/flight/api.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/api.h>
#include <arrow/util/byte_size.h>
#include <arrow/util/compression.h>
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../convert/span_table_test_util.h"
#include "../storage/parquet_span_store_testing_internal.h"
#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/storage/parquet_span_store.h"
#include "otlp_arrow/storage/span_sink.h"
#include "otlp_arrow/transport/flight_protocol.h"
#include "otlp_arrow/transport/flight_span_receiver.h"
#include "test_certificates_internal.h"

namespace otlp_arrow::transport {
namespace {

namespace flight = arrow::flight;
using ::testing::AllOf;
using ::testing::HasSubstr;

#define ASSERT_OK(expr)                                       \
  do {                                                        \
    const ::arrow::Status _st = (expr);                       \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.ToString(); \
  } while (false)

#define RECEIVER_TEST_CONCAT_INNER(a, b) a##b
#define RECEIVER_TEST_CONCAT(a, b) RECEIVER_TEST_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL(RECEIVER_TEST_CONCAT(_result_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL(result, lhs, rexpr)                       \
  auto&& result = (rexpr);                                                  \
  ASSERT_TRUE(result.ok()) << #rexpr << ": " << result.status().ToString(); \
  lhs = std::move(result).ValueOrDie()

// ---------------------------------------------------------------------------------------
// In-memory store: keeps every appended batch; Scan filters rows like a real store would.

bool Matches(const storage::SpanQuery& query, uint64_t start, std::string_view trace_id) {
  if (query.start_time_min_unix_nano && start < *query.start_time_min_unix_nano) {
    return false;
  }
  if (query.start_time_max_unix_nano && start >= *query.start_time_max_unix_nano) {
    return false;
  }
  return !query.trace_id || *query.trace_id == trace_id;
}

class InMemorySpanStore : public storage::SpanSink, public storage::SpanSource {
 public:
  arrow::Status Append(const std::shared_ptr<arrow::RecordBatch>& spans) override {
    std::lock_guard lock(mutex_);
    if (closed_) return arrow::Status::IOError("store closed");
    batches_.push_back(spans);
    return arrow::Status::OK();
  }
  arrow::Status Flush() override { return arrow::Status::OK(); }
  arrow::Status Close() override {
    std::lock_guard lock(mutex_);
    closed_ = true;
    return arrow::Status::OK();
  }

  arrow::Result<std::vector<storage::StoredFile>> ListFiles() override {
    std::lock_guard lock(mutex_);
    std::vector<storage::StoredFile> files;
    for (size_t i = 0; i < batches_.size(); ++i) {
      files.push_back({"memory://" + std::to_string(i), batches_[i]->num_rows(),
                       arrow::util::TotalBufferSize(*batches_[i]), 0, 0});
    }
    return files;
  }

  // Matching rows as slices of consecutive matches, in append order.
  arrow::Result<std::shared_ptr<arrow::RecordBatchReader>> Scan(
      const storage::SpanQuery& query) override {
    std::vector<std::shared_ptr<arrow::RecordBatch>> out;
    for (const auto& batch : batches()) {
      const auto& starts = static_cast<const arrow::UInt64Array&>(
          *batch->GetColumnByName(std::string(convert::column::kStartTimeUnixNano)));
      const auto& traces = static_cast<const arrow::FixedSizeBinaryArray&>(
          *batch->GetColumnByName(std::string(convert::column::kTraceId)));
      int64_t run_start = -1;
      for (int64_t row = 0; row <= batch->num_rows(); ++row) {
        const bool match = row < batch->num_rows() &&
                           Matches(query, starts.Value(row), traces.GetView(row));
        if (match && run_start < 0) run_start = row;
        if (!match && run_start >= 0) {
          out.push_back(batch->Slice(run_start, row - run_start));
          run_start = -1;
        }
      }
    }
    return arrow::RecordBatchReader::Make(std::move(out), convert::SpanTableSchema());
  }

  std::vector<std::shared_ptr<arrow::RecordBatch>> batches() const {
    std::lock_guard lock(mutex_);
    return batches_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
  bool closed_ = false;
};

// ---------------------------------------------------------------------------------------
// Helpers

// A span table with every column, as the receiver stores it (whether or not the encoder
// computes the derived ones).
std::shared_ptr<arrow::RecordBatch> SpanBatch(int64_t spans, uint64_t seed) {
  auto batch = convert::SpanTableEncoder::Encode(model::RandomSpans(spans, seed));
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  return convert::ConformToSpanTableSchema(**batch, arrow::default_memory_pool())
      .ValueOrDie();
}

flight::FlightDescriptor SpansDescriptor() {
  return flight::FlightDescriptor::Path({"otlp", "spans"});
}

std::optional<flight::FlightStatusCode> FlightCode(const arrow::Status& status) {
  auto detail = flight::FlightStatusDetail::UnwrapStatus(status);
  if (detail == nullptr) return std::nullopt;
  return detail->code();
}

// Every call is bounded, so a server bug fails the test instead of hanging CI.
flight::FlightCallOptions CallOptions() {
  flight::FlightCallOptions options;
  options.timeout = flight::TimeoutDuration{5.0};
  return options;
}

struct PutOutcome {
  arrow::Status status;
  std::vector<BatchAck> acks;
};

// One DoPut stream: writes each batch and waits for its acknowledgement before the next,
// then half-closes and returns the server's final status.
PutOutcome Put(flight::FlightClient& client,
               const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
               const flight::FlightCallOptions& options = {},
               const flight::FlightDescriptor& descriptor = SpansDescriptor(),
               std::shared_ptr<arrow::Schema> schema = nullptr) {
  PutOutcome outcome;
  if (schema == nullptr) {
    schema = batches.empty() ? convert::SpanTableSchema() : batches.front()->schema();
  }
  auto put = client.DoPut(options, descriptor, schema);
  if (!put.ok()) {
    outcome.status = put.status();
    return outcome;
  }
  arrow::Status first_error;
  for (const auto& batch : batches) {
    first_error = put->writer->WriteRecordBatch(*batch);
    if (!first_error.ok()) break;
    std::shared_ptr<arrow::Buffer> metadata;
    first_error = put->reader->ReadMetadata(&metadata);
    if (!first_error.ok()) break;
    if (metadata == nullptr) {
      first_error = arrow::Status::IOError("stream ended without an acknowledgement");
      break;
    }
    auto ack = BatchAck::FromJson(metadata->ToString());
    if (!ack.ok()) {
      first_error = ack.status();
      break;
    }
    outcome.acks.push_back(*ack);
  }
  if (first_error.ok()) first_error = put->writer->DoneWriting();
  const arrow::Status closed = put->writer->Close();
  outcome.status = closed.ok() ? first_error : closed;
  return outcome;
}

// Span tables carry NaN attribute values; equal means equal bits here.
const arrow::EqualOptions& SameValues() {
  static const auto options = arrow::EqualOptions::Defaults().nans_equal(true);
  return options;
}

int64_t TotalRows(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches) {
  int64_t rows = 0;
  for (const auto& batch : batches) rows += batch->num_rows();
  return rows;
}

class FlightSpanReceiverTest : public ::testing::Test {
 protected:
  void StartReceiver(FlightSpanReceiverOptions options = LoopbackOptions(),
                     bool with_source = true) {
    store_ = std::make_shared<InMemorySpanStore>();
    ASSERT_OK_AND_ASSIGN(
        receiver_,
        FlightSpanReceiver::Make(
            std::move(options), store_,
            with_source ? std::shared_ptr<storage::SpanSource>(store_) : nullptr));
    ASSERT_OK(receiver_->Start());
    ASSERT_GT(receiver_->port(), 0);
    client_ = Connect();
  }

  static FlightSpanReceiverOptions LoopbackOptions() {
    auto options = FlightSpanReceiverOptions::Defaults();
    options.listen_uri = "grpc://127.0.0.1:0";
    return options;
  }

  std::unique_ptr<flight::FlightClient> Connect() {
    auto location = flight::Location::ForGrpcTcp("127.0.0.1", receiver_->port());
    EXPECT_TRUE(location.ok());
    auto client = flight::FlightClient::Connect(*location);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return std::move(*client);
  }

  void TearDown() override {
    client_.reset();
    if (receiver_ != nullptr) {
      const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(2);
      EXPECT_TRUE(receiver_->Shutdown(deadline).ok());
    }
  }

  std::shared_ptr<InMemorySpanStore> store_;
  std::unique_ptr<FlightSpanReceiver> receiver_;
  std::unique_ptr<flight::FlightClient> client_;
};

// ---------------------------------------------------------------------------------------
// Write path

TEST_F(FlightSpanReceiverTest, PutStoresBatchesAndAcknowledgesEach) {
  StartReceiver();
  const std::vector batches = {SpanBatch(40, 1), SpanBatch(1, 2), SpanBatch(100, 3)};
  const auto outcome = Put(*client_, batches, CallOptions());
  ASSERT_OK(outcome.status);
  ASSERT_EQ(outcome.acks.size(), 3u);
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(outcome.acks[i].batch, static_cast<int64_t>(i));
    EXPECT_EQ(outcome.acks[i].accepted_spans, batches[i]->num_rows());
  }
  const auto stored = store_->batches();
  ASSERT_EQ(stored.size(), batches.size());
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_TRUE(stored[i]->schema()->Equals(*convert::SpanTableSchema()));
    EXPECT_TRUE(stored[i]->Equals(*batches[i], SameValues())) << "batch " << i;
  }
  const auto stats = receiver_->Stats();
  EXPECT_EQ(stats.spans_stored, 141);
  EXPECT_EQ(stats.batches_stored, 3);
  EXPECT_GT(stats.bytes_stored, 0);
  EXPECT_EQ(stats.validation_failures, 0);
}

TEST_F(FlightSpanReceiverTest, ColumnsInAnotherOrderAreStoredInSchemaOrder) {
  StartReceiver();
  const auto batch = SpanBatch(20, 4);
  std::vector<std::shared_ptr<arrow::Field>> fields(batch->schema()->fields().rbegin(),
                                                    batch->schema()->fields().rend());
  std::vector<std::shared_ptr<arrow::Array>> columns(batch->columns().rbegin(),
                                                     batch->columns().rend());
  const auto reversed =
      arrow::RecordBatch::Make(arrow::schema(fields), batch->num_rows(), columns);
  ASSERT_OK(Put(*client_, {reversed}, CallOptions()).status);
  const auto stored = store_->batches();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_TRUE(stored[0]->Equals(*batch, SameValues()));
}

// Span table version 1 (plain attribute keys and values, as earlier exporters and other
// Arrow implementations send it) is stored as version 2.
TEST_F(FlightSpanReceiverTest, Version1StreamIsStoredAsVersion2) {
  StartReceiver();
  const auto batch = SpanBatch(30, 8);
  auto v1 = otlp_arrow::testing::ToVersion1(*batch);
  v1 = v1->ReplaceSchema(v1->schema()->WithMetadata(arrow::key_value_metadata(
                             {std::string(convert::kSpanTableVersionKey)}, {"1"})))
           .ValueOrDie();
  ASSERT_OK(Put(*client_, {v1}, CallOptions()).status);
  const auto stored = store_->batches();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_TRUE(stored[0]->schema()->Equals(*convert::SpanTableSchema()));
  // Dictionaries in order of first appearance, as the encoder makes them: equal batches.
  EXPECT_TRUE(stored[0]->Equals(*batch, SameValues()));
}

TEST_F(FlightSpanReceiverTest, OtherDescriptorsAreRefusedByName) {
  StartReceiver();
  const auto batch = SpanBatch(5, 5);
  auto logs = Put(*client_, {batch}, CallOptions(),
                  flight::FlightDescriptor::Path({"otlp", "logs"}));
  EXPECT_TRUE(logs.status.IsKeyError()) << logs.status.ToString();
  EXPECT_THAT(logs.status.message(), AllOf(HasSubstr(R"(path ["otlp", "logs"])"),
                                           HasSubstr(R"(["otlp", "spans"])")));
  auto command =
      Put(*client_, {batch}, CallOptions(), flight::FlightDescriptor::Command("spans"));
  EXPECT_TRUE(command.status.IsKeyError()) << command.status.ToString();
  EXPECT_THAT(command.status.message(), HasSubstr("command of 5 bytes"));
  EXPECT_TRUE(store_->batches().empty());
  EXPECT_EQ(receiver_->Stats().validation_failures, 2);
}

TEST_F(FlightSpanReceiverTest, WrongSchemaIsRefusedNamingTheFieldAndServingGoesOn) {
  StartReceiver();
  const auto batch = SpanBatch(10, 6);
  const int kind = batch->schema()->GetFieldIndex("kind");

  auto missing = Put(*client_, {batch->RemoveColumn(kind).ValueOrDie()}, CallOptions());
  EXPECT_TRUE(missing.status.IsInvalid()) << missing.status.ToString();
  EXPECT_THAT(missing.status.message(), HasSubstr("missing column 'kind'"));

  arrow::Int64Builder flags;
  for (int64_t i = 0; i < batch->num_rows(); ++i) ASSERT_OK(flags.Append(1));
  const int flags_index = batch->schema()->GetFieldIndex("flags");
  auto retyped_batch = batch
                           ->SetColumn(flags_index, arrow::field("flags", arrow::int64()),
                                       flags.Finish().ValueOrDie())
                           .ValueOrDie();
  auto retyped = Put(*client_, {retyped_batch}, CallOptions());
  EXPECT_TRUE(retyped.status.IsInvalid()) << retyped.status.ToString();
  EXPECT_THAT(retyped.status.message(),
              AllOf(HasSubstr("column 'flags'"), HasSubstr("expected type uint32"),
                    HasSubstr("got int64")));

  auto extra_batch =
      batch
          ->AddColumn(
              0, arrow::field("tenant", arrow::utf8()),
              arrow::MakeArrayOfNull(arrow::utf8(), batch->num_rows()).ValueOrDie())
          .ValueOrDie();
  auto extra = Put(*client_, {extra_batch}, CallOptions());
  EXPECT_TRUE(extra.status.IsInvalid()) << extra.status.ToString();
  EXPECT_THAT(extra.status.message(), HasSubstr("unknown column 'tenant'"));

  auto versioned_schema = batch->schema()->WithMetadata(
      arrow::key_value_metadata({std::string(convert::kSpanTableVersionKey)}, {"99"}));
  auto versioned =
      Put(*client_, {batch->ReplaceSchema(versioned_schema).ValueOrDie()}, CallOptions());
  EXPECT_THAT(versioned.status.message(), HasSubstr("version '99'"));

  EXPECT_TRUE(store_->batches().empty());
  EXPECT_EQ(receiver_->Stats().validation_failures, 4);

  // The same client and a new one are served as before.
  ASSERT_OK(Put(*client_, {batch}, CallOptions()).status);
  ASSERT_OK(Put(*Connect(), {batch}, CallOptions()).status);
  EXPECT_EQ(store_->batches().size(), 2u);
}

std::shared_ptr<arrow::RecordBatch> WithKindAt(const arrow::RecordBatch& batch,
                                               int64_t row, int32_t value) {
  const int index = batch.schema()->GetFieldIndex("kind");
  const auto& kinds = static_cast<const arrow::Int32Array&>(*batch.column(index));
  arrow::Int32Builder builder;
  for (int64_t i = 0; i < kinds.length(); ++i) {
    EXPECT_TRUE(builder.Append(i == row ? value : kinds.Value(i)).ok());
  }
  return batch
      .SetColumn(index, batch.schema()->field(index), builder.Finish().ValueOrDie())
      .ValueOrDie();
}

TEST_F(FlightSpanReceiverTest, InvalidArraysEndTheStreamAfterTheGoodBatches) {
  StartReceiver();
  const auto good = SpanBatch(30, 7);
  const auto bad = WithKindAt(*SpanBatch(30, 8), 2, 9);
  const auto outcome = Put(*client_, {good, bad, good}, CallOptions());
  EXPECT_TRUE(outcome.status.IsInvalid()) << outcome.status.ToString();
  EXPECT_THAT(outcome.status.message(),
              AllOf(HasSubstr("batch 1"), HasSubstr("column 'kind' row 2"),
                    HasSubstr("9 is not a SpanKind")));
  ASSERT_EQ(outcome.acks.size(), 1u);
  EXPECT_EQ(outcome.acks[0].accepted_spans, 30);
  ASSERT_EQ(store_->batches().size(), 1u);
  EXPECT_TRUE(store_->batches()[0]->Equals(*good, SameValues()));
  EXPECT_EQ(receiver_->Stats().validation_failures, 1);
  ASSERT_OK(Put(*client_, {good}, CallOptions()).status);
}

// What an independent gRPC client (Debian's gRPC, not Arrow's) sends on DoPut: each
// message is one serialized FlightData, here made by hand.
struct RawPutOutcome {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
};

RawPutOutcome RawPut(int port, const std::vector<std::string>& messages) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue queue;
  auto next = [&queue] {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(queue.Next(&tag, &ok));
    return ok;
  };
  auto call =
      stub.PrepareCall(&context, "/arrow.flight.protocol.FlightService/DoPut", &queue);
  call->StartCall(nullptr);
  RawPutOutcome outcome;
  if (next()) {
    for (const auto& message : messages) {
      grpc::Slice slice(message);
      grpc::ByteBuffer buffer(&slice, 1);
      call->Write(buffer, nullptr);
      if (!next()) break;  // the server ended the call
    }
    call->WritesDone(nullptr);
    next();
    grpc::ByteBuffer response;
    do {
      call->Read(&response, nullptr);
    } while (next());
  }
  grpc::Status status;
  call->Finish(&status, nullptr);
  next();
  outcome.code = status.error_code();
  outcome.message = status.error_message();
  return outcome;
}

// Protobuf wire format of FlightData {flight_descriptor = {type PATH, path otlp/spans},
// data_header = header, data_body = body} (Flight.proto: FlightData 1, 2, 1000;
// FlightDescriptor type 1, path 3).
std::string FlightDataWithHeader(std::string_view header, std::string_view body) {
  auto bytes_field = [](uint32_t number, std::string_view value) {
    std::string out;
    auto varint = [&out](uint64_t v) {
      while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
      }
      out.push_back(static_cast<char>(v));
    };
    varint((uint64_t{number} << 3) | 2);
    varint(value.size());
    out.append(value);
    return out;
  };
  const std::string descriptor =
      std::string("\x08\x01", 2) + bytes_field(3, "otlp") + bytes_field(3, "spans");
  return bytes_field(1, descriptor) + bytes_field(2, header) + bytes_field(1000, body);
}

// The span-table schema as the data_header of a FlightData: the IPC flatbuffer without
// the encapsulation prefix (continuation marker and length).
std::string SpanTableSchemaHeader() {
  auto serialized = arrow::ipc::SerializeSchema(*convert::SpanTableSchema());
  EXPECT_TRUE(serialized.ok());
  const auto& buffer = **serialized;
  int32_t length = 0;
  std::memcpy(&length, buffer.data() + 4, sizeof(length));
  return std::string(reinterpret_cast<const char*>(buffer.data()) + 8, length);
}

TEST_F(FlightSpanReceiverTest, RandomBytesAsIpcAreRefusedAndServingGoesOn) {
  StartReceiver();
  std::mt19937_64 random(20261127);
  auto random_bytes = [&random](size_t max_size) {
    std::string bytes(random() % max_size + 1, '\0');
    for (auto& c : bytes) c = static_cast<char>(random());
    return bytes;
  };
  const std::string schema_header = SpanTableSchemaHeader();
  int refused_by_handler = 0;
  for (int round = 0; round < 60; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::string> messages;
    switch (round % 3) {
      case 0:
        // A well-formed FlightData whose IPC header and body are noise.
        messages.push_back(FlightDataWithHeader(random_bytes(512), random_bytes(4096)));
        break;
      case 1:
        // Not even protobuf: noise where the FlightData message belongs.
        messages.push_back(random_bytes(2048));
        break;
      default:
        // The right schema, then a record batch message of noise.
        messages.push_back(FlightDataWithHeader(schema_header, ""));
        messages.push_back(FlightDataWithHeader(random_bytes(512), random_bytes(4096)));
        break;
    }
    const auto outcome = RawPut(receiver_->port(), messages);
    if (round % 3 == 2) {
      // Our handler reads these: refused as the client's fault.
      EXPECT_EQ(outcome.code, grpc::StatusCode::INVALID_ARGUMENT) << outcome.message;
      ++refused_by_handler;
    } else {
      // Arrow Flight decodes the first message before the handler runs and answers
      // UNKNOWN for what it cannot decode; nothing of ours can change that code. Noise
      // that happens to parse as a FlightData lacks our descriptor: NOT_FOUND.
      EXPECT_THAT(outcome.code, ::testing::AnyOf(grpc::StatusCode::INVALID_ARGUMENT,
                                                 grpc::StatusCode::UNKNOWN,
                                                 grpc::StatusCode::NOT_FOUND))
          << outcome.message;
    }
  }
  EXPECT_TRUE(store_->batches().empty());
  EXPECT_GE(receiver_->Stats().validation_failures, refused_by_handler);
  // The receiver still serves a well-behaved client.
  const auto batch = SpanBatch(25, 3);
  const auto outcome = Put(*client_, {batch}, CallOptions());
  ASSERT_OK(outcome.status);
  ASSERT_EQ(store_->batches().size(), 1u);
  EXPECT_TRUE(store_->batches()[0]->Equals(*batch, SameValues()));
}

// The Refusal a refused call carries; fails the test when there is none.
Refusal RefusalOf(const arrow::Status& status) {
  const auto refusal = Refusal::FromStatus(status);
  EXPECT_TRUE(refusal.has_value()) << "no refusal in " << status.ToString();
  return refusal.value_or(Refusal{});
}

TEST_F(FlightSpanReceiverTest, OversizeBatchIsRefusedAsTooLarge) {
  const auto small = SpanBatch(5, 9);
  const auto large = SpanBatch(500, 10);
  auto options = LoopbackOptions();
  options.max_batch_bytes = arrow::util::TotalBufferSize(*small) * 2;
  ASSERT_LT(options.max_batch_bytes, arrow::util::TotalBufferSize(*large));
  StartReceiver(options);
  const auto outcome = Put(*client_, {small, large}, CallOptions());
  EXPECT_TRUE(outcome.status.IsCapacityError()) << outcome.status.ToString();
  EXPECT_THAT(outcome.status.message(), HasSubstr("too large"));
  const Refusal refusal = RefusalOf(outcome.status);
  EXPECT_EQ(refusal.refusal_class, RefusalClass::kTooLarge);
  EXPECT_EQ(refusal.reason, "batch_too_large");
  EXPECT_EQ(outcome.acks.size(), 1u);
  EXPECT_EQ(store_->batches().size(), 1u);
  EXPECT_EQ(receiver_->Stats().oversize_batches, 1);
}

TEST_F(FlightSpanReceiverTest, StreamsBeyondTheLimitAreUnavailable) {
  auto options = LoopbackOptions();
  options.max_concurrent_streams = 1;
  StartReceiver(options);
  const auto batch = SpanBatch(3, 11);

  // Stream A is running once its first batch is acknowledged.
  ASSERT_OK_AND_ASSIGN(auto a,
                       client_->DoPut(CallOptions(), SpansDescriptor(), batch->schema()));
  ASSERT_OK(a.writer->WriteRecordBatch(*batch));
  std::shared_ptr<arrow::Buffer> ack;
  ASSERT_OK(a.reader->ReadMetadata(&ack));
  ASSERT_NE(ack, nullptr);

  const auto busy = Put(*Connect(), {batch}, CallOptions());
  EXPECT_EQ(FlightCode(busy.status), flight::FlightStatusCode::Unavailable)
      << busy.status.ToString();
  EXPECT_THAT(busy.status.message(), HasSubstr("too many concurrent streams"));

  ASSERT_OK(a.writer->DoneWriting());
  ASSERT_OK(a.writer->Close());
  ASSERT_OK(Put(*Connect(), {batch}, CallOptions()).status);
  EXPECT_EQ(receiver_->Stats().streams_rejected_busy, 1);
  EXPECT_EQ(store_->batches().size(), 2u);
}

TEST_F(FlightSpanReceiverTest, ConcurrentStreamsAreAllStored) {
  StartReceiver();
  constexpr int kStreams = 4;
  std::vector<std::future<PutOutcome>> puts;
  for (int i = 0; i < kStreams; ++i) {
    puts.push_back(std::async(std::launch::async, [this, i] {
      auto client = Connect();
      return Put(*client, {SpanBatch(20, 50 + i), SpanBatch(30, 60 + i)}, CallOptions());
    }));
  }
  for (auto& put : puts) {
    const auto outcome = put.get();
    ASSERT_OK(outcome.status);
    EXPECT_EQ(outcome.acks.size(), 2u);
  }
  EXPECT_EQ(TotalRows(store_->batches()), kStreams * 50);
  EXPECT_EQ(receiver_->Stats().spans_stored, kStreams * 50);
  EXPECT_EQ(receiver_->Stats().streams_completed, kStreams);
}

TEST_F(FlightSpanReceiverTest, SinkFailureIsUnavailableSoSendersRetry) {
  StartReceiver();
  ASSERT_OK(store_->Close());  // every Append fails from now on
  const auto outcome = Put(*client_, {SpanBatch(5, 70)}, CallOptions());
  EXPECT_EQ(FlightCode(outcome.status), flight::FlightStatusCode::Unavailable)
      << outcome.status.ToString();
  EXPECT_THAT(outcome.status.message(), HasSubstr("not stored"));
  EXPECT_TRUE(outcome.acks.empty());
  EXPECT_EQ(receiver_->Stats().sink_failures, 1);
  EXPECT_EQ(receiver_->Stats().spans_stored, 0);
}

// ---------------------------------------------------------------------------------------
// Refusals are typed; memory and slots are bounded

// The IPC stream of `batch` compressed with zstd, one (header, body) pair per message.
std::vector<std::pair<std::string, std::string>> CompressedIpcMessages(
    const arrow::RecordBatch& batch) {
  std::vector<std::pair<std::string, std::string>> messages;
  auto sink = arrow::io::BufferOutputStream::Create().ValueOrDie();
  auto options = arrow::ipc::IpcWriteOptions::Defaults();
  options.codec = arrow::util::Codec::Create(arrow::Compression::ZSTD).ValueOrDie();
  auto writer = arrow::ipc::MakeStreamWriter(sink, batch.schema(), options).ValueOrDie();
  EXPECT_TRUE(writer->WriteRecordBatch(batch).ok());
  EXPECT_TRUE(writer->Close().ok());
  auto stream = std::make_shared<arrow::io::BufferReader>(sink->Finish().ValueOrDie());
  auto reader = arrow::ipc::MessageReader::Open(stream);
  for (;;) {
    auto message = reader->ReadNextMessage().ValueOrDie();
    if (message == nullptr) break;
    messages.emplace_back(message->metadata()->ToString(),
                          message->body() ? message->body()->ToString() : "");
  }
  return messages;
}

// One small message that claims 1.5 GiB once decompressed: each compressed IPC buffer
// starts with its decompressed length, which a reader allocates before decompressing.
TEST_F(FlightSpanReceiverTest, DecompressionBombIsRefusedBeforeAllocating) {
  StartReceiver();
  auto messages = CompressedIpcMessages(*SpanBatch(200, 80));
  ASSERT_GE(messages.size(), 2u);
  auto& [header, body] = messages[1];  // the first message after the schema
  ASSERT_GE(body.size(), 8u);
  const int64_t claimed = int64_t{3} << 29;
  std::memcpy(body.data(), &claimed, sizeof(claimed));
  std::vector<std::string> frames;
  for (const auto& [h, b] : messages) frames.push_back(FlightDataWithHeader(h, b));

  const int64_t peak_before = arrow::default_memory_pool()->max_memory();
  const auto outcome = RawPut(receiver_->port(), frames);
  EXPECT_EQ(outcome.code, grpc::StatusCode::RESOURCE_EXHAUSTED) << outcome.message;
  EXPECT_THAT(outcome.message, HasSubstr("too large"));
  EXPECT_EQ(receiver_->Stats().oversize_batches, 1);
  // Nothing near the claimed size was ever allocated.
  EXPECT_LT(arrow::default_memory_pool()->max_memory(), peak_before + claimed / 4);
  EXPECT_TRUE(store_->batches().empty());
  ASSERT_OK(Put(*client_, {SpanBatch(10, 81)}, CallOptions()).status);
}

// A store whose Append waits until released, so that a batch stays in flight.
class GatedSpanStore : public InMemorySpanStore {
 public:
  arrow::Status Append(const std::shared_ptr<arrow::RecordBatch>& spans) override {
    {
      std::unique_lock lock(gate_mutex_);
      ++waiting_;
      gate_changed_.notify_all();
      gate_changed_.wait(lock, [this] { return open_; });
    }
    return InMemorySpanStore::Append(spans);
  }
  void WaitForAppends(int count) {
    std::unique_lock lock(gate_mutex_);
    gate_changed_.wait(lock, [&] { return waiting_ >= count; });
  }
  void Open() {
    std::lock_guard lock(gate_mutex_);
    open_ = true;
    gate_changed_.notify_all();
  }

 private:
  std::mutex gate_mutex_;
  std::condition_variable gate_changed_;
  int waiting_ = 0;
  bool open_ = false;
};

TEST_F(FlightSpanReceiverTest, DecodedBytesInFlightAreBoundedAcrossStreams) {
  const auto batch = SpanBatch(300, 82);
  const int64_t batch_bytes = arrow::util::TotalBufferSize(*batch);
  auto options = LoopbackOptions();
  // Room for one such batch at a time, not two.
  options.max_batch_bytes = batch_bytes * 3 / 2;
  options.max_decoded_bytes_in_flight = options.max_batch_bytes;
  auto gated = std::make_shared<GatedSpanStore>();
  ASSERT_OK_AND_ASSIGN(receiver_, FlightSpanReceiver::Make(options, gated, gated));
  ASSERT_OK(receiver_->Start());

  auto first = std::async(std::launch::async,
                          [&] { return Put(*Connect(), {batch}, CallOptions()); });
  gated->WaitForAppends(1);  // the first batch is decoded and held by the store
  const auto second = Put(*Connect(), {batch}, CallOptions());
  EXPECT_EQ(FlightCode(second.status), flight::FlightStatusCode::Unavailable)
      << second.status.ToString();
  const Refusal refusal = RefusalOf(second.status);
  EXPECT_EQ(refusal.refusal_class, RefusalClass::kRetryable);
  EXPECT_EQ(refusal.reason, "memory_budget");
  EXPECT_EQ(receiver_->Stats().memory_budget_refusals, 1);

  gated->Open();
  ASSERT_OK(first.get().status);
  // The budget is returned once the batch is stored: the retry goes through.
  ASSERT_OK(Put(*Connect(), {batch}, CallOptions()).status);
  EXPECT_EQ(gated->batches().size(), 2u);
}

TEST_F(FlightSpanReceiverTest, IdleStreamIsCancelledAndItsSlotFreed) {
  auto options = LoopbackOptions();
  options.max_concurrent_streams = 1;
  options.stream_idle_timeout = std::chrono::milliseconds(200);
  StartReceiver(options);
  // Opens a stream, sends the schema, then nothing.
  auto idle_client = Connect();
  ASSERT_OK_AND_ASSIGN(auto idle, idle_client->DoPut(CallOptions(), SpansDescriptor(),
                                                     convert::SpanTableSchema()));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (receiver_->Stats().streams_idle_cancelled == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(receiver_->Stats().streams_idle_cancelled, 1);
  // The slot is free again for a client that sends.
  ASSERT_OK(Put(*Connect(), {SpanBatch(5, 83)}, CallOptions()).status);
  EXPECT_FALSE(idle.writer->Close().ok());
  EXPECT_EQ(receiver_->Stats().streams_rejected_busy, 0);
}

TEST_F(FlightSpanReceiverTest, OneClientCannotTakeEverySlot) {
  auto options = LoopbackOptions();
  options.listen_uri = "grpc://[::]:0";  // IPv4 and IPv6: two client addresses
  options.max_concurrent_streams = 3;
  options.max_streams_per_client = 2;
  StartReceiver(options);
  const auto batch = SpanBatch(3, 84);
  auto open_stream = [&](flight::FlightClient& client) {
    auto put = client.DoPut(CallOptions(), SpansDescriptor(), batch->schema());
    EXPECT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_TRUE(put->writer->WriteRecordBatch(*batch).ok());
    std::shared_ptr<arrow::Buffer> ack;
    EXPECT_TRUE(put->reader->ReadMetadata(&ack).ok());
    EXPECT_NE(ack, nullptr);  // the stream holds a slot from here on
    return std::move(*put);
  };
  auto v4 = Connect();
  auto a = open_stream(*v4);
  auto b = open_stream(*v4);
  const auto third = Put(*v4, {batch}, CallOptions());
  EXPECT_EQ(FlightCode(third.status), flight::FlightStatusCode::Unavailable);
  EXPECT_THAT(third.status.message(), HasSubstr("too many concurrent streams from"));
  EXPECT_EQ(RefusalOf(third.status).reason, "busy");

  // Another client still gets the slot that is left.
  auto v6 = flight::FlightClient::Connect(
      flight::Location::ForGrpcTcp("[::1]", receiver_->port()).ValueOrDie());
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  ASSERT_OK(Put(**v6, {batch}, CallOptions()).status);
  for (auto* put : {&a, &b}) {
    ASSERT_OK(put->writer->DoneWriting());
    ASSERT_OK(put->writer->Close());
  }
}

TEST_F(FlightSpanReceiverTest, RefusalsSayWhatTheSenderIsToDo) {
  auto options = LoopbackOptions();
  options.bearer_token = "t0ken";
  StartReceiver(options);
  auto with_token = CallOptions();
  with_token.headers.emplace_back("authorization", "Bearer t0ken");

  // Bad content: never accepted, INVALID_ARGUMENT.
  const auto batch = SpanBatch(10, 85);
  const auto invalid = Put(*client_, {WithKindAt(*batch, 2, 9)}, with_token);
  EXPECT_TRUE(invalid.status.IsInvalid()) << invalid.status.ToString();
  EXPECT_EQ(RefusalOf(invalid.status).refusal_class, RefusalClass::kPermanent);
  EXPECT_EQ(RefusalOf(invalid.status).reason, "invalid_batch");

  // No token: an operator must act.
  const auto unauthenticated = Put(*client_, {batch}, CallOptions());
  EXPECT_EQ(FlightCode(unauthenticated.status),
            flight::FlightStatusCode::Unauthenticated);
  EXPECT_EQ(RefusalOf(unauthenticated.status).refusal_class,
            RefusalClass::kOperatorAction);

  // The store is unavailable: retry later.
  ASSERT_OK(store_->Close());
  const auto unavailable = Put(*client_, {batch}, with_token);
  EXPECT_EQ(FlightCode(unavailable.status), flight::FlightStatusCode::Unavailable);
  EXPECT_EQ(RefusalOf(unavailable.status).refusal_class, RefusalClass::kRetryable);
  EXPECT_EQ(RefusalOf(unavailable.status).reason, "storage_unavailable");
}

// A start_time that disagrees with start_time_unix_nano passes the span table's checks
// but not the store's: permanent, not "retry for ever".
TEST(FlightSpanReceiverStoreTest, BatchTheStoreRefusesIsRefusedPermanently) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("receiver-store-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store_options = storage::ParquetSpanStoreOptions::Defaults();
  store_options.data_dir = dir.string();
  std::shared_ptr<storage::ParquetSpanStore> store =
      storage::ParquetSpanStore::Open(store_options).ValueOrDie();
  auto options = FlightSpanReceiverOptions::Defaults();
  options.listen_uri = "grpc://127.0.0.1:0";
  ASSERT_OK_AND_ASSIGN(auto made, FlightSpanReceiver::Make(options, store, store));
  FlightSpanReceiver& receiver = *made;
  ASSERT_OK(receiver.Start());
  auto client =
      flight::FlightClient::Connect(
          flight::Location::ForGrpcTcp("127.0.0.1", receiver.port()).ValueOrDie())
          .ValueOrDie();

  const auto batch = SpanBatch(10, 86);
  const int column =
      batch->schema()->GetFieldIndex(std::string(convert::column::kStartTime));
  ASSERT_GE(column, 0);
  const auto& start = static_cast<const arrow::TimestampArray&>(*batch->column(column));
  arrow::TimestampBuilder shifted(start.type(), arrow::default_memory_pool());
  for (int64_t row = 0; row < start.length(); ++row) {
    ASSERT_OK(shifted.Append(start.Value(row) + 1'000'000));
  }
  auto bad = batch
                 ->SetColumn(column, batch->schema()->field(column),
                             shifted.Finish().ValueOrDie())
                 .ValueOrDie();
  const auto outcome = Put(*client, {bad}, CallOptions());
  EXPECT_TRUE(outcome.status.IsInvalid()) << outcome.status.ToString();
  EXPECT_EQ(RefusalOf(outcome.status).refusal_class, RefusalClass::kPermanent);
  EXPECT_EQ(receiver.Stats().sink_failures, 0);
  ASSERT_OK(Put(*client, {batch}, CallOptions()).status);
  ASSERT_OK(receiver.Shutdown());
  ASSERT_OK(store->Close());
  std::filesystem::remove_all(dir);
}

// What the receiver acknowledged is in the store's log as it arrived (ZSTD-compressed,
// without the derived columns, as the gateway sends it), and a crash right after loses
// nothing: the replay brings every acknowledged span back.
TEST(FlightSpanReceiverStoreTest, AcknowledgedBatchesAreLoggedAsTheyArrivedAndReplayed) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("receiver-wal-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store_options = storage::ParquetSpanStoreOptions::Defaults();
  store_options.data_dir = dir.string();
  store_options.max_file_age = std::chrono::hours(1);
  std::vector<std::shared_ptr<arrow::RecordBatch>> sent;
  std::set<std::string> span_ids;
  int64_t uncompressed_bytes = 0;
  for (uint64_t seed : {11, 12, 13}) {
    const auto batch = SpanBatch(300, seed);
    const auto& ids = static_cast<const arrow::FixedSizeBinaryArray&>(
        *batch->GetColumnByName("span_id"));
    for (int64_t i = 0; i < ids.length(); ++i) span_ids.insert(ids.GetString(i));
    int64_t size = 0;
    ASSERT_OK(arrow::ipc::GetRecordBatchSize(*batch, &size));
    uncompressed_bytes += size;
    sent.push_back(convert::WithoutDerivedTimeColumns(*batch));
  }
  {
    std::shared_ptr<storage::ParquetSpanStore> store =
        storage::ParquetSpanStore::Open(store_options).ValueOrDie();
    auto options = FlightSpanReceiverOptions::Defaults();
    options.listen_uri = "grpc://127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(auto made, FlightSpanReceiver::Make(options, store, store));
    FlightSpanReceiver& receiver = *made;
    ASSERT_OK(receiver.Start());
    auto client =
        flight::FlightClient::Connect(
            flight::Location::ForGrpcTcp("127.0.0.1", receiver.port()).ValueOrDie())
            .ValueOrDie();
    auto call_options = CallOptions();
    call_options.write_options.codec =
        arrow::util::Codec::Create(arrow::Compression::ZSTD).ValueOrDie();
    const auto outcome = Put(*client, sent, call_options);
    ASSERT_OK(outcome.status);
    ASSERT_EQ(outcome.acks.size(), sent.size());
    // The compressed messages, not the batches serialized again.
    EXPECT_LT(store->Stats().wal_bytes_appended, uncompressed_bytes / 2);
    ASSERT_OK(receiver.Shutdown());
    storage::internal::ParquetSpanStoreTesting::Abandon(*store);  // as a kill -9 would
  }
  auto store = storage::ParquetSpanStore::Open(store_options).ValueOrDie();
  EXPECT_EQ(store->recovery_report().records_replayed, 3);
  auto reader = store->Scan({}).ValueOrDie();
  std::set<std::string> stored;
  int64_t rows = 0;
  for (;;) {
    std::shared_ptr<arrow::RecordBatch> batch;
    ASSERT_OK(reader->ReadNext(&batch));
    if (batch == nullptr) break;
    EXPECT_TRUE(batch->schema()->Equals(*convert::SpanTableSchema()));
    const auto& ids = static_cast<const arrow::FixedSizeBinaryArray&>(
        *batch->GetColumnByName("span_id"));
    for (int64_t i = 0; i < ids.length(); ++i) stored.insert(ids.GetString(i));
    rows += batch->num_rows();
  }
  EXPECT_EQ(rows, 900);
  EXPECT_EQ(stored, span_ids);
  ASSERT_OK(store->Close());
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------------------
// Authentication

TEST_F(FlightSpanReceiverTest, BearerTokenIsRequiredOnEveryCall) {
  auto options = LoopbackOptions();
  options.bearer_token = "s3cret";
  StartReceiver(options);
  const auto batch = SpanBatch(4, 12);

  auto without = client_->ListFlights(CallOptions(), {});
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(FlightCode(without.status()), flight::FlightStatusCode::Unauthenticated)
      << without.status().ToString();

  auto wrong_options = CallOptions();
  wrong_options.headers.emplace_back("authorization", "Bearer s3creT");
  auto wrong = client_->ListFlights(wrong_options, {});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(FlightCode(wrong.status()), flight::FlightStatusCode::Unauthenticated);
  auto wrong_put = Put(*client_, {batch}, wrong_options);
  EXPECT_EQ(FlightCode(wrong_put.status), flight::FlightStatusCode::Unauthenticated)
      << wrong_put.status.ToString();
  auto no_put = Put(*client_, {batch}, CallOptions());
  EXPECT_EQ(FlightCode(no_put.status), flight::FlightStatusCode::Unauthenticated);
  EXPECT_TRUE(store_->batches().empty());

  auto right_options = CallOptions();
  right_options.headers.emplace_back("authorization", "Bearer s3cret");
  ASSERT_OK(client_->ListFlights(right_options, {}).status());
  const auto put = Put(*client_, {batch}, right_options);
  ASSERT_OK(put.status);
  EXPECT_EQ(put.acks.size(), 1u);
  EXPECT_GE(receiver_->Stats().unauthenticated_calls, 4);
}

// ---------------------------------------------------------------------------------------
// Read path

std::shared_ptr<arrow::Table> GetAll(flight::FlightClient& client,
                                     const flight::Ticket& ticket) {
  auto stream = client.DoGet(CallOptions(), ticket);
  EXPECT_TRUE(stream.ok()) << stream.status().ToString();
  if (!stream.ok()) return nullptr;
  auto table = (*stream)->ToTable();
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  return table.ok() ? *table : nullptr;
}

std::string TraceIdAt(const arrow::RecordBatch& batch, int64_t row) {
  const auto& ids = static_cast<const arrow::FixedSizeBinaryArray&>(
      *batch.GetColumnByName(std::string(convert::column::kTraceId)));
  return std::string(ids.GetView(row));
}

uint64_t StartAt(const arrow::RecordBatch& batch, int64_t row) {
  return static_cast<const arrow::UInt64Array&>(
             *batch.GetColumnByName(std::string(convert::column::kStartTimeUnixNano)))
      .Value(row);
}

// Rows of `batches` matching `query`, in order, as one table.
std::shared_ptr<arrow::Table> Expected(
    const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
    const storage::SpanQuery& query) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> rows;
  for (const auto& batch : batches) {
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      if (Matches(query, StartAt(*batch, row), TraceIdAt(*batch, row))) {
        rows.push_back(batch->Slice(row, 1));
      }
    }
  }
  return arrow::Table::FromRecordBatches(convert::SpanTableSchema(), rows).ValueOrDie();
}

class FlightSpanReceiverReadTest : public FlightSpanReceiverTest {
 protected:
  void SetUp() override {
    StartReceiver();
    sent_ = {SpanBatch(60, 21), SpanBatch(45, 22)};
    ASSERT_OK(Put(*client_, sent_, CallOptions()).status);
  }

  // GetFlightInfo for `descriptor`, then DoGet of its only endpoint.
  std::shared_ptr<arrow::Table> Read(
      const flight::FlightDescriptor& descriptor,
      std::unique_ptr<flight::FlightInfo>* info_out = nullptr) {
    auto info = client_->GetFlightInfo(CallOptions(), descriptor);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    if (!info.ok()) return nullptr;
    EXPECT_EQ((*info)->endpoints().size(), 1u);
    if ((*info)->endpoints().size() != 1) return nullptr;
    arrow::ipc::DictionaryMemo memo;
    auto schema = (*info)->GetSchema(&memo);
    EXPECT_TRUE(schema.ok() && (*schema)->Equals(*convert::SpanTableSchema()));
    auto table = GetAll(*client_, (*info)->endpoints()[0].ticket);
    if (info_out != nullptr) *info_out = std::move(*info);
    return table;
  }

  std::vector<std::shared_ptr<arrow::RecordBatch>> sent_;
};

void ExpectSameRows(const std::shared_ptr<arrow::Table>& actual,
                    const std::shared_ptr<arrow::Table>& expected) {
  ASSERT_NE(actual, nullptr);
  EXPECT_EQ(actual->num_rows(), expected->num_rows());
  EXPECT_TRUE(actual->Equals(*expected, SameValues()));
}

TEST_F(FlightSpanReceiverReadTest, ListFlightsListsTheStoredSpans) {
  ASSERT_OK_AND_ASSIGN(auto listing, client_->ListFlights(CallOptions(), {}));
  ASSERT_OK_AND_ASSIGN(auto first, listing->Next());
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->descriptor(), SpansDescriptor());
  EXPECT_EQ(first->total_records(), TotalRows(sent_));
  EXPECT_GT(first->total_bytes(), 0);
  ASSERT_OK_AND_ASSIGN(auto end, listing->Next());
  EXPECT_EQ(end, nullptr);
}

TEST_F(FlightSpanReceiverReadTest, AllSpansByPath) {
  std::unique_ptr<flight::FlightInfo> info;
  auto table = Read(SpansDescriptor(), &info);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->total_records(), TotalRows(sent_));
  ExpectSameRows(table, Expected(sent_, {}));
  EXPECT_EQ(receiver_->Stats().spans_served, TotalRows(sent_));
}

TEST_F(FlightSpanReceiverReadTest, TimeRangeByCommand) {
  std::vector<uint64_t> starts;
  for (const auto& batch : sent_) {
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      starts.push_back(StartAt(*batch, row));
    }
  }
  std::sort(starts.begin(), starts.end());
  storage::SpanQuery query;
  query.start_time_min_unix_nano = starts[starts.size() / 4];
  query.start_time_max_unix_nano = starts[starts.size() * 3 / 4];
  const auto expected = Expected(sent_, query);
  ASSERT_GT(expected->num_rows(), 0);
  ASSERT_LT(expected->num_rows(), TotalRows(sent_));
  ExpectSameRows(Read(flight::FlightDescriptor::Command(query.ToJson())), expected);
}

TEST_F(FlightSpanReceiverReadTest, OneTraceByTicket) {
  storage::SpanQuery query;
  query.trace_id = TraceIdAt(*sent_[1], 5);
  const auto expected = Expected(sent_, query);
  ASSERT_GT(expected->num_rows(), 0);
  ExpectSameRows(GetAll(*client_, flight::Ticket{query.ToJson()}), expected);
}

TEST_F(FlightSpanReceiverReadTest, BadTicketsAndDescriptorsAreRefused) {
  auto stream = client_->DoGet(CallOptions(), flight::Ticket{"not json"});
  arrow::Status status = stream.status();
  if (status.ok()) status = (*stream)->ToTable().status();
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("bad span query"));

  auto info = client_->GetFlightInfo(CallOptions(),
                                     flight::FlightDescriptor::Command(R"({"x": 1})"));
  EXPECT_TRUE(info.status().IsInvalid()) << info.status().ToString();
  auto unknown = client_->GetFlightInfo(CallOptions(),
                                        flight::FlightDescriptor::Path({"otlp", "logs"}));
  EXPECT_TRUE(unknown.status().IsKeyError()) << unknown.status().ToString();
}

TEST_F(FlightSpanReceiverTest, WithoutSourceTheReadPathIsNotImplemented) {
  StartReceiver(LoopbackOptions(), /*with_source=*/false);
  EXPECT_TRUE(client_->ListFlights(CallOptions(), {}).status().IsNotImplemented());
  auto stream = client_->DoGet(CallOptions(), flight::Ticket{""});
  arrow::Status status = stream.status();
  if (status.ok()) status = (*stream)->ToTable().status();
  EXPECT_TRUE(status.IsNotImplemented()) << status.ToString();
  ASSERT_OK(Put(*client_, {SpanBatch(3, 23)}, CallOptions()).status);
}

// ---------------------------------------------------------------------------------------
// Shutdown

TEST_F(FlightSpanReceiverTest, ShutdownLetsARunningStreamFinish) {
  StartReceiver();
  const auto batch = SpanBatch(8, 31);
  ASSERT_OK_AND_ASSIGN(auto put,
                       client_->DoPut(CallOptions(), SpansDescriptor(), batch->schema()));
  ASSERT_OK(put.writer->WriteRecordBatch(*batch));
  std::shared_ptr<arrow::Buffer> ack;
  ASSERT_OK(put.reader->ReadMetadata(&ack));
  ASSERT_NE(ack, nullptr);

  // Whether the second batch arrives before or after Shutdown() begins, the stream
  // completes: Shutdown only stops new calls until its deadline.
  auto shutdown = std::async(std::launch::async, [this] {
    return receiver_->Shutdown(std::chrono::system_clock::now() +
                               std::chrono::seconds(4));
  });
  ASSERT_OK(put.writer->WriteRecordBatch(*batch));
  ASSERT_OK(put.reader->ReadMetadata(&ack));
  ASSERT_NE(ack, nullptr);
  ASSERT_OK(put.writer->DoneWriting());
  ASSERT_OK(put.writer->Close());
  ASSERT_OK(shutdown.get());
  ASSERT_OK(receiver_->Wait());
  EXPECT_EQ(store_->batches().size(), 2u);
  EXPECT_EQ(receiver_->Stats().streams_completed, 1);
}

TEST_F(FlightSpanReceiverTest, ShutdownDeadlineCancelsAnIdleStream) {
  StartReceiver();
  const auto batch = SpanBatch(8, 32);
  ASSERT_OK_AND_ASSIGN(auto put,
                       client_->DoPut(CallOptions(), SpansDescriptor(), batch->schema()));
  ASSERT_OK(put.writer->WriteRecordBatch(*batch));
  std::shared_ptr<arrow::Buffer> ack;
  ASSERT_OK(put.reader->ReadMetadata(&ack));
  ASSERT_NE(ack, nullptr);

  const auto started = std::chrono::steady_clock::now();
  ASSERT_OK(receiver_->Shutdown(std::chrono::system_clock::now() +
                                std::chrono::milliseconds(200)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  ASSERT_OK(receiver_->Wait());
  EXPECT_FALSE(put.writer->Close().ok());
  // The acknowledged batch is stored; nothing else is.
  EXPECT_EQ(store_->batches().size(), 1u);
}

// ---------------------------------------------------------------------------------------
// TLS

using testing::CertificateAndKey;
using testing::SelfSigned;

std::unique_ptr<flight::FlightClient> ConnectTls(
    int port, const CertificateAndKey& server,
    const CertificateAndKey* client = nullptr) {
  auto options = flight::FlightClientOptions::Defaults();
  options.tls_root_certs = server.cert_pem;
  if (client != nullptr) {
    options.cert_chain = client->cert_pem;
    options.private_key = client->key_pem;
  }
  auto location = flight::Location::ForGrpcTls("127.0.0.1", port);
  EXPECT_TRUE(location.ok());
  auto connected = flight::FlightClient::Connect(*location, options);
  EXPECT_TRUE(connected.ok()) << connected.status().ToString();
  return std::move(*connected);
}

class FlightSpanReceiverTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_cert_ = new CertificateAndKey(SelfSigned("otlp-arrow receiver"));
    client_cert_ = new CertificateAndKey(SelfSigned("otlp-arrow exporter"));
  }
  static void TearDownTestSuite() {
    delete server_cert_;
    delete client_cert_;
  }

  static FlightSpanReceiverOptions TlsOptions() {
    auto options = FlightSpanReceiverOptions::Defaults();
    options.listen_uri = "grpc+tls://127.0.0.1:0";
    options.tls_cert_pem = server_cert_->cert_pem;
    options.tls_key_pem = server_cert_->key_pem;
    return options;
  }

  static CertificateAndKey* server_cert_;
  static CertificateAndKey* client_cert_;
};

CertificateAndKey* FlightSpanReceiverTlsTest::server_cert_ = nullptr;
CertificateAndKey* FlightSpanReceiverTlsTest::client_cert_ = nullptr;

TEST_F(FlightSpanReceiverTlsTest, ServesOverTls) {
  auto store = std::make_shared<InMemorySpanStore>();
  ASSERT_OK_AND_ASSIGN(auto made, FlightSpanReceiver::Make(TlsOptions(), store, store));
  FlightSpanReceiver& receiver = *made;
  ASSERT_OK(receiver.Start());
  EXPECT_THAT(receiver.uri(), HasSubstr("grpc+tls://127.0.0.1:"));
  const auto put =
      Put(*ConnectTls(receiver.port(), *server_cert_), {SpanBatch(6, 41)}, CallOptions());
  ASSERT_OK(put.status);
  EXPECT_EQ(put.acks.size(), 1u);

  // A plaintext client gets no service.
  auto plain =
      flight::FlightClient::Connect(
          flight::Location::ForGrpcTcp("127.0.0.1", receiver.port()).ValueOrDie())
          .ValueOrDie();
  EXPECT_FALSE(plain->ListFlights(CallOptions(), {}).ok());
  ASSERT_OK(
      receiver.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)));
}

TEST_F(FlightSpanReceiverTlsTest, MutualTlsRequiresATrustedClientCertificate) {
  auto options = TlsOptions();
  options.client_ca_pem = client_cert_->cert_pem;
  auto store = std::make_shared<InMemorySpanStore>();
  ASSERT_OK_AND_ASSIGN(auto made, FlightSpanReceiver::Make(options, store, store));
  FlightSpanReceiver& receiver = *made;
  ASSERT_OK(receiver.Start());

  auto anonymous = ConnectTls(receiver.port(), *server_cert_);
  EXPECT_FALSE(anonymous->ListFlights(CallOptions(), {}).ok());
  // A certificate the receiver does not trust is refused as well.
  auto stranger = ConnectTls(receiver.port(), *server_cert_, server_cert_);
  EXPECT_FALSE(stranger->ListFlights(CallOptions(), {}).ok());

  auto trusted = ConnectTls(receiver.port(), *server_cert_, client_cert_);
  ASSERT_OK(Put(*trusted, {SpanBatch(6, 42)}, CallOptions()).status);
  EXPECT_EQ(store->batches().size(), 1u);
  ASSERT_OK(
      receiver.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)));
}

TEST(FlightSpanReceiverOptionsTest, InconsistentSecuritySettingsFailToStart) {
  auto store = std::make_shared<InMemorySpanStore>();
  // Make() checks the options; what it lets through, Start() may still refuse.
  auto start = [&](const FlightSpanReceiverOptions& options) {
    auto receiver = FlightSpanReceiver::Make(options, store, store);
    return receiver.ok() ? (*receiver)->Start() : receiver.status();
  };
  auto tls_without_cert = FlightSpanReceiverOptions::Defaults();
  tls_without_cert.listen_uri = "grpc+tls://127.0.0.1:0";
  EXPECT_TRUE(start(tls_without_cert).IsInvalid());

  auto cert_without_tls = FlightSpanReceiverOptions::Defaults();
  cert_without_tls.listen_uri = "grpc://127.0.0.1:0";
  cert_without_tls.tls_cert_pem = "cert";
  cert_without_tls.tls_key_pem = "key";
  EXPECT_TRUE(start(cert_without_tls).IsInvalid());

  auto empty_token = FlightSpanReceiverOptions::Defaults();
  empty_token.listen_uri = "grpc://127.0.0.1:0";
  empty_token.bearer_token = "";
  EXPECT_TRUE(start(empty_token).IsInvalid());

  // No sink: refused by Make().
  auto no_sink =
      FlightSpanReceiver::Make(FlightSpanReceiverOptions::Defaults(), nullptr, store);
  ASSERT_FALSE(no_sink.ok());
  EXPECT_TRUE(no_sink.status().IsInvalid());

  auto unknown_scheme = FlightSpanReceiverOptions::Defaults();
  unknown_scheme.listen_uri = "http://127.0.0.1:0";
  EXPECT_FALSE(start(unknown_scheme).ok());
}

// A port another receiver holds: Start() fails, and stopping and waiting for the receiver
// that never served return at once (Wait() used to crash in Arrow Flight).
TEST(FlightSpanReceiverOptionsTest, PortInUseFailsToStartAndStopsCleanly) {
  auto store = std::make_shared<InMemorySpanStore>();
  auto options = FlightSpanReceiverOptions::Defaults();
  options.listen_uri = "grpc://127.0.0.1:0";
  ASSERT_OK_AND_ASSIGN(auto made_first, FlightSpanReceiver::Make(options, store, store));
  FlightSpanReceiver& first = *made_first;
  ASSERT_OK(first.Start());
  options.listen_uri = "grpc://127.0.0.1:" + std::to_string(first.port());
  ASSERT_OK_AND_ASSIGN(auto made_second, FlightSpanReceiver::Make(options, store, store));
  FlightSpanReceiver& second = *made_second;
  EXPECT_FALSE(second.Start().ok());
  EXPECT_TRUE(second.Shutdown().ok());
  EXPECT_TRUE(second.Wait().ok());
  ASSERT_OK(first.Shutdown());
  ASSERT_OK(first.Wait());
}

}  // namespace
}  // namespace otlp_arrow::transport
