// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/log.h"

#include <spdlog/spdlog.h>

namespace otlp_arrow::common {

void LogErrorFromDestructor(std::string_view object, const arrow::Status& status) {
  if (status.ok()) return;
  spdlog::error("error ignored when destroying {}: {}", object, status.ToString());
}

}  // namespace otlp_arrow::common
