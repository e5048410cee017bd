// SPDX-License-Identifier: Apache-2.0
// Server middleware that admits only calls carrying `authorization: Bearer <token>`.

#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <arrow/flight/server_middleware.h>
#include <arrow/status.h>

namespace otlp_arrow::transport::internal {

/// \brief Rejects, with FlightStatusCode::Unauthenticated, every call whose
/// `authorization` header is not exactly `Bearer <token>`. Middleware instances cannot
/// fail, so the check happens in StartCall, before the RPC handler runs.
class BearerTokenMiddlewareFactory : public arrow::flight::ServerMiddlewareFactory {
 public:
  /// \param[in] token the expected token
  /// \param[out] rejected_calls incremented for every refused call; may be null
  BearerTokenMiddlewareFactory(std::string token, std::atomic<int64_t>* rejected_calls);

  arrow::Status StartCall(
      const arrow::flight::CallInfo& info,
      const arrow::flight::ServerCallContext& context,
      std::shared_ptr<arrow::flight::ServerMiddleware>* middleware) override;

 private:
  std::string expected_header_;  // "Bearer <token>"
  std::atomic<int64_t>* rejected_calls_;
};

/// \brief Compares in time independent of where the strings differ, so response times
/// do not reveal how much of a guessed token is right.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace otlp_arrow::transport::internal
