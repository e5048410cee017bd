// SPDX-License-Identifier: Apache-2.0
// OTAP ArrowTracesService/ArrowTraces on the OTLP/gRPC receiver: answers per batch,
// stream ends, authentication, limits. The decoding itself is tested in src/convert.

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/writer.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "hpack_test_util.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "opentelemetry/proto/experimental/arrow/v1/arrow_service.grpc.pb.h"
#include "otlp_arrow/service/otlp_grpc_receiver.h"
#include "service_test_util.h"

namespace otlp_arrow::service {
namespace {

namespace arrowpb = opentelemetry::proto::experimental::arrow::v1;
using pipeline::IngestCode;
using pipeline::IngestResult;
using testing::FakeTraceIngest;
using ::testing::HasSubstr;
using testing::HpackEncoder;

using Stream = grpc::ClientReaderWriter<arrowpb::BatchArrowRecords, arrowpb::BatchStatus>;

// One OTAP SPANS payload as the Go producer writes it on a new stream: the Schema, then
// one record batch (no dictionaries: every column plain, which OTAP allows), no EOS.
std::string SpansPayload(int rows) {
  auto uint16_struct = arrow::struct_({arrow::field("id", arrow::uint16())});
  auto schema = arrow::schema({
      arrow::field("id", arrow::uint16()),
      arrow::field("resource", uint16_struct),
      arrow::field("scope", uint16_struct),
      arrow::field("start_time_unix_nano",
                   arrow::timestamp(arrow::TimeUnit::NANO, "UTC")),
      arrow::field("duration_time_unix_nano", arrow::duration(arrow::TimeUnit::NANO)),
      arrow::field("trace_id", arrow::fixed_size_binary(16)),
      arrow::field("span_id", arrow::fixed_size_binary(8)),
      arrow::field("name", arrow::utf8()),
  });
  arrow::UInt16Builder id;
  arrow::TimestampBuilder start(arrow::timestamp(arrow::TimeUnit::NANO, "UTC"),
                                arrow::default_memory_pool());
  arrow::DurationBuilder duration(arrow::duration(arrow::TimeUnit::NANO),
                                  arrow::default_memory_pool());
  arrow::FixedSizeBinaryBuilder trace_id(arrow::fixed_size_binary(16));
  arrow::FixedSizeBinaryBuilder span_id(arrow::fixed_size_binary(8));
  arrow::StringBuilder name;
  for (int i = 0; i < rows; ++i) {
    EXPECT_TRUE(id.AppendNull().ok());
    EXPECT_TRUE(start.Append(1'700'000'000'000'000'000 + i).ok());
    EXPECT_TRUE(duration.Append(1000).ok());
    EXPECT_TRUE(trace_id.Append(std::string(16, static_cast<char>(i + 1))).ok());
    EXPECT_TRUE(span_id.Append(std::string(8, static_cast<char>(i + 1))).ok());
    EXPECT_TRUE(name.Append("span " + std::to_string(i)).ok());
  }
  auto zeros = [&] {
    arrow::UInt16Builder b;
    for (int i = 0; i < rows; ++i) EXPECT_TRUE(b.Append(0).ok());
    return b.Finish().ValueOrDie();
  };
  auto group = arrow::StructArray::Make({zeros()}, {arrow::field("id", arrow::uint16())})
                   .ValueOrDie();
  auto scope = arrow::StructArray::Make({zeros()}, {arrow::field("id", arrow::uint16())})
                   .ValueOrDie();
  auto batch = arrow::RecordBatch::Make(
      schema, rows,
      {id.Finish().ValueOrDie(), group, scope, start.Finish().ValueOrDie(),
       duration.Finish().ValueOrDie(), trace_id.Finish().ValueOrDie(),
       span_id.Finish().ValueOrDie(), name.Finish().ValueOrDie()});
  auto sink = arrow::io::BufferOutputStream::Create().ValueOrDie();
  auto writer = arrow::ipc::MakeStreamWriter(sink, schema).ValueOrDie();
  EXPECT_TRUE(writer->WriteRecordBatch(*batch).ok());
  return sink->Finish().ValueOrDie()->ToString();
}

arrowpb::BatchArrowRecords Batch(int64_t id) {
  arrowpb::BatchArrowRecords batch;
  batch.set_batch_id(id);
  return batch;
}

arrowpb::BatchArrowRecords SpansBatch(int64_t id, const std::string& schema_id,
                                      int rows) {
  arrowpb::BatchArrowRecords batch = Batch(id);
  auto* payload = batch.add_arrow_payloads();
  payload->set_schema_id(schema_id);
  payload->set_type(arrowpb::SPANS);
  payload->set_record(SpansPayload(rows));
  return batch;
}

IngestResult Answer(IngestCode code, std::string message = "") {
  IngestResult result;
  result.code = code;
  result.message = std::move(message);
  return result;
}

class OtapGrpcTest : public ::testing::Test {
 protected:
  void Start(OtlpGrpcReceiverOptions options = {}) {
    options.endpoint = "127.0.0.1:0";
    options.num_threads = 4;
    auto made = OtlpGrpcReceiver::Make(options, ingest_);
    ASSERT_TRUE(made.ok()) << made.status();
    receiver_ = std::move(*made);
    ASSERT_TRUE(receiver_->Start().ok());
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(receiver_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = arrowpb::ArrowTracesService::NewStub(channel_);
  }

  struct Call {
    grpc::ClientContext context;
    std::unique_ptr<Stream> stream;
  };
  std::unique_ptr<Call> Open() {
    auto call = std::make_unique<Call>();
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(30));
    call->stream = stub_->ArrowTraces(&call->context);
    return call;
  }

  // Sends `batch` and reads one answer.
  static arrowpb::BatchStatus RoundTrip(Call& call,
                                        const arrowpb::BatchArrowRecords& batch) {
    EXPECT_TRUE(call.stream->Write(batch));
    arrowpb::BatchStatus status;
    EXPECT_TRUE(call.stream->Read(&status));
    return status;
  }

  // The receiver frees a stream's slot once its call has ended on its side, which the
  // client may see a moment earlier.
  bool WaitForActiveStreams(int64_t n) {
    for (int i = 0; i < 500; ++i) {
      if (receiver_->OtapStats().streams_active == n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  static grpc::Status Close(Call& call) {
    call.stream->WritesDone();
    arrowpb::BatchStatus extra;
    while (call.stream->Read(&extra)) ADD_FAILURE() << "unexpected " << extra.batch_id();
    return call.stream->Finish();
  }

  std::shared_ptr<FakeTraceIngest> ingest_ = std::make_shared<FakeTraceIngest>();
  std::unique_ptr<OtlpGrpcReceiver> receiver_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<arrowpb::ArrowTracesService::Stub> stub_;
};

TEST_F(OtapGrpcTest, SpansGoToTraceIngestAndEachBatchIsAnswered) {
  Start();
  auto call = Open();
  const auto first = RoundTrip(*call, SpansBatch(1, "0", 3));
  EXPECT_EQ(first.batch_id(), 1);
  EXPECT_EQ(first.status_code(), arrowpb::OK) << first.status_message();
  ingest_->Answer(Answer(IngestCode::kQueueFull, "queue full"));
  const auto second = RoundTrip(*call, SpansBatch(2, "1", 2));
  EXPECT_EQ(second.batch_id(), 2);
  // A full queue is UNAVAILABLE, which the exporter retries (RESOURCE_EXHAUSTED would
  // make it drop the batch).
  EXPECT_EQ(second.status_code(), arrowpb::UNAVAILABLE);
  EXPECT_THAT(second.status_message(), HasSubstr("queue full"));
  ingest_->Answer(Answer(IngestCode::kInvalid, "bad span"));
  const auto third = RoundTrip(*call, SpansBatch(3, "2", 1));
  EXPECT_EQ(third.status_code(), arrowpb::INVALID_ARGUMENT);
  EXPECT_TRUE(Close(*call).ok());

  const auto calls = ingest_->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].api, "otap");
  EXPECT_EQ(calls[0].bytes, "3");
  EXPECT_EQ(calls[1].bytes, "2");
  const auto stats = receiver_->OtapStats();
  EXPECT_EQ(stats.streams_opened, 1);
  EXPECT_EQ(stats.batches.requests, 3);
  EXPECT_EQ(stats.batches.requests_accepted, 1);
  EXPECT_EQ(stats.batches.requests_refused_queue_full, 1);
  EXPECT_EQ(stats.batches.requests_refused_invalid, 1);
}

TEST_F(OtapGrpcTest, BadBatchesAreRefusedAndTheStreamGoesOn) {
  Start();
  auto call = Open();
  const auto empty = RoundTrip(*call, Batch(5));
  EXPECT_EQ(empty.batch_id(), 5);
  EXPECT_EQ(empty.status_code(), arrowpb::INVALID_ARGUMENT);
  EXPECT_THAT(empty.status_message(), HasSubstr("without payloads"));

  arrowpb::BatchArrowRecords garbage = Batch(6);
  auto* payload = garbage.add_arrow_payloads();
  payload->set_schema_id("0");
  payload->set_type(arrowpb::SPANS);
  payload->set_record("not Arrow IPC");
  const auto bad = RoundTrip(*call, garbage);
  EXPECT_EQ(bad.batch_id(), 6);
  EXPECT_EQ(bad.status_code(), arrowpb::INVALID_ARGUMENT);
  EXPECT_THAT(bad.status_message(), HasSubstr("SPANS"));

  // A good batch on a new IPC stream of the same call still goes through.
  const auto good = RoundTrip(*call, SpansBatch(7, "1", 2));
  EXPECT_EQ(good.status_code(), arrowpb::OK) << good.status_message();
  EXPECT_TRUE(Close(*call).ok());
  EXPECT_EQ(ingest_->calls().size(), 1u);
}

TEST_F(OtapGrpcTest, HalfCloseAnswersEveryBatchInFlightThenEndsOk) {
  Start();
  ingest_->Hold();
  auto call = Open();
  for (int64_t id = 1; id <= 3; ++id)
    ASSERT_TRUE(call->stream->Write(SpansBatch(id, std::to_string(id), 1)));
  ASSERT_TRUE(call->stream->WritesDone());
  ASSERT_TRUE(ingest_->WaitForWaiting(1));
  ingest_->Release();
  std::vector<int64_t> answered;
  arrowpb::BatchStatus status;
  while (call->stream->Read(&status)) {
    EXPECT_EQ(status.status_code(), arrowpb::OK);
    answered.push_back(status.batch_id());
  }
  EXPECT_EQ(answered, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(call->stream->Finish().ok());
}

TEST_F(OtapGrpcTest, BearerTokenInTheBatchHeadersOrTheCallMetadata) {
  OtlpGrpcReceiverOptions options;
  options.bearer_token = "s3cret";
  Start(options);
  auto call = Open();
  HpackEncoder hpack;
  // No token: refused, and the stream stays up.
  const auto none = RoundTrip(*call, SpansBatch(1, "0", 1));
  EXPECT_EQ(none.status_code(), arrowpb::UNAUTHENTICATED);
  arrowpb::BatchArrowRecords wrong = SpansBatch(2, "1", 1);
  wrong.set_headers(hpack.Encode({{"authorization", "Bearer guess"}}));
  EXPECT_EQ(RoundTrip(*call, wrong).status_code(), arrowpb::UNAUTHENTICATED);
  arrowpb::BatchArrowRecords right = SpansBatch(3, "2", 1);
  right.set_headers(hpack.Encode({{"authorization", "Bearer s3cret"}}));
  const auto ok = RoundTrip(*call, right);
  EXPECT_EQ(ok.status_code(), arrowpb::OK) << ok.status_message();
  EXPECT_TRUE(Close(*call).ok());
  EXPECT_EQ(ingest_->calls().size(), 1u);
  EXPECT_EQ(receiver_->OtapStats().batches_unauthenticated, 2);

  // The token as gRPC metadata of the call counts too.
  auto with_metadata = std::make_unique<Call>();
  with_metadata->context.AddMetadata("authorization", "Bearer s3cret");
  with_metadata->stream = stub_->ArrowTraces(&with_metadata->context);
  EXPECT_EQ(RoundTrip(*with_metadata, SpansBatch(1, "0", 1)).status_code(), arrowpb::OK);
  EXPECT_TRUE(Close(*with_metadata).ok());

  // OTLP Export on the same port needs it as well.
  auto otlp = opentelemetry::proto::collector::trace::v1::TraceService::NewStub(channel_);
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse response;
  grpc::ClientContext anonymous;
  EXPECT_EQ(otlp->Export(&anonymous, testing::SampleRequest(1), &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext authorized;
  authorized.AddMetadata("authorization", "Bearer s3cret");
  EXPECT_TRUE(otlp->Export(&authorized, testing::SampleRequest(1), &response).ok());
}

TEST_F(OtapGrpcTest, ABadHpackBlockEndsTheStream) {
  Start();
  auto call = Open();
  arrowpb::BatchArrowRecords batch = SpansBatch(1, "0", 1);
  batch.set_headers(std::string("\xff\xff\xff\xff\x0f", 5));
  ASSERT_TRUE(call->stream->Write(batch));
  arrowpb::BatchStatus status;
  EXPECT_FALSE(call->stream->Read(&status));
  const grpc::Status end = call->stream->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(end.error_message(), HasSubstr("HPACK"));
  EXPECT_TRUE(ingest_->calls().empty());
  EXPECT_EQ(receiver_->OtapStats().streams_ended_with_error, 1);
}

TEST_F(OtapGrpcTest, StreamsBeyondTheLimitEndUnavailable) {
  OtlpGrpcReceiverOptions options;
  options.max_otap_streams = 1;
  Start(options);
  auto first = Open();
  EXPECT_EQ(RoundTrip(*first, SpansBatch(1, "0", 1)).status_code(), arrowpb::OK);
  auto second = Open();
  arrowpb::BatchStatus status;
  second->stream->Write(SpansBatch(1, "0", 1));
  EXPECT_FALSE(second->stream->Read(&status));
  EXPECT_EQ(second->stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Close(*first).ok());
  // Its slot is free again once it ended.
  ASSERT_TRUE(WaitForActiveStreams(0));
  auto third = Open();
  EXPECT_EQ(RoundTrip(*third, SpansBatch(1, "0", 1)).status_code(), arrowpb::OK);
  EXPECT_TRUE(Close(*third).ok());
  EXPECT_EQ(receiver_->OtapStats().streams_refused_busy, 1);
}

TEST_F(OtapGrpcTest, ShutdownEndsOpenStreams) {
  Start();
  auto call = Open();
  EXPECT_EQ(RoundTrip(*call, SpansBatch(1, "0", 1)).status_code(), arrowpb::OK);
  // The client keeps its stream open; the receiver's deadline ends it.
  std::thread stop([&] {
    EXPECT_TRUE(
        receiver_
            ->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200))
            .ok());
  });
  arrowpb::BatchStatus status;
  EXPECT_FALSE(call->stream->Read(&status));
  EXPECT_FALSE(call->stream->Finish().ok());
  stop.join();
  EXPECT_EQ(receiver_->OtapStats().streams_active, 0);
}

TEST_F(OtapGrpcTest, AnIdleStreamIsCancelledAndABusyOneIsNot) {
  OtlpGrpcReceiverOptions options;
  options.otap_stream_idle_timeout = std::chrono::milliseconds(300);
  options.max_otap_streams = 1;
  Start(options);
  // Busy: a batch every 100 ms for a second.
  auto busy = Open();
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(RoundTrip(*busy, SpansBatch(i, std::to_string(i), 1)).status_code(),
              arrowpb::OK);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(Close(*busy).ok());
  EXPECT_EQ(receiver_->OtapStats().streams_idle_cancelled, 0);

  // Idle after its first batch: cancelled, and its slot taken by the next stream.
  auto idle = Open();
  EXPECT_EQ(RoundTrip(*idle, SpansBatch(1, "0", 1)).status_code(), arrowpb::OK);
  arrowpb::BatchStatus status;
  EXPECT_FALSE(idle->stream->Read(&status));  // returns once cancelled
  EXPECT_EQ(idle->stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(receiver_->OtapStats().streams_idle_cancelled, 1);
  ASSERT_TRUE(WaitForActiveStreams(0));
  auto next = Open();
  EXPECT_EQ(RoundTrip(*next, SpansBatch(1, "0", 1)).status_code(), arrowpb::OK);
  EXPECT_TRUE(Close(*next).ok());
}

TEST_F(OtapGrpcTest, OtapCanBeTurnedOff) {
  OtlpGrpcReceiverOptions options;
  options.otap = false;
  Start(options);
  auto call = Open();
  call->stream->Write(SpansBatch(1, "0", 1));
  arrowpb::BatchStatus status;
  EXPECT_FALSE(call->stream->Read(&status));
  // What makes the Collector's exporter fall back to OTLP Export.
  EXPECT_EQ(call->stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace otlp_arrow::service
