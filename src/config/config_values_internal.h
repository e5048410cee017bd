// SPDX-License-Identifier: Apache-2.0
// Parsers and printers of single configuration values. Their error messages say what is
// wrong with the value; the caller adds where it came from and which key it is for.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>
#include <arrow/status.h>

namespace otlp_arrow::config::internal {

/// \brief A decimal integer, optionally signed. With `byte_suffix`, also `<n>KiB`,
/// `<n>MiB`, `<n>GiB`, `<n>TiB` (one optional space before the suffix).
arrow::Result<int64_t> ParseInteger(std::string_view text, bool byte_suffix);

/// \brief true/false, yes/no, on/off, 1/0, ignoring case.
arrow::Result<bool> ParseBool(std::string_view text);

struct HostPort {
  /// \brief As written, with the brackets of an IPv6 address.
  std::string host;
  int port = 0;
};

/// \brief `host:port` or `[v6]:port`, port in min_port..65535.
arrow::Result<HostPort> ParseHostPort(std::string_view text, int min_port);

/// \brief A host name, an IPv4 address or an IPv6 address (bracketed or not).
arrow::Status ValidateHost(std::string_view host);

/// \brief 0.0.0.0 or :: (any interface).
bool IsWildcardHost(std::string_view host);

struct Endpoint {
  /// \brief Normalized: scheme in lower case, `http` → `grpc`, `https` → `grpc+tls`,
  /// no trailing slash.
  std::string uri;
  /// \brief The normalized scheme.
  std::string scheme;
  /// \brief The seed's `http`/`https` scheme was given.
  bool alias = false;
};

/// \brief A Flight endpoint URI; see ServiceConfig::endpoint.
arrow::Result<Endpoint> ParseEndpoint(std::string_view text);

/// \brief Optimal string alignment distance (Levenshtein plus adjacent transpositions).
size_t EditDistance(std::string_view a, std::string_view b);

/// \brief Candidates `unknown` was probably meant to be, ignoring case, best first (at
/// most three): one a few typos away or one that extends it (`tls.cert` →
/// `tls.cert_path`), then the same last component under another section (`log_level`
/// → `monitoring.log_level`).
std::vector<std::string> Suggest(std::string_view unknown,
                                 const std::vector<std::string>& candidates);

/// \brief `; did you mean a or b?`, or empty.
std::string DidYouMean(const std::vector<std::string>& suggestions);

/// \brief "text" with `"`, `\` and control characters escaped: a YAML double-quoted
/// scalar, and unambiguous in messages.
std::string Quote(std::string_view text);

}  // namespace otlp_arrow::config::internal
