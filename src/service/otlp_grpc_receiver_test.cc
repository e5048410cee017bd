// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/service/otlp_grpc_receiver.h"

#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <thread>
#include <vector>

#include <arrow/flight/client.h>
#include <arrow/flight/server.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "../transport/test_certificates_internal.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "service_test_util.h"

namespace otlp_arrow::service {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using opentelemetry::proto::collector::trace::v1::TraceService;
using pipeline::IngestCode;
using pipeline::IngestResult;
using testing::DecodedStatus;
using testing::DecodeRpcStatus;
using testing::FakeTraceIngest;
using testing::SampleRequest;

constexpr char kExportMethod[] =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

IngestResult Result(IngestCode code, int64_t spans, std::string message = "",
                    std::chrono::milliseconds retry_after = {}) {
  IngestResult result;
  result.code = code;
  result.spans = spans;
  result.message = std::move(message);
  result.retry_after = retry_after;
  return result;
}

OtlpGrpcReceiverOptions LocalOptions() {
  OtlpGrpcReceiverOptions options;
  options.endpoint = "127.0.0.1:0";
  options.num_threads = 4;
  return options;
}

std::chrono::system_clock::time_point In(std::chrono::milliseconds ms) {
  return std::chrono::system_clock::now() + ms;
}

// Export with raw bytes, so that the test controls exactly what goes over the wire.
grpc::Status RawExport(const std::shared_ptr<grpc::Channel>& channel,
                       const std::string& bytes, grpc::ByteBuffer* response,
                       grpc_compression_algorithm compression = GRPC_COMPRESS_NONE) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(In(std::chrono::seconds(30)));
  if (compression != GRPC_COMPRESS_NONE) context.set_compression_algorithm(compression);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&context, kExportMethod, request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(ok);
  return status;
}

// A receiver made of `options`; null (and a test failure) if Make() refuses them.
std::unique_ptr<OtlpGrpcReceiver> MakeReceiver(
    OtlpGrpcReceiverOptions options, std::shared_ptr<pipeline::TraceIngest> ingest) {
  auto made = OtlpGrpcReceiver::Make(std::move(options), std::move(ingest));
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(made).ValueUnsafe() : nullptr;
}

class OtlpGrpcReceiverTest : public ::testing::Test {
 protected:
  void Start(OtlpGrpcReceiverOptions options = LocalOptions()) {
    receiver_ = MakeReceiver(options, ingest_);
    ASSERT_NE(receiver_, nullptr);
    ASSERT_TRUE(receiver_->Start().ok());
    ASSERT_GT(receiver_->port(), 0);
    channel_ = grpc::CreateChannel(Target(), grpc::InsecureChannelCredentials());
    stub_ = TraceService::NewStub(channel_);
  }

  void TearDown() override {
    if (receiver_ != nullptr) {
      EXPECT_TRUE(receiver_->Shutdown(In(std::chrono::seconds(5))).ok());
    }
  }

  std::string Target() const { return "127.0.0.1:" + std::to_string(receiver_->port()); }

  grpc::Status Export(const ExportTraceServiceRequest& request,
                      ExportTraceServiceResponse* response = nullptr,
                      std::multimap<std::string, std::string>* trailers = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(In(std::chrono::seconds(30)));
    ExportTraceServiceResponse ignored;
    grpc::Status status =
        stub_->Export(&context, request, response ? response : &ignored);
    if (trailers != nullptr) {
      for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
        trailers->emplace(std::string(key.data(), key.size()),
                          std::string(value.data(), value.size()));
      }
    }
    return status;
  }

  std::shared_ptr<FakeTraceIngest> ingest_ = std::make_shared<FakeTraceIngest>();
  std::unique_ptr<OtlpGrpcReceiver> receiver_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<TraceService::Stub> stub_;
};

TEST_F(OtlpGrpcReceiverTest, AcceptedRequestArrivesUnchanged) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 3));
  const ExportTraceServiceRequest request = SampleRequest(3);
  ExportTraceServiceResponse response;
  response.mutable_partial_success()->set_rejected_spans(99);  // must be cleared
  const grpc::Status status = Export(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.has_partial_success());

  const auto calls = ingest_->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].api, "protobuf");
  EXPECT_EQ(calls[0].bytes, request.SerializeAsString());

  const OtlpReceiverStats stats = receiver_->Stats();
  EXPECT_EQ(stats.requests, 1);
  EXPECT_EQ(stats.requests_accepted, 1);
  EXPECT_EQ(stats.requests_compressed, 0);
  EXPECT_EQ(stats.spans_received, 3);
  EXPECT_EQ(stats.spans_accepted, 3);
  EXPECT_EQ(stats.bytes_received_decompressed,
            static_cast<int64_t>(request.ByteSizeLong()));
  EXPECT_EQ(stats.bytes_received_wire, static_cast<int64_t>(request.ByteSizeLong()));
}

TEST_F(OtlpGrpcReceiverTest, BytesAreNotParsedByTheReceiver) {
  Start();
  // Not protobuf at all: the receiver passes it on, the pipeline judges it.
  const std::string garbage("\xff\xff\xff\x00garbage", 11);
  ingest_->Answer(Result(IngestCode::kInvalid, 0, "bad wire bytes at offset 0"));
  grpc::ByteBuffer response;
  const grpc::Status status = RawExport(channel_, garbage, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_EQ(ingest_->calls().size(), 1u);
  EXPECT_EQ(ingest_->calls()[0].bytes, garbage);
}

TEST_F(OtlpGrpcReceiverTest, EmptyRequest) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 0));
  grpc::ByteBuffer response;
  const grpc::Status status = RawExport(channel_, "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(ingest_->calls().size(), 1u);
  EXPECT_EQ(ingest_->calls()[0].bytes, "");
  EXPECT_EQ(response.Length(), 0u);
}

struct CodeCase {
  IngestCode code;
  grpc::StatusCode expected;
  bool retry_info;
};

class OtlpGrpcReceiverCodeTest : public OtlpGrpcReceiverTest,
                                 public ::testing::WithParamInterface<CodeCase> {};

TEST_P(OtlpGrpcReceiverCodeTest, MapsIngestCodeToStatus) {
  const CodeCase c = GetParam();
  Start();
  ingest_->Answer(
      Result(c.code, 5, "the pipeline's reason é", std::chrono::milliseconds(2500)));
  const grpc::Status status = Export(SampleRequest(5));
  EXPECT_EQ(status.error_code(), c.expected);
  EXPECT_EQ(status.error_message(), "the pipeline's reason é");

  DecodedStatus details;
  ASSERT_TRUE(DecodeRpcStatus(status.error_details(), &details));
  EXPECT_EQ(details.code, static_cast<int>(c.expected));
  EXPECT_EQ(details.message, "the pipeline's reason é");
  if (c.retry_info) {
    EXPECT_EQ(details.details, 1);
    ASSERT_TRUE(details.retry_delay.has_value());
    EXPECT_EQ(*details.retry_delay, std::chrono::milliseconds(2500));
  } else {
    EXPECT_EQ(details.details, 0);
    EXPECT_FALSE(details.retry_delay.has_value());
  }

  const OtlpReceiverStats stats = receiver_->Stats();
  EXPECT_EQ(stats.requests, 1);
  EXPECT_EQ(stats.requests_accepted, 0);
  EXPECT_EQ(stats.spans_received, 5);
  EXPECT_EQ(stats.requests_refused_invalid + stats.requests_refused_queue_full +
                stats.requests_refused_too_large + stats.requests_refused_shutting_down,
            1);
  EXPECT_EQ(stats.requests_refused_queue_full, c.code == IngestCode::kQueueFull ? 1 : 0);
  EXPECT_EQ(stats.spans_refused_too_large, c.code == IngestCode::kTooLarge ? 5 : 0);
}

INSTANTIATE_TEST_SUITE_P(
    Codes, OtlpGrpcReceiverCodeTest,
    ::testing::Values(
        CodeCase{IngestCode::kInvalid, grpc::StatusCode::INVALID_ARGUMENT, false},
        CodeCase{IngestCode::kQueueFull, grpc::StatusCode::RESOURCE_EXHAUSTED, true},
        CodeCase{IngestCode::kTooLarge, grpc::StatusCode::RESOURCE_EXHAUSTED, false},
        CodeCase{IngestCode::kShuttingDown, grpc::StatusCode::UNAVAILABLE, true}),
    [](const ::testing::TestParamInfo<CodeCase>& info) {
      switch (info.param.code) {
        case IngestCode::kInvalid:
          return "Invalid";
        case IngestCode::kQueueFull:
          return "QueueFull";
        case IngestCode::kTooLarge:
          return "TooLarge";
        case IngestCode::kShuttingDown:
          return "ShuttingDown";
        default:
          return "Other";
      }
    });

TEST_F(OtlpGrpcReceiverTest, QueueFullWithoutDelayGetsTheDefault) {
  OtlpGrpcReceiverOptions options = LocalOptions();
  options.default_retry_after = std::chrono::milliseconds(1500);
  Start(options);
  ingest_->Answer(Result(IngestCode::kQueueFull, 1, "queue full"));
  std::multimap<std::string, std::string> trailers;
  const grpc::Status status = Export(SampleRequest(1), nullptr, &trailers);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  DecodedStatus details;
  ASSERT_TRUE(DecodeRpcStatus(status.error_details(), &details));
  ASSERT_TRUE(details.retry_delay.has_value());
  EXPECT_EQ(*details.retry_delay, std::chrono::milliseconds(1500));
  // Not in the trailer the OpenTelemetry Python exporter reads (see ToGrpcStatus).
  EXPECT_EQ(trailers.count("google.rpc.retryinfo-bin"), 0u);
}

TEST_F(OtlpGrpcReceiverTest, MessageOverTheLimitIsResourceExhausted) {
  OtlpGrpcReceiverOptions options = LocalOptions();
  options.max_receive_message_bytes = 1024;
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  const ExportTraceServiceRequest big = SampleRequest(50);
  ASSERT_GT(big.ByteSizeLong(), 1024u);
  const grpc::Status status = Export(big);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // gRPC refuses it without RetryInfo, so OTLP clients drop it instead of retrying.
  EXPECT_TRUE(status.error_details().empty());
  EXPECT_TRUE(ingest_->calls().empty());

  // A small one still goes through.
  EXPECT_TRUE(Export(SampleRequest(1)).ok());
  EXPECT_EQ(ingest_->calls().size(), 1u);
}

TEST_F(OtlpGrpcReceiverTest, GzipCompressedCall) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 200));
  const ExportTraceServiceRequest request = SampleRequest(200);
  grpc::ClientContext context;
  context.set_deadline(In(std::chrono::seconds(30)));
  context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  ExportTraceServiceResponse response;
  const grpc::Status status = stub_->Export(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(ingest_->calls().size(), 1u);
  EXPECT_EQ(ingest_->calls()[0].bytes, request.SerializeAsString());
  const OtlpReceiverStats stats = receiver_->Stats();
  EXPECT_EQ(stats.requests_compressed, 1);
  EXPECT_EQ(stats.bytes_received_decompressed,
            static_cast<int64_t>(request.ByteSizeLong()));
}

// Sends 512 MiB of zeros, gzip-compressed by gRPC, to OTLP_ARROW_GZIP_BOMB_TARGET; run in
// a child process by GzipBombIsRefusedWithinBoundedMemory so that the client's memory
// does not count. The zeros are an untouched anonymous mapping, which costs no
// resident memory either.
TEST(OtlpGrpcGzipBombClient, Send) {
  const char* target = std::getenv("OTLP_ARROW_GZIP_BOMB_TARGET");
  if (target == nullptr) GTEST_SKIP() << "the client half of GzipBombIsRefused...";
  constexpr size_t kSize = size_t{512} << 20;
  void* zeros = mmap(nullptr, kSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(zeros, MAP_FAILED);
  {
    grpc::Slice slice(zeros, kSize, grpc::Slice::STATIC_SLICE);
    grpc::ByteBuffer request(&slice, 1);
    grpc::GenericStub stub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(In(std::chrono::seconds(120)));
    context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
    grpc::CompletionQueue cq;
    auto call = stub.PrepareUnaryCall(&context, kExportMethod, request, &cq);
    call->StartCall();
    grpc::ByteBuffer response;
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message();
    std::cout << "client: " << status.error_code() << " " << status.error_message()
              << "\n";
  }
  munmap(zeros, kSize);
}

TEST_F(OtlpGrpcReceiverTest, GzipBombIsRefusedWithinBoundedMemory) {
  Start();  // max_receive_message_bytes: 4 MiB
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  const bool can_reset = testing::ResetPeakRss();
  const int64_t before = testing::PeakRssBytes();

  const std::string filter = "--gtest_filter=OtlpGrpcGzipBombClient.Send";
  const std::string env = "OTLP_ARROW_GZIP_BOMB_TARGET=" + Target();
  std::vector<char*> argv = {const_cast<char*>("/proc/self/exe"),
                             const_cast<char*>(filter.c_str()), nullptr};
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(const_cast<char*>(env.c_str()));
  envp.push_back(nullptr);
  pid_t child = 0;
  ASSERT_EQ(
      posix_spawn(&child, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()),
      0);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
      << "client exit status " << wait_status;

  const int64_t growth = testing::PeakRssBytes() - before;
  std::cout << "gRPC gzip bomb: server peak RSS growth " << (growth >> 20) << " MiB"
            << (can_reset ? "" : " (peak not resettable)") << "\n";
  if (can_reset) {
    EXPECT_LT(growth, int64_t{128} << 20);
  }
  EXPECT_TRUE(ingest_->calls().empty());
}

// A call that does not fit in the memory budget beside those in flight is refused with
// RESOURCE_EXHAUSTED and RetryInfo (retryable); one that alone needs more than the budget
// without RetryInfo.
TEST_F(OtlpGrpcReceiverTest, CallsBeyondTheMemoryBudgetAreRefused) {
  const ExportTraceServiceRequest request = SampleRequest(4000);
  const auto size = static_cast<int64_t>(request.ByteSizeLong());
  // A call costs 6 × its size (7 × when gRPC hands it over in several slices): one fits,
  // two do not.
  OtlpGrpcReceiverOptions options = LocalOptions();
  options.memory_budget = std::make_shared<RequestMemoryBudget>(10 * size);
  options.transport_memory_bytes = 64 << 20;
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  ingest_->Hold();
  grpc::Status held_status;
  std::thread held([&] { held_status = Export(request); });
  ASSERT_TRUE(ingest_->WaitForWaiting(1));
  EXPECT_GE(options.memory_budget->reserved_bytes(), 6 * size);

  grpc::Status status = Export(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  DecodedStatus details;
  ASSERT_TRUE(DecodeRpcStatus(status.error_details(), &details));
  EXPECT_TRUE(details.retry_delay.has_value()) << "no RetryInfo: clients would not retry";

  ingest_->Release();
  held.join();
  EXPECT_TRUE(held_status.ok()) << held_status.error_message();
  EXPECT_EQ(options.memory_budget->reserved_bytes(), 0);
  EXPECT_TRUE(Export(request).ok());  // room again
  const auto stats = receiver_->Stats();
  EXPECT_EQ(stats.requests_refused_memory, 1);
  EXPECT_EQ(stats.requests_accepted, 2);

  // A budget smaller than one call: refused without RetryInfo, never to be retried.
  options.memory_budget = std::make_shared<RequestMemoryBudget>(4 * size);
  auto small = MakeReceiver(options, ingest_);
  ASSERT_NE(small, nullptr);
  ASSERT_TRUE(small->Start().ok());
  auto stub = TraceService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(small->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(In(std::chrono::seconds(30)));
  ExportTraceServiceResponse response;
  status = stub->Export(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(status.error_details().empty()) << "RetryInfo for a call that never fits";
  EXPECT_EQ(small->Stats().requests_refused_too_large, 1);
  EXPECT_TRUE(small->Shutdown().ok());
}

TEST_F(OtlpGrpcReceiverTest, ConcurrentCalls) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 2));
  constexpr int kThreads = 8;
  constexpr int kCalls = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto stub = TraceService::NewStub(channel_);
      for (int i = 0; i < kCalls; ++i) {
        grpc::ClientContext context;
        context.set_deadline(In(std::chrono::seconds(30)));
        ExportTraceServiceResponse response;
        if (stub->Export(&context, SampleRequest(2), &response).ok()) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kCalls);
  const OtlpReceiverStats stats = receiver_->Stats();
  EXPECT_EQ(stats.requests, kThreads * kCalls);
  EXPECT_EQ(stats.requests_accepted, kThreads * kCalls);
  EXPECT_EQ(stats.spans_accepted, 2 * kThreads * kCalls);
}

TEST_F(OtlpGrpcReceiverTest, ShutdownWaitsForCallsInFlight) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  ingest_->Hold();
  grpc::Status in_flight;
  std::thread client([&] { in_flight = Export(SampleRequest(1)); });
  ASSERT_TRUE(ingest_->WaitForWaiting(1));

  std::atomic<bool> shut_down{false};
  std::thread stopper([&] {
    EXPECT_TRUE(receiver_->Shutdown(In(std::chrono::seconds(20))).ok());
    shut_down = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(shut_down.load());  // the call is still in TraceIngest
  ingest_->Release();
  stopper.join();
  client.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  EXPECT_TRUE(shut_down.load());

  // Closed: a new call fails, and Shutdown() again is fine.
  grpc::ClientContext context;
  context.set_deadline(In(std::chrono::seconds(2)));
  ExportTraceServiceResponse response;
  EXPECT_FALSE(stub_->Export(&context, SampleRequest(1), &response).ok());
  EXPECT_TRUE(receiver_->Shutdown().ok());
}

TEST_F(OtlpGrpcReceiverTest, ShutdownDeadlineCancelsStuckCalls) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  ingest_->Hold();
  grpc::Status in_flight;
  std::thread client([&] { in_flight = Export(SampleRequest(1)); });
  ASSERT_TRUE(ingest_->WaitForWaiting(1));
  std::thread releaser([&] {
    // TraceIngest returns within its wait bound; here, a second.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    ingest_->Release();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(receiver_->Shutdown(In(std::chrono::milliseconds(100))).ok());
  releaser.join();
  client.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  // Cancelled at the deadline, before the ingest returned; UNAVAILABLE is retryable.
  EXPECT_EQ(in_flight.error_code(), grpc::StatusCode::UNAVAILABLE)
      << in_flight.error_message();
}

TEST_F(OtlpGrpcReceiverTest, ThrowingIngestIsInternal) {
  auto receiver =
      MakeReceiver(LocalOptions(), std::make_shared<testing::ThrowingTraceIngest>());
  ASSERT_NE(receiver, nullptr);
  ASSERT_TRUE(receiver->Start().ok());
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(receiver->port()),
                                     grpc::InsecureChannelCredentials());
  for (int i = 0; i < 2; ++i) {
    grpc::ByteBuffer response;
    const grpc::Status status = RawExport(channel, "x", &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
    EXPECT_NE(status.error_message().find("boom"), std::string::npos);
  }
  EXPECT_EQ(receiver->Stats().requests_failed, 2);
  EXPECT_TRUE(receiver->Shutdown().ok());
}

TEST_F(OtlpGrpcReceiverTest, BadOptions) {
  const auto start = [&](OtlpGrpcReceiverOptions options) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto receiver,
                          OtlpGrpcReceiver::Make(std::move(options), ingest_));
    return receiver->Start();
  };
  OtlpGrpcReceiverOptions options = LocalOptions();
  options.endpoint = "nonsense";
  EXPECT_TRUE(start(options).IsInvalid());
  options = LocalOptions();
  options.tls_cert_pem = "x";
  EXPECT_TRUE(start(options).IsInvalid());
  options = LocalOptions();
  options.client_ca_pem = "x";
  EXPECT_TRUE(start(options).IsInvalid());
  options = LocalOptions();
  options.max_receive_message_bytes = 0;
  EXPECT_TRUE(start(options).IsInvalid());
  EXPECT_TRUE(OtlpGrpcReceiver::Make(LocalOptions(), nullptr).status().IsInvalid());
}

TEST_F(OtlpGrpcReceiverTest, PortInUseIsIOError) {
  Start();
  OtlpGrpcReceiverOptions options = LocalOptions();
  options.endpoint = Target();
  auto second = MakeReceiver(options, ingest_);
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->Start().IsIOError());
  // The first one is unaffected.
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  EXPECT_TRUE(Export(SampleRequest(1)).ok());
}

TEST_F(OtlpGrpcReceiverTest, StartTwiceAndDestroyWithoutShutdown) {
  auto receiver = MakeReceiver(LocalOptions(), ingest_);
  ASSERT_NE(receiver, nullptr);
  ASSERT_TRUE(receiver->Start().ok());
  EXPECT_TRUE(receiver->Start().IsInvalid());
  receiver.reset();  // the destructor shuts down
  auto never_started = MakeReceiver(LocalOptions(), ingest_);
  ASSERT_NE(never_started, nullptr);
  EXPECT_TRUE(never_started->Shutdown().ok());
}

TEST_F(OtlpGrpcReceiverTest, TlsAndMutualTls) {
  const auto server = transport::testing::SelfSigned("localhost");
  const auto client = transport::testing::SelfSigned("client");
  OtlpGrpcReceiverOptions options = LocalOptions();
  options.tls_cert_pem = server.cert_pem;
  options.tls_key_pem = server.key_pem;
  options.client_ca_pem = client.cert_pem;
  receiver_ = MakeReceiver(options, ingest_);
  ASSERT_NE(receiver_, nullptr);
  ASSERT_TRUE(receiver_->Start().ok());
  ingest_->Answer(Result(IngestCode::kAccepted, 1));

  const auto export_with = [&](std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto channel = grpc::CreateCustomChannel(Target(), credentials, args);
    auto stub = TraceService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(In(std::chrono::seconds(10)));
    ExportTraceServiceResponse response;
    return stub->Export(&context, SampleRequest(1), &response);
  };
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = server.cert_pem;
  with_cert.pem_cert_chain = client.cert_pem;
  with_cert.pem_private_key = client.key_pem;
  const grpc::Status mtls = export_with(grpc::SslCredentials(with_cert));
  EXPECT_TRUE(mtls.ok()) << mtls.error_message();

  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = server.cert_pem;
  EXPECT_EQ(export_with(grpc::SslCredentials(without_cert)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(export_with(grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ingest_->calls().size(), 1u);
}

// The gateway process links Arrow Flight, whose wheel carries its own gRPC, beside
// Debian's: both must serve in one process.
class NoopFlightServer : public arrow::flight::FlightServerBase {};

TEST_F(OtlpGrpcReceiverTest, ServesBesideAnArrowFlightServer) {
  NoopFlightServer flight;
  auto location = arrow::flight::Location::ForGrpcTcp("127.0.0.1", 0);
  ASSERT_TRUE(location.ok());
  ASSERT_TRUE(flight.Init(arrow::flight::FlightServerOptions(*location)).ok());
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 4));
  EXPECT_TRUE(Export(SampleRequest(4)).ok());

  auto flight_location = arrow::flight::Location::ForGrpcTcp("127.0.0.1", flight.port());
  ASSERT_TRUE(flight_location.ok());
  auto connected = arrow::flight::FlightClient::Connect(*flight_location);
  ASSERT_TRUE(connected.ok()) << connected.status().ToString();
  auto flight_client = std::move(*connected);
  // The default server answers ListFlights with NotImplemented: a full round trip
  // through Flight's gRPC.
  const auto listing = flight_client->ListFlights();
  EXPECT_TRUE(listing.status().IsNotImplemented()) << listing.status().ToString();
  EXPECT_TRUE(Export(SampleRequest(4)).ok());
  EXPECT_TRUE(flight.Shutdown().ok());
  EXPECT_EQ(ingest_->calls().size(), 2u);
}

}  // namespace
}  // namespace otlp_arrow::service
