// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/service/otlp_http_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../transport/test_certificates_internal.h"
#include "service_test_util.h"

namespace otlp_arrow::service {
namespace {

using pipeline::IngestCode;
using pipeline::IngestResult;
using testing::DecodedStatus;
using testing::DecodeRpcStatus;
using testing::FakeTraceIngest;
using testing::Gzip;
using testing::SampleRequest;

constexpr char kProtobuf[] = "application/x-protobuf";
constexpr char kJson[] = "application/json";

IngestResult Result(IngestCode code, int64_t spans, std::string message = "",
                    std::chrono::milliseconds retry_after = {}) {
  IngestResult result;
  result.code = code;
  result.spans = spans;
  result.message = std::move(message);
  result.retry_after = retry_after;
  return result;
}

OtlpHttpReceiverOptions LocalOptions() {
  OtlpHttpReceiverOptions options;
  options.endpoint = "127.0.0.1:0";
  options.num_threads = 8;
  return options;
}

// Sends `request` as is on a new connection and returns everything the server sends
// until it closes the connection or stays silent for `timeout`.
std::string RawExchange(int port, const std::string& request,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[4096];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

// A connection to the receiver, sending `bytes` (possibly a part of a request) and then
// nothing more; closed when destroyed.
class RawConnection {
 public:
  RawConnection(int port, const std::string& bytes) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&address),
                                     sizeof(address)) == 0;
    if (connected_ && !bytes.empty()) Send(bytes);
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Whether the server closed the connection within `timeout` (recv saw the end or a
  // reset, after whatever answer came first).
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      timeval tv{0, 100'000};
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// A receiver made of `options`; null (and a test failure) if Make() refuses them.
std::unique_ptr<OtlpHttpReceiver> MakeReceiver(
    OtlpHttpReceiverOptions options, std::shared_ptr<pipeline::TraceIngest> ingest) {
  auto made = OtlpHttpReceiver::Make(std::move(options), std::move(ingest));
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(made).ValueUnsafe() : nullptr;
}

class OtlpHttpReceiverTest : public ::testing::Test {
 protected:
  // httplib's TLS client writes with OpenSSL, without MSG_NOSIGNAL: a server that closed
  // the connection (a refused handshake) would kill the test with SIGPIPE, as main()
  // prevents for the program.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }

  void Start(OtlpHttpReceiverOptions options = LocalOptions()) {
    receiver_ = MakeReceiver(options, ingest_);
    ASSERT_NE(receiver_, nullptr);
    const arrow::Status status = receiver_->Start();
    ASSERT_TRUE(status.ok()) << status.ToString();
    ASSERT_GT(receiver_->port(), 0);
    client_ = NewClient();
  }

  void TearDown() override {
    client_.reset();
    if (receiver_ != nullptr) {
      EXPECT_TRUE(receiver_->Shutdown().ok());
    }
  }

  std::unique_ptr<httplib::Client> NewClient() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", receiver_->port());
    client->set_read_timeout(std::chrono::seconds(60));
    client->set_write_timeout(std::chrono::seconds(60));
    client->set_keep_alive(true);
    return client;
  }

  httplib::Result Post(const std::string& body, const std::string& content_type,
                       httplib::Headers headers = {},
                       const std::string& path = "/v1/traces") {
    return client_->Post(path, headers, body, content_type);
  }

  // A body sent with chunked transfer coding, `chunk` bytes at a time.
  httplib::Result PostChunked(std::string body, const std::string& content_type,
                              httplib::Headers headers, size_t chunk = 1000) {
    auto data = std::make_shared<std::string>(std::move(body));
    return client_->Post(
        "/v1/traces", headers,
        [data, chunk](size_t offset, httplib::DataSink& sink) {
          if (offset >= data->size()) {
            sink.done();
            return true;
          }
          const size_t n = std::min(chunk, data->size() - offset);
          return sink.write(data->data() + offset, n);
        },
        content_type);
  }

  std::shared_ptr<FakeTraceIngest> ingest_ = std::make_shared<FakeTraceIngest>();
  std::unique_ptr<OtlpHttpReceiver> receiver_;
  std::unique_ptr<httplib::Client> client_;
};

DecodedStatus ProtobufStatus(const httplib::Result& res) {
  DecodedStatus status;
  EXPECT_EQ(res->get_header_value("Content-Type"), kProtobuf);
  EXPECT_TRUE(DecodeRpcStatus(res->body, &status));
  return status;
}

TEST_F(OtlpHttpReceiverTest, ProtobufAccepted) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 3));
  const std::string body = SampleRequest(3).SerializeAsString();
  const auto res = Post(body, kProtobuf);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), kProtobuf);
  EXPECT_EQ(res->body, "");  // an empty ExportTraceServiceResponse
  const auto calls = ingest_->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].api, "protobuf");
  EXPECT_EQ(calls[0].bytes, body);

  const auto stats = receiver_->Stats();
  EXPECT_EQ(stats.protobuf.requests, 1);
  EXPECT_EQ(stats.protobuf.requests_accepted, 1);
  EXPECT_EQ(stats.protobuf.spans_accepted, 3);
  EXPECT_EQ(stats.protobuf.bytes_received_wire, static_cast<int64_t>(body.size()));
  EXPECT_EQ(stats.protobuf.bytes_received_decompressed,
            static_cast<int64_t>(body.size()));
  EXPECT_EQ(stats.json.requests, 0);
}

TEST_F(OtlpHttpReceiverTest, JsonAcceptedWithCharset) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 0));
  const std::string body = R"({"resourceSpans":[]})";
  const auto res = Post(body, "Application/JSON ; charset=utf-8");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), kJson);
  EXPECT_EQ(nlohmann::json::parse(res->body), nlohmann::json::object());
  const auto calls = ingest_->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].api, "json");
  EXPECT_EQ(calls[0].bytes, body);
  EXPECT_EQ(receiver_->Stats().json.requests_accepted, 1);
}

TEST_F(OtlpHttpReceiverTest, GzipBody) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 100));
  const std::string body = SampleRequest(100).SerializeAsString();
  const std::string gz = Gzip(body);
  ASSERT_LT(gz.size(), body.size());
  const auto res = Post(gz, kProtobuf, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ASSERT_EQ(ingest_->calls().size(), 1u);
  EXPECT_EQ(ingest_->calls()[0].bytes, body);
  const auto stats = receiver_->Stats().protobuf;
  EXPECT_EQ(stats.requests_compressed, 1);
  EXPECT_EQ(stats.bytes_received_wire, static_cast<int64_t>(gz.size()));
  EXPECT_EQ(stats.bytes_received_decompressed, static_cast<int64_t>(body.size()));
}

TEST_F(OtlpHttpReceiverTest, GzipChunkedAndConcatenatedMembers) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  const std::string a = SampleRequest(300).SerializeAsString();
  const std::string b = R"({"resourceSpans":[{"scopeSpans":[]}]})";
  // Chunks of 7 bytes split gzip headers and trailers across reads.
  auto res = PostChunked(Gzip(a), kProtobuf, {{"Content-Encoding", "gzip"}}, 7);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  res = PostChunked(Gzip(b) + Gzip(b), kJson, {{"Content-Encoding", "identity, GZIP"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const auto calls = ingest_->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].bytes, a);
  EXPECT_EQ(calls[1].bytes, b + b);
}

struct StatusCase {
  IngestCode code;
  int http_status;
  int rpc_code;
  std::chrono::milliseconds retry_after;
  std::string expected_retry_after;  // empty: no header
};

class OtlpHttpReceiverStatusTest : public OtlpHttpReceiverTest,
                                   public ::testing::WithParamInterface<StatusCase> {};

TEST_P(OtlpHttpReceiverStatusTest, ProtobufAndJsonErrorBodies) {
  const StatusCase c = GetParam();
  OtlpHttpReceiverOptions options = LocalOptions();
  options.default_retry_after = std::chrono::milliseconds(1000);
  Start(options);
  ingest_->Answer(Result(c.code, 4, "pipeline says \"no\" ✗", c.retry_after));

  const auto res = Post(SampleRequest(4).SerializeAsString(), kProtobuf);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, c.http_status);
  EXPECT_EQ(res->get_header_value("Retry-After"), c.expected_retry_after);
  const DecodedStatus status = ProtobufStatus(res);
  EXPECT_EQ(status.code, c.rpc_code);
  EXPECT_EQ(status.message, "pipeline says \"no\" ✗");

  const auto json_res = Post("{}", kJson);
  ASSERT_TRUE(json_res);
  EXPECT_EQ(json_res->status, c.http_status);
  EXPECT_EQ(json_res->get_header_value("Retry-After"), c.expected_retry_after);
  EXPECT_EQ(json_res->get_header_value("Content-Type"), kJson);
  const auto json = nlohmann::json::parse(json_res->body);
  EXPECT_EQ(json["code"], c.rpc_code);
  EXPECT_EQ(json["message"], "pipeline says \"no\" ✗");

  const auto stats = receiver_->Stats();
  EXPECT_EQ(stats.protobuf.requests_accepted + stats.json.requests_accepted, 0);
  EXPECT_EQ(stats.protobuf.spans_received, 4);
}

INSTANTIATE_TEST_SUITE_P(
    Codes, OtlpHttpReceiverStatusTest,
    ::testing::Values(
        StatusCase{IngestCode::kInvalid, 400, 3, std::chrono::milliseconds(0), ""},
        StatusCase{IngestCode::kQueueFull, 429, 8, std::chrono::milliseconds(2500), "3"},
        StatusCase{IngestCode::kQueueFull, 429, 8, std::chrono::milliseconds(0), "1"},
        StatusCase{IngestCode::kTooLarge, 413, 8, std::chrono::milliseconds(0), ""},
        StatusCase{IngestCode::kShuttingDown, 503, 14, std::chrono::milliseconds(0), "1"},
        StatusCase{IngestCode::kShuttingDown, 503, 14, std::chrono::milliseconds(30000),
                   "30"}),
    [](const ::testing::TestParamInfo<StatusCase>& info) {
      return "Http" + std::to_string(info.param.http_status) + "RetryAfter" +
             std::to_string(info.param.retry_after.count()) + "ms";
    });

TEST_F(OtlpHttpReceiverTest, UnsupportedContentTypeAndEncoding) {
  Start();
  auto res = Post("hello", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  EXPECT_EQ(res->get_header_value("Content-Type"), kJson);
  EXPECT_NE(
      nlohmann::json::parse(res->body)["message"].get<std::string>().find("text/plain"),
      std::string::npos);

  res = Post("x", kProtobuf, {{"Content-Encoding", "br"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  EXPECT_NE(ProtobufStatus(res).message.find("br"), std::string::npos);

  res = Post(Gzip(Gzip("x")), kProtobuf, {{"Content-Encoding", "gzip, gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);

  res = client_->Post("/v1/traces", "", "");  // no Content-Type at all
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);

  EXPECT_TRUE(ingest_->calls().empty());
  EXPECT_EQ(receiver_->Stats().requests_unsupported_media_type, 4);
  EXPECT_EQ(receiver_->Stats().protobuf.requests, 0);
}

TEST_F(OtlpHttpReceiverTest, NotFoundAndMethodNotAllowed) {
  Start();
  auto res = Post("x", kProtobuf, {}, "/v1/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(ProtobufStatus(res).code, 5);

  res = client_->Get("/v1/traces");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST");

  res = client_->Put("/v1/traces", "{}", kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);

  res = client_->Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  const auto stats = receiver_->Stats();
  EXPECT_EQ(stats.requests_not_found, 2);
  EXPECT_EQ(stats.requests_method_not_allowed, 2);
  EXPECT_TRUE(ingest_->calls().empty());
}

TEST_F(OtlpHttpReceiverTest, MalformedGzipIsBadRequest) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  auto res = Post("this is not gzip", kProtobuf, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(ProtobufStatus(res).code, 3);

  const std::string gz = Gzip(SampleRequest(10).SerializeAsString());
  res = Post(gz.substr(0, gz.size() - 6), kProtobuf, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);  // truncated: no trailer

  res = Post(gz + "trailing garbage", kProtobuf, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);

  res = Post("", kProtobuf, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);

  EXPECT_TRUE(ingest_->calls().empty());
  EXPECT_EQ(receiver_->Stats().protobuf.requests_refused_invalid, 4);
  // The connection is still usable.
  res = Post(gz, kProtobuf, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(OtlpHttpReceiverTest, BodyOverTheLimitIs413AndTheConnectionGoesOn) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.max_request_bytes = 64 << 10;
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 1));

  // Declared too large (but small enough to drain): read and dropped.
  auto res = Post(std::string(100 << 10, 'x'), kProtobuf);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(ProtobufStatus(res).code, 8);
  EXPECT_NE(res->get_header_value("Connection"), "close");

  // Chunked, so only found out while reading.
  res = PostChunked(std::string(100 << 10, 'x'), kJson, {}, 4096);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);

  // Exactly at the limit is fine.
  res = Post(std::string(64 << 10, 'x'), kProtobuf);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  EXPECT_EQ(ingest_->calls().size(), 1u);
  const auto stats = receiver_->Stats();
  EXPECT_EQ(stats.protobuf.requests_refused_too_large, 1);
  EXPECT_EQ(stats.json.requests_refused_too_large, 1);
  EXPECT_EQ(stats.protobuf.requests_accepted, 1);
}

TEST_F(OtlpHttpReceiverTest, DecompressedOverTheLimitIs413) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.max_decompressed_bytes = 100 << 10;
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  const auto res =
      Post(Gzip(std::string(200 << 10, 'a')), kProtobuf, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_TRUE(ingest_->calls().empty());
  const auto ok =
      Post(Gzip(std::string(100 << 10, 'a')), kProtobuf, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// 1 GiB of zeros, gzip-compressed to about 1 MiB: refused once 16 MiB are inflated,
// while the process's peak memory stays far below what inflating it would take.
TEST_F(OtlpHttpReceiverTest, DecompressionBombIsRefusedWithinBoundedMemory) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.max_decompressed_bytes = 16 << 20;
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  const std::string bomb = testing::GzipZeros(1024);
  ASSERT_LT(bomb.size(), size_t{2} << 20);

  const bool can_reset = testing::ResetPeakRss();
  const int64_t before = testing::PeakRssBytes();
  auto res = PostChunked(bomb, kProtobuf, {{"Content-Encoding", "gzip"}}, 64 << 10);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);
  res = Post(bomb, kJson, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);
  const int64_t growth = testing::PeakRssBytes() - before;
  std::cout << "HTTP gzip bomb: " << bomb.size() << " bytes, peak RSS growth "
            << (growth >> 20) << " MiB" << (can_reset ? "" : " (peak not resettable)")
            << "\n";
  if (can_reset) {
    EXPECT_LT(growth, int64_t{128} << 20);
  }

  EXPECT_TRUE(ingest_->calls().empty());
  const auto stats = receiver_->Stats();
  EXPECT_EQ(stats.protobuf.requests_refused_too_large, 1);
  EXPECT_EQ(stats.json.requests_refused_too_large, 1);
  // The whole compressed body was read (drained) so that the client saw the 413.
  EXPECT_EQ(stats.protobuf.bytes_received_wire, static_cast<int64_t>(bomb.size()));
}

// Requests that do not fit in the memory budget beside those in flight are refused with
// 429 and Retry-After, their bodies drained, not kept; one that alone needs more than the
// budget is 413.
TEST_F(OtlpHttpReceiverTest, RequestsBeyondTheMemoryBudgetAreRefused) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.memory_budget = std::make_shared<RequestMemoryBudget>(2 << 20);
  options.default_retry_after = std::chrono::seconds(2);
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  ingest_->Hold();
  // A protobuf body costs 6 times its size (itself and its decoding).
  const std::string body(200 << 10, 'x');
  int held_status = 0;
  std::thread held([&] {
    auto client = NewClient();
    const auto res = client->Post("/v1/traces", body, kProtobuf);
    held_status = res ? res->status : -1;
  });
  ASSERT_TRUE(ingest_->WaitForWaiting(1));
  EXPECT_EQ(options.memory_budget->reserved_bytes(), 6 * (200 << 10));

  auto res = Post(body, kProtobuf);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "2");
  EXPECT_EQ(ProtobufStatus(res).code, 8);
  EXPECT_NE(res->get_header_value("Connection"),
            "close");  // drained: the connection goes on
  // Chunked: read, then refused when its decoding does not fit.
  res = PostChunked(std::string(300 << 10, 'y'), kProtobuf, {}, 16 << 10);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 429);
  // More than the whole budget: never retryable.
  res = Post(std::string(400 << 10, 'z'), kProtobuf);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(ingest_->calls().size(), 1u);

  ingest_->Release();
  held.join();
  EXPECT_EQ(held_status, 200);
  EXPECT_EQ(options.memory_budget->reserved_bytes(), 0);
  res = Post(body, kProtobuf);  // room again
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const auto stats = receiver_->Stats();
  EXPECT_EQ(stats.protobuf.requests_refused_memory, 2);
  EXPECT_EQ(stats.protobuf.requests_refused_too_large, 1);
  EXPECT_EQ(stats.protobuf.requests_accepted, 2);
}

TEST_F(OtlpHttpReceiverTest, HugeDeclaredBodyIsRefusedUnread) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.max_request_bytes = 1 << 20;
  Start(options);
  const std::string head =
      "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000000000\r\n";
  // Without Expect: answered at once, the connection closed, no body awaited.
  auto start = std::chrono::steady_clock::now();
  std::string response = RawExchange(receiver_->port(), head + "\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));

  // With Expect: 100-continue: the final answer instead of "100 Continue".
  response = RawExchange(receiver_->port(), head + "Expect: 100-continue\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  EXPECT_EQ(response.find("100 Continue"), std::string::npos);
  EXPECT_EQ(receiver_->Stats().json.requests_refused_too_large, 2);
}

TEST_F(OtlpHttpReceiverTest, ExpectContinueForAGoodRequest) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 0));
  const std::string response = RawExchange(
      receiver_->port(),
      "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n{}");
  EXPECT_EQ(response.rfind("HTTP/1.1 100 Continue", 0), 0u) << response;
  EXPECT_NE(response.find("HTTP/1.1 200 OK"), std::string::npos) << response;
  ASSERT_EQ(ingest_->calls().size(), 1u);
  EXPECT_EQ(ingest_->calls()[0].bytes, "{}");
}

TEST_F(OtlpHttpReceiverTest, BodyToAnotherPathIsNotRead) {
  Start();
  // A chunked body that never ends: the 404 must not wait for it.
  const auto start = std::chrono::steady_clock::now();
  const std::string response = RawExchange(
      receiver_->port(),
      "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
      "Transfer-Encoding: chunked\r\n\r\n1000\r\n" +
          std::string(0x1000, 'z') + "\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 404", 0), 0u) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST_F(OtlpHttpReceiverTest, GarbageNeverCrashesTheServer) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.read_timeout = std::chrono::seconds(1);
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 0));
  const std::vector<std::string> inputs = {
      "GARBAGE\r\n\r\n",
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // TLS hello
      "POST /v1/traces HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n",  // bad chunk size
      "POST /v1/traces HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 10\r\n\r\n{}",  // body cut short, then silence
      "POST /v1/traces HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Content-Length: abc\r\n\r\n{}",
      "POST /v1/traces HTTP/1.1\r\nContent-Type: application/x-protobuf\r\n"
      "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00",
      "POST " + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n",
      "POST /v1/traces HTTP/1.1\r\n" + std::string(20000, 'h') + ": x\r\n\r\n",
      std::string(1 << 16, '\0'),
  };
  for (const std::string& input : inputs) {
    RawExchange(receiver_->port(), input, std::chrono::seconds(3));
  }
  // Still serving.
  const auto res = Post("{}", kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(OtlpHttpReceiverTest, ThrowingIngestIs500) {
  auto receiver =
      MakeReceiver(LocalOptions(), std::make_shared<testing::ThrowingTraceIngest>());
  ASSERT_NE(receiver, nullptr);
  ASSERT_TRUE(receiver->Start().ok());
  httplib::Client client("127.0.0.1", receiver->port());
  auto res = client.Post("/v1/traces", "x", kProtobuf);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  DecodedStatus status;
  ASSERT_TRUE(DecodeRpcStatus(res->body, &status));
  EXPECT_NE(status.message.find("boom"), std::string::npos);
  res = client.Post("/v1/traces", "{}", kJson);  // throws a non-std exception
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->get_header_value("EXCEPTION_WHAT"), "");  // nothing leaks
  EXPECT_EQ(receiver->Stats().protobuf.requests_failed, 1);
  EXPECT_EQ(receiver->Stats().json.requests_failed, 1);
  EXPECT_TRUE(receiver->Shutdown().ok());
}

TEST_F(OtlpHttpReceiverTest, ConcurrentClients) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 3));
  constexpr int kThreads = 8;
  constexpr int kRequests = 25;
  const std::string body = SampleRequest(3).SerializeAsString();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto client = NewClient();
      for (int i = 0; i < kRequests; ++i) {
        const auto res = client->Post("/v1/traces", body, kProtobuf);
        if (res && res->status == 200) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  const auto stats = receiver_->Stats().protobuf;
  EXPECT_EQ(stats.requests, kThreads * kRequests);
  EXPECT_EQ(stats.spans_accepted, 3 * kThreads * kRequests);
}

TEST_F(OtlpHttpReceiverTest, ShutdownFinishesRequestsInFlight) {
  Start();
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  ingest_->Hold();
  int status = 0;
  std::thread client([&] {
    auto cli = NewClient();
    cli->set_keep_alive(false);
    const auto res = cli->Post("/v1/traces", "{}", kJson);
    status = res ? res->status : -1;
  });
  ASSERT_TRUE(ingest_->WaitForWaiting(1));
  client_.reset();  // no idle keep-alive connection holds a thread
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    EXPECT_TRUE(receiver_->Shutdown().ok());
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(done.load());
  ingest_->Release();
  stopper.join();
  client.join();
  EXPECT_EQ(status, 200);

  httplib::Client after("127.0.0.1", receiver_->port());
  after.set_connection_timeout(std::chrono::seconds(2));
  EXPECT_FALSE(after.Post("/v1/traces", "{}", kJson));
  EXPECT_TRUE(receiver_->Shutdown().ok());
}

TEST_F(OtlpHttpReceiverTest, ShutdownWithAnIdleKeepAliveConnection) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.keep_alive_timeout = std::chrono::seconds(1);
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 0));
  const auto res = Post("{}", kJson);  // client_ keeps its connection open
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(receiver_->Shutdown().ok());
  const auto took = std::chrono::steady_clock::now() - start;
  std::cout << "Shutdown with an idle keep-alive connection took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms\n";
  EXPECT_LT(took, std::chrono::seconds(3));
}

// Connections that say nothing, or send a request head and then stall (slowloris), hold
// no thread: with many more of them than threads, an ordinary request is served at once.
TEST_F(OtlpHttpReceiverTest, IdleAndSlowConnectionsDoNotHoldUpOthers) {
  Start();  // 8 threads
  ingest_->Answer(Result(IngestCode::kAccepted, 1));
  std::vector<std::unique_ptr<RawConnection>> bad;
  for (int i = 0; i < 32; ++i) {
    bad.push_back(std::make_unique<RawConnection>(receiver_->port(), ""));
    bad.push_back(std::make_unique<RawConnection>(
        receiver_->port(), "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Ty"));
    ASSERT_TRUE(bad.back()->connected());
  }
  // A request whose head is complete but whose body stalls holds no thread either.
  bad.push_back(std::make_unique<RawConnection>(
      receiver_->port(),
      "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100\r\n\r\n{"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // all accepted first
  for (int i = 0; i < 3; ++i) {
    auto client = NewClient();
    client->set_read_timeout(std::chrono::seconds(3));
    const auto start = std::chrono::steady_clock::now();
    const auto res = client->Post("/v1/traces", "{}", kJson);
    ASSERT_TRUE(res) << "not served within 3 s: " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    std::cout << "served beside 65 stalled connections in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count()
              << " ms\n";
  }
}

// A head that trickles in, a byte at a time, is cut off at header_timeout however
// steadily it comes; a body that stalls, at read_timeout.
TEST_F(OtlpHttpReceiverTest, SlowHeadAndStalledBodyAreClosed) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.header_timeout = std::chrono::seconds(1);
  options.read_timeout = std::chrono::seconds(1);
  Start(options);
  RawConnection slow(receiver_->port(), "P");
  const std::string rest =
      "OST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaa";
  bool closed = false;
  for (size_t i = 0; i < rest.size() && !closed; ++i) {
    slow.Send(rest.substr(i, 1));
    closed = slow.ClosedWithin(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(closed || slow.ClosedWithin(std::chrono::seconds(2)))
      << "a head taking longer than header_timeout was not cut off";

  const auto start = std::chrono::steady_clock::now();
  const std::string response =
      RawExchange(receiver_->port(),
                  "POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
                  std::chrono::seconds(4));
  // Closed (the timeout closes the socket; there is no one to read an answer).
  EXPECT_EQ(response, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (receiver_->Stats().json.requests_refused_invalid == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(receiver_->Stats().json.requests_refused_invalid, 1);
}

// Past max_connections, a new connection is closed at once; the others go on.
TEST_F(OtlpHttpReceiverTest, ConnectionsOverTheLimitAreClosed) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.max_connections = 4;
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 0));
  ASSERT_EQ(Post("{}", kJson)->status, 200);  // client_ holds one connection
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawConnection>(receiver_->port(), ""));
  }
  RawConnection over(receiver_->port(), "");
  EXPECT_TRUE(over.ClosedWithin(std::chrono::seconds(3)));
  EXPECT_EQ(receiver_->Stats().connections_refused, 1);
  const auto res = Post("{}", kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(OtlpHttpReceiverTest, BadOptionsAndPortInUse) {
  const auto start = [&](OtlpHttpReceiverOptions options) -> arrow::Status {
    ARROW_ASSIGN_OR_RAISE(auto receiver,
                          OtlpHttpReceiver::Make(std::move(options), ingest_));
    return receiver->Start();
  };
  OtlpHttpReceiverOptions options = LocalOptions();
  options.endpoint = "127.0.0.1";
  EXPECT_TRUE(start(options).IsInvalid());
  options = LocalOptions();
  options.traces_path = "v1/traces";
  EXPECT_TRUE(start(options).IsInvalid());
  options = LocalOptions();
  options.max_decompressed_bytes = 0;
  EXPECT_TRUE(start(options).IsInvalid());
  options = LocalOptions();
  options.tls_cert_pem = "not a certificate";
  options.tls_key_pem = "not a key";
  EXPECT_TRUE(start(options).IsInvalid());

  Start();
  options = LocalOptions();
  options.endpoint = "127.0.0.1:" + std::to_string(receiver_->port());
  EXPECT_TRUE(start(options).IsIOError());
  auto twice = MakeReceiver(LocalOptions(), ingest_);
  ASSERT_NE(twice, nullptr);
  ASSERT_TRUE(twice->Start().ok());
  EXPECT_TRUE(twice->Start().IsInvalid());
}

TEST_F(OtlpHttpReceiverTest, CustomPath) {
  OtlpHttpReceiverOptions options = LocalOptions();
  options.traces_path = "/otlp/v1/traces";
  Start(options);
  ingest_->Answer(Result(IngestCode::kAccepted, 0));
  auto res = Post("{}", kJson, {}, "/otlp/v1/traces");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = Post("{}", kJson, {}, "/v1/traces");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

X509_STORE* StoreOf(const std::string& pem) {
  X509_STORE* store = X509_STORE_new();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(store, cert);
  X509_free(cert);
  BIO_free(bio);
  return store;
}

TEST_F(OtlpHttpReceiverTest, HttpsAndMutualTls) {
  const auto server = transport::testing::SelfSigned("localhost");
  const auto client = transport::testing::SelfSigned("client");
  OtlpHttpReceiverOptions options = LocalOptions();
  options.tls_cert_pem = server.cert_pem;
  options.tls_key_pem = server.key_pem;
  options.client_ca_pem = client.cert_pem;
  receiver_ = MakeReceiver(options, ingest_);
  ASSERT_NE(receiver_, nullptr);
  ASSERT_TRUE(receiver_->Start().ok());
  ingest_->Answer(Result(IngestCode::kAccepted, 0));

  BIO* cert_bio =
      BIO_new_mem_buf(client.cert_pem.data(), static_cast<int>(client.cert_pem.size()));
  X509* client_cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO* key_bio =
      BIO_new_mem_buf(client.key_pem.data(), static_cast<int>(client.key_pem.size()));
  EVP_PKEY* client_key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  {
    httplib::SSLClient mtls("127.0.0.1", receiver_->port(), client_cert, client_key);
    mtls.set_ca_cert_store(StoreOf(server.cert_pem));
    mtls.enable_server_certificate_verification(true);
    const auto res = mtls.Post("/v1/traces", "{}", kJson);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }
  {
    httplib::SSLClient no_cert("127.0.0.1", receiver_->port());
    no_cert.set_ca_cert_store(StoreOf(server.cert_pem));
    EXPECT_FALSE(no_cert.Post("/v1/traces", "{}", kJson));
  }
  {
    httplib::Client plain("127.0.0.1", receiver_->port());
    plain.set_read_timeout(std::chrono::seconds(3));
    EXPECT_FALSE(plain.Post("/v1/traces", "{}", kJson));
  }
  X509_free(client_cert);
  EVP_PKEY_free(client_key);
  BIO_free(cert_bio);
  BIO_free(key_bio);
  EXPECT_EQ(ingest_->calls().size(), 1u);
}

}  // namespace
}  // namespace otlp_arrow::service
