// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/hex.h"

#include <arrow/util/string.h>

namespace otlp_arrow::common {

std::string LowerHex(std::string_view bytes) {
  return arrow::internal::AsciiToLower(arrow::HexEncode(bytes));
}

}  // namespace otlp_arrow::common
