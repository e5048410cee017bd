// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/host_port.h"

#include <charconv>

#include <arrow/status.h>

namespace otlp_arrow::common {

arrow::Result<HostPort> HostPort::Parse(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return arrow::Status::Invalid("'", text,
                                  "' is not host:port or [ipv6-host]:port: ", why);
  };
  std::string_view rest = text;
  if (const auto scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
    rest.remove_prefix(scheme_end + 3);
    rest = rest.substr(0, rest.find('/'));
  }
  if (rest.empty()) return invalid("it is empty");
  HostPort out;
  std::string_view port;
  if (rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return invalid("no closing ']'");
    if (close + 1 >= rest.size() || rest[close + 1] != ':') return invalid("no port");
    out.host = std::string(rest.substr(1, close - 1));
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return invalid("no port");
    out.host = std::string(rest.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return invalid("an IPv6 host needs brackets, as in [::1]:4317");
    }
    port = rest.substr(colon + 1);
  }
  if (out.host.empty()) return invalid("no host (0.0.0.0 is every interface)");
  if (port.empty()) return invalid("no port");
  const auto [end, error] =
      std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (error != std::errc() || end != port.data() + port.size() || port.front() == '-' ||
      out.port < 0 || out.port > 65535) {
    return invalid("the port '" + std::string(port) + "' is not a number in 0..65535");
  }
  return out;
}

bool HostPort::IsWildcard() const {
  return host.empty() || host == "0.0.0.0" || host == "::";
}

std::string HostPort::UriHost() const {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string HostPort::ToString() const { return UriHost() + ":" + std::to_string(port); }

}  // namespace otlp_arrow::common
