// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/constant_time.h"

namespace otlp_arrow::common {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length is not secret (it is the length of a well-known format); the content is.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

}  // namespace otlp_arrow::common
