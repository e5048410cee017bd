// SPDX-License-Identifier: Apache-2.0
// Errors that cannot be returned, logged instead of dropped.

#pragma once

#include <string_view>

#include <arrow/status.h>

namespace otlp_arrow::common {

/// \brief Logs `status` as an error ("error ignored when destroying <object>: ...")
/// unless it is OK. For destructors, which cannot return the error of the Close() or
/// Shutdown() they call (Arrow's internal::CloseFromDestructor does the same for files).
void LogErrorFromDestructor(std::string_view object, const arrow::Status& status);

}  // namespace otlp_arrow::common
