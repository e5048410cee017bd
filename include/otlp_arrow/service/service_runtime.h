// SPDX-License-Identifier: Apache-2.0
// ServiceRuntime: one otlp-arrow process put together from a ServiceConfig — the gateway
// (OTLP in → batching → Arrow Flight out), the receiver (Flight in → Parquet), or both —
// with its health, readiness and Prometheus endpoints.

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/config/component_options.h"
#include "otlp_arrow/config/service_config.h"
#include "otlp_arrow/transport/flight_span_receiver.h"

namespace otlp_arrow::service {

/// \brief Which parts a process runs (defined with the options it selects).
using config::ServiceRole;
using config::ToString;

/// \brief Where a running service listens, with the ports it really got (a configured
/// port 0 picks a free one).
struct ServiceEndpoints {
  std::string otlp_grpc;  // host:port, empty unless gateway
  std::string otlp_http;  // http://host:port/v1/traces, empty unless gateway
  std::string flight;     // grpc://host:port, empty unless receiver
  std::string otap;       // host:port of listen.otap, empty unless set
  std::string upstream;   // where the gateway exports, empty unless gateway
  std::string health;     // http://host:port
  std::string metrics;    // http://host:port/metrics
  std::string data_dir;   // empty unless receiver
};

/// \brief What Stop() did.
struct [[nodiscard]] ServiceStopReport {
  /// \brief Spans the OTLP receivers accepted over the whole run.
  int64_t spans_accepted = 0;
  /// \brief Spans the gateway's exporter delivered over the whole run.
  int64_t spans_exported = 0;
  /// \brief Spans accepted but not delivered by the drain deadline (or refused by the
  /// receiver as permanently bad).
  int64_t spans_not_sent = 0;
  /// \brief What the Flight receiver did over the whole run (zeros unless receiver).
  transport::FlightSpanReceiverStats receiver;
  /// \brief OK, or what went wrong while stopping (a drain that missed its deadline
  /// included).
  arrow::Status status;

  std::string ToString() const;
};

/// \brief Runs the parts of one otlp-arrow process. Start order: store and Flight
/// receiver, exporter and batching queue, OTLP receivers, operations endpoints; the
/// service is ready once all listen. Stop() reverses it gracefully.
class ServiceRuntime {
 public:
  /// \brief Starts everything `role` needs, or nothing (what started is stopped again).
  static arrow::Result<std::unique_ptr<ServiceRuntime>> Start(
      ServiceRole role, const config::ServiceConfig& config);

  ~ServiceRuntime();
  ServiceRuntime(const ServiceRuntime&) = delete;
  ServiceRuntime& operator=(const ServiceRuntime&) = delete;

  const ServiceEndpoints& endpoints() const;

  /// \brief Graceful stop, idempotent: /ready turns 503 (draining) at once; the OTLP
  /// receivers stop taking requests and finish the running ones; the batching exporter
  /// drains its queue to the receiver within `shutdown_timeout_ms`; the Flight receiver
  /// lets running streams end and the store publishes its files; the operations
  /// endpoints go last.
  ServiceStopReport Stop();

  /// \brief The Prometheus exposition the /metrics endpoint serves.
  std::string RenderMetrics() const;

  struct Impl;

 private:
  explicit ServiceRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp_arrow::service
