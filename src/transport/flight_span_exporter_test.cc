// SPDX-License-Identifier: Apache-2.0
// FlightSpanExporter against an in-test Flight server that acknowledges, fails on
// purpose, checks tokens and refuses large batches.

#include "otlp_arrow/transport/flight_span_exporter.h"
#include "test_certificates_internal.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <arrow/api.h>
#include <arrow/flight/api.h>
#include <arrow/ipc/writer.h>
#include <arrow/util/align_util.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "otlp_arrow/convert/span_schema.h"
#include "otlp_arrow/convert/span_table_decoder.h"
#include "otlp_arrow/convert/span_table_encoder.h"
#include "otlp_arrow/model/workloads.h"
#include "otlp_arrow/transport/flight_protocol.h"
#include "otlp_arrow/transport/flight_span_receiver.h"

namespace otlp_arrow::transport {
namespace {

namespace flight = arrow::flight;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, rexpr)  \
  auto tmp = (rexpr);                               \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).ValueUnsafe();
#define OTLP_CONCAT_INNER(a, b) a##b
#define OTLP_CONCAT(a, b) OTLP_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL(OTLP_CONCAT(_result_, __LINE__), lhs, rexpr)
#define ASSERT_OK(expr)                      \
  do {                                       \
    auto _st = (expr);                       \
    ASSERT_TRUE(_st.ok()) << _st.ToString(); \
  } while (false)

std::shared_ptr<arrow::RecordBatch> MakeSpans(int64_t count, uint64_t seed = 7) {
  auto batch = convert::SpanTableEncoder::Encode(model::RandomSpans(count, seed));
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  return batch.ok() ? *batch : nullptr;
}

// Whether the batches a receiver got hold exactly the spans of `sent`, in order. Both
// sides are decoded to OTLP: the wire form is not the span table (no derived columns,
// empty dictionaries as plain columns, and batches of one export may differ in that).
bool SameSpans(const std::vector<std::shared_ptr<arrow::RecordBatch>>& received,
               const arrow::RecordBatch& sent) {
  otlp::ExportTraceServiceRequest expected, merged;
  if (!convert::DecodeSpanTable(sent, &expected).ok()) return false;
  for (const auto& batch : received) {
    // Flight hands out gRPC's message memory: buffers may sit at any address, and the
    // decoder reads int32 offsets (the receiver aligns them the same way).
    auto aligned = arrow::util::EnsureAlignment(batch, arrow::util::kValueAlignment,
                                                arrow::default_memory_pool());
    otlp::ExportTraceServiceRequest part;
    if (!aligned.ok() || !convert::DecodeSpanTable(**aligned, &part).ok()) return false;
    for (auto& rs : *part.mutable_resource_spans()) {
      *merged.add_resource_spans() = std::move(rs);
    }
  }
  return convert::CanonicalSpanTableForm(merged).SerializeAsString() ==
         expected.SerializeAsString();
}

std::optional<flight::FlightStatusCode> FlightCode(const arrow::Status& status) {
  auto detail = flight::FlightStatusDetail::UnwrapStatus(status);
  if (detail == nullptr) return std::nullopt;
  return detail->code();
}

using testing::CertificateAndKey;
using testing::SelfSigned;

/// What the in-test receiver does; fixed before it starts.
struct FakeReceiverConfig {
  enum class Ack { kCorrect, kNone, kWrongCount };
  /// Calls 1..N fail with `fail_code` (and `fail_refusal`, if any) before reading
  /// anything.
  int fail_first_calls = 0;
  flight::FlightStatusCode fail_code = flight::FlightStatusCode::Unavailable;
  std::optional<Refusal> fail_refusal;
  /// Non-empty: DoPut needs `authorization: Bearer <token>`.
  std::string required_token;
  /// Positive: a batch of more rows ends the stream with `too_large_status`, by default
  /// a `too_large` Refusal.
  int64_t max_rows = 0;
  std::optional<arrow::Status> too_large_status;
  Ack ack = Ack::kCorrect;
  /// Wait this long before each acknowledgement (a slow, fsyncing receiver).
  milliseconds ack_delay{0};
};

FakeReceiverConfig FailingFirst(
    int calls, flight::FlightStatusCode code = flight::FlightStatusCode::Unavailable) {
  FakeReceiverConfig config;
  config.fail_first_calls = calls;
  config.fail_code = code;
  return config;
}

FakeReceiverConfig RefusingFirst(int calls, flight::FlightStatusCode code,
                                 RefusalClass refusal_class) {
  FakeReceiverConfig config = FailingFirst(calls, code);
  config.fail_refusal = Refusal{refusal_class, "injected"};
  return config;
}

FakeReceiverConfig RequiringToken(std::string token) {
  FakeReceiverConfig config;
  config.required_token = std::move(token);
  return config;
}

FakeReceiverConfig RefusingMoreRowsThan(int64_t rows) {
  FakeReceiverConfig config;
  config.max_rows = rows;
  return config;
}

FakeReceiverConfig Acking(FakeReceiverConfig::Ack ack) {
  FakeReceiverConfig config;
  config.ack = ack;
  return config;
}

/// A minimal Flight receiver speaking flight_protocol.h, recording what it stores.
class FakeReceiver : public flight::FlightServerBase {
 public:
  explicit FakeReceiver(FakeReceiverConfig config) : config_(std::move(config)) {}

  arrow::Status DoPut(const flight::ServerCallContext& context,
                      std::unique_ptr<flight::FlightMessageReader> reader,
                      std::unique_ptr<flight::FlightMetadataWriter> writer) override {
    const int call = ++calls_;
    if (!config_.required_token.empty()) {
      auto header = context.incoming_headers().find(kAuthorizationHeader);
      if (header == context.incoming_headers().end() ||
          header->second != "Bearer " + config_.required_token) {
        return flight::MakeFlightError(flight::FlightStatusCode::Unauthenticated,
                                       "missing or wrong bearer token");
      }
    }
    if (call <= config_.fail_first_calls) {
      if (config_.fail_refusal.has_value()) {
        return MakeRefusalStatus(config_.fail_code, *config_.fail_refusal,
                                 "injected refusal");
      }
      return flight::MakeFlightError(config_.fail_code, "injected failure");
    }
    const auto& path = reader->descriptor().path;
    if (path != std::vector<std::string>{"otlp", "spans"}) {
      return arrow::Status::KeyError("unexpected descriptor");
    }
    for (int64_t index = 0;; ++index) {
      ARROW_ASSIGN_OR_RAISE(auto chunk, reader->Next());
      if (chunk.data == nullptr) {
        if (chunk.app_metadata == nullptr) return arrow::Status::OK();
        --index;
        continue;
      }
      if (config_.max_rows > 0 && chunk.data->num_rows() > config_.max_rows) {
        ++refused_batches_;
        if (config_.too_large_status.has_value()) return *config_.too_large_status;
        return MakeRefusalStatus(flight::FlightStatusCode::Failed,
                                 Refusal{RefusalClass::kTooLarge, "batch_too_large"},
                                 "batch too large");
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        received_.push_back(chunk.data);
      }
      switch (config_.ack) {
        case FakeReceiverConfig::Ack::kCorrect:
          break;
        case FakeReceiverConfig::Ack::kNone:
          return arrow::Status::OK();
        case FakeReceiverConfig::Ack::kWrongCount: {
          BatchAck wrong{index, chunk.data->num_rows() - 1};
          ARROW_RETURN_NOT_OK(writer->WriteMetadata(arrow::Buffer(wrong.ToJson())));
          continue;
        }
      }
      if (config_.ack_delay.count() > 0) std::this_thread::sleep_for(config_.ack_delay);
      BatchAck ack{index, chunk.data->num_rows()};
      ARROW_RETURN_NOT_OK(writer->WriteMetadata(arrow::Buffer(ack.ToJson())));
    }
  }

  std::vector<std::shared_ptr<arrow::RecordBatch>> received() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
  }
  int calls() const { return calls_.load(); }
  int refused_batches() const { return refused_batches_.load(); }

 private:
  const FakeReceiverConfig config_;
  std::atomic<int> calls_{0};
  std::atomic<int> refused_batches_{0};
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> received_;
};

// A clock whose waits end at once, as if their time had passed: each wait moves the
// clock to its deadline and is reported to `on_wait`. The exporter's backoffs take no
// real time and the test sees every one.
class SkippingClock : public common::Clock {
 public:
  explicit SkippingClock(std::function<void(nanoseconds)> on_wait)
      : on_wait_(std::move(on_wait)) {}

  TimePoint Now() const override {
    std::lock_guard guard(mutex_);
    return now_;
  }

  bool WaitUntil(std::unique_lock<std::mutex>& /*lock*/, std::condition_variable& /*cv*/,
                 TimePoint deadline, const std::function<bool()>& stop) override {
    if (stop()) return true;
    nanoseconds waited{0};
    {
      std::lock_guard guard(mutex_);
      if (deadline > now_) {
        waited = deadline - now_;
        now_ = deadline;
      }
    }
    on_wait_(waited);
    return stop();
  }

 private:
  const std::function<void(nanoseconds)> on_wait_;
  mutable std::mutex mutex_;
  TimePoint now_{};
};

class FlightSpanExporterTest : public ::testing::Test {
 protected:
  void TearDown() override {
    exporter_.reset();
    if (server_ != nullptr) ASSERT_OK(server_->Shutdown());
  }

  void StartServer(FakeReceiverConfig config = {}) {
    server_ = std::make_unique<FakeReceiver>(std::move(config));
    ASSERT_OK_AND_ASSIGN(auto location, flight::Location::ForGrpcTcp("127.0.0.1", 0));
    ASSERT_OK(server_->Init(flight::FlightServerOptions(location)));
    ASSERT_GT(server_->port(), 0);
  }

  // A TLS server presenting `server`; with `client_ca`, clients need a certificate it
  // signed.
  void StartTlsServer(const CertificateAndKey& server,
                      const CertificateAndKey* client_ca = nullptr) {
    server_ = std::make_unique<FakeReceiver>(FakeReceiverConfig{});
    ASSERT_OK_AND_ASSIGN(auto location, flight::Location::ForGrpcTls("127.0.0.1", 0));
    flight::FlightServerOptions options(location);
    options.tls_certificates.push_back({server.cert_pem, server.key_pem});
    if (client_ca != nullptr) {
      options.verify_client = true;
      options.root_certificates = client_ca->cert_pem;
    }
    ASSERT_OK(server_->Init(options));
    ASSERT_GT(server_->port(), 0);
  }

  // Options for the running server: no real sleeps (waits are recorded), deterministic
  // backoff, a deadline that keeps a hung test short.
  FlightSpanExporterOptions Options(int port = -1) {
    FlightSpanExporterOptions options;
    options.endpoint =
        "grpc://127.0.0.1:" + std::to_string(port >= 0 ? port : server_->port());
    options.timeout = milliseconds(3000);
    options.full_jitter = false;
    options.clock =
        std::make_shared<SkippingClock>([this](nanoseconds d) { sleeps_.push_back(d); });
    return options;
  }

  void MakeExporter(FlightSpanExporterOptions options) {
    ASSERT_OK_AND_ASSIGN(exporter_, FlightSpanExporter::Make(std::move(options)));
  }

  // All rows the server stored, in arrival order, as one batch.
  std::shared_ptr<arrow::RecordBatch> Received() {
    auto batches = server_->received();
    EXPECT_FALSE(batches.empty());
    if (batches.empty()) return nullptr;
    auto table = arrow::Table::FromRecordBatches(batches);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    auto combined = (*table)->CombineChunksToBatch();
    EXPECT_TRUE(combined.ok()) << combined.status().ToString();
    return *combined;
  }

  void ExpectReceivedEquals(const arrow::RecordBatch& sent) {
    EXPECT_TRUE(SameSpans(server_->received(), sent))
        << "received batches differ from the sent ones";
  }

  std::unique_ptr<FakeReceiver> server_;
  std::unique_ptr<FlightSpanExporter> exporter_;
  std::vector<nanoseconds> sleeps_;
};

TEST_F(FlightSpanExporterTest, SpansArriveEqualAndAcknowledged) {
  StartServer();
  MakeExporter(Options());
  auto spans = MakeSpans(500);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_EQ(result.spans_total, 500);
  EXPECT_EQ(result.spans_sent, 500);
  EXPECT_EQ(result.spans_acknowledged, 500);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.retries, 0);
  EXPECT_EQ(server_->received().size(), 1u);
  ExpectReceivedEquals(*spans);
}

TEST_F(FlightSpanExporterTest, ChunksByRows) {
  StartServer();
  auto options = Options();
  options.batch_size = 128;
  MakeExporter(options);
  auto spans = MakeSpans(1000);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_EQ(result.spans_acknowledged, 1000);
  EXPECT_EQ(result.attempts, 1);
  auto received = server_->received();
  ASSERT_EQ(received.size(), 8u);
  for (size_t i = 0; i + 1 < received.size(); ++i)
    EXPECT_EQ(received[i]->num_rows(), 128);
  EXPECT_EQ(received.back()->num_rows(), 1000 - 7 * 128);
  ExpectReceivedEquals(*spans);
}

TEST_F(FlightSpanExporterTest, ChunksByBytes) {
  StartServer();
  auto options = Options();
  options.max_batch_bytes = 64 * 1024;
  MakeExporter(options);
  auto spans = MakeSpans(1000);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  auto received = server_->received();
  EXPECT_GT(received.size(), 1u);
  for (const auto& batch : received) {
    int64_t size = 0;
    ASSERT_OK(arrow::ipc::GetRecordBatchSize(*batch, &size));
    if (batch->num_rows() > 1) {
      EXPECT_LE(size, options.max_batch_bytes);
    }
  }
  ExpectReceivedEquals(*spans);
}

// Spans whose dictionaries alone pass the size limit (a large value on each): every
// piece carries only its own dictionary values, so each message stays under the limit.
TEST_F(FlightSpanExporterTest, PiecesCarryOnlyTheirOwnDictionaryValues) {
  StartServer();
  auto options = Options();
  options.max_batch_bytes = 64 * 1024;
  MakeExporter(options);
  auto request = model::SeedSpans(200);
  auto* spans =
      request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans();
  for (int i = 0; i < spans->size(); ++i) {
    auto* kv = spans->Mutable(i)->add_attributes();
    kv->set_key("payload");
    kv->mutable_value()->set_string_value(std::string(2000, 'a' + i % 26) +
                                          std::to_string(i));
  }
  auto batch = convert::SpanTableEncoder::Encode(request);
  ASSERT_TRUE(batch.ok());
  auto result = exporter_->Export(**batch);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  const auto received = server_->received();
  ASSERT_GT(received.size(), 4u);
  for (const auto& piece : received) {
    const auto& attributes = static_cast<const arrow::MapArray&>(
        *piece->GetColumnByName(std::string(convert::column::kAttributes)));
    const auto& value = static_cast<const arrow::StructArray&>(*attributes.items());
    const auto& str = static_cast<const arrow::DictionaryArray&>(*value.field(1));
    // One string value per span of the piece, not the 200 of the batch.
    EXPECT_LE(str.dictionary()->length(), piece->num_rows() + 1);
  }
  ExpectReceivedEquals(**batch);
}

TEST_F(FlightSpanExporterTest, RetriesUnavailableWithGrowingCappedBackoff) {
  StartServer(FailingFirst(4));
  auto options = Options();
  options.initial_backoff = milliseconds(100);
  options.max_backoff = milliseconds(250);
  MakeExporter(options);
  auto spans = MakeSpans(200);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_EQ(result.attempts, 5);
  EXPECT_EQ(result.retries, 4);
  EXPECT_EQ(result.spans_acknowledged, 200);
  EXPECT_EQ(sleeps_, (std::vector<nanoseconds>{milliseconds(100), milliseconds(200),
                                               milliseconds(250), milliseconds(250)}));
  EXPECT_EQ(server_->calls(), 5);
  ExpectReceivedEquals(*spans);
}

TEST_F(FlightSpanExporterTest, RetriesTimedOut) {
  StartServer(FailingFirst(1, flight::FlightStatusCode::TimedOut));
  MakeExporter(Options());
  auto spans = MakeSpans(50);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_EQ(result.attempts, 2);
  EXPECT_EQ(result.retries, 1);
  EXPECT_EQ(sleeps_.size(), 1u);
  ExpectReceivedEquals(*spans);
}

TEST_F(FlightSpanExporterTest, RetriesCancelled) {
  StartServer(FailingFirst(2, flight::FlightStatusCode::Cancelled));
  MakeExporter(Options());
  auto spans = MakeSpans(50);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_EQ(result.attempts, 3);
  ExpectReceivedEquals(*spans);
}

TEST_F(FlightSpanExporterTest, ReconnectsToARestartedReceiver) {
  StartServer();
  const int port = server_->port();
  MakeExporter(Options());
  auto first = MakeSpans(20, 1);
  auto before = exporter_->Export(*first);
  ASSERT_TRUE(before.ok()) << before.status.ToString();
  ASSERT_OK(server_->Shutdown());

  // The receiver comes back on the same port during the first backoff.
  std::unique_ptr<FakeReceiver> old_server = std::move(server_);
  arrow::Status restarted = arrow::Status::UnknownError("not restarted");
  auto options = Options(port);
  options.clock = std::make_shared<SkippingClock>([&](nanoseconds d) {
    sleeps_.push_back(d);
    if (server_ != nullptr) return;
    server_ = std::make_unique<FakeReceiver>(FakeReceiverConfig{});
    restarted = server_->Init(flight::FlightServerOptions(
        flight::Location::ForGrpcTcp("127.0.0.1", port).ValueOrDie()));
  });
  MakeExporter(options);
  auto second = MakeSpans(30, 2);
  auto after = exporter_->Export(*second);
  if (!restarted.ok()) {
    server_.reset();
    GTEST_SKIP() << "could not listen on port " << port << " again: " << restarted;
  }
  EXPECT_TRUE(after.ok()) << after.status.ToString();
  EXPECT_EQ(after.attempts, 2);
  EXPECT_EQ(after.retries, 1);
  ExpectReceivedEquals(*second);
}

TEST_F(FlightSpanExporterTest, FullJitterStaysUnderTheCeiling) {
  StartServer(FailingFirst(5));
  auto options = Options();
  options.full_jitter = true;
  MakeExporter(options);
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  ASSERT_EQ(sleeps_.size(), 5u);
  for (size_t i = 0; i < sleeps_.size(); ++i) {
    EXPECT_GE(sleeps_[i].count(), 0);
    EXPECT_LE(sleeps_[i], FlightSpanExporter::BackoffCeiling(options, int(i) + 1));
  }
}

TEST_F(FlightSpanExporterTest, BackoffCeilingGrowsAndIsCapped) {
  FlightSpanExporterOptions options;  // 100 ms, x2, at most 5 s
  EXPECT_EQ(FlightSpanExporter::BackoffCeiling(options, 1), milliseconds(100));
  EXPECT_EQ(FlightSpanExporter::BackoffCeiling(options, 2), milliseconds(200));
  EXPECT_EQ(FlightSpanExporter::BackoffCeiling(options, 6), milliseconds(3200));
  EXPECT_EQ(FlightSpanExporter::BackoffCeiling(options, 7), milliseconds(5000));
  EXPECT_EQ(FlightSpanExporter::BackoffCeiling(options, 1000), milliseconds(5000));
}

TEST_F(FlightSpanExporterTest, GivesUpAfterMaxRetries) {
  StartServer(FailingFirst(1000));
  auto options = Options();
  options.max_retries = 3;
  MakeExporter(options);
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.retryable);
  EXPECT_EQ(result.attempts, 4);
  EXPECT_EQ(result.retries, 3);
  EXPECT_EQ(result.spans_acknowledged, 0);
  EXPECT_EQ(FlightCode(result.status), flight::FlightStatusCode::Unavailable);
  EXPECT_EQ(sleeps_.size(), 3u);
}

TEST_F(FlightSpanExporterTest, UnauthenticatedIsLeftForAnOperator) {
  StartServer(RequiringToken("s3cret"));
  MakeExporter(Options());
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  // Not retried within the call (a token does not fix itself in seconds), but not
  // permanent either: the caller keeps the spans.
  EXPECT_TRUE(result.retryable);
  EXPECT_TRUE(result.operator_action);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.retries, 0);
  EXPECT_EQ(FlightCode(result.status), flight::FlightStatusCode::Unauthenticated)
      << result.status.ToString();
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_TRUE(server_->received().empty());
}

// A token rotation: the receiver takes only the new token, which the source now gives.
TEST_F(FlightSpanExporterTest, RefusedTokenIsReadAgainAndTheNewOneUsedAtOnce) {
  StartServer(RequiringToken("rotated"));
  auto options = Options();
  options.bearer_token = "old";
  int reloads = 0;
  options.reload_bearer_token = [&]() -> arrow::Result<std::string> {
    ++reloads;
    return std::string("rotated");
  };
  MakeExporter(options);
  auto spans = MakeSpans(20);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_EQ(result.attempts, 2);
  EXPECT_EQ(reloads, 1);
  EXPECT_TRUE(sleeps_.empty());
  ExpectReceivedEquals(*spans);
  // The new token stays in use.
  auto again = exporter_->Export(*spans);
  EXPECT_TRUE(again.ok()) << again.status.ToString();
  EXPECT_EQ(again.attempts, 1);
}

TEST_F(FlightSpanExporterTest, UnchangedTokenIsNotTriedAgain) {
  StartServer(RequiringToken("rotated"));
  auto options = Options();
  options.bearer_token = "old";
  int reloads = 0;
  options.reload_bearer_token = [&]() -> arrow::Result<std::string> {
    ++reloads;
    return std::string("old");
  };
  MakeExporter(options);
  auto result = exporter_->Export(*MakeSpans(5));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.operator_action);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(reloads, 1);
}

TEST_F(FlightSpanExporterTest, UnauthorizedIsLeftForAnOperator) {
  StartServer(FailingFirst(1, flight::FlightStatusCode::Unauthorized));
  MakeExporter(Options());
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.retryable);
  EXPECT_TRUE(result.operator_action);
  EXPECT_EQ(result.attempts, 1);
  // The next export (the caller's retry) goes through.
  auto again = exporter_->Export(*MakeSpans(10));
  EXPECT_TRUE(again.ok()) << again.status.ToString();
}

TEST_F(FlightSpanExporterTest, FailedWithoutRefusalIsPermanent) {
  StartServer(FailingFirst(1, flight::FlightStatusCode::Failed));
  MakeExporter(Options());
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.retryable);
  EXPECT_FALSE(result.operator_action);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_TRUE(sleeps_.empty());
}

// A receiver's Refusal decides, whatever the status code says.
TEST_F(FlightSpanExporterTest, RetryableRefusalIsRetriedWithBackoff) {
  StartServer(
      RefusingFirst(2, flight::FlightStatusCode::Failed, RefusalClass::kRetryable));
  MakeExporter(Options());
  auto spans = MakeSpans(40);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_EQ(result.attempts, 3);
  EXPECT_EQ(result.retries, 2);
  EXPECT_EQ(sleeps_.size(), 2u);
  ExpectReceivedEquals(*spans);
}

TEST_F(FlightSpanExporterTest, RetryableRefusalGivesUpRetryableAfterMaxRetries) {
  StartServer(
      RefusingFirst(100, flight::FlightStatusCode::Internal, RefusalClass::kRetryable));
  auto options = Options();
  options.max_retries = 2;
  MakeExporter(options);
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.retryable);
  EXPECT_FALSE(result.operator_action);
  EXPECT_EQ(result.attempts, 3);
}

TEST_F(FlightSpanExporterTest, PermanentRefusalIsNotRetried) {
  StartServer(
      RefusingFirst(1, flight::FlightStatusCode::Unavailable, RefusalClass::kPermanent));
  MakeExporter(Options());
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.retryable);
  EXPECT_FALSE(result.operator_action);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_TRUE(sleeps_.empty());
  ASSERT_TRUE(Refusal::FromStatus(result.status).has_value());
  EXPECT_EQ(Refusal::FromStatus(result.status)->refusal_class, RefusalClass::kPermanent);
}

TEST_F(FlightSpanExporterTest, OperatorActionRefusalKeepsTheSpans) {
  StartServer(
      RefusingFirst(1, flight::FlightStatusCode::Failed, RefusalClass::kOperatorAction));
  MakeExporter(Options());
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.retryable);
  EXPECT_TRUE(result.operator_action);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(FlightSpanExporterTest, TooLargeRefusalOfOneSpanIsPermanent) {
  StartServer(
      RefusingFirst(1, flight::FlightStatusCode::Failed, RefusalClass::kTooLarge));
  MakeExporter(Options());
  auto result = exporter_->Export(*MakeSpans(1));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.retryable);
  EXPECT_EQ(result.splits, 0);
  EXPECT_TRUE(sleeps_.empty());
}

// Without a Refusal, the words in a message mean nothing: an Invalid "RESOURCE_EXHAUSTED
// ... too large" is a permanent refusal, not a reason to split.
TEST_F(FlightSpanExporterTest, TooLargeMessageWithoutRefusalIsPermanent) {
  FakeReceiverConfig config = RefusingMoreRowsThan(100);
  config.too_large_status = arrow::Status::Invalid("RESOURCE_EXHAUSTED: batch too large");
  StartServer(config);
  auto options = Options();
  options.batch_size = 1000;
  MakeExporter(options);
  auto result = exporter_->Export(*MakeSpans(1000));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.retryable);
  EXPECT_EQ(result.splits, 0);
  EXPECT_EQ(server_->refused_batches(), 1);
}

TEST_F(FlightSpanExporterTest, WrongTokenIsUnauthenticated) {
  StartServer(RequiringToken("s3cret"));
  auto options = Options();
  options.bearer_token = "guess";
  MakeExporter(options);
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(FlightCode(result.status), flight::FlightStatusCode::Unauthenticated);
  EXPECT_EQ(result.attempts, 1);
}

TEST_F(FlightSpanExporterTest, CorrectTokenIsAccepted) {
  StartServer(RequiringToken("s3cret"));
  auto options = Options();
  options.bearer_token = "s3cret";
  MakeExporter(options);
  auto spans = MakeSpans(100);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  // The token goes on every call, not only the first.
  auto again = exporter_->Export(*spans);
  EXPECT_TRUE(again.ok()) << again.status.ToString();
  EXPECT_EQ(server_->calls(), 2);
}

TEST_F(FlightSpanExporterTest, SplitsBatchesTheServerRefusesAsTooLarge) {
  StartServer(RefusingMoreRowsThan(100));
  auto options = Options();
  options.batch_size = 1000;
  MakeExporter(options);
  auto spans = MakeSpans(1000);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_GT(result.splits, 0);
  EXPECT_EQ(result.retries, 0);
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_GT(server_->refused_batches(), 0);
  EXPECT_EQ(result.spans_acknowledged, 1000);
  EXPECT_GT(result.spans_sent, 1000);  // the refused chunks were written too
  for (const auto& batch : server_->received()) EXPECT_LE(batch->num_rows(), 100);
  ExpectReceivedEquals(*spans);  // every row exactly once, in order
}

// Four spans, the third with a `blob` attribute of `blob_bytes` incompressible bytes.
std::shared_ptr<arrow::RecordBatch> SpansWithABlob(size_t blob_bytes) {
  auto request = model::SeedSpans(4);
  auto* huge =
      request.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(2);
  auto* attribute = huge->add_attributes();
  attribute->set_key("blob");
  std::string blob(blob_bytes, '\0');
  std::mt19937_64 random(42);
  for (char& c : blob) c = static_cast<char>('a' + random() % 26);
  attribute->mutable_value()->set_string_value(std::move(blob));
  auto spans = convert::SpanTableEncoder::Encode(request);
  EXPECT_TRUE(spans.ok()) << spans.status().ToString();
  return spans.ok() ? *spans : nullptr;
}

// A span cannot be split: one larger than max_batch_bytes goes alone, up to
// max_span_bytes.
TEST_F(FlightSpanExporterTest, SpanLargerThanMaxBatchBytesGoesAlone) {
  StartServer();
  auto options = Options();
  options.max_batch_bytes = 64 * 1024;
  options.max_span_bytes = 1 << 20;
  MakeExporter(options);
  auto spans = SpansWithABlob(512 * 1024);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_EQ(result.spans_acknowledged, 4);
  EXPECT_TRUE(sleeps_.empty());
  ExpectReceivedEquals(*spans);
}

TEST_F(FlightSpanExporterTest, SpanLargerThanMaxSpanBytesFails) {
  StartServer();
  auto options = Options();
  options.max_batch_bytes = 32 * 1024;  // more than the schema message (a few KiB)
  options.max_span_bytes = 32 * 1024;
  options.compression = FlightCompression::kNone;  // the limit applies on the wire
  MakeExporter(options);
  auto result = exporter_->Export(*SpansWithABlob(256 * 1024));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.retryable);
  EXPECT_EQ(result.spans_acknowledged, 2);  // the spans before the huge one
  EXPECT_EQ(result.splits, 0);
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_TRUE(result.status.IsInvalid());
  EXPECT_NE(flight::FlightWriteSizeStatusDetail::UnwrapStatus(result.status), nullptr)
      << result.status.ToString();
}

TEST_F(FlightSpanExporterTest, ServerDownFailsAfterMaxRetries) {
  // A bound socket that does not listen: connections are refused and no other process
  // can take the port meanwhile.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  auto options = Options(port);
  options.max_retries = 2;
  MakeExporter(options);
  const auto started = std::chrono::steady_clock::now();
  auto result = exporter_->Export(*MakeSpans(10));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ::close(fd);
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.retryable);
  EXPECT_EQ(result.attempts, 3);
  EXPECT_EQ(result.retries, 2);
  EXPECT_EQ(result.spans_acknowledged, 0);
  EXPECT_EQ(FlightCode(result.status), flight::FlightStatusCode::Unavailable)
      << result.status.ToString();
  EXPECT_EQ(sleeps_.size(), 2u);
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST_F(FlightSpanExporterTest, MissingAcknowledgementIsAnError) {
  StartServer(Acking(FakeReceiverConfig::Ack::kNone));
  MakeExporter(Options());
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.retryable);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.spans_sent, 10);
  EXPECT_EQ(result.spans_acknowledged, 0);
  EXPECT_NE(result.status.message().find("without acknowledging"), std::string::npos)
      << result.status.ToString();
}

TEST_F(FlightSpanExporterTest, WrongAcknowledgementIsAnError) {
  StartServer(Acking(FakeReceiverConfig::Ack::kWrongCount));
  MakeExporter(Options());
  auto result = exporter_->Export(*MakeSpans(10));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.retryable);
  EXPECT_EQ(result.attempts, 1);
  EXPECT_EQ(result.spans_acknowledged, 0);
  EXPECT_NE(result.status.message().find("acknowledgement"), std::string::npos)
      << result.status.ToString();
}

TEST_F(FlightSpanExporterTest, EveryCompressionRoundTrips) {
  StartServer();
  auto spans = MakeSpans(300);
  int64_t expected_batches = 0;
  for (auto compression :
       {FlightCompression::kNone, FlightCompression::kLz4, FlightCompression::kZstd}) {
    auto options = Options();
    options.compression = compression;
    MakeExporter(options);
    auto result = exporter_->Export(*spans);
    EXPECT_TRUE(result.ok()) << result.status.ToString();
    auto received = server_->received();
    ASSERT_EQ(static_cast<int64_t>(received.size()), ++expected_batches);
    EXPECT_TRUE(SameSpans({received.back()}, *spans))
        << "compression " << static_cast<int>(compression);
  }
}

// What the receiver rebuilds stays off the wire: the derived time columns (unless asked
// for) and empty dictionaries. Seed spans have no events, links, resource or scope
// attributes: the keys and strings of those maps go as plain columns, not as empty
// dictionaries (an IPC message each); the span attributes keep theirs.
TEST_F(FlightSpanExporterTest, DerivedColumnsAndEmptyDictionariesStayOffTheWire) {
  StartServer();
  MakeExporter(Options());
  ASSERT_OK_AND_ASSIGN(auto spans,
                       convert::SpanTableEncoder::Encode(model::SeedSpans(5)));
  ASSERT_OK(exporter_->Export(*spans).status);
  auto received = Received();
  ASSERT_NE(received, nullptr);
  EXPECT_EQ(received->schema()->GetFieldIndex("start_time"), -1);
  EXPECT_EQ(received->schema()->GetFieldIndex("duration_ns"), -1);
  // The encoder leaves them off already.
  EXPECT_EQ(received->num_columns(), spans->num_columns());
  auto key_type = [&](const std::string& map_column) {
    const auto& map_type = static_cast<const arrow::MapType&>(
        *received->schema()->GetFieldByName(map_column)->type());
    return map_type.key_type()->id();
  };
  EXPECT_EQ(key_type("attributes"), arrow::Type::DICTIONARY);
  EXPECT_EQ(key_type("resource_attributes"), arrow::Type::STRING);
  EXPECT_EQ(key_type("scope_attributes"), arrow::Type::STRING);
  const auto& events = static_cast<const arrow::ListType&>(
      *received->schema()->GetFieldByName("events")->type());
  const auto& event_attributes =
      static_cast<const arrow::MapType&>(*events.value_type()->field(2)->type());
  EXPECT_EQ(event_attributes.key_type()->id(), arrow::Type::STRING);
  ExpectReceivedEquals(*spans);
  // A whole span table loses them on the way.
  ASSERT_OK_AND_ASSIGN(auto whole, convert::ConformToSpanTableSchema(
                                       *spans, arrow::default_memory_pool()));
  ASSERT_OK(exporter_->Export(*whole).status);
  EXPECT_EQ(server_->received().back()->num_columns(), whole->num_columns() - 2);

  auto options = Options();
  options.send_derived_columns = true;
  MakeExporter(options);
  // Computed by the exporter when the batch lacks them.
  ASSERT_OK(exporter_->Export(*spans).status);
  const auto all = server_->received();
  ASSERT_FALSE(all.empty());
  ASSERT_OK_AND_ASSIGN(auto wire, convert::WithoutEmptyDictionaries(*whole));
  EXPECT_TRUE(all.back()->Equals(*wire));
  EXPECT_EQ(all.back()->num_columns(), spans->num_columns() + 2);
}

TEST_F(FlightSpanExporterTest, LongExportsMoveToANewStreamBeforeTheDeadline) {
  FakeReceiverConfig config;
  config.ack_delay = milliseconds(150);
  StartServer(config);
  auto options = Options();
  options.timeout = milliseconds(1500);  // a stream takes chunks for 750 ms
  options.batch_size = 10;
  MakeExporter(options);
  auto spans = MakeSpans(80);  // 8 chunks, 1.2 s of acknowledgements
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_GE(result.attempts, 2);
  EXPECT_EQ(result.retries, 0) << result.status.ToString();
  ExpectReceivedEquals(*spans);
}

TEST_F(FlightSpanExporterTest, ConcurrentExportsAreSerialized) {
  StartServer();
  auto options = Options();
  options.batch_size = 16;
  MakeExporter(options);
  auto first = MakeSpans(100, 1);
  auto second = MakeSpans(100, 2);
  ExportResult first_result, second_result;
  std::thread a([&] { first_result = exporter_->Export(*first); });
  std::thread b([&] { second_result = exporter_->Export(*second); });
  a.join();
  b.join();
  EXPECT_TRUE(first_result.ok()) << first_result.status.ToString();
  EXPECT_TRUE(second_result.ok()) << second_result.status.ToString();
  // One export's chunks are never interleaved with the other's.
  const auto received = server_->received();
  ASSERT_OK_AND_ASSIGN(auto first_then_second,
                       arrow::Table::FromRecordBatches({first, second}));
  ASSERT_OK_AND_ASSIGN(auto second_then_first,
                       arrow::Table::FromRecordBatches({second, first}));
  ASSERT_OK_AND_ASSIGN(auto one_order, first_then_second->CombineChunksToBatch());
  ASSERT_OK_AND_ASSIGN(auto other_order, second_then_first->CombineChunksToBatch());
  EXPECT_TRUE(SameSpans(received, *one_order) || SameSpans(received, *other_order));
}

TEST_F(FlightSpanExporterTest, EmptyInputSendsNothing) {
  StartServer();
  MakeExporter(Options());
  auto result = exporter_->Export(*MakeSpans(0));
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.attempts, 0);
  EXPECT_EQ(server_->calls(), 0);
}

TEST_F(FlightSpanExporterTest, RefusesABatchThatIsNotASpanTable) {
  StartServer();
  MakeExporter(Options());
  arrow::Int64Builder builder;
  ASSERT_OK(builder.Append(1));
  ASSERT_OK_AND_ASSIGN(auto column, builder.Finish());
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("x", arrow::int64())}), 1, {column});
  auto result = exporter_->Export(*batch);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status.IsInvalid()) << result.status.ToString();
  EXPECT_FALSE(result.retryable);
  EXPECT_EQ(result.attempts, 0);
  EXPECT_EQ(server_->calls(), 0);
}

TEST_F(FlightSpanExporterTest, WithoutValidationABadBatchReachesTheReceiver) {
  StartServer();
  auto options = Options();
  options.validate_batches = false;
  MakeExporter(options);
  arrow::Int64Builder builder;
  ASSERT_OK(builder.Append(1));
  ASSERT_OK_AND_ASSIGN(auto column, builder.Finish());
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("x", arrow::int64())}), 1, {column});
  // Not checked here: the stream is opened and the receiver decides (this fake takes
  // anything; the real receiver refuses it, see flight_span_receiver_test.cc).
  auto result = exporter_->Export(*batch);
  EXPECT_GE(server_->calls(), 1);
  EXPECT_GE(result.attempts, 1);
}

TEST_F(FlightSpanExporterTest, RefusesBadOptions) {
  FlightSpanExporterOptions options;
  options.endpoint = "http://127.0.0.1:8815";
  EXPECT_TRUE(FlightSpanExporter::Make(options).status().IsInvalid());
  options.endpoint = "not a uri";
  auto bad_uri = FlightSpanExporter::Make(options);
  EXPECT_TRUE(bad_uri.status().IsInvalid()) << bad_uri.status().ToString();
  EXPECT_NE(bad_uri.status().message().find("'not a uri'"), std::string::npos);
  options = FlightSpanExporterOptions::Defaults();
  options.batch_size = 0;
  EXPECT_TRUE(FlightSpanExporter::Make(options).status().IsInvalid());
  options = FlightSpanExporterOptions::Defaults();
  options.tls_root_certs = "PEM";  // TLS settings on a plaintext endpoint
  EXPECT_TRUE(FlightSpanExporter::Make(options).status().IsInvalid());
  options = FlightSpanExporterOptions::Defaults();
  options.endpoint = "grpc+tls://127.0.0.1:8815";
  options.tls_root_certs_file = "/nonexistent/otlp-arrow/ca.pem";
  auto made = FlightSpanExporter::Make(options);
  EXPECT_TRUE(made.status().IsIOError()) << made.status().ToString();
  EXPECT_NE(made.status().message().find("ca.pem"), std::string::npos);
}

// gRPC aborts the process on a header value with a control character: a token read with
// its CR (a token file written on Windows) or pasted with a line break is refused first.
TEST_F(FlightSpanExporterTest, BearerTokenThatGrpcCannotCarryIsRefused) {
  StartServer();
  for (const std::string token : {"s3cret\r", "two words", "s3cret\n", "t\x01k"}) {
    auto options = Options();
    options.bearer_token = token;
    auto made = FlightSpanExporter::Make(options);
    EXPECT_TRUE(made.status().IsInvalid()) << made.status().ToString();
    EXPECT_EQ(made.status().message().find(token), std::string::npos)
        << "the token must not be echoed";
  }
  EXPECT_TRUE(CheckBearerToken("abc-DEF_123.~+/=").ok());
}

TEST_F(FlightSpanExporterTest, ExportAfterShutdownFails) {
  StartServer();
  MakeExporter(Options());
  ASSERT_OK(exporter_->Shutdown());
  ASSERT_OK(exporter_->Shutdown());  // idempotent
  EXPECT_FALSE(exporter_->Export(*MakeSpans(5)).ok());
  EXPECT_EQ(server_->calls(), 0);
}

TEST_F(FlightSpanExporterTest, ShutdownInterruptsTheDefaultBackoffWait) {
  StartServer(FailingFirst(1000));
  auto options = Options();
  options.clock = nullptr;  // the steady clock: a real, interruptible wait
  options.initial_backoff = std::chrono::seconds(30);
  options.max_backoff = std::chrono::seconds(30);
  MakeExporter(options);
  auto spans = MakeSpans(5);
  ExportResult result;
  std::thread exporting([&] { result = exporter_->Export(*spans); });
  while (server_->calls() == 0) std::this_thread::sleep_for(milliseconds(1));
  const auto started = std::chrono::steady_clock::now();
  ASSERT_OK(exporter_->Shutdown());
  exporting.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.status.IsCancelled()) << result.status.ToString();
}

// ---------------------------------------------------------------------------------------
// TLS

TEST_F(FlightSpanExporterTest, TlsWithRootCertificatesPem) {
  const auto server_cert = SelfSigned("receiver");
  StartTlsServer(server_cert);
  auto options = Options();
  options.endpoint = "grpc+tls://127.0.0.1:" + std::to_string(server_->port());
  options.tls_root_certs = server_cert.cert_pem;
  MakeExporter(options);
  auto spans = MakeSpans(50);
  auto result = exporter_->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  ExpectReceivedEquals(*spans);
}

TEST_F(FlightSpanExporterTest, TlsWithCaFile) {
  const auto server_cert = SelfSigned("receiver");
  StartTlsServer(server_cert);
  const auto ca_file = std::filesystem::temp_directory_path() /
                       ("otlp-arrow-exporter-ca-" + std::to_string(::getpid()) + ".pem");
  std::ofstream(ca_file) << server_cert.cert_pem;
  auto options = Options();
  options.endpoint = "grpc+tls://127.0.0.1:" + std::to_string(server_->port());
  options.tls_root_certs_file = ca_file.string();
  MakeExporter(options);
  std::filesystem::remove(ca_file);  // read by Make()
  auto result = exporter_->Export(*MakeSpans(20));
  EXPECT_TRUE(result.ok()) << result.status.ToString();
}

TEST_F(FlightSpanExporterTest, TlsRefusesAnUntrustedServer) {
  StartTlsServer(SelfSigned("receiver"));
  auto options = Options();
  options.endpoint = "grpc+tls://127.0.0.1:" + std::to_string(server_->port());
  options.tls_root_certs = SelfSigned("someone else").cert_pem;
  options.max_retries = 1;
  MakeExporter(options);
  auto result = exporter_->Export(*MakeSpans(5));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(server_->calls(), 0);
}

TEST_F(FlightSpanExporterTest, TlsServerNameOverride) {
  // The certificate names a host that does not resolve; the override makes it match.
  const auto server_cert = SelfSigned("receiver", "DNS:otlp-receiver.invalid");
  StartTlsServer(server_cert);
  auto options = Options();
  options.endpoint = "grpc+tls://127.0.0.1:" + std::to_string(server_->port());
  options.tls_root_certs = server_cert.cert_pem;
  options.max_retries = 0;
  MakeExporter(options);
  auto without = exporter_->Export(*MakeSpans(5));
  EXPECT_FALSE(without.ok());

  options.tls_server_name_override = "otlp-receiver.invalid";
  MakeExporter(options);
  auto with = exporter_->Export(*MakeSpans(5));
  EXPECT_TRUE(with.ok()) << with.status.ToString();
}

TEST_F(FlightSpanExporterTest, MutualTls) {
  const auto server_cert = SelfSigned("receiver");
  const auto client_cert = SelfSigned("exporter");
  StartTlsServer(server_cert, &client_cert);
  auto options = Options();
  options.endpoint = "grpc+tls://127.0.0.1:" + std::to_string(server_->port());
  options.tls_root_certs = server_cert.cert_pem;
  options.max_retries = 0;
  MakeExporter(options);
  auto anonymous = exporter_->Export(*MakeSpans(5));
  EXPECT_FALSE(anonymous.ok());

  options.tls_cert_chain = client_cert.cert_pem;
  options.tls_private_key = client_cert.key_pem;
  MakeExporter(options);
  auto spans = MakeSpans(30);
  auto trusted = exporter_->Export(*spans);
  EXPECT_TRUE(trusted.ok()) << trusted.status.ToString();
  ExpectReceivedEquals(*spans);
}

// ---------------------------------------------------------------------------------------
// Against the real FlightSpanReceiver

class RecordingSink : public storage::SpanSink {
 public:
  arrow::Status Append(const std::shared_ptr<arrow::RecordBatch>& spans) override {
    std::lock_guard<std::mutex> lock(mutex_);
    batches_.push_back(spans);
    return arrow::Status::OK();
  }
  arrow::Status Flush() override { return arrow::Status::OK(); }
  arrow::Status Close() override { return arrow::Status::OK(); }
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
};

TEST(FlightSpanExporterReceiverTest,
     DeliversToFlightSpanReceiverSplittingOversizeBatches) {
  auto sink = std::make_shared<RecordingSink>();
  auto receiver_options = FlightSpanReceiverOptions::Defaults();
  receiver_options.listen_uri = "grpc://127.0.0.1:0";
  receiver_options.bearer_token = "token";
  receiver_options.max_batch_bytes = 256 * 1024;  // the receiver's limit, not known to
                                                  // the exporter: found by splitting
  ASSERT_OK_AND_ASSIGN(auto made,
                       FlightSpanReceiver::Make(receiver_options, sink, nullptr));
  FlightSpanReceiver& receiver = *made;
  ASSERT_OK(receiver.Start());

  auto options = FlightSpanExporterOptions::Defaults();
  options.endpoint = receiver.uri();
  options.bearer_token = "token";
  options.timeout = milliseconds(3000);
  std::vector<nanoseconds> sleeps;
  options.clock =
      std::make_shared<SkippingClock>([&](nanoseconds d) { sleeps.push_back(d); });
  ASSERT_OK_AND_ASSIGN(auto exporter, FlightSpanExporter::Make(options));
  auto spans = MakeSpans(3000);
  auto result = exporter->Export(*spans);
  EXPECT_TRUE(result.ok()) << result.status.ToString();
  EXPECT_EQ(result.spans_acknowledged, 3000);
  EXPECT_GT(result.splits, 0) << "the batch should exceed the receiver's limit";
  EXPECT_TRUE(sleeps.empty());
  EXPECT_GT(receiver.Stats().oversize_batches, 0);
  EXPECT_EQ(receiver.Stats().spans_stored, 3000);

  ASSERT_OK_AND_ASSIGN(auto table, arrow::Table::FromRecordBatches(sink->batches()));
  ASSERT_OK_AND_ASSIGN(auto stored, table->CombineChunksToBatch());
  // The receiver computed the derived columns the encoder left off: the whole table.
  ASSERT_OK_AND_ASSIGN(auto whole, convert::ConformToSpanTableSchema(
                                       *spans, arrow::default_memory_pool()));
  EXPECT_TRUE(stored->Equals(*whole, /*check_metadata=*/true,
                             arrow::EqualOptions::Defaults().nans_equal(true)));
  ASSERT_OK(exporter->Shutdown());
  ASSERT_OK(
      receiver.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)));
}

}  // namespace
}  // namespace otlp_arrow::transport
