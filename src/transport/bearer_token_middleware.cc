// SPDX-License-Identifier: Apache-2.0

#include "bearer_token_middleware_internal.h"

#include <arrow/flight/server.h>
#include <arrow/flight/types.h>

#include "otlp_arrow/transport/flight_protocol.h"

namespace otlp_arrow::transport::internal {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length is not secret (it is the length of a well-known format); the content is.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

BearerTokenMiddlewareFactory::BearerTokenMiddlewareFactory(
    std::string token, std::atomic<int64_t>* rejected_calls)
    : expected_header_("Bearer " + token), rejected_calls_(rejected_calls) {}

arrow::Status BearerTokenMiddlewareFactory::StartCall(
    const arrow::flight::CallInfo& /*info*/,
    const arrow::flight::ServerCallContext& context,
    std::shared_ptr<arrow::flight::ServerMiddleware>* middleware) {
  middleware->reset();  // nothing to do after admission
  const auto& headers = context.incoming_headers();
  // gRPC lowercases header keys; a call with several authorization headers is refused
  // rather than guessing which one counts.
  const auto range = headers.equal_range(kAuthorizationHeader);
  const auto count = std::distance(range.first, range.second);
  if (count == 1 && ConstantTimeEquals(range.first->second, expected_header_)) {
    return arrow::Status::OK();
  }
  if (rejected_calls_ != nullptr)
    rejected_calls_->fetch_add(1, std::memory_order_relaxed);
  return arrow::flight::MakeFlightError(
      arrow::flight::FlightStatusCode::Unauthenticated,
      count == 0 ? "missing 'authorization: Bearer <token>' header"
                 : "invalid bearer token");
}

}  // namespace otlp_arrow::transport::internal
