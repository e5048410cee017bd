// SPDX-License-Identifier: Apache-2.0
// Step-by-step diagnosis of the connection to a Flight receiver (design document §6.1).

#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <arrow/result.h>

namespace otlp_arrow::transport {

/// \brief What to diagnose.
struct ConnectionDiagnosisOptions {
  /// \brief `grpc://host:port`, `grpc+tcp://host:port`, `grpc+tls://host:port`, or
  /// `host:port` (plain gRPC).
  std::string endpoint = "grpc://127.0.0.1:8815";
  /// \brief PEM file of the CA that signed the receiver's certificate (TLS only); empty
  /// means the system's trust store.
  std::string ca_file;
  /// \brief PEM files of a client certificate chain and its private key, for a receiver
  /// that requires mutual TLS (TLS only); both or neither.
  std::string cert_file;
  std::string key_file;
  /// \brief Bearer token to present; empty means none.
  std::string token;
  /// \brief Name to verify the certificate against instead of the host (TLS only).
  std::string server_name_override;
  /// \brief Time allowed for each network step.
  std::chrono::milliseconds timeout{5000};

  static ConnectionDiagnosisOptions Defaults() { return {}; }
};

/// \brief One step of the diagnosis: what was checked, whether it passed, what was seen,
/// and on failure the likely fix.
struct DiagnosisStep {
  std::string name;
  bool ok = false;
  std::string detail;
  std::string hint;
};

struct [[nodiscard]] ConnectionDiagnosis {
  std::vector<DiagnosisStep> steps;
  /// \brief Whether every step passed.
  bool ok() const;
};

/// \brief Runs, in order, stopping at the first failure: endpoint parsing, DNS
/// resolution, TCP connect, TLS handshake (for grpc+tls: certificate subject and expiry),
/// and a Flight ListFlights round trip with the token and the client certificate. Network
/// failures are reported as failed steps; only unusable options (an unreadable CA,
/// certificate or key file, a certificate without its key) are an error Status.
arrow::Result<ConnectionDiagnosis> DiagnoseConnection(
    const ConnectionDiagnosisOptions& options);

}  // namespace otlp_arrow::transport
