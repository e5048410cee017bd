// SPDX-License-Identifier: Apache-2.0
// The receiver's check of `authorization: Bearer <token>` on every call.

#pragma once

#include <map>
#include <string_view>

#include <arrow/status.h>
#include <grpcpp/support/string_ref.h>

namespace otlp_arrow::transport::internal {

/// \brief OK when `metadata` has exactly one `authorization` header and it is
/// `expected_header` ("Bearer <token>"); else a Flight Unauthenticated error carrying a
/// Refusal of class kOperatorAction (an operator must fix the token; the data is fine).
/// A call with several authorization headers is refused rather than guessing which one
/// counts.
arrow::Status CheckAuthorization(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    std::string_view expected_header);

}  // namespace otlp_arrow::transport::internal
