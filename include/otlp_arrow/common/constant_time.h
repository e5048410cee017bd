// SPDX-License-Identifier: Apache-2.0
// Comparing secrets (bearer tokens) without telling by the time taken how much matched.

#pragma once

#include <string_view>

namespace otlp_arrow::common {

/// \brief a == b, in time independent of where the strings differ, so that response
/// times do not reveal how much of a guessed token is right. The length is not secret.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace otlp_arrow::common
