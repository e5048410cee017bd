// SPDX-License-Identifier: Apache-2.0
// Hex for trace and span ids.

#pragma once

#include <string>
#include <string_view>

namespace otlp_arrow::common {

/// \brief `bytes` as lowercase hex, two digits a byte: how OTLP/JSON and W3C trace
/// context write ids (arrow::HexEncode writes upper case).
std::string LowerHex(std::string_view bytes);

}  // namespace otlp_arrow::common
