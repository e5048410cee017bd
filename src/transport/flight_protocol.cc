// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/transport/flight_protocol.h"

#include <nlohmann/json.hpp>

namespace otlp_arrow::transport {

std::string BatchAck::ToJson() const {
  return nlohmann::json{{"batch", batch}, {"accepted_spans", accepted_spans}}.dump();
}

arrow::Result<BatchAck> BatchAck::FromJson(std::string_view json) {
  auto j = nlohmann::json::parse(json.begin(), json.end(), nullptr,
                                 /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return arrow::Status::Invalid("batch acknowledgement: expected a JSON object");
  }
  auto batch = j.find("batch");
  auto spans = j.find("accepted_spans");
  if (batch == j.end() || spans == j.end() || !batch->is_number_integer() ||
      !spans->is_number_integer()) {
    return arrow::Status::Invalid(
        "batch acknowledgement: expected integers 'batch' and 'accepted_spans'");
  }
  return BatchAck{batch->get<int64_t>(), spans->get<int64_t>()};
}

}  // namespace otlp_arrow::transport
