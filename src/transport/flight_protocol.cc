// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/transport/flight_protocol.h"

#include <array>
#include <utility>

#include <arrow/flight/types.h>
#include <nlohmann/json.hpp>

namespace otlp_arrow::transport {

arrow::Status CheckBearerToken(std::string_view token) {
  if (token.empty()) return arrow::Status::Invalid("bearer token is empty");
  for (size_t i = 0; i < token.size(); ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c < 0x21 || c > 0x7E) {
      return arrow::Status::Invalid(
          "bearer token: byte ", i, " of ", token.size(),
          " is a space, a control character or not ASCII; tokens are printable ASCII");
    }
  }
  return arrow::Status::OK();
}

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

namespace {

constexpr std::array<std::pair<RefusalClass, std::string_view>, 4> kRefusalClassNames = {{
    {RefusalClass::kRetryable, "retryable"},
    {RefusalClass::kTooLarge, "too_large"},
    {RefusalClass::kPermanent, "permanent"},
    {RefusalClass::kOperatorAction, "operator_action"},
}};

}  // namespace

std::string_view RefusalClassName(RefusalClass refusal_class) {
  for (const auto& [value, name] : kRefusalClassNames) {
    if (value == refusal_class) return name;
  }
  return "permanent";
}

std::string Refusal::ToJson() const {
  return nlohmann::json{{"refusal", RefusalClassName(refusal_class)}, {"reason", reason}}
      .dump();
}

arrow::Result<Refusal> Refusal::FromJson(std::string_view json) {
  auto j = nlohmann::json::parse(json.begin(), json.end(), nullptr,
                                 /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return arrow::Status::Invalid("refusal: expected a JSON object");
  }
  auto refusal = j.find("refusal");
  auto reason = j.find("reason");
  if (refusal == j.end() || !refusal->is_string() || reason == j.end() ||
      !reason->is_string()) {
    return arrow::Status::Invalid("refusal: expected strings 'refusal' and 'reason'");
  }
  const auto& name = refusal->get_ref<const std::string&>();
  for (const auto& [value, known] : kRefusalClassNames) {
    if (known == name) return Refusal{value, reason->get<std::string>()};
  }
  return arrow::Status::Invalid("refusal: unknown class '", name, "'");
}

std::optional<Refusal> Refusal::FromStatus(const arrow::Status& status) {
  const auto detail = arrow::flight::FlightStatusDetail::UnwrapStatus(status);
  if (detail == nullptr || detail->extra_info().empty()) return std::nullopt;
  auto refusal = FromJson(detail->extra_info());
  if (!refusal.ok()) return std::nullopt;
  return std::move(refusal).MoveValueUnsafe();
}

arrow::Status MakeRefusalStatus(arrow::flight::FlightStatusCode code,
                                const Refusal& refusal, const std::string& message) {
  return arrow::flight::MakeFlightError(code, message, refusal.ToJson());
}

}  // namespace otlp_arrow::transport
