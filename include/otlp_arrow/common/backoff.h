// SPDX-License-Identifier: Apache-2.0
// The exponential backoff of the exporters' retries.

#pragma once

#include <chrono>

namespace otlp_arrow::common {

/// \brief The wait before retry `retry` (1-based): min(`max`, `initial` *
/// `multiplier`^(retry-1)), never more than `max` however large `retry` is. Retry 0 or
/// less counts as the first. `multiplier` must be at least 1 (the options' Validate()
/// checks it).
std::chrono::nanoseconds ExponentialBackoff(std::chrono::nanoseconds initial,
                                            std::chrono::nanoseconds max,
                                            double multiplier, int retry);

}  // namespace otlp_arrow::common
