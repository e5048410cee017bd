// SPDX-License-Identifier: Apache-2.0
// BatchingSpanExporter against a scripted fake exporter, on a ManualClock: every flush,
// backoff and deadline happens when the test advances the clock, never by sleeping.

#include "otlp_arrow/pipeline/batching_span_exporter.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arrow/api.h>
#include <arrow/util/byte_size.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pipeline_test_util.h"

namespace otlp_arrow::pipeline {
namespace {

using common::Clock;
using common::ManualClock;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Concat;
using ::testing::ElementsAre;
using testing::FakeSpanBatchExporter;
using ::testing::HasSubstr;
using testing::NamedSpans;
using testing::Names;
using testing::SpanNames;
using Kind = FakeSpanBatchExporter::Kind;

// A real-time bound for things that happen at once unless the code under test is broken
// (then the test fails instead of hanging).
constexpr auto kHang = seconds(30);

void ExpectBalanced(const BatchingSpanExporterStats& stats) {
  EXPECT_EQ(stats.spans_enqueued, stats.spans_exported + stats.spans_send_failed +
                                      stats.spans_dropped_at_shutdown +
                                      stats.queue_spans);
}

// Waits for `future`. If it is not ready in time, shuts `exporter` down, which releases
// a thread waiting in it, so that the test fails instead of hanging in the future's
// destructor.
template <typename T>
bool Ready(std::future<T>& future, BatchingSpanExporter& exporter) {
  if (future.wait_for(kHang) == std::future_status::ready) return true;
  // Only to end the wait: the test has failed already.
  const ShutdownReport report = exporter.Shutdown(milliseconds(0));
  ADD_FAILURE() << "timed out; shut down: " << report.ToString();
  return false;
}

std::vector<Clock::Duration> CallOffsets(const FakeSpanBatchExporter& fake,
                                         Clock::TimePoint start) {
  std::vector<Clock::Duration> offsets;
  for (const auto& call : fake.calls()) offsets.push_back(call.time - start);
  return offsets;
}

class BatchingSpanExporterTest : public ::testing::Test {
 protected:
  // Options whose flushes happen only when a test asks for them.
  static BatchingSpanExporterOptions Quiet() {
    BatchingSpanExporterOptions options;
    options.batch_size = 1000;
    options.max_queue_spans = 10000;
    options.flush_interval = hours(1);
    options.initial_backoff = milliseconds(100);
    options.max_backoff = milliseconds(250);
    // The destructor must not wait for a ManualClock nobody advances: a test that fails
    // half-way then ends instead of hanging. Tests that drain call Shutdown themselves.
    options.shutdown_timeout = milliseconds(0);
    return options;
  }

  std::unique_ptr<BatchingSpanExporter> Make(BatchingSpanExporterOptions options) {
    options.clock = clock_;
    auto exporter = BatchingSpanExporter::Make(std::move(options), fake_);
    EXPECT_TRUE(exporter.ok()) << exporter.status().ToString();
    return exporter.ok() ? std::move(*exporter) : nullptr;
  }

  static void ExpectAccepted(const IngestResult& result, int64_t spans) {
    EXPECT_EQ(result.code, IngestCode::kAccepted) << result.message;
    EXPECT_EQ(result.spans, spans);
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::shared_ptr<FakeSpanBatchExporter> fake_ =
      std::make_shared<FakeSpanBatchExporter>(clock_);
  const Clock::TimePoint start_ = clock_->Now();
};

TEST_F(BatchingSpanExporterTest, OptionsDefaultsAndValidation) {
  const auto defaults = BatchingSpanExporterOptions::Defaults();
  EXPECT_EQ(defaults.batch_size, 8192);
  EXPECT_EQ(defaults.flush_interval, seconds(1));
  EXPECT_EQ(defaults.max_queue_spans, 65536);
  EXPECT_EQ(defaults.max_queue_bytes, int64_t{256} << 20);
  EXPECT_EQ(defaults.max_enqueue_wait, seconds(1));
  EXPECT_TRUE(defaults.Validate().ok());

  auto refused = [](auto change) {
    auto options = BatchingSpanExporterOptions::Defaults();
    change(options);
    return !options.Validate().ok();
  };
  EXPECT_TRUE(refused([](auto& o) { o.batch_size = 0; }));
  EXPECT_TRUE(refused([](auto& o) { o.max_queue_spans = o.batch_size - 1; }));
  EXPECT_TRUE(refused([](auto& o) { o.max_queue_bytes = 0; }));
  EXPECT_TRUE(refused([](auto& o) { o.flush_interval = milliseconds(0); }));
  EXPECT_TRUE(refused([](auto& o) { o.max_enqueue_wait = milliseconds(-1); }));
  EXPECT_TRUE(refused([](auto& o) { o.initial_backoff = milliseconds(0); }));
  EXPECT_TRUE(refused([](auto& o) { o.max_backoff = o.initial_backoff / 2; }));
  EXPECT_TRUE(refused([](auto& o) { o.backoff_multiplier = 0.5; }));
  EXPECT_TRUE(refused([](auto& o) { o.shutdown_timeout = milliseconds(-1); }));

  EXPECT_FALSE(BatchingSpanExporter::Make(defaults, nullptr).ok());
  auto bad = defaults;
  bad.batch_size = 0;
  EXPECT_FALSE(BatchingSpanExporter::Make(bad, fake_).ok());
}

TEST_F(BatchingSpanExporterTest, ExportsAsSoonAsAFullBatchIsQueued) {
  auto options = Quiet();
  options.batch_size = 100;
  auto exporter = Make(options);
  ExpectAccepted(exporter->Enqueue(NamedSpans(60, "a")), 60);
  ExpectAccepted(exporter->Enqueue(NamedSpans(60, "b")), 60);

  ASSERT_TRUE(fake_->WaitForCalls(1));
  ASSERT_TRUE(clock_->AwaitWaiters(1));  // the worker is idle again
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].time, start_);  // no time had to pass
  const auto b = SpanNames(60, "b");
  EXPECT_EQ(Names(*calls[0].batch),
            Concat({SpanNames(60, "a"), {b.begin(), b.begin() + 40}}));
  auto stats = exporter->Stats();
  EXPECT_EQ(stats.batches_enqueued, 2);
  EXPECT_EQ(stats.spans_exported, 100);
  EXPECT_EQ(stats.batches_exported, 1);
  EXPECT_EQ(stats.queue_spans, 20);  // less than a batch: waits for the interval
  EXPECT_GT(stats.queue_bytes, 0);
  ExpectBalanced(stats);

  const ShutdownReport report = exporter->Shutdown(seconds(5));
  EXPECT_TRUE(report.ok()) << report.ToString();
  EXPECT_EQ(report.spans_queued, 20);
  EXPECT_EQ(report.spans_delivered, 20);
  EXPECT_EQ(fake_->delivered(), Concat({SpanNames(60, "a"), b}));
  EXPECT_EQ(exporter->Stats().queue_bytes, 0);
}

TEST_F(BatchingSpanExporterTest, ExportsWhenTheOldestSpanHasWaitedTheFlushInterval) {
  auto options = Quiet();
  options.flush_interval = seconds(1);
  auto exporter = Make(options);
  ExpectAccepted(exporter->Enqueue(NamedSpans(10, "a")), 10);
  clock_->Advance(milliseconds(600));
  ExpectAccepted(exporter->Enqueue(NamedSpans(5, "b")), 5);
  clock_->Advance(milliseconds(399));
  clock_->Advance(milliseconds(1));
  ASSERT_TRUE(fake_->WaitForCalls(1));
  ASSERT_TRUE(clock_->AwaitWaiters(1));

  // The second batch's interval starts with it.
  ExpectAccepted(exporter->Enqueue(NamedSpans(3, "c")), 3);
  clock_->Advance(milliseconds(999));
  clock_->Advance(milliseconds(1));
  ASSERT_TRUE(fake_->WaitForCalls(2));
  ASSERT_TRUE(clock_->AwaitWaiters(1));

  // Each export came exactly when the oldest span had waited 1 s, not before.
  EXPECT_THAT(CallOffsets(*fake_, start_), ElementsAre(seconds(1), seconds(2)));
  const auto calls = fake_->calls();
  EXPECT_EQ(Names(*calls[0].batch), Concat({SpanNames(10, "a"), SpanNames(5, "b")}));
  EXPECT_EQ(Names(*calls[1].batch), SpanNames(3, "c"));
  EXPECT_EQ(exporter->Stats().queue_spans, 0);
}

TEST_F(BatchingSpanExporterTest, ConcatenationKeepsEveryRowInOrder) {
  auto exporter = Make(Quiet());
  std::vector<std::shared_ptr<arrow::RecordBatch>> inputs;
  std::vector<std::vector<std::string>> names;
  int i = 0;
  for (int64_t size : {3, 7, 1, 20, 9}) {
    const std::string tag = "b" + std::to_string(i++);
    inputs.push_back(NamedSpans(size, tag));
    names.push_back(SpanNames(size, tag));
    ExpectAccepted(exporter->Enqueue(inputs.back()), size);
  }
  ASSERT_TRUE(exporter->ForceFlush(seconds(1)));
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(Names(*calls[0].batch), Concat(names));
  ASSERT_OK_AND_ASSIGN(auto expected, arrow::ConcatenateRecordBatches(inputs));
  EXPECT_TRUE(calls[0].batch->Equals(*expected));
  EXPECT_TRUE(calls[0].batch->schema()->Equals(*convert::EncodedSpanTableSchema()));
}

TEST_F(BatchingSpanExporterTest, SplitsQueuedBatchesAtTheExportBatchSize) {
  auto options = Quiet();
  options.batch_size = 10;
  auto exporter = Make(options);
  for (const char* tag : {"a", "b", "c"}) {
    ExpectAccepted(exporter->Enqueue(NamedSpans(7, tag)), 7);
  }
  ASSERT_TRUE(exporter->ForceFlush(seconds(1)));
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].batch->num_rows(), 10);
  EXPECT_EQ(calls[1].batch->num_rows(), 10);
  EXPECT_EQ(calls[2].batch->num_rows(), 1);
  EXPECT_EQ(fake_->delivered(),
            Concat({SpanNames(7, "a"), SpanNames(7, "b"), SpanNames(7, "c")}));
  // Split batches share their bytes out by rows; the queue's byte count comes back to 0.
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.queue_bytes, 0);
  EXPECT_EQ(stats.queue_spans, 0);
  EXPECT_EQ(stats.batches_exported, 3);
}

TEST_F(BatchingSpanExporterTest, FullQueueMakesProducersWaitThenRefuses) {
  auto options = Quiet();
  options.batch_size = 50;
  options.max_queue_spans = 100;
  options.max_enqueue_wait = seconds(2);
  auto exporter = Make(options);
  fake_->Block();  // the receiver hangs

  ExpectAccepted(exporter->Enqueue(NamedSpans(50, "a")), 50);
  ASSERT_TRUE(fake_->WaitForCalls(1));
  // The batch in flight still counts: one more batch fills the queue.
  ExpectAccepted(exporter->Enqueue(NamedSpans(50, "b")), 50);

  auto producer = std::async(std::launch::async, [&] {
    IngestResult result = exporter->Enqueue(NamedSpans(10, "refused"));
    return std::make_pair(result, clock_->Now());
  });
  ASSERT_TRUE(clock_->AwaitWaiters(1));  // the producer waits; the worker is exporting
  clock_->Advance(milliseconds(1999));
  clock_->Advance(milliseconds(1));
  ASSERT_TRUE(Ready(producer, *exporter));
  auto [result, refused_at] = producer.get();
  EXPECT_EQ(result.code, IngestCode::kQueueFull);
  EXPECT_EQ(result.spans, 10);
  EXPECT_THAT(result.message, HasSubstr("queue full"));
  EXPECT_GT(result.retry_after.count(), 0);
  EXPECT_EQ(refused_at - start_, seconds(2));  // it waited the whole bound

  auto stats = exporter->Stats();
  EXPECT_EQ(stats.spans_refused_queue_full, 10);
  EXPECT_EQ(stats.spans_enqueued, 100);
  EXPECT_EQ(stats.queue_spans, 100);
  EXPECT_LE(stats.queue_spans, stats.queue_capacity_spans);
  EXPECT_LE(stats.queue_bytes, stats.queue_capacity_bytes);
  ExpectBalanced(stats);

  fake_->Unblock();
  ASSERT_TRUE(exporter->ForceFlush(seconds(1)));
  // Nothing of the refused request was queued.
  EXPECT_EQ(fake_->delivered(), Concat({SpanNames(50, "a"), SpanNames(50, "b")}));
}

TEST_F(BatchingSpanExporterTest, WaitingProducerGetsInWhenRoomAppears) {
  auto options = Quiet();
  options.batch_size = 50;
  options.max_queue_spans = 100;
  options.max_enqueue_wait = seconds(2);
  auto exporter = Make(options);
  fake_->Block();
  ExpectAccepted(exporter->Enqueue(NamedSpans(50, "a")), 50);
  ASSERT_TRUE(fake_->WaitForCalls(1));
  ExpectAccepted(exporter->Enqueue(NamedSpans(50, "b")), 50);
  auto producer = std::async(std::launch::async,
                             [&] { return exporter->Enqueue(NamedSpans(10, "c")); });
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  fake_->Unblock();  // "a" is delivered and leaves the queue: room for "c"
  ASSERT_TRUE(Ready(producer, *exporter));
  ExpectAccepted(producer.get(), 10);
  EXPECT_EQ(clock_->Now(), start_);  // without waiting out the bound
  ASSERT_TRUE(exporter->ForceFlush(seconds(1)));
  EXPECT_EQ(fake_->delivered(),
            Concat({SpanNames(50, "a"), SpanNames(50, "b"), SpanNames(10, "c")}));
}

TEST_F(BatchingSpanExporterTest, ByteCapacityBoundsTheQueue) {
  const auto sample = NamedSpans(10, "x");
  const int64_t bytes = arrow::util::TotalBufferSize(*sample);
  auto options = Quiet();
  options.max_queue_bytes = 2 * bytes + bytes / 2;
  options.max_enqueue_wait = milliseconds(0);
  auto exporter = Make(options);
  ExpectAccepted(exporter->Enqueue(NamedSpans(10, "a")), 10);
  ExpectAccepted(exporter->Enqueue(NamedSpans(10, "b")), 10);
  // Zero wait: refused at once, without the clock moving.
  const IngestResult refused = exporter->Enqueue(NamedSpans(10, "c"));
  EXPECT_EQ(refused.code, IngestCode::kQueueFull);
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.queue_bytes, 2 * bytes);
  EXPECT_EQ(stats.queue_capacity_bytes, options.max_queue_bytes);
  EXPECT_EQ(stats.spans_refused_queue_full, 10);
  ASSERT_TRUE(exporter->ForceFlush(seconds(1)));
  EXPECT_EQ(fake_->delivered(), Concat({SpanNames(10, "a"), SpanNames(10, "b")}));
}

TEST_F(BatchingSpanExporterTest, BatchLargerThanTheQueueIsRefusedAtOnce) {
  auto options = Quiet();
  options.batch_size = 100;
  options.max_queue_spans = 100;
  options.max_enqueue_wait = hours(1);  // must not be waited for
  auto exporter = Make(options);
  auto refuse = std::async(
      std::launch::async, [&] { return exporter->Enqueue(NamedSpans(101, "too-many")); });
  ASSERT_TRUE(Ready(refuse, *exporter));
  const IngestResult too_many = refuse.get();
  EXPECT_EQ(too_many.code, IngestCode::kTooLarge);
  EXPECT_EQ(too_many.spans, 101);
  EXPECT_THAT(too_many.message, HasSubstr("capacity of 100 spans"));

  auto small_bytes = Quiet();
  small_bytes.max_queue_bytes = 1000;
  small_bytes.max_enqueue_wait = hours(1);
  auto bytes_exporter = Make(small_bytes);
  const IngestResult too_big = bytes_exporter->Enqueue(NamedSpans(10, "big"));
  EXPECT_EQ(too_big.code, IngestCode::kTooLarge);
  EXPECT_EQ(bytes_exporter->Stats().spans_refused_too_large, 10);

  EXPECT_EQ(exporter->Stats().spans_refused_too_large, 101);
  EXPECT_EQ(exporter->Stats().spans_enqueued, 0);
  EXPECT_EQ(clock_->Now(), start_);
}

TEST_F(BatchingSpanExporterTest, RefusesWhatIsNotASpanTable) {
  auto exporter = Make(Quiet());
  EXPECT_EQ(exporter->Enqueue(nullptr).code, IngestCode::kInvalid);
  arrow::Int64Builder builder;
  ASSERT_OK(builder.Append(1));
  ASSERT_OK_AND_ASSIGN(auto column, builder.Finish());
  auto other = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("x", arrow::int64())}), 1, {column});
  EXPECT_EQ(exporter->Enqueue(other).code, IngestCode::kInvalid);
  // An empty span table is taken and not queued.
  ExpectAccepted(exporter->Enqueue(NamedSpans(0, "empty")), 0);
  EXPECT_EQ(exporter->Stats().batches_enqueued, 0);
}

TEST_F(BatchingSpanExporterTest, RetryableFailureIsRetriedWithBackoffUntilDelivered) {
  auto options = Quiet();
  options.batch_size = 10;  // initial 100 ms, max 250 ms, x2
  auto exporter = Make(options);
  fake_->Script({{Kind::kRetryable}, {Kind::kRetryable}, {Kind::kRetryable}});
  fake_->set_inner_retries(2);
  ExpectAccepted(exporter->Enqueue(NamedSpans(10, "a")), 10);

  ASSERT_TRUE(fake_->WaitForCalls(1));
  ASSERT_TRUE(clock_->AwaitWaiters(1));  // backing off
  clock_->Advance(milliseconds(99));
  clock_->Advance(milliseconds(1));
  ASSERT_TRUE(fake_->WaitForCalls(2));
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  clock_->Advance(milliseconds(199));
  clock_->Advance(milliseconds(1));
  ASSERT_TRUE(fake_->WaitForCalls(3));
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  clock_->Advance(milliseconds(250));  // 400 ms capped at max_backoff
  ASSERT_TRUE(fake_->WaitForCalls(4));
  ASSERT_TRUE(clock_->AwaitWaiters(1));  // idle

  EXPECT_THAT(CallOffsets(*fake_, start_),
              ElementsAre(milliseconds(0), milliseconds(100), milliseconds(300),
                          milliseconds(550)));
  for (const auto& call : fake_->calls()) {
    EXPECT_EQ(Names(*call.batch), SpanNames(10, "a"));
  }
  EXPECT_EQ(fake_->delivered(), SpanNames(10, "a"));  // once, nothing lost
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.spans_exported, 10);
  EXPECT_EQ(stats.batches_exported, 1);
  EXPECT_EQ(stats.export_failures, 3);
  EXPECT_EQ(stats.retries, 3 + 4 * 2);  // ours plus the transport's
  EXPECT_EQ(stats.spans_send_failed, 0);
  EXPECT_EQ(stats.queue_spans, 0);
  ExpectBalanced(stats);
}

TEST_F(BatchingSpanExporterTest, ReceiverOutageFillsTheQueueAndEverySpanArrivesAfter) {
  auto options = Quiet();
  options.batch_size = 20;
  options.max_queue_spans = 60;
  options.max_enqueue_wait = milliseconds(0);
  auto exporter = Make(options);
  fake_->set_fallback({Kind::kRetryable});
  std::vector<std::vector<std::string>> accepted;
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    const std::string tag = "r" + std::to_string(i);
    const IngestResult result = exporter->Enqueue(NamedSpans(10, tag));
    if (result.ok()) {
      accepted.push_back(SpanNames(10, tag));
    } else {
      EXPECT_EQ(result.code, IngestCode::kQueueFull);
      EXPECT_GT(result.retry_after.count(), 0);  // tells clients when to come back
      ++refused;
    }
  }
  EXPECT_EQ(accepted.size(), 6u);  // 60 spans: the queue is full, producers are refused
  EXPECT_EQ(refused, 4);

  ASSERT_TRUE(fake_->WaitForCalls(1));
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  fake_->set_fallback({Kind::kSuccess});  // the receiver is back
  clock_->Advance(milliseconds(100));
  auto flush =
      std::async(std::launch::async, [&] { return exporter->ForceFlush(hours(1)); });
  ASSERT_TRUE(Ready(flush, *exporter));
  EXPECT_TRUE(flush.get());
  EXPECT_EQ(fake_->delivered(), Concat(accepted));
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.spans_exported, 60);
  EXPECT_EQ(stats.spans_refused_queue_full, 40);
  ExpectBalanced(stats);
}

TEST_F(BatchingSpanExporterTest, AcknowledgedRowsAreNotSentAgain) {
  auto options = Quiet();
  options.batch_size = 10;
  auto exporter = Make(options);
  fake_->Script({{Kind::kRetryable, /*acknowledged=*/4}});
  ExpectAccepted(exporter->Enqueue(NamedSpans(10, "a")), 10);
  ASSERT_TRUE(fake_->WaitForCalls(1));
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  EXPECT_EQ(exporter->Stats().queue_spans, 6);  // the acknowledged rows left the queue
  clock_->Advance(milliseconds(100));
  ASSERT_TRUE(fake_->WaitForCalls(2));
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  const auto calls = fake_->calls();
  const auto a = SpanNames(10, "a");
  EXPECT_EQ(Names(*calls[1].batch), std::vector<std::string>(a.begin() + 4, a.end()));
  EXPECT_EQ(fake_->delivered(), a);
  EXPECT_EQ(exporter->Stats().spans_exported, 10);
}

TEST_F(BatchingSpanExporterTest, PermanentFailureDropsTheBatchAndCountsIt) {
  auto options = Quiet();
  options.batch_size = 10;
  auto exporter = Make(options);
  fake_->Script({{Kind::kPermanent}, {Kind::kError}, {Kind::kPermanent, 3}});
  for (const char* tag : {"a", "b", "c", "d"}) {
    ExpectAccepted(exporter->Enqueue(NamedSpans(10, tag)), 10);
  }
  ASSERT_TRUE(exporter->ForceFlush(seconds(1)));
  // Not retried: one call per batch.
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 4u);
  const auto c = SpanNames(10, "c");
  EXPECT_EQ(fake_->delivered(), Concat({{c.begin(), c.begin() + 3}, SpanNames(10, "d")}));
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.spans_send_failed, 10 + 10 + 7);
  EXPECT_EQ(stats.spans_exported, 3 + 10);
  EXPECT_EQ(stats.export_failures, 3);
  EXPECT_EQ(stats.batches_exported, 1);
  ExpectBalanced(stats);
}

// Refused credentials are the operator's to fix, not a reason to drop spans: they stay
// queued and are retried with backoff until the receiver takes them.
TEST_F(BatchingSpanExporterTest, RefusedCredentialsKeepTheSpansUntilFixed) {
  auto options = Quiet();
  options.batch_size = 10;
  auto exporter = Make(options);
  fake_->Script({{Kind::kOperatorAction}, {Kind::kOperatorAction}});
  ExpectAccepted(exporter->Enqueue(NamedSpans(10, "a")), 10);

  ASSERT_TRUE(fake_->WaitForCalls(1));
  ASSERT_TRUE(clock_->AwaitWaiters(1));  // backing off, spans kept
  auto stats = exporter->Stats();
  EXPECT_EQ(stats.queue_spans, 10);
  EXPECT_EQ(stats.spans_send_failed, 0);
  EXPECT_EQ(stats.operator_action_failures, 1);
  clock_->Advance(milliseconds(100));
  ASSERT_TRUE(fake_->WaitForCalls(2));
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  clock_->Advance(milliseconds(200));  // the token is fixed: the third call succeeds
  ASSERT_TRUE(fake_->WaitForCalls(3));
  ASSERT_TRUE(clock_->AwaitWaiters(1));

  EXPECT_EQ(fake_->delivered(), SpanNames(10, "a"));
  stats = exporter->Stats();
  EXPECT_EQ(stats.spans_exported, 10);
  EXPECT_EQ(stats.spans_send_failed, 0);
  EXPECT_EQ(stats.export_failures, 2);
  EXPECT_EQ(stats.operator_action_failures, 2);
  ExpectBalanced(stats);
}

TEST_F(BatchingSpanExporterTest, ForceFlushExportsWithoutWaitingForTheInterval) {
  auto exporter = Make(Quiet());
  EXPECT_TRUE(exporter->ForceFlush(seconds(1)));  // nothing queued
  EXPECT_TRUE(fake_->calls().empty());
  ExpectAccepted(exporter->Enqueue(NamedSpans(10, "a")), 10);
  EXPECT_TRUE(exporter->ForceFlush(seconds(1)));
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].time, start_);
  EXPECT_EQ(fake_->delivered(), SpanNames(10, "a"));
}

TEST_F(BatchingSpanExporterTest, ForceFlushTimesOutWhileTheReceiverIsDown) {
  auto options = Quiet();
  options.initial_backoff = seconds(1);
  options.max_backoff = seconds(1);
  auto exporter = Make(options);
  fake_->set_fallback({Kind::kRetryable});
  ExpectAccepted(exporter->Enqueue(NamedSpans(5, "a")), 5);
  auto flush = std::async(std::launch::async,
                          [&] { return exporter->ForceFlush(milliseconds(500)); });
  ASSERT_TRUE(fake_->WaitForCalls(1));
  ASSERT_TRUE(clock_->AwaitWaiters(2));  // the worker's backoff and the flush
  clock_->Advance(milliseconds(500));
  ASSERT_TRUE(Ready(flush, *exporter));
  EXPECT_FALSE(flush.get());
  EXPECT_EQ(exporter->Stats().queue_spans, 5);  // still there, to be retried
  EXPECT_EQ(exporter->Shutdown(milliseconds(0)).spans_not_sent, 5);
}

TEST_F(BatchingSpanExporterTest, ShutdownDrainsEverythingQueued) {
  auto exporter = Make(Quiet());
  ExpectAccepted(exporter->Enqueue(NamedSpans(30, "a")), 30);
  ExpectAccepted(exporter->Enqueue(NamedSpans(30, "b")), 30);
  const ShutdownReport report = exporter->Shutdown(seconds(5));
  EXPECT_TRUE(report.ok()) << report.ToString();
  EXPECT_EQ(report.spans_queued, 60);
  EXPECT_EQ(report.spans_delivered, 60);
  EXPECT_EQ(report.spans_send_failed + report.spans_not_sent, 0);
  EXPECT_FALSE(report.deadline_exceeded);
  EXPECT_EQ(fake_->delivered(), Concat({SpanNames(30, "a"), SpanNames(30, "b")}));
  EXPECT_EQ(fake_->shutdown_calls(), 1);

  const IngestResult late = exporter->Enqueue(NamedSpans(5, "late"));
  EXPECT_EQ(late.code, IngestCode::kShuttingDown);
  EXPECT_GT(late.retry_after.count(), 0);
  EXPECT_EQ(exporter->Stats().spans_refused_shutting_down, 5);

  // Idempotent: the same report, the exporter not shut down twice.
  const ShutdownReport again = exporter->Shutdown(seconds(5));
  EXPECT_EQ(again.spans_delivered, 60);
  EXPECT_EQ(fake_->shutdown_calls(), 1);
  EXPECT_TRUE(exporter->ForceFlush(seconds(1)));
}

TEST_F(BatchingSpanExporterTest, ShutdownReportsWhatTheDeadlineLeftUnsent) {
  auto options = Quiet();
  options.initial_backoff = seconds(1);
  options.max_backoff = seconds(10);
  auto exporter = Make(options);
  fake_->set_fallback({Kind::kRetryable});  // the receiver never comes back
  ExpectAccepted(exporter->Enqueue(NamedSpans(30, "a")), 30);
  auto shutdown =
      std::async(std::launch::async, [&] { return exporter->Shutdown(seconds(3)); });
  ASSERT_TRUE(fake_->WaitForCalls(1));   // the drain exports at once
  ASSERT_TRUE(clock_->AwaitWaiters(2));  // backoff + Shutdown's deadline
  clock_->Advance(seconds(1));
  ASSERT_TRUE(fake_->WaitForCalls(2));  // retried during the drain
  ASSERT_TRUE(clock_->AwaitWaiters(2));
  clock_->Advance(seconds(2));  // the deadline, in the middle of the 2 s backoff
  ASSERT_EQ(shutdown.wait_for(kHang), std::future_status::ready);
  const ShutdownReport report = shutdown.get();
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(report.deadline_exceeded);
  EXPECT_EQ(report.spans_queued, 30);
  EXPECT_EQ(report.spans_delivered, 0);
  EXPECT_EQ(report.spans_not_sent, 30);
  EXPECT_THAT(report.status.message(), HasSubstr("fake: receiver unavailable"));
  EXPECT_THAT(report.ToString(), HasSubstr("30 not sent"));
  EXPECT_EQ(fake_->calls().size(), 2u);
  EXPECT_EQ(fake_->shutdown_calls(), 1);
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.spans_dropped_at_shutdown, 30);
  EXPECT_EQ(stats.queue_spans, 0);
  ExpectBalanced(stats);
}

TEST_F(BatchingSpanExporterTest, ShutdownInterruptsAnExportStuckAtTheDeadline) {
  auto options = Quiet();
  options.batch_size = 50;
  options.max_queue_spans = 100;
  options.max_enqueue_wait = hours(1);
  auto exporter = Make(options);
  fake_->Block();
  ExpectAccepted(exporter->Enqueue(NamedSpans(50, "a")), 50);
  ASSERT_TRUE(fake_->WaitForCalls(1));
  ExpectAccepted(exporter->Enqueue(NamedSpans(50, "b")), 50);
  // A producer waiting for room is told to go away as soon as shutdown begins.
  auto producer = std::async(std::launch::async,
                             [&] { return exporter->Enqueue(NamedSpans(10, "c")); });
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  auto shutdown =
      std::async(std::launch::async, [&] { return exporter->Shutdown(seconds(2)); });
  ASSERT_TRUE(Ready(producer, *exporter));
  EXPECT_EQ(producer.get().code, IngestCode::kShuttingDown);
  ASSERT_TRUE(clock_->AwaitWaiters(1));  // Shutdown waits for its deadline
  clock_->Advance(seconds(2));
  ASSERT_EQ(shutdown.wait_for(kHang), std::future_status::ready);
  const ShutdownReport report = shutdown.get();
  EXPECT_TRUE(report.deadline_exceeded);
  EXPECT_EQ(report.spans_queued, 100);
  EXPECT_EQ(report.spans_not_sent, 100);
  EXPECT_EQ(fake_->shutdown_calls(), 1);
  EXPECT_TRUE(fake_->delivered().empty());
  ExpectBalanced(exporter->Stats());
}

TEST_F(BatchingSpanExporterTest, ConcurrentProducersLoseNothing) {
  auto options = Quiet();
  options.batch_size = 64;
  options.max_queue_spans = 256;
  options.max_enqueue_wait = hours(1);  // the clock stands still: producers just wait
  auto exporter = Make(options);
  constexpr int kThreads = 8;
  constexpr int kBatches = 40;
  std::vector<std::vector<std::string>> expected(kThreads);
  std::vector<std::vector<std::shared_ptr<arrow::RecordBatch>>> batches(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int b = 0; b < kBatches; ++b) {
      const std::string tag = "t" + std::to_string(t) + "b" + std::to_string(b);
      const int64_t size = 1 + (t * 7 + b) % 13;
      batches[t].push_back(NamedSpans(size, tag));
      const auto names = SpanNames(size, tag);
      expected[t].insert(expected[t].end(), names.begin(), names.end());
    }
  }
  std::vector<std::future<int>> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.push_back(std::async(std::launch::async, [&, t] {
      int refused = 0;
      for (const auto& batch : batches[t]) refused += !exporter->Enqueue(batch).ok();
      return refused;
    }));
  }
  for (auto& producer : producers) {
    ASSERT_TRUE(Ready(producer, *exporter));
    EXPECT_EQ(producer.get(), 0);
  }
  const ShutdownReport report = exporter->Shutdown(seconds(10));
  EXPECT_TRUE(report.ok()) << report.ToString();

  const auto delivered = fake_->delivered();
  int64_t total = 0;
  for (const auto& names : expected) total += static_cast<int64_t>(names.size());
  EXPECT_EQ(static_cast<int64_t>(delivered.size()), total);
  EXPECT_EQ(std::set<std::string>(delivered.begin(), delivered.end()).size(),
            delivered.size());  // no duplicates
  // Each producer's spans arrive in the order it enqueued them.
  std::map<std::string, std::vector<std::string>> by_thread;
  for (const auto& name : delivered) {
    by_thread[name.substr(0, name.find('b'))].push_back(name);
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(by_thread["t" + std::to_string(t)], expected[t]) << "thread " << t;
  }
  for (const auto& call : fake_->calls()) EXPECT_LE(call.batch->num_rows(), 64);
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.spans_exported, total);
  ExpectBalanced(stats);
}

// --- Append: requests encoded straight into the open batch ---------------------------

IngestResult AppendNamed(BatchingSpanExporter& exporter, int64_t count,
                         const std::string& tag) {
  const auto request = testing::NamedRequest(count, tag);
  return exporter.Append(
      [&](convert::SpanTableEncoder& encoder) { return encoder.Append(request); });
}

TEST_F(BatchingSpanExporterTest, AppendedRequestsFillABatchWithoutCrossingItsEnd) {
  auto options = Quiet();
  options.batch_size = 100;
  auto exporter = Make(options);
  for (const char* tag : {"a", "b", "c"})
    ExpectAccepted(AppendNamed(*exporter, 30, tag), 30);
  EXPECT_EQ(fake_->calls().size(), 0u);  // 90 spans: the batch is still open
  // "d" would cross the batch's end: the batch leaves as it is, "d" starts the next.
  ExpectAccepted(AppendNamed(*exporter, 30, "d"), 30);
  ASSERT_TRUE(fake_->WaitForCalls(1));
  ASSERT_TRUE(exporter->ForceFlush(seconds(1)));
  const auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(Names(*calls[0].batch),
            Concat({SpanNames(30, "a"), SpanNames(30, "b"), SpanNames(30, "c")}));
  EXPECT_EQ(Names(*calls[1].batch), SpanNames(30, "d"));
  EXPECT_TRUE(calls[0].batch->ValidateFull().ok());
  // A request of exactly the rest closes the batch at once.
  ExpectAccepted(AppendNamed(*exporter, 60, "e"), 60);
  ExpectAccepted(AppendNamed(*exporter, 40, "f"), 40);
  ASSERT_TRUE(fake_->WaitForCalls(3));
  EXPECT_EQ(fake_->calls()[2].batch->num_rows(), 100);
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.batches_enqueued, 6);
  EXPECT_EQ(stats.spans_enqueued, 220);
  ExpectBalanced(stats);
}

TEST_F(BatchingSpanExporterTest, AppendedBadRequestLeavesTheOtherRequestsSpans) {
  auto exporter = Make(Quiet());
  ExpectAccepted(AppendNamed(*exporter, 10, "a"), 10);
  auto bad = testing::NamedRequest(10, "bad");
  bad.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(6)->set_span_id(
      "abc");
  const IngestResult refused = exporter->Append(
      [&](convert::SpanTableEncoder& encoder) { return encoder.Append(bad); });
  EXPECT_EQ(refused.code, IngestCode::kInvalid);
  EXPECT_THAT(refused.message, HasSubstr("span_id"));
  EXPECT_EQ(refused.spans, 0);
  // An error of the caller's own after a successful append rolls back too.
  const IngestResult own_error =
      exporter->Append([&](convert::SpanTableEncoder& encoder) {
        ARROW_RETURN_NOT_OK(encoder.Append(testing::NamedRequest(4, "own")));
        return arrow::Status::CapacityError("too big for the caller");
      });
  EXPECT_EQ(own_error.code, IngestCode::kTooLarge);
  ExpectAccepted(AppendNamed(*exporter, 10, "b"), 10);
  ASSERT_TRUE(exporter->ForceFlush(seconds(1)));
  EXPECT_EQ(fake_->delivered(), Concat({SpanNames(10, "a"), SpanNames(10, "b")}));
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.spans_enqueued, 20);
  EXPECT_EQ(stats.queue_bytes, 0);
  ExpectBalanced(stats);
}

TEST_F(BatchingSpanExporterTest, AppendWaitsForRoomThenRefusesAndTakesNothing) {
  auto options = Quiet();
  options.batch_size = 50;
  options.max_queue_spans = 100;
  options.max_enqueue_wait = seconds(2);
  auto exporter = Make(options);
  fake_->Block();
  ExpectAccepted(AppendNamed(*exporter, 50, "a"), 50);  // a full batch: exported
  ASSERT_TRUE(fake_->WaitForCalls(1));
  ExpectAccepted(AppendNamed(*exporter, 50, "b"), 50);  // queued behind it
  auto producer = std::async(std::launch::async, [&] {
    IngestResult result = AppendNamed(*exporter, 10, "refused");
    return std::make_pair(result, clock_->Now());
  });
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  // While one producer waits, the open batch is free for others: a request that fits
  // nowhere either waits too, it does not deadlock the worker.
  clock_->Advance(milliseconds(1999));
  clock_->Advance(milliseconds(1));
  ASSERT_TRUE(Ready(producer, *exporter));
  auto [result, refused_at] = producer.get();
  EXPECT_EQ(result.code, IngestCode::kQueueFull);
  EXPECT_EQ(result.spans, 10);
  EXPECT_EQ(refused_at - start_, seconds(2));
  EXPECT_EQ(exporter->Stats().spans_refused_queue_full, 10);
  ExpectBalanced(exporter->Stats());

  // Room appears while a producer waits: it gets in without waiting out the bound.
  auto second =
      std::async(std::launch::async, [&] { return AppendNamed(*exporter, 10, "c"); });
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  fake_->Unblock();
  ASSERT_TRUE(Ready(second, *exporter));
  ExpectAccepted(second.get(), 10);
  ASSERT_TRUE(exporter->ForceFlush(seconds(1)));
  EXPECT_EQ(fake_->delivered(),
            Concat({SpanNames(50, "a"), SpanNames(50, "b"), SpanNames(10, "c")}));
}

TEST_F(BatchingSpanExporterTest, OpenBatchLeavesWhenItsFirstSpanWaitedTheInterval) {
  auto options = Quiet();
  options.flush_interval = seconds(1);
  auto exporter = Make(options);
  ExpectAccepted(AppendNamed(*exporter, 10, "a"), 10);
  clock_->Advance(milliseconds(600));
  ExpectAccepted(AppendNamed(*exporter, 5, "b"), 5);
  clock_->Advance(milliseconds(399));
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  EXPECT_EQ(fake_->calls().size(), 0u);
  clock_->Advance(milliseconds(1));
  ASSERT_TRUE(fake_->WaitForCalls(1));
  EXPECT_THAT(CallOffsets(*fake_, start_), ElementsAre(seconds(1)));
  EXPECT_EQ(Names(*fake_->calls()[0].batch),
            Concat({SpanNames(10, "a"), SpanNames(5, "b")}));
}

TEST_F(BatchingSpanExporterTest, ShutdownSendsTheOpenBatchAndEnqueueKeepsTheOrder) {
  auto exporter = Make(Quiet());
  ExpectAccepted(AppendNamed(*exporter, 10, "a"), 10);
  ExpectAccepted(exporter->Enqueue(NamedSpans(5, "b")), 5);
  ExpectAccepted(AppendNamed(*exporter, 7, "c"), 7);
  const ShutdownReport report = exporter->Shutdown(seconds(5));
  EXPECT_TRUE(report.ok()) << report.ToString();
  EXPECT_EQ(report.spans_queued, 22);
  EXPECT_EQ(report.spans_delivered, 22);
  EXPECT_EQ(fake_->delivered(),
            Concat({SpanNames(10, "a"), SpanNames(5, "b"), SpanNames(7, "c")}));
  EXPECT_EQ(AppendNamed(*exporter, 3, "late").code, IngestCode::kShuttingDown);
  ExpectBalanced(exporter->Stats());
}

TEST_F(BatchingSpanExporterTest, ConcurrentAppendsLoseNothing) {
  auto options = Quiet();
  options.batch_size = 64;
  options.max_queue_spans = 256;
  options.max_enqueue_wait = hours(1);
  auto exporter = Make(options);
  constexpr int kThreads = 8;
  constexpr int kRequests = 40;
  std::vector<std::future<std::vector<std::string>>> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.push_back(std::async(std::launch::async, [&, t] {
      std::vector<std::string> accepted;
      for (int r = 0; r < kRequests; ++r) {
        const std::string tag = "t" + std::to_string(t) + "r" + std::to_string(r);
        const int64_t size = 1 + (t * 7 + r) % 13;
        if (r % 9 == 4) {  // now and then a bad request among the good ones
          auto bad = testing::NamedRequest(size, tag + "bad");
          bad.mutable_resource_spans(0)
              ->mutable_scope_spans(0)
              ->mutable_spans(0)
              ->set_trace_id("x");
          EXPECT_FALSE(exporter
                           ->Append([&](convert::SpanTableEncoder& encoder) {
                             return encoder.Append(bad);
                           })
                           .ok());
        }
        if (AppendNamed(*exporter, size, tag).ok()) {
          const auto names = SpanNames(size, tag);
          accepted.insert(accepted.end(), names.begin(), names.end());
        }
      }
      return accepted;
    }));
  }
  std::vector<std::string> expected;
  for (auto& producer : producers) {
    ASSERT_TRUE(Ready(producer, *exporter));
    const auto accepted = producer.get();
    expected.insert(expected.end(), accepted.begin(), accepted.end());
  }
  const ShutdownReport report = exporter->Shutdown(seconds(10));
  EXPECT_TRUE(report.ok()) << report.ToString();
  auto delivered = fake_->delivered();
  std::sort(delivered.begin(), delivered.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(delivered, expected);
  for (const auto& call : fake_->calls()) {
    EXPECT_LE(call.batch->num_rows(), 64);
    EXPECT_TRUE(call.batch->ValidateFull().ok());
  }
  ExpectBalanced(exporter->Stats());
}

TEST_F(BatchingSpanExporterTest, StatsCountBytesRetriesAndLatency) {
  auto options = Quiet();
  options.batch_size = 10;
  auto exporter = Make(options);
  fake_->set_latency(milliseconds(30));
  fake_->set_inner_retries(1);
  ExpectAccepted(exporter->Enqueue(NamedSpans(10, "a")), 10);
  ASSERT_TRUE(fake_->WaitForCalls(1));
  ASSERT_TRUE(clock_->AwaitWaiters(1));
  const auto stats = exporter->Stats();
  EXPECT_EQ(stats.queue_capacity_spans, options.max_queue_spans);
  EXPECT_EQ(stats.queue_capacity_bytes, options.max_queue_bytes);
  EXPECT_EQ(stats.bytes_sent_raw, 100);  // the fake's 10 per span
  EXPECT_EQ(stats.bytes_sent_compressed, 40);
  EXPECT_EQ(stats.retries, 1);
  EXPECT_EQ(stats.export_latency_seconds.count, 1u);
  EXPECT_DOUBLE_EQ(stats.export_latency_seconds.sum, 0.03);
  // Buckets ..., 0.025, 0.05, ...: 30 ms is counted under 0.05.
  const auto& bounds = stats.export_latency_seconds.bounds;
  const size_t bucket = std::find(bounds.begin(), bounds.end(), 0.05) - bounds.begin();
  ASSERT_LT(bucket, bounds.size());
  EXPECT_EQ(stats.export_latency_seconds.counts[bucket], 1u);
}

// The same machinery on the real steady clock: the interval flush happens by itself.
TEST(BatchingSpanExporterSteadyClock, FlushesAfterTheIntervalInRealTime) {
  auto fake = std::make_shared<FakeSpanBatchExporter>();
  BatchingSpanExporterOptions options;
  options.flush_interval = milliseconds(5);
  ASSERT_OK_AND_ASSIGN(auto exporter, BatchingSpanExporter::Make(options, fake));
  ASSERT_TRUE(exporter->Enqueue(NamedSpans(3, "a")).ok());
  ASSERT_TRUE(fake->WaitForCalls(1, kHang));
  const ShutdownReport report = exporter->Shutdown();
  EXPECT_TRUE(report.ok()) << report.ToString();
  EXPECT_EQ(fake->delivered(), SpanNames(3, "a"));
}

}  // namespace
}  // namespace otlp_arrow::pipeline
