// SPDX-License-Identifier: Apache-2.0
// HostPort: the one parser of `host:port` addresses and endpoints, IPv6 literals
// included.

#pragma once

#include <string>
#include <string_view>

#include <arrow/result.h>

namespace otlp_arrow::common {

/// \brief A host and a port, as listeners bind and clients connect to them.
struct HostPort {
  /// \brief A name, an IPv4 address or an IPv6 address, without brackets.
  std::string host;
  int port = 0;

  /// \brief Parses `host:port`, `[v6]:port` or either after a `scheme://` (whose scheme
  /// and any `/path` after the port are ignored). The port is a number in 0..65535; an
  /// IPv6 host must be bracketed (otherwise where the port starts is ambiguous). The
  /// error names the input and says what is wrong with it.
  static arrow::Result<HostPort> Parse(std::string_view text);

  /// \brief 0.0.0.0, :: or empty: any interface, not an address to connect to.
  bool IsWildcard() const;

  /// \brief `host:port`, with the host bracketed when it is an IPv6 address.
  std::string ToString() const;

  /// \brief The host as it goes into a URI or `host:port`: bracketed when IPv6.
  std::string UriHost() const;

  bool operator==(const HostPort&) const = default;
};

}  // namespace otlp_arrow::common
