// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/service/service_runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "otlp_arrow/common/host_port.h"
#include "otlp_arrow/common/log.h"
#include "otlp_arrow/config/component_options.h"
#include "otlp_arrow/pipeline/batching_span_exporter.h"
#include "otlp_arrow/pipeline/flight_span_batch_exporter.h"
#include "otlp_arrow/pipeline/otlp_trace_ingest.h"
#include "otlp_arrow/pipeline/span_sink_ingest.h"
#include "otlp_arrow/service/otlp_grpc_receiver.h"
#include "otlp_arrow/service/otlp_http_receiver.h"
#include "otlp_arrow/service/request_memory_budget.h"
#include "otlp_arrow/storage/parquet_span_store.h"
#include "otlp_arrow/telemetry/metric_registry.h"
#include "otlp_arrow/telemetry/operations_server.h"
#include "otlp_arrow/telemetry/process_metrics.h"
#include "otlp_arrow/telemetry/readiness.h"
#include "otlp_arrow/transport/flight_span_receiver.h"

namespace otlp_arrow::service {

namespace {

using telemetry::Labels;
using telemetry::MetricRegistry;

// "0.0.0.0:0" (or "grpc://127.0.0.1:0") with the port a listener got → "0.0.0.0:4317".
// The configuration was validated, so the address parses.
std::string WithPort(const std::string& address, int port) {
  const auto scheme_end = address.find("://");
  const std::string scheme =
      scheme_end == std::string::npos ? "" : address.substr(0, scheme_end + 3);
  common::HostPort host_port =
      common::HostPort::Parse(address).ValueOr(common::HostPort{});
  host_port.port = port;
  return scheme + host_port.ToString();
}

// The readiness of the path to the upstream receiver, read off the exporter's counters:
// not ready while the latest exports failed and none succeeded since. No traffic yet
// counts as ready (a gateway must become ready before its first span).
class UpstreamCheck {
 public:
  explicit UpstreamCheck(std::function<pipeline::BatchingSpanExporterStats()> stats)
      : stats_(std::move(stats)) {}

  telemetry::ReadinessResult Evaluate() {
    const auto stats = stats_();
    std::lock_guard<std::mutex> lock(mutex_);
    if (stats.batches_exported > exported_) {
      failing_ = false;
    } else if (stats.export_failures > failures_) {
      failing_ = true;
    }
    exported_ = stats.batches_exported;
    failures_ = stats.export_failures;
    if (failing_) {
      return telemetry::ReadinessResult::NotReady(
          "exports to the upstream receiver are failing (" + std::to_string(failures_) +
          " failures so far); spans wait in the queue");
    }
    return telemetry::ReadinessResult::Ready();
  }

 private:
  std::function<pipeline::BatchingSpanExporterStats()> stats_;
  std::mutex mutex_;
  int64_t exported_ = 0;
  int64_t failures_ = 0;
  bool failing_ = false;
};

}  // namespace

std::string ServiceStopReport::ToString() const {
  return fmt::format(
      "{} spans accepted over OTLP, {} exported, {} not sent; {} stored{}{}",
      spans_accepted, spans_exported, spans_not_sent, receiver.spans_stored,
      status.ok() ? "" : "; ", status.ok() ? "" : status.ToString());
}

struct ServiceRuntime::Impl {
  ServiceRole role = ServiceRole::kGateway;
  config::ServiceConfig config;
  config::ComponentOptions options;
  ServiceEndpoints endpoints;

  std::shared_ptr<MetricRegistry> registry = std::make_shared<MetricRegistry>();
  std::unique_ptr<telemetry::OperationsServer> operations;
  telemetry::FlagCheck listening{"not all listeners are up yet"};

  // Receiver side.
  std::shared_ptr<storage::ParquetSpanStore> store;
  std::unique_ptr<transport::FlightSpanReceiver> flight_receiver;
  // OTAP (and OTLP/gRPC) straight into the store: listen.otap, and all-in-one's OTAP.
  std::shared_ptr<pipeline::SpanSinkIngest> store_ingest;
  std::unique_ptr<OtlpGrpcReceiver> otap_receiver;

  // Gateway side.
  std::shared_ptr<pipeline::BatchingSpanExporter> batching;
  std::shared_ptr<pipeline::OtlpTraceIngest> ingest;
  std::unique_ptr<OtlpGrpcReceiver> grpc_receiver;
  std::unique_ptr<OtlpHttpReceiver> http_receiver;
  std::shared_ptr<RequestMemoryBudget> request_budget;
  std::shared_ptr<UpstreamCheck> upstream_check;

  std::mutex stop_mutex;
  bool stopped = false;
  ServiceStopReport stop_report;

  arrow::Status StartReceiver() {
    const storage::ParquetSpanStoreOptions& store_options = options.receiver->store;
    ARROW_ASSIGN_OR_RAISE(store, storage::ParquetSpanStore::Open(store_options));
    const auto& recovery = store->recovery_report();
    if (recovery.segments_replayed > 0 || recovery.temporary_files_removed > 0) {
      spdlog::info(
          "recovered {}: {} WAL segments replayed ({} rows written, {} already "
          "published), {} temporary files removed, {} torn bytes dropped",
          store_options.data_dir, recovery.segments_replayed, recovery.rows_written,
          recovery.rows_already_published, recovery.temporary_files_removed,
          recovery.torn_bytes_dropped);
    }
    ARROW_ASSIGN_OR_RAISE(flight_receiver, transport::FlightSpanReceiver::Make(
                                               options.receiver->flight, store, store));
    ARROW_RETURN_NOT_OK(flight_receiver->Start());
    endpoints.flight = flight_receiver->uri();
    endpoints.data_dir = store_options.data_dir;

    pipeline::SpanSinkIngest::Options ingest_options;
    ingest_options.max_batch_bytes = options.receiver->flight.max_batch_bytes;
    ARROW_ASSIGN_OR_RAISE(store_ingest,
                          pipeline::SpanSinkIngest::Make(store, ingest_options));
    if (options.receiver->otap.has_value()) {
      ARROW_ASSIGN_OR_RAISE(
          otap_receiver, OtlpGrpcReceiver::Make(*options.receiver->otap, store_ingest));
      ARROW_RETURN_NOT_OK(otap_receiver->Start());
      endpoints.otap = WithPort(config.listen.otap, otap_receiver->port());
    }
    return arrow::Status::OK();
  }

  arrow::Status StartGateway() {
    config::GatewayOptions& gateway = *options.gateway;
    auto exporter_options = gateway.exporter;
    if (role == ServiceRole::kAllInOne) {
      // The gateway half sends to the receiver half, on the port it got.
      exporter_options.endpoint =
          WithPort(exporter_options.endpoint, flight_receiver->port());
    }
    endpoints.upstream = exporter_options.endpoint;
    ARROW_ASSIGN_OR_RAISE(std::shared_ptr<pipeline::SpanBatchExporter> exporter,
                          pipeline::FlightSpanBatchExporter::Make(exporter_options));

    ARROW_ASSIGN_OR_RAISE(batching, pipeline::BatchingSpanExporter::Make(
                                        gateway.batching, std::move(exporter)));
    ARROW_ASSIGN_OR_RAISE(ingest,
                          pipeline::OtlpTraceIngest::Make(batching, gateway.ingest));

    // One budget for the requests both listeners are reading and decoding.
    request_budget = std::make_shared<RequestMemoryBudget>(gateway.request_budget_bytes);
    gateway.otlp_grpc.memory_budget = request_budget;
    // All-in-one stores OTAP batches itself, answering each once it is in the
    // write-ahead log; a gateway queues them for its receiver as it does OTLP.
    ARROW_ASSIGN_OR_RAISE(
        grpc_receiver, OtlpGrpcReceiver::Make(gateway.otlp_grpc, ingest, store_ingest));
    ARROW_RETURN_NOT_OK(grpc_receiver->Start());
    endpoints.otlp_grpc = WithPort(config.listen.otlp_grpc, grpc_receiver->port());

    gateway.otlp_http.memory_budget = request_budget;
    ARROW_ASSIGN_OR_RAISE(http_receiver,
                          OtlpHttpReceiver::Make(gateway.otlp_http, ingest));
    ARROW_RETURN_NOT_OK(http_receiver->Start());
    endpoints.otlp_http =
        (gateway.otlp_http.tls_cert_pem.empty() ? "http://" : "https://") +
        WithPort(config.listen.otlp_http, http_receiver->port()) +
        gateway.otlp_http.traces_path;
    return arrow::Status::OK();
  }

  arrow::Status StartOperations() {
    ARROW_ASSIGN_OR_RAISE(
        operations, telemetry::OperationsServer::Make(options.operations, registry));
    ARROW_RETURN_NOT_OK(operations->AddReadinessCheck("listeners", listening.AsCheck()));
    if (store != nullptr) {
      // A receiver that cannot write (a full disk) refuses uploads: a load balancer
      // should send them elsewhere. It still serves reads, and heals by itself.
      ARROW_RETURN_NOT_OK(operations->AddReadinessCheck("storage", [store = store] {
        const arrow::Status health = store->Health();
        return health.ok() ? telemetry::ReadinessResult::Ready()
                           : telemetry::ReadinessResult::NotReady(health.message());
      }));
    }
    if (batching != nullptr) {
      upstream_check = std::make_shared<UpstreamCheck>(
          [batching = batching] { return batching->Stats(); });
      ARROW_RETURN_NOT_OK(operations->AddReadinessCheck(
          "upstream", [check = upstream_check] { return check->Evaluate(); }));
      // Not ready from 90% full until back under 70%: a load balancer should send
      // elsewhere before clients hear RESOURCE_EXHAUSTED.
      telemetry::HighWaterMarkCheck queue(
          "export queue",
          [batching = batching] {
            const auto s = batching->Stats();
            return std::max(static_cast<double>(s.queue_spans) /
                                std::max<int64_t>(1, s.queue_capacity_spans),
                            static_cast<double>(s.queue_bytes) /
                                std::max<int64_t>(1, s.queue_capacity_bytes));
          },
          0.9, 0.7);
      ARROW_RETURN_NOT_OK(operations->AddReadinessCheck("queue", queue.AsCheck()));
    }
    ARROW_RETURN_NOT_OK(operations->Start());
    endpoints.health =
        "http://" + WithPort(config.listen.health, operations->health_port());
    endpoints.metrics =
        "http://" +
        WithPort(config.monitoring.MetricsAddress(), operations->metrics_port()) +
        "/metrics";
    return arrow::Status::OK();
  }

  arrow::Status RegisterMetrics();
  arrow::Status RegisterGatewayMetrics();
  arrow::Status RegisterReceiverMetrics();
  // `listener`: the configuration key's name under listen.*.
  arrow::Status RegisterOtapMetrics(OtlpGrpcReceiver* receiver,
                                    const std::string& listener);

  ServiceStopReport Stop();
};

// ---------------------------------------------------------------------------------------
// Metrics: callbacks over the components' own counters, read at scrape time.

// The `reason` label of the refused-spans counters, OTLP and OTAP alike.
constexpr std::pair<const char*, int64_t OtlpReceiverStats::*> kSpanRefusals[] = {
    {"invalid", &OtlpReceiverStats::spans_refused_invalid},
    {"queue_full", &OtlpReceiverStats::spans_refused_queue_full},
    {"too_large", &OtlpReceiverStats::spans_refused_too_large},
    {"shutting_down", &OtlpReceiverStats::spans_refused_shutting_down},
    {"unavailable", &OtlpReceiverStats::spans_refused_unavailable},
};

arrow::Status ServiceRuntime::Impl::RegisterMetrics() {
  ARROW_RETURN_NOT_OK(telemetry::RegisterProcessMetrics(registry.get()));
  if (batching != nullptr) ARROW_RETURN_NOT_OK(RegisterGatewayMetrics());
  if (flight_receiver != nullptr) ARROW_RETURN_NOT_OK(RegisterReceiverMetrics());
  if (grpc_receiver != nullptr)
    ARROW_RETURN_NOT_OK(RegisterOtapMetrics(grpc_receiver.get(), "otlp_grpc"));
  if (otap_receiver != nullptr)
    ARROW_RETURN_NOT_OK(RegisterOtapMetrics(otap_receiver.get(), "otap"));
  return arrow::Status::OK();
}

arrow::Status ServiceRuntime::Impl::RegisterGatewayMetrics() {
  MetricRegistry& r = *registry;
  // OTLP receivers, per protocol. `http` counts protobuf and JSON bodies together; the
  // encoding is a label of its own.
  struct Source {
    std::string protocol;
    std::string encoding;
    std::function<OtlpReceiverStats()> stats;
  };
  auto* grpc = grpc_receiver.get();
  auto* http = http_receiver.get();
  const std::vector<Source> sources = {
      {"grpc", "protobuf", [grpc] { return grpc->Stats(); }},
      {"http", "protobuf", [http] { return http->Stats().protobuf; }},
      {"http", "json", [http] { return http->Stats().json; }},
  };
  for (const auto& source : sources) {
    const Labels labels = {{"protocol", source.protocol}, {"encoding", source.encoding}};
    auto stats = source.stats;
    auto add = [&](const std::string& name, const std::string& help, Labels extra,
                   std::function<double(const OtlpReceiverStats&)> field) {
      Labels all = labels;
      all.insert(all.end(), extra.begin(), extra.end());
      return r.AddCounter({name, help, "", all},
                          [stats, field] { return field(stats()); });
    };
    ARROW_RETURN_NOT_OK(add("otlp_arrow_otlp_requests_total",
                            "OTLP export requests received", {},
                            [](const auto& s) { return s.requests; }));
    ARROW_RETURN_NOT_OK(add("otlp_arrow_otlp_spans_received_total",
                            "Spans in OTLP requests received (accepted or not)", {},
                            [](const auto& s) { return s.spans_received; }));
    ARROW_RETURN_NOT_OK(add("otlp_arrow_otlp_spans_accepted_total",
                            "Spans taken into the export queue", {},
                            [](const auto& s) { return s.spans_accepted; }));
    for (const auto& [reason, member] : kSpanRefusals) {
      ARROW_RETURN_NOT_OK(add("otlp_arrow_otlp_spans_refused_total",
                              "Spans refused, by reason (the client hears an error)",
                              {{"reason", reason}},
                              [member = member](const auto& s) { return s.*member; }));
    }
    ARROW_RETURN_NOT_OK(add("otlp_arrow_otlp_received_bytes_total",
                            "Bytes of OTLP request bodies", {{"stage", "wire"}},
                            [](const auto& s) { return s.bytes_received_wire; }));
    ARROW_RETURN_NOT_OK(add("otlp_arrow_otlp_received_bytes_total",
                            "Bytes of OTLP request bodies", {{"stage", "decompressed"}},
                            [](const auto& s) { return s.bytes_received_decompressed; }));
  }

  auto budget = request_budget;
  ARROW_RETURN_NOT_OK(
      r.AddGauge({"otlp_arrow_otlp_inflight_bytes",
                  "Bytes reserved by OTLP requests being read and decoded",
                  "",
                  {}},
                 [budget] { return budget->reserved_bytes(); }));
  ARROW_RETURN_NOT_OK(r.AddGauge({"otlp_arrow_otlp_inflight_capacity_bytes",
                                  "Bytes OTLP requests being read and decoded may "
                                  "reserve (limits.max_inflight_bytes)",
                                  "",
                                  {}},
                                 [budget] { return budget->capacity_bytes(); }));
  ARROW_RETURN_NOT_OK(r.AddCounter(
      {"otlp_arrow_otlp_inflight_refusals_total",
       "OTLP requests refused because limits.max_inflight_bytes was reserved "
       "(RESOURCE_EXHAUSTED with RetryInfo, HTTP 429)",
       "",
       {}},
      [budget] { return budget->refusals(); }));

  auto b = batching;
  auto gauge = [&](const std::string& name, const std::string& help,
                   std::function<double(const pipeline::BatchingSpanExporterStats&)> f) {
    return r.AddGauge({name, help, "", {}}, [b, f] { return f(b->Stats()); });
  };
  auto counter =
      [&](const std::string& name, const std::string& help, Labels labels,
          std::function<double(const pipeline::BatchingSpanExporterStats&)> f) {
        return r.AddCounter({name, help, "", std::move(labels)},
                            [b, f] { return f(b->Stats()); });
      };
  ARROW_RETURN_NOT_OK(gauge("otlp_arrow_queue_spans", "Spans waiting in the export queue",
                            [](const auto& s) { return s.queue_spans; }));
  ARROW_RETURN_NOT_OK(gauge("otlp_arrow_queue_bytes",
                            "Bytes of Arrow data waiting in the export queue",
                            [](const auto& s) { return s.queue_bytes; }));
  ARROW_RETURN_NOT_OK(gauge("otlp_arrow_queue_capacity_spans",
                            "Spans the export queue holds at most (buffer_size)",
                            [](const auto& s) { return s.queue_capacity_spans; }));
  ARROW_RETURN_NOT_OK(gauge("otlp_arrow_queue_capacity_bytes",
                            "Bytes the export queue holds at most (buffer_bytes)",
                            [](const auto& s) { return s.queue_capacity_bytes; }));
  ARROW_RETURN_NOT_OK(counter("otlp_arrow_export_batches_total",
                              "Arrow batches the receiver acknowledged", {},
                              [](const auto& s) { return s.batches_exported; }));
  ARROW_RETURN_NOT_OK(counter("otlp_arrow_export_spans_total",
                              "Spans the receiver acknowledged", {},
                              [](const auto& s) { return s.spans_exported; }));
  ARROW_RETURN_NOT_OK(counter("otlp_arrow_export_failures_total",
                              "Export calls that failed (retried unless permanent)", {},
                              [](const auto& s) { return s.export_failures; }));
  ARROW_RETURN_NOT_OK(counter(
      "otlp_arrow_export_operator_action_failures_total",
      "Export calls refused for the gateway's credentials (authentication, permission); "
      "the spans stay queued and are retried until an operator fixes them",
      {}, [](const auto& s) { return s.operator_action_failures; }));
  ARROW_RETURN_NOT_OK(counter("otlp_arrow_export_retries_total",
                              "Retries of exports, Flight and batching layer together",
                              {}, [](const auto& s) { return s.retries; }));
  ARROW_RETURN_NOT_OK(counter(
      "otlp_arrow_export_send_failed_spans_total",
      "Spans dropped after a permanent export failure or at the shutdown deadline", {},
      [](const auto& s) { return s.spans_send_failed + s.spans_dropped_at_shutdown; }));
  ARROW_RETURN_NOT_OK(counter("otlp_arrow_export_sent_bytes_total",
                              "Arrow IPC body bytes sent", {{"encoding", "raw"}},
                              [](const auto& s) { return s.bytes_sent_raw; }));
  ARROW_RETURN_NOT_OK(counter("otlp_arrow_export_sent_bytes_total",
                              "Arrow IPC body bytes sent", {{"encoding", "compressed"}},
                              [](const auto& s) { return s.bytes_sent_compressed; }));
  ARROW_RETURN_NOT_OK(r.AddHistogram(
      {"otlp_arrow_export_duration_seconds",
       "Time from the start of an export to the receiver's acknowledgement",
       "seconds",
       {}},
      [b] { return b->Stats().export_latency_seconds; }));
  return arrow::Status::OK();
}

arrow::Status ServiceRuntime::Impl::RegisterOtapMetrics(OtlpGrpcReceiver* receiver,
                                                        const std::string& listener) {
  MetricRegistry& r = *registry;
  const Labels labels = {{"listener", listener}};
  auto add = [&](bool gauge, const std::string& name, const std::string& help,
                 Labels extra, std::function<double(const OtapReceiverStats&)> field) {
    Labels all = labels;
    all.insert(all.end(), extra.begin(), extra.end());
    auto read = [receiver, field] { return field(receiver->OtapStats()); };
    return gauge ? r.AddGauge({name, help, "", all}, read)
                 : r.AddCounter({name, help, "", all}, read);
  };
  ARROW_RETURN_NOT_OK(add(false, "otlp_arrow_otap_streams_total",
                          "OTAP ArrowTraces streams opened", {},
                          [](const auto& s) { return s.streams_opened; }));
  ARROW_RETURN_NOT_OK(add(true, "otlp_arrow_otap_streams_active",
                          "OTAP ArrowTraces streams open now", {},
                          [](const auto& s) { return s.streams_active; }));
  ARROW_RETURN_NOT_OK(add(false, "otlp_arrow_otap_streams_refused_total",
                          "OTAP streams ended at once over otlp.max_otap_streams", {},
                          [](const auto& s) { return s.streams_refused_busy; }));
  ARROW_RETURN_NOT_OK(add(false, "otlp_arrow_otap_streams_failed_total",
                          "OTAP streams ended with an error status (undecodable message, "
                          "bad HPACK block, a limit passed)",
                          {}, [](const auto& s) { return s.streams_ended_with_error; }));
  ARROW_RETURN_NOT_OK(add(false, "otlp_arrow_otap_streams_idle_cancelled_total",
                          "OTAP streams cancelled after otlp.otap_stream_idle_timeout_ms "
                          "without a batch",
                          {}, [](const auto& s) { return s.streams_idle_cancelled; }));
  ARROW_RETURN_NOT_OK(add(false, "otlp_arrow_otap_batches_total",
                          "OTAP BatchArrowRecords received", {},
                          [](const auto& s) { return s.batches.requests; }));
  ARROW_RETURN_NOT_OK(add(false, "otlp_arrow_otap_batches_unauthenticated_total",
                          "OTAP batches answered UNAUTHENTICATED (bearer token)", {},
                          [](const auto& s) { return s.batches_unauthenticated; }));
  ARROW_RETURN_NOT_OK(add(false, "otlp_arrow_otap_spans_accepted_total",
                          "Spans of OTAP batches answered OK", {},
                          [](const auto& s) { return s.batches.spans_accepted; }));
  for (const auto& [reason, member] : kSpanRefusals) {
    ARROW_RETURN_NOT_OK(
        add(false, "otlp_arrow_otap_spans_refused_total",
            "Spans of OTAP batches refused, by reason", {{"reason", reason}},
            [member = member](const auto& s) { return s.batches.*member; }));
  }
  ARROW_RETURN_NOT_OK(add(false, "otlp_arrow_otap_received_bytes_total",
                          "Bytes of OTAP messages", {{"stage", "wire"}},
                          [](const auto& s) { return s.batches.bytes_received_wire; }));
  ARROW_RETURN_NOT_OK(
      add(false, "otlp_arrow_otap_received_bytes_total", "Bytes of OTAP messages",
          {{"stage", "decompressed"}},
          [](const auto& s) { return s.batches.bytes_received_decompressed; }));
  return arrow::Status::OK();
}

arrow::Status ServiceRuntime::Impl::RegisterReceiverMetrics() {
  MetricRegistry& r = *registry;
  auto* receiver = flight_receiver.get();
  auto flight = [&](const std::string& name, const std::string& help,
                    std::function<double(const transport::FlightSpanReceiverStats&)> f) {
    return r.AddCounter({name, help, "", {}},
                        [receiver, f] { return f(receiver->Stats()); });
  };
  ARROW_RETURN_NOT_OK(flight("otlp_arrow_receiver_spans_stored_total",
                             "Spans stored and acknowledged by the Flight receiver",
                             [](const auto& s) { return s.spans_stored; }));
  ARROW_RETURN_NOT_OK(flight("otlp_arrow_receiver_batches_stored_total",
                             "Batches stored and acknowledged by the Flight receiver",
                             [](const auto& s) { return s.batches_stored; }));
  ARROW_RETURN_NOT_OK(flight("otlp_arrow_receiver_stored_bytes_total",
                             "Bytes of Arrow data stored (uncompressed buffers)",
                             [](const auto& s) { return s.bytes_stored; }));
  ARROW_RETURN_NOT_OK(flight("otlp_arrow_receiver_validation_failures_total",
                             "Uploads refused as not a valid span table",
                             [](const auto& s) { return s.validation_failures; }));
  ARROW_RETURN_NOT_OK(flight("otlp_arrow_receiver_oversize_batches_total",
                             "Batches refused as larger than receiver.max_batch_bytes",
                             [](const auto& s) { return s.oversize_batches; }));
  ARROW_RETURN_NOT_OK(flight(
      "otlp_arrow_receiver_busy_rejections_total",
      "Uploads refused over receiver.max_concurrent_streams or max_streams_per_client",
      [](const auto& s) { return s.streams_rejected_busy; }));
  ARROW_RETURN_NOT_OK(flight("otlp_arrow_receiver_idle_streams_cancelled_total",
                             "Uploads cancelled after receiver.stream_idle_timeout_ms",
                             [](const auto& s) { return s.streams_idle_cancelled; }));
  ARROW_RETURN_NOT_OK(flight(
      "otlp_arrow_receiver_memory_budget_refusals_total",
      "Batches refused while receiver.max_decoded_bytes_in_flight was in use (retried)",
      [](const auto& s) { return s.memory_budget_refusals; }));
  ARROW_RETURN_NOT_OK(flight("otlp_arrow_receiver_unauthenticated_calls_total",
                             "Calls without the right bearer token",
                             [](const auto& s) { return s.unauthenticated_calls; }));
  ARROW_RETURN_NOT_OK(flight("otlp_arrow_receiver_storage_failures_total",
                             "Batches the store could not take (the sender retries)",
                             [](const auto& s) { return s.sink_failures; }));
  ARROW_RETURN_NOT_OK(flight("otlp_arrow_receiver_spans_served_total",
                             "Spans read back through DoGet",
                             [](const auto& s) { return s.spans_served; }));
  auto s = store;
  auto storage = [&](const std::string& name, const std::string& help,
                     std::function<double(const storage::ParquetSpanStoreStats&)> f) {
    return r.AddCounter({name, help, "", {}}, [s, f] { return f(s->Stats()); });
  };
  ARROW_RETURN_NOT_OK(storage("otlp_arrow_store_wal_bytes_total",
                              "Bytes written to the write-ahead log",
                              [](const auto& st) { return st.wal_bytes_appended; }));
  ARROW_RETURN_NOT_OK(storage("otlp_arrow_store_files_written_total",
                              "Parquet files published into the dataset",
                              [](const auto& st) { return st.files_published; }));
  ARROW_RETURN_NOT_OK(storage("otlp_arrow_store_file_bytes_total",
                              "Bytes of Parquet files published",
                              [](const auto& st) { return st.file_bytes_published; }));
  ARROW_RETURN_NOT_OK(storage("otlp_arrow_store_publish_failures_total",
                              "Failed publications (the spans stay in the WAL, retried)",
                              [](const auto& st) { return st.publish_failures; }));
  ARROW_RETURN_NOT_OK(r.AddGauge(
      {"otlp_arrow_store_unpublished_segments",
       "WAL segments waiting to be published after a failure (a full disk); retried",
       "",
       {}},
      [s] { return s->Stats().unpublished_segments; }));
  return arrow::Status::OK();
}

// ---------------------------------------------------------------------------------------

ServiceStopReport ServiceRuntime::Impl::Stop() {
  std::lock_guard<std::mutex> lock(stop_mutex);
  if (stopped) return stop_report;
  stopped = true;
  ServiceStopReport report;
  if (operations != nullptr) operations->SetDraining(true);
  // One deadline for the whole stop: the drain gets what the listeners leave of it.
  const auto grace = std::chrono::system_clock::now() + config.shutdown_timeout_ms;
  const auto deadline = std::chrono::steady_clock::now() + config.shutdown_timeout_ms;
  // 1. No new OTLP requests; running ones finish (they only wait for queue room).
  if (grpc_receiver != nullptr) report.status &= grpc_receiver->Shutdown(grace);
  if (http_receiver != nullptr) report.status &= http_receiver->Shutdown();
  if (otap_receiver != nullptr) report.status &= otap_receiver->Shutdown(grace);
  // 2. Drain the queue to the receiver.
  if (batching != nullptr) {
    const auto left = std::max(std::chrono::milliseconds(0),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()));
    const auto drained = batching->Shutdown(left);
    spdlog::info("export queue drained: {}", drained.ToString());
    report.spans_not_sent = drained.spans_not_sent + drained.spans_send_failed;
    if (!drained.ok()) report.status &= drained.status;
    const auto stats = batching->Stats();
    report.spans_exported = stats.spans_exported;
  }
  if (grpc_receiver != nullptr) {
    report.spans_accepted += grpc_receiver->Stats().spans_accepted +
                             grpc_receiver->OtapStats().batches.spans_accepted;
  }
  if (otap_receiver != nullptr) {
    report.spans_accepted += otap_receiver->Stats().spans_accepted +
                             otap_receiver->OtapStats().batches.spans_accepted;
  }
  if (http_receiver != nullptr) {
    const auto stats = http_receiver->Stats();
    report.spans_accepted += stats.protobuf.spans_accepted + stats.json.spans_accepted;
  }
  // 3. The receiver lets running uploads end, then the store publishes its files.
  if (flight_receiver != nullptr) {
    report.status &= flight_receiver->Shutdown(grace);
    report.status &= flight_receiver->Wait();
    report.receiver = flight_receiver->Stats();
  }
  if (store != nullptr) report.status &= store->Close();
  // 4. Last, so that probes and scrapes see the drain.
  if (operations != nullptr) operations->Stop();
  stop_report = report;
  return report;
}

ServiceRuntime::ServiceRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ServiceRuntime::~ServiceRuntime() {
  if (impl_ == nullptr) return;
  bool stopped = false;
  {
    std::lock_guard<std::mutex> lock(impl_->stop_mutex);
    stopped = impl_->stopped;
  }
  // An earlier Stop() returned its report; only a stop done here is logged.
  const ServiceStopReport report = impl_->Stop();
  if (!stopped) common::LogErrorFromDestructor("ServiceRuntime", report.status);
}

arrow::Result<std::unique_ptr<ServiceRuntime>> ServiceRuntime::Start(
    ServiceRole role, const config::ServiceConfig& config) {
  ARROW_ASSIGN_OR_RAISE(auto options, config::MakeComponentOptions(config, role));
  auto impl = std::make_unique<Impl>();
  impl->role = role;
  impl->config = config;
  impl->options = std::move(options);
  auto start = [&]() -> arrow::Status {
    if (impl->options.receiver) ARROW_RETURN_NOT_OK(impl->StartReceiver());
    if (impl->options.gateway) ARROW_RETURN_NOT_OK(impl->StartGateway());
    ARROW_RETURN_NOT_OK(impl->RegisterMetrics());
    ARROW_RETURN_NOT_OK(impl->StartOperations());
    impl->listening.Set(true);
    return arrow::Status::OK();
  };
  if (auto started = start(); !started.ok()) {
    // What went wrong starting is the error returned; stopping the parts that did start
    // is logged only if it fails too.
    const ServiceStopReport stopped = impl->Stop();
    if (!stopped.status.ok()) {
      spdlog::error("stopping after a failed start: {}", stopped.status.ToString());
    }
    return started;
  }
  return std::unique_ptr<ServiceRuntime>(new ServiceRuntime(std::move(impl)));
}

const ServiceEndpoints& ServiceRuntime::endpoints() const { return impl_->endpoints; }

ServiceStopReport ServiceRuntime::Stop() { return impl_->Stop(); }

std::string ServiceRuntime::RenderMetrics() const { return impl_->registry->Render(); }

}  // namespace otlp_arrow::service
