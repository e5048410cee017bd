// SPDX-License-Identifier: Apache-2.0

#include "config_values_internal.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <limits>
#include <tuple>
#include <utility>

namespace otlp_arrow::config::internal {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

bool IEquals(std::string_view a, std::string_view b) { return Lower(a) == Lower(b); }

std::string LastComponent(std::string_view key) {
  const auto dot = key.rfind('.');
  return std::string(dot == std::string_view::npos ? key : key.substr(dot + 1));
}

}  // namespace

arrow::Result<int64_t> ParseInteger(std::string_view text, bool byte_suffix) {
  const auto not_integer = [&] {
    return arrow::Status::Invalid(
        "expected ",
        byte_suffix ? "a size in bytes (e.g. 1048576 or 1MiB)" : "an integer", ", got ",
        Quote(text));
  };
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  if (i == text.size() || !IsDigit(text[i])) return not_integer();
  // Accumulated as a negative number so that INT64_MIN fits; the range check that
  // follows refuses it anyway, but an overflow must not wrap into a valid value.
  int64_t value = 0;
  for (; i < text.size() && IsDigit(text[i]); ++i) {
    const int digit = text[i] - '0';
    if (value < (std::numeric_limits<int64_t>::min() + digit) / 10) {
      return arrow::Status::Invalid("integer ", Quote(text), " is too large");
    }
    value = value * 10 - digit;
  }
  int64_t multiplier = 1;
  if (i < text.size()) {
    if (!byte_suffix) return not_integer();
    std::string_view suffix = text.substr(i);
    if (suffix.front() == ' ') suffix.remove_prefix(1);
    static constexpr std::array<std::pair<std::string_view, int64_t>, 4> kSuffixes = {{
        {"KiB", int64_t{1} << 10},
        {"MiB", int64_t{1} << 20},
        {"GiB", int64_t{1} << 30},
        {"TiB", int64_t{1} << 40},
    }};
    const auto it = std::find_if(kSuffixes.begin(), kSuffixes.end(),
                                 [&](const auto& s) { return s.first == suffix; });
    if (it == kSuffixes.end()) {
      return arrow::Status::Invalid(
          "expected a size in bytes with no unit or one of KiB, ", "MiB, GiB, TiB, got ",
          Quote(text));
    }
    multiplier = it->second;
  }
  if (!negative && value == std::numeric_limits<int64_t>::min()) {
    return arrow::Status::Invalid("integer ", Quote(text), " is too large");
  }
  if (!negative) value = -value;
  if (value > std::numeric_limits<int64_t>::max() / multiplier ||
      value < std::numeric_limits<int64_t>::min() / multiplier) {
    return arrow::Status::Invalid("integer ", Quote(text), " is too large");
  }
  return value * multiplier;
}

arrow::Result<bool> ParseBool(std::string_view text) {
  for (std::string_view yes : {"true", "yes", "on", "1"}) {
    if (IEquals(text, yes)) return true;
  }
  for (std::string_view no : {"false", "no", "off", "0"}) {
    if (IEquals(text, no)) return false;
  }
  return arrow::Status::Invalid("expected true or false, got ", Quote(text));
}

bool IsWildcardHost(std::string_view host) {
  return host == "0.0.0.0" || host == "::" || host == "[::]";
}

arrow::Status ValidateHost(std::string_view host) {
  if (host.empty()) return arrow::Status::Invalid("the host is empty");
  std::string_view inner = host;
  const bool bracketed = host.front() == '[';
  if (bracketed) {
    if (host.size() < 3 || host.back() != ']') {
      return arrow::Status::Invalid("host ", Quote(host), " lacks its closing ']'");
    }
    inner = host.substr(1, host.size() - 2);
  }
  if (bracketed || inner.find(':') != std::string_view::npos) {
    // IPv6, possibly with an embedded IPv4 address or a %zone.
    const bool ok = std::all_of(inner.begin(), inner.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '.' ||
             c == '%';
    });
    if (!ok || inner.find(':') == std::string_view::npos) {
      return arrow::Status::Invalid("host ", Quote(host), " is not an IPv6 address");
    }
    return arrow::Status::OK();
  }
  if (host.size() > 253) return arrow::Status::Invalid("host name is too long");
  // Underscores are not DNS but occur in container service names.
  const bool ok = std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
           c == '_';
  });
  if (!ok || host.front() == '.' || host.front() == '-' ||
      host.find("..") != std::string_view::npos) {
    return arrow::Status::Invalid("host ", Quote(host),
                                  " is not a host name or an IP address");
  }
  return arrow::Status::OK();
}

arrow::Result<HostPort> ParseHostPort(std::string_view text, int min_port) {
  const std::string example = min_port == 0 ? "127.0.0.1:4317" : "collector:8815";
  const auto colon = text.rfind(':');
  const auto close = text.rfind(']');
  if (colon == std::string_view::npos ||
      (close != std::string_view::npos && close > colon)) {
    return arrow::Status::Invalid("expected host:port (e.g. ", example, "), got ",
                                  Quote(text), ": no port");
  }
  const std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.empty()) {
    return arrow::Status::Invalid("expected host:port, got ", Quote(text),
                                  ": no host (0.0.0.0 listens on every interface)");
  }
  if (host.front() != '[' && host.find(':') != std::string_view::npos) {
    return arrow::Status::Invalid("expected host:port, got ", Quote(text),
                                  ": an IPv6 host needs brackets, as in [::1]:4317");
  }
  ARROW_RETURN_NOT_OK(ValidateHost(host));
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), IsDigit)) {
    return arrow::Status::Invalid("expected host:port, got ", Quote(text), ": port ",
                                  Quote(port_text), " is not a number");
  }
  const int port = std::stoi(std::string(port_text));
  if (port < min_port || port > 65535) {
    return arrow::Status::Invalid("port ", port, " in ", Quote(text), " is not in ",
                                  min_port, "..65535");
  }
  return HostPort{std::string(host), port};
}

arrow::Result<Endpoint> ParseEndpoint(std::string_view text) {
  const auto separator = text.find("://");
  if (separator == std::string_view::npos) {
    return arrow::Status::Invalid(
        "expected a URI such as grpc://host:port, got ", Quote(text),
        text.find(':') != std::string_view::npos ? " (add grpc:// or grpc+tls://)" : "");
  }
  Endpoint endpoint;
  const std::string given_scheme = Lower(text.substr(0, separator));
  std::string_view rest = text.substr(separator + 3);
  if (given_scheme == "grpc+unix") {
    if (rest.size() < 2 || rest.front() != '/') {
      return arrow::Status::Invalid("expected grpc+unix:///absolute/path, got ",
                                    Quote(text));
    }
    endpoint.scheme = given_scheme;
    endpoint.uri = "grpc+unix://" + std::string(rest);
    return endpoint;
  }
  if (given_scheme == "http" || given_scheme == "https") {
    endpoint.alias = true;
    endpoint.scheme = given_scheme == "http" ? "grpc" : "grpc+tls";
  } else if (given_scheme == "grpc" || given_scheme == "grpc+tcp" ||
             given_scheme == "grpc+tls") {
    endpoint.scheme = given_scheme;
  } else {
    return arrow::Status::Invalid("scheme ", Quote(given_scheme), " of ", Quote(text),
                                  " is not one of grpc, grpc+tcp, grpc+tls, grpc+unix ",
                                  "(or http, https)");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return arrow::Status::Invalid("expected ", given_scheme, "://host:port, got ",
                                  Quote(text), ": a Flight endpoint has no path, query ",
                                  "or user");
  }
  auto host_port = ParseHostPort(rest, /*min_port=*/1);
  if (!host_port.ok()) {
    return arrow::Status::Invalid("endpoint ", Quote(text), ": ",
                                  host_port.status().message());
  }
  endpoint.uri = endpoint.scheme + "://" + std::string(rest);
  return endpoint;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  // Rows i-2, i-1 and i of the dynamic programme.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] =
          std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::vector<std::string> Suggest(std::string_view unknown,
                                 const std::vector<std::string>& candidates) {
  const std::string lower = Lower(unknown);
  const std::string leaf = LastComponent(lower);
  // Ranked: (rank, distance, candidate); rank 0 for a typo or an extension of the same
  // key, 1 for the same name in another section.
  std::vector<std::tuple<int, size_t, std::string>> ranked;
  const size_t max_distance = std::max<size_t>(1, std::min<size_t>(3, lower.size() / 4));
  for (const std::string& candidate : candidates) {
    const std::string lower_candidate = Lower(candidate);
    const size_t distance = EditDistance(lower, lower_candidate);
    if (distance <= max_distance) {
      ranked.emplace_back(0, distance, candidate);
    } else if (lower.size() >= 3 && lower_candidate.rfind(lower, 0) == 0 &&
               std::count(lower.begin(), lower.end(), '.') ==
                   std::count(lower_candidate.begin(), lower_candidate.end(), '.')) {
      // Extends it at the same depth: `monitor` → `monitoring`, not every key in it.
      ranked.emplace_back(0, distance, candidate);
    } else if (LastComponent(lower_candidate) == leaf) {
      ranked.emplace_back(1, distance, candidate);
    }
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> suggestions;
  for (size_t i = 0; i < ranked.size() && i < 3; ++i) {
    suggestions.push_back(std::get<2>(ranked[i]));
  }
  return suggestions;
}

std::string DidYouMean(const std::vector<std::string>& suggestions) {
  if (suggestions.empty()) return "";
  std::string text = "; did you mean ";
  for (size_t i = 0; i < suggestions.size(); ++i) {
    if (i > 0) text += i + 1 == suggestions.size() ? " or " : ", ";
    text += suggestions[i];
  }
  return text + "?";
}

namespace {

std::string Escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '"':
        escaped += "\\\"";
        break;
      case '\\':
        escaped += "\\\\";
        break;
      case '\n':
        escaped += "\\n";
        break;
      case '\t':
        escaped += "\\t";
        break;
      case '\r':
        escaped += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char hex[5];
          std::snprintf(hex, sizeof(hex), "\\x%02x", static_cast<unsigned char>(c));
          escaped += hex;
        } else {
          escaped += c;
        }
    }
  }
  return escaped;
}

}  // namespace

std::string Quote(std::string_view text) { return "\"" + Escape(text) + "\""; }

}  // namespace otlp_arrow::config::internal
