// SPDX-License-Identifier: Apache-2.0
// The Arrow Flight conventions shared by FlightSpanExporter and FlightSpanReceiver.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <arrow/result.h>
#include <arrow/status.h>

namespace arrow::flight {
enum class FlightStatusCode : int8_t;  // arrow/flight/types.h
}  // namespace arrow::flight

namespace otlp_arrow::transport {

/// \brief DoPut descriptor path for span-table uploads (and ListFlights / GetFlightInfo
/// path of the stored spans).
inline constexpr std::string_view kSpansPath[] = {"otlp", "spans"};

/// \brief Default Flight port of the receiver (the design document's
/// `arrow-flight-service:8815`).
inline constexpr int kDefaultFlightPort = 8815;

/// \brief gRPC metadata key carrying `Bearer <token>` when the receiver requires a token.
inline constexpr std::string_view kAuthorizationHeader = "authorization";

/// \brief OK when `token` can be sent as `authorization: Bearer <token>`: printable ASCII
/// without spaces (what gRPC metadata can carry; gRPC aborts the process on a control
/// character such as the CR of a token file written on Windows). Invalid otherwise,
/// naming the first offending byte's position, never the token.
arrow::Status CheckBearerToken(std::string_view token);

/// \brief The acknowledgement the receiver sends (as DoPut app metadata) for every batch
/// once it is stored durably: {"batch": <0-based index in the stream>, "accepted_spans":
/// <rows>}.
struct BatchAck {
  int64_t batch = 0;
  int64_t accepted_spans = 0;

  std::string ToJson() const;
  static arrow::Result<BatchAck> FromJson(std::string_view json);
};

/// \brief What a sender is to do with what the receiver refused.
enum class RefusalClass {
  /// Try again later, unchanged (overloaded, storage unavailable, shutting down).
  kRetryable,
  /// Split the batch and send the halves: it is larger than the receiver takes at once.
  kTooLarge,
  /// The content is bad and will never be accepted: drop it and count it.
  kPermanent,
  /// Nothing is wrong with the data, but an operator must act (authentication,
  /// permission): keep it, keep retrying with backoff, report loudly.
  kOperatorAction,
};

/// \brief "retryable", "too_large", "permanent" or "operator_action".
std::string_view RefusalClassName(RefusalClass refusal_class);

/// \brief The machine-readable reason of a refused Flight call, carried as the
/// FlightStatusDetail's `extra_info` (gRPC's `grpc-status-details-bin` trailer) as JSON
/// {"refusal": "<class name>", "reason": "<reason>"}, so that senders never have to
/// match error messages. Reasons are short snake_case words (`batch_too_large`,
/// `invalid_batch`, `busy`, `idle_timeout`, `memory_budget`, `storage_unavailable`, ...);
/// a sender acts on the class and logs or counts the reason.
struct Refusal {
  RefusalClass refusal_class = RefusalClass::kPermanent;
  std::string reason;

  std::string ToJson() const;
  static arrow::Result<Refusal> FromJson(std::string_view json);

  /// \brief The refusal a Flight error status carries, if it carries one.
  static std::optional<Refusal> FromStatus(const arrow::Status& status);
};

/// \brief A Flight error of status `code` (what clients that do not know Refusal see)
/// carrying `refusal` for those that do.
arrow::Status MakeRefusalStatus(arrow::flight::FlightStatusCode code,
                                const Refusal& refusal, const std::string& message);

}  // namespace otlp_arrow::transport
