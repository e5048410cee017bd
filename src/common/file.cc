// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <arrow/status.h>

namespace otlp_arrow::common {

arrow::Result<std::string> ReadWholeFile(const std::string& path, std::string_view what) {
  auto cannot_read = [&](std::string_view why) {
    return arrow::Status::IOError(what, ": cannot read '", path, "': ", why);
  };
  // A directory opens as a stream on Linux; only the read fails, with a vague errno.
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored))
    return cannot_read("it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return cannot_read(std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return cannot_read(std::strerror(errno));
  return content.str();
}

arrow::Result<std::string> ReadToken(const std::string& path, std::string_view what) {
  ARROW_ASSIGN_OR_RAISE(std::string token, ReadWholeFile(path, what));
  constexpr const char* kSpace = " \t\r\n\v\f";
  const auto end = token.find_last_not_of(kSpace);
  token.erase(end == std::string::npos ? 0 : end + 1);
  token.erase(0, std::min(token.size(), token.find_first_not_of(kSpace)));
  if (token.empty()) return arrow::Status::Invalid(what, ": '", path, "' is empty");
  if (token.find_first_of(kSpace) != std::string::npos) {
    return arrow::Status::Invalid(what, ": '", path, "' holds more than one word");
  }
  return token;
}

}  // namespace otlp_arrow::common
