// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/telemetry/process_metrics.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <arrow/buffer.h>
#include <arrow/memory_pool.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace otlp_arrow::telemetry {
namespace {

using ::testing::HasSubstr;

ProcessStats Read() {
  auto stats = ReadProcessStats();
  EXPECT_TRUE(stats.ok()) << stats.status();
  return stats.ValueOrDie();
}

// The value of the sample that starts with `prefix` (name and labels), from a rendering.
std::optional<double> Sample(const std::string& text, const std::string& prefix) {
  size_t at = 0;
  while ((at = text.find(prefix + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const size_t begin = at + prefix.size() + 1;
      return std::stod(text.substr(begin, text.find('\n', begin) - begin));
    }
    ++at;
  }
  return std::nullopt;
}

double ProcessCpuClock() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

TEST(ProcessMetrics, ReadingsArePlausible) {
  const ProcessStats stats = Read();
  EXPECT_GT(stats.resident_memory_bytes, 1 << 20);
  EXPECT_GE(stats.virtual_memory_bytes, stats.resident_memory_bytes);
  EXPECT_GT(stats.cpu_seconds, 0);
  EXPECT_GE(stats.open_fds, 3);  // stdin, stdout, stderr
  rlimit limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(stats.max_fds,
            limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<int64_t>(limit.rlim_cur));
  EXPECT_GE(stats.threads, 1);
  // The test process started moments ago (btime has a resolution of one second).
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(stats.start_time_seconds, now + 1);
  EXPECT_GT(stats.start_time_seconds, now - 600);
}

TEST(ProcessMetrics, ResidentMemoryGrowsWhenTouching64MiB) {
  constexpr int64_t kSize = int64_t{64} << 20;
  const int64_t before = Read().resident_memory_bytes;
  std::unique_ptr<char[]> block(new char[kSize]);
  // Touch every page so that it is resident; volatile, so the writes are not elided.
  volatile char* pages = block.get();
  for (int64_t i = 0; i < kSize; i += 4096) pages[i] = 1;
  const int64_t after = Read().resident_memory_bytes;
  EXPECT_GE(after - before, kSize * 9 / 10) << "before " << before << " after " << after;
}

TEST(ProcessMetrics, CpuSecondsFollowABusyLoop) {
  const double before = Read().cpu_seconds;
  // Spin until the kernel's own per-process clock has advanced 0.3 s: on a loaded
  // machine a fixed wall-clock loop might get little CPU.
  const double start = ProcessCpuClock();
  volatile uint64_t x = 1;
  while (ProcessCpuClock() - start < 0.3) {
    for (int i = 0; i < 100000; ++i) x = x * 6364136223846793005ULL + 1;
  }
  const double spun = ProcessCpuClock() - start;
  const double delta = Read().cpu_seconds - before;
  EXPECT_GE(delta, 0.25) << "spun " << spun;
  EXPECT_LE(delta, spun + 0.1);
}

TEST(ProcessMetrics, OpenFdsAndThreadsFollowTheProcess) {
  const ProcessStats before = Read();
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::thread thread([&] {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return release; });
  });
  const ProcessStats during = Read();
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_one();
  thread.join();
  ::close(fd);
  EXPECT_EQ(during.open_fds, before.open_fds + 1);
  EXPECT_EQ(during.threads, before.threads + 1);
  EXPECT_EQ(Read().open_fds, before.open_fds);
}

TEST(ProcessMetrics, RegisteredUnderTheStandardNames) {
  MetricRegistry registry;
  ASSERT_TRUE(RegisterProcessMetrics(&registry).ok());
  const std::string text = registry.Render();
  for (const char* type_line : {
           "# TYPE process_resident_memory_bytes gauge\n",
           "# TYPE process_virtual_memory_bytes gauge\n",
           "# TYPE process_cpu_seconds_total counter\n",
           "# TYPE process_open_fds gauge\n",
           "# TYPE process_max_fds gauge\n",
           "# TYPE process_start_time_seconds gauge\n",
           "# TYPE process_threads gauge\n",
           "# TYPE otlp_arrow_arrow_memory_pool_bytes gauge\n",
           "# TYPE otlp_arrow_arrow_memory_pool_allocations_total counter\n",
           "# TYPE otlp_arrow_arrow_memory_pool_allocated_bytes_total counter\n",
       }) {
    EXPECT_THAT(text, HasSubstr(type_line));
  }
  const auto rss = Sample(text, "process_resident_memory_bytes");
  ASSERT_TRUE(rss.has_value()) << text;
  EXPECT_GT(*rss, 1 << 20);
  const auto threads = Sample(text, "process_threads");
  ASSERT_TRUE(threads.has_value());
  EXPECT_GE(*threads, 1);
  const auto start = Sample(text, "process_start_time_seconds");
  ASSERT_TRUE(start.has_value());
  EXPECT_NEAR(*start, Read().start_time_seconds, 1.0);
  // A second registration is refused, not doubled.
  EXPECT_FALSE(RegisterProcessMetrics(&registry).ok());
  EXPECT_FALSE(RegisterProcessMetrics(nullptr).ok());
}

TEST(ProcessMetrics, ArrowPoolFollowsAnAllocation) {
  arrow::MemoryPool* pool = arrow::default_memory_pool();
  MetricRegistry registry;
  ASSERT_TRUE(RegisterProcessMetrics(&registry).ok());
  const std::string labels = "{backend=\"" + pool->backend_name() + "\"}";
  auto read = [&](const char* name) {
    const auto value = Sample(registry.Render(), std::string(name) + labels);
    EXPECT_TRUE(value.has_value()) << name << labels << "\n" << registry.Render();
    return value.value_or(-1);
  };
  constexpr int64_t kSize = int64_t{8} << 20;
  const double bytes_before = read("otlp_arrow_arrow_memory_pool_bytes");
  const double allocations_before =
      read("otlp_arrow_arrow_memory_pool_allocations_total");
  const double total_before = read("otlp_arrow_arrow_memory_pool_allocated_bytes_total");
  {
    auto buffer = arrow::AllocateBuffer(kSize, pool);
    ASSERT_TRUE(buffer.ok());
    EXPECT_EQ(read("otlp_arrow_arrow_memory_pool_bytes") - bytes_before, kSize);
    EXPECT_GE(read("otlp_arrow_arrow_memory_pool_max_bytes"), bytes_before + kSize);
    EXPECT_GE(read("otlp_arrow_arrow_memory_pool_allocations_total"),
              allocations_before + 1);
    EXPECT_GE(read("otlp_arrow_arrow_memory_pool_allocated_bytes_total"),
              total_before + kSize);
  }
  EXPECT_EQ(read("otlp_arrow_arrow_memory_pool_bytes"), bytes_before);
}

TEST(ProcessMetrics, SeveralPoolsWithExtraLabels) {
  MetricRegistry registry;
  arrow::ProxyMemoryPool ingest(arrow::default_memory_pool());
  ASSERT_TRUE(RegisterProcessMetrics(&registry, {.include_arrow_pool = false}).ok());
  ASSERT_TRUE(
      RegisterArrowMemoryPoolMetrics(&registry, &ingest, {{"pool", "ingest"}}).ok());
  ASSERT_TRUE(RegisterArrowMemoryPoolMetrics(&registry, arrow::default_memory_pool(),
                                             {{"pool", "default"}})
                  .ok());
  auto buffer = arrow::AllocateBuffer(4096, &ingest);
  ASSERT_TRUE(buffer.ok());
  const std::string text = registry.Render();
  const std::string backend = ingest.backend_name();
  const auto ingest_bytes = Sample(text, "otlp_arrow_arrow_memory_pool_bytes{backend=\"" +
                                             backend + "\",pool=\"ingest\"}");
  ASSERT_TRUE(ingest_bytes.has_value()) << text;
  EXPECT_EQ(*ingest_bytes, 4096);
  EXPECT_THAT(text, HasSubstr("pool=\"default\"} "));
  EXPECT_TRUE(RegisterArrowMemoryPoolMetrics(&registry, nullptr).IsInvalid());
}

}  // namespace
}  // namespace otlp_arrow::telemetry
