// SPDX-License-Identifier: Apache-2.0

#include "bearer_token_internal.h"

#include <iterator>

#include <arrow/flight/types.h>

#include "otlp_arrow/common/constant_time.h"
#include "otlp_arrow/transport/flight_protocol.h"

namespace otlp_arrow::transport::internal {

arrow::Status CheckAuthorization(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    std::string_view expected_header) {
  // gRPC lowercases header keys.
  const auto range = metadata.equal_range(
      grpc::string_ref(kAuthorizationHeader.data(), kAuthorizationHeader.size()));
  const auto count = std::distance(range.first, range.second);
  if (count == 1 &&
      common::ConstantTimeEquals(
          std::string_view(range.first->second.data(), range.first->second.size()),
          expected_header)) {
    return arrow::Status::OK();
  }
  return MakeRefusalStatus(arrow::flight::FlightStatusCode::Unauthenticated,
                           Refusal{RefusalClass::kOperatorAction, "unauthenticated"},
                           count == 0 ? "missing 'authorization: Bearer <token>' header"
                                      : "invalid bearer token");
}

}  // namespace otlp_arrow::transport::internal
