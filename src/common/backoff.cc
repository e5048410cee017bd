// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/backoff.h"

#include <algorithm>
#include <cmath>

namespace otlp_arrow::common {

std::chrono::nanoseconds ExponentialBackoff(std::chrono::nanoseconds initial,
                                            std::chrono::nanoseconds max,
                                            double multiplier, int retry) {
  // In double: initial * multiplier^n overflows int64 nanoseconds long before the
  // retries run out; pow's infinity compares above any max.
  const double ceiling =
      static_cast<double>(initial.count()) * std::pow(multiplier, std::max(0, retry - 1));
  if (!(ceiling < static_cast<double>(max.count()))) return max;
  return std::chrono::nanoseconds(static_cast<int64_t>(ceiling));
}

}  // namespace otlp_arrow::common
