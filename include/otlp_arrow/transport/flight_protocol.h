// SPDX-License-Identifier: Apache-2.0
// The Arrow Flight conventions shared by FlightSpanExporter and FlightSpanReceiver.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <arrow/result.h>

namespace otlp_arrow::transport {

/// \brief DoPut descriptor path for span-table uploads (and ListFlights / GetFlightInfo
/// path of the stored spans).
inline constexpr std::string_view kSpansPath[] = {"otlp", "spans"};

/// \brief Default Flight port of the receiver (the design document's
/// `arrow-flight-service:8815`).
inline constexpr int kDefaultFlightPort = 8815;

/// \brief gRPC metadata key carrying `Bearer <token>` when the receiver requires a token.
inline constexpr std::string_view kAuthorizationHeader = "authorization";

/// \brief The acknowledgement the receiver sends (as DoPut app metadata) for every batch
/// once it is stored durably: {"batch": <0-based index in the stream>, "accepted_spans":
/// <rows>}.
struct BatchAck {
  int64_t batch = 0;
  int64_t accepted_spans = 0;

  std::string ToJson() const;
  static arrow::Result<BatchAck> FromJson(std::string_view json);
};

}  // namespace otlp_arrow::transport
