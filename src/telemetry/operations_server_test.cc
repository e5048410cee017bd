// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/telemetry/operations_server.h"

#include <atomic>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "otlp_arrow/telemetry/process_metrics.h"

namespace otlp_arrow::telemetry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::shared_ptr<MetricRegistry> MakeRegistry() {
  auto registry = std::make_shared<MetricRegistry>();
  EXPECT_TRUE(registry
                  ->AddCounter({"otlp_arrow_spans_received_total",
                                "Spans received.",
                                "",
                                {{"protocol", "grpc"}}},
                               [] { return 42.0; })
                  .ok());
  return registry;
}

std::unique_ptr<OperationsServer> MakeServer(
    std::string health, std::string metrics,
    std::shared_ptr<MetricRegistry> registry = MakeRegistry()) {
  auto server = OperationsServer::Make(
      {.health_address = std::move(health), .metrics_address = std::move(metrics)},
      std::move(registry));
  EXPECT_TRUE(server.ok()) << server.status();
  return std::move(server).ValueOrDie();
}

httplib::Result Get(int port, const char* path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  return client.Get(path);
}

int64_t OpenFds() {
  auto stats = ReadProcessStats();
  EXPECT_TRUE(stats.ok());
  return stats.ok() ? stats->open_fds : -1;
}

TEST(OperationsServer, SeparateListenersServeTheirPaths) {
  auto registry = MakeRegistry();
  auto server = MakeServer("127.0.0.1:0", "127.0.0.1:0", registry);
  EXPECT_FALSE(server->single_listener());
  EXPECT_EQ(server->health_port(), 0);
  ASSERT_TRUE(server->Start().ok());
  const int health = server->health_port();
  const int metrics = server->metrics_port();
  ASSERT_GT(health, 0);
  ASSERT_GT(metrics, 0);
  EXPECT_NE(health, metrics);

  auto res = Get(health, "/health");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");

  res = Get(health, "/ready");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << "no checks: ready";
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");

  res = Get(metrics, "/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res->body,
            "# HELP otlp_arrow_spans_received_total Spans received.\n"
            "# TYPE otlp_arrow_spans_received_total counter\n"
            "otlp_arrow_spans_received_total{protocol=\"grpc\"} 42\n");

  // Each listener serves only its own paths.
  res = Get(health, "/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = Get(metrics, "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = Get(metrics, "/ready");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);

  // Metrics registered after Start() show at the next scrape.
  ASSERT_TRUE(
      registry->AddGauge({"late", "Registered late.", "", {}}, [] { return 1.0; }).ok());
  res = Get(metrics, "/metrics");
  ASSERT_TRUE(res);
  EXPECT_THAT(res->body, HasSubstr("\nlate 1\n"));

  server->Stop();
  EXPECT_EQ(server->health_port(), 0);
  EXPECT_EQ(server->metrics_port(), 0);
  EXPECT_FALSE(Get(health, "/health")) << "stopped";
  EXPECT_FALSE(Get(metrics, "/metrics")) << "stopped";
  server->Stop();  // idempotent
}

TEST(OperationsServer, ReadinessTransitions) {
  auto server = MakeServer("127.0.0.1:0", "");
  FlagCheck listeners("listeners are not up yet");
  std::atomic<double> queue_spans{0};
  HighWaterMarkCheck queue(
      "export queue spans", [&] { return queue_spans.load(); }, 100);
  ASSERT_TRUE(server->AddReadinessCheck("listeners", listeners.AsCheck()).ok());
  ASSERT_TRUE(server->AddReadinessCheck("queue", queue.AsCheck()).ok());
  ASSERT_TRUE(server->Start().ok());
  const int port = server->health_port();

  auto ready = [&](int expected_status) {
    auto res = Get(port, "/ready");
    EXPECT_TRUE(res);
    if (!res) return nlohmann::json();
    EXPECT_EQ(res->status, expected_status) << res->body;
    return nlohmann::json::parse(res->body);
  };

  auto body = ready(503);
  EXPECT_EQ(body["ready"], false);
  EXPECT_EQ(body["draining"], false);
  EXPECT_EQ(body["failing"], nlohmann::json::array({"listeners"}));
  ASSERT_EQ(body["checks"].size(), 2u);
  EXPECT_EQ(body["checks"][0]["name"], "listeners");
  EXPECT_EQ(body["checks"][0]["ready"], false);
  EXPECT_EQ(body["checks"][0]["reason"], "listeners are not up yet");
  EXPECT_EQ(body["checks"][1]["name"], "queue");
  EXPECT_EQ(body["checks"][1]["ready"], true);

  listeners.Set(true);
  body = ready(200);
  EXPECT_EQ(body["ready"], true);
  EXPECT_EQ(body["failing"], nlohmann::json::array());

  queue_spans = 100;
  body = ready(503);
  EXPECT_EQ(body["failing"], nlohmann::json::array({"queue"}));
  EXPECT_THAT(body["checks"][1]["reason"].get<std::string>(), HasSubstr("at 100"));
  queue_spans = 10;
  ready(200);

  // Draining: not ready whatever the checks say; liveness is unaffected.
  server->SetDraining(true);
  EXPECT_TRUE(server->draining());
  body = ready(503);
  EXPECT_EQ(body["draining"], true);
  EXPECT_EQ(body["failing"], nlohmann::json::array({"draining"}));
  auto health = Get(port, "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  server->SetDraining(false);
  ready(200);

  // A removed check no longer counts.
  listeners.Set(false);
  ready(503);
  ASSERT_TRUE(server->RemoveReadinessCheck("listeners").ok());
  body = ready(200);
  EXPECT_EQ(body["checks"].size(), 1u);
  EXPECT_TRUE(server->RemoveReadinessCheck("listeners").IsKeyError());
}

TEST(OperationsServer, ReadinessCheckRegistration) {
  auto server = MakeServer("127.0.0.1:0", "");
  EXPECT_TRUE(
      server->AddReadinessCheck("", [] { return ReadinessResult::Ready(); }).IsInvalid());
  EXPECT_TRUE(server->AddReadinessCheck("x", nullptr).IsInvalid());
  ASSERT_TRUE(
      server->AddReadinessCheck("x", [] { return ReadinessResult::Ready(); }).ok());
  EXPECT_TRUE(server->AddReadinessCheck("x", [] { return ReadinessResult::Ready(); })
                  .IsAlreadyExists());
  ASSERT_TRUE(server
                  ->AddReadinessCheck(
                      "bytes", [] { return ReadinessResult::NotReady("bad \xff byte"); })
                  .ok());
  // Evaluated without a listener too, for logs.
  const ReadinessReport report = server->CheckReadiness();
  EXPECT_FALSE(report.ready);
  EXPECT_THAT(report.Failing(), ElementsAre("bytes"));
  // A reason that is not UTF-8 is replaced, not a failed /ready.
  const auto json = nlohmann::json::parse(report.ToJson());
  EXPECT_EQ(json["checks"][1]["reason"], "bad \xEF\xBF\xBD byte");
}

TEST(OperationsServer, OneListenerWhenMetricsAddressIsEmpty) {
  auto server = MakeServer("127.0.0.1:0", "");
  EXPECT_TRUE(server->single_listener());
  ASSERT_TRUE(server->Start().ok());
  EXPECT_GT(server->health_port(), 0);
  EXPECT_EQ(server->health_port(), server->metrics_port());
  for (const char* path : {"/health", "/ready", "/metrics"}) {
    auto res = Get(server->health_port(), path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
}

TEST(OperationsServer, OneListenerWhenAddressesAreEqual) {
  // A port that was free a moment ago: bound by a first server, which then stops.
  auto probe = MakeServer("127.0.0.1:0", "");
  ASSERT_TRUE(probe->Start().ok());
  const int port = probe->health_port();
  probe->Stop();

  const std::string address = "127.0.0.1:" + std::to_string(port);
  auto server = MakeServer(address, address);
  EXPECT_TRUE(server->single_listener());
  ASSERT_TRUE(server->Start().ok());
  EXPECT_EQ(server->health_port(), port);
  EXPECT_EQ(server->metrics_port(), port);
  auto res = Get(port, "/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("otlp_arrow_spans_received_total"));
  res = Get(port, "/ready");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(OperationsServer, PortTakenIsAClearErrorAndLeavesNothingOpen) {
  auto first = MakeServer("127.0.0.1:0", "127.0.0.1:0");
  ASSERT_TRUE(first->Start().ok());
  const std::string taken_health = "127.0.0.1:" + std::to_string(first->health_port());
  const std::string taken_metrics = "127.0.0.1:" + std::to_string(first->metrics_port());

  auto second = MakeServer(taken_health, "127.0.0.1:0");
  auto status = second->Start();
  EXPECT_TRUE(status.IsIOError()) << status;
  EXPECT_THAT(status.message(), HasSubstr(taken_health));
  EXPECT_THAT(status.message(), HasSubstr("/health, /ready"));
  EXPECT_THAT(status.message(), HasSubstr("Address already in use"));
  EXPECT_EQ(second->health_port(), 0);

  // The metrics listener fails after the health listener bound: the health listener is
  // closed again, so the process holds no more descriptors than before.
  const int64_t fds_before = OpenFds();
  auto third = MakeServer("127.0.0.1:0", taken_metrics);
  status = third->Start();
  EXPECT_TRUE(status.IsIOError()) << status;
  EXPECT_THAT(status.message(), HasSubstr(taken_metrics + " for /metrics"));
  EXPECT_EQ(third->health_port(), 0);
  EXPECT_EQ(OpenFds(), fds_before);

  // The first server still serves, and the second starts once the port is free.
  auto res = Get(first->health_port(), "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  first->Stop();
  ASSERT_TRUE(second->Start().ok());
  EXPECT_EQ("127.0.0.1:" + std::to_string(second->health_port()), taken_health);
}

TEST(OperationsServer, StartTwiceIsRefusedAndStartAfterStopServesAgain) {
  auto server = MakeServer("127.0.0.1:0", "127.0.0.1:0");
  ASSERT_TRUE(server->Start().ok());
  EXPECT_TRUE(server->Start().IsInvalid());
  server->Stop();
  ASSERT_TRUE(server->Start().ok());
  auto res = Get(server->metrics_port(), "/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  // The destructor stops a running server.
}

TEST(OperationsServer, InvalidOptionsAreRefused) {
  for (const char* address :
       {"localhost", "127.0.0.1:", ":8080", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:80x", "::1:8080", "[::1]8080", "[::1]", "[]:80"}) {
    auto server = OperationsServer::Make(
        {.health_address = address, .metrics_address = ""}, MakeRegistry());
    EXPECT_TRUE(server.status().IsInvalid()) << address;
    server = OperationsServer::Make(
        {.health_address = "127.0.0.1:0", .metrics_address = address}, MakeRegistry());
    EXPECT_TRUE(server.status().IsInvalid()) << address;
  }
  EXPECT_TRUE(OperationsServer::Make({}, nullptr).status().IsInvalid());
  EXPECT_TRUE(OperationsServer::Make({.threads_per_listener = 0}, MakeRegistry())
                  .status()
                  .IsInvalid());
  // Defaults and bracketed IPv6 parse (they are not started here).
  EXPECT_TRUE(OperationsServer::Make({}, MakeRegistry()).ok());
  EXPECT_TRUE(
      OperationsServer::Make({.health_address = "[::1]:8080"}, MakeRegistry()).ok());
}

TEST(OperationsServer, ConcurrentScrapesAndProbes) {
  auto registry = MakeRegistry();
  ASSERT_TRUE(RegisterProcessMetrics(registry.get()).ok());
  auto server = MakeServer("127.0.0.1:0", "127.0.0.1:0", registry);
  FlagCheck flag("flag clear", true);
  ASSERT_TRUE(server->AddReadinessCheck("flag", flag.AsCheck()).ok());
  ASSERT_TRUE(server->Start().ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto res = t % 2 == 0 ? Get(server->metrics_port(), "/metrics")
                              : Get(server->health_port(), "/ready");
        if (!res || res->status != 200) ++failures;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace otlp_arrow::telemetry
