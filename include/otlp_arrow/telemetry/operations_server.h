// SPDX-License-Identifier: Apache-2.0
// OperationsServer: the HTTP endpoints an orchestrator and Prometheus use — /health
// (liveness), /ready (readiness) and /metrics (Prometheus text format).

#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

#include "otlp_arrow/telemetry/metric_registry.h"
#include "otlp_arrow/telemetry/readiness.h"

namespace otlp_arrow::telemetry {

/// \brief Settings of an OperationsServer.
struct OperationsServerOptions {
  /// \brief Where /health and /ready listen: `host:port`, `[v6-host]:port`. Port 0 picks
  /// a free port; OperationsServer::health_port() tells which.
  std::string health_address = "127.0.0.1:8080";

  /// \brief Where /metrics listens. Empty, or the same host and the same non-zero port
  /// as `health_address`, serves all three paths on one listener. Two port-0 addresses
  /// are two listeners, each on its own free port.
  std::string metrics_address = "127.0.0.1:9090";

  /// \brief Requests served at once per listener. Probes and scrapes are rare and quick.
  int threads_per_listener = 2;

  /// \brief Checks the addresses and `threads_per_listener`; OperationsServer::Make()
  /// calls it.
  arrow::Status Validate() const;

  /// \brief The values above.
  static OperationsServerOptions Defaults() { return {}; }
};

/// \brief What /ready reports: every check's result, and whether the server drains.
struct [[nodiscard]] ReadinessReport {
  /// \brief All checks pass and the server is not draining.
  bool ready = false;
  bool draining = false;
  /// \brief Each registered check, in registration order.
  std::vector<std::pair<std::string, ReadinessResult>> checks;

  /// \brief Names of the failing checks, plus "draining" while draining.
  std::vector<std::string> Failing() const;

  /// \brief The /ready body: `{"ready":…,"draining":…,"failing":[…],
  /// "checks":[{"name":…,"ready":…,"reason":…},…]}`.
  std::string ToJson() const;
};

/// \brief Serves, over HTTP/1.1 (cpp-httplib):
///  - `GET /health`: liveness, `200 ok` while the server runs (the process serves its
///    main loop), so an orchestrator restarts a process that stopped answering.
///  - `GET /ready`: readiness, 200 when every check passes and the server is not
///    draining, else 503; the JSON body (ReadinessReport::ToJson()) lists each check.
///  - `GET /metrics`: MetricRegistry::Render() with `Content-Type: text/plain;
///    version=0.0.4; charset=utf-8`.
///
/// Thread-safe: checks may be added and removed and draining set from any thread while
/// the server runs.
class OperationsServer {
 public:
  /// \brief Validates the options; listens only at Start().
  ///
  /// \return Invalid for an address that is not `host:port` with a port in 0…65535, for
  /// `threads_per_listener` < 1 or for a null registry.
  static arrow::Result<std::unique_ptr<OperationsServer>> Make(
      OperationsServerOptions options, std::shared_ptr<const MetricRegistry> registry);

  /// \brief Stop()s.
  ~OperationsServer();

  OperationsServer(const OperationsServer&) = delete;
  OperationsServer& operator=(const OperationsServer&) = delete;

  /// \brief Adds a named check that /ready evaluates at each request (see
  /// ReadinessCheck for what a check must be).
  ///
  /// \return Invalid for an empty name or check; AlreadyExists for a name taken.
  arrow::Status AddReadinessCheck(std::string name, ReadinessCheck check);

  /// \brief Removes a check. When this returns, the check is not running and will not be
  /// called again.
  ///
  /// \return KeyError for an unknown name.
  arrow::Status RemoveReadinessCheck(std::string_view name);

  /// \brief While draining, /ready answers 503 whatever the checks say, so load
  /// balancers stop sending before the service stops accepting. /health is unaffected.
  void SetDraining(bool draining);
  bool draining() const;

  /// \brief Evaluates the checks now, as /ready does (for logs and tests).
  ReadinessReport CheckReadiness() const;

  /// \brief Binds the listeners and serves from background threads.
  ///
  /// \return IOError naming the address, the paths and the cause (e.g. "Address
  /// already in use") when a listener cannot bind; no listener is left open then.
  /// Invalid when running already.
  arrow::Status Start();

  /// \brief Stops accepting, finishes the requests in progress and joins the threads.
  /// Idempotent; Start() may be called again afterwards.
  void Stop();

  /// \brief The ports bound by Start(); 0 when not running. Equal in one-listener mode.
  int health_port() const;
  int metrics_port() const;

  /// \brief Whether /health, /ready and /metrics share one listener.
  bool single_listener() const;

 private:
  struct Impl;
  explicit OperationsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace otlp_arrow::telemetry
