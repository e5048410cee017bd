// SPDX-License-Identifier: Apache-2.0
// Reading small files whole: certificates, keys, tokens, configuration.

#pragma once

#include <string>
#include <string_view>

#include <arrow/result.h>

namespace otlp_arrow::common {

/// \brief The bytes of the file at `path`. IOError `<what>: cannot read '<path>': <why>`
/// when it is missing, unreadable or a directory; `what` names what the file is for (a
/// configuration key, a flag), so that the message points at what to fix.
arrow::Result<std::string> ReadWholeFile(const std::string& path, std::string_view what);

/// \brief A bearer token from the file at `path`: its only word, without the
/// surrounding white space (a token file usually ends with a newline, maybe CRLF, that
/// is not part of the token). Invalid when the file is empty or holds more than one
/// word; errors as ReadWholeFile's.
arrow::Result<std::string> ReadToken(const std::string& path, std::string_view what);

}  // namespace otlp_arrow::common
