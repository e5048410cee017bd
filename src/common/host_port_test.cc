// SPDX-License-Identifier: Apache-2.0
// HostPort::Parse: names, IPv4 and IPv6 literals, schemes, and what is refused.

#include "otlp_arrow/common/host_port.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace otlp_arrow::common {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

HostPort Parsed(std::string_view text) {
  auto parsed = HostPort::Parse(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
  return parsed.ok() ? *parsed : HostPort{};
}

std::string Error(std::string_view text) {
  auto parsed = HostPort::Parse(text);
  EXPECT_FALSE(parsed.ok()) << text << " parsed as " << parsed->ToString();
  return parsed.ok() ? "" : parsed.status().message();
}

TEST(HostPort, NameAndIpv4) {
  EXPECT_EQ(Parsed("collector:8815"), (HostPort{"collector", 8815}));
  EXPECT_EQ(Parsed("127.0.0.1:0"), (HostPort{"127.0.0.1", 0}));
  EXPECT_EQ(Parsed("0.0.0.0:65535"), (HostPort{"0.0.0.0", 65535}));
}

TEST(HostPort, BracketedIpv6LosesItsBrackets) {
  EXPECT_EQ(Parsed("[::1]:4317"), (HostPort{"::1", 4317}));
  EXPECT_EQ(Parsed("[::]:0"), (HostPort{"::", 0}));
  EXPECT_EQ(Parsed("[fe80::1%eth0]:9"), (HostPort{"fe80::1%eth0", 9}));
}

TEST(HostPort, SchemeAndPathAreSkipped) {
  EXPECT_EQ(Parsed("grpc://collector:8815"), (HostPort{"collector", 8815}));
  EXPECT_EQ(Parsed("grpc+tls://[::1]:8815/"), (HostPort{"::1", 8815}));
  EXPECT_EQ(Parsed("http://127.0.0.1:8080/health"), (HostPort{"127.0.0.1", 8080}));
}

TEST(HostPort, PrintsIpv6Bracketed) {
  EXPECT_EQ((HostPort{"::1", 4317}).ToString(), "[::1]:4317");
  EXPECT_EQ((HostPort{"::1", 4317}).UriHost(), "[::1]");
  EXPECT_EQ((HostPort{"collector", 1}).ToString(), "collector:1");
  EXPECT_EQ(Parsed(Parsed("[::1]:4317").ToString()), (HostPort{"::1", 4317}));
}

TEST(HostPort, Wildcards) {
  EXPECT_TRUE(Parsed("0.0.0.0:1").IsWildcard());
  EXPECT_TRUE(Parsed("[::]:1").IsWildcard());
  EXPECT_FALSE(Parsed("[::1]:1").IsWildcard());
  EXPECT_FALSE(Parsed("localhost:1").IsWildcard());
}

TEST(HostPort, ErrorsNameTheInputAndTheFault) {
  EXPECT_THAT(Error(""), AllOf(HasSubstr("''"), HasSubstr("empty")));
  EXPECT_THAT(Error("grpc://"), HasSubstr("empty"));
  EXPECT_THAT(Error("collector"), AllOf(HasSubstr("'collector'"), HasSubstr("no port")));
  EXPECT_THAT(Error("collector:"), HasSubstr("no port"));
  EXPECT_THAT(Error("[::1]"), HasSubstr("no port"));
  EXPECT_THAT(Error("[::1]4317"), HasSubstr("no port"));
  EXPECT_THAT(Error("[::1:4317"), HasSubstr("no closing ']'"));
  EXPECT_THAT(Error(":4317"), HasSubstr("no host"));
  EXPECT_THAT(Error("[]:4317"), HasSubstr("no host"));
  EXPECT_THAT(Error("::1:4317"), HasSubstr("brackets"));
  EXPECT_THAT(Error("host:http"), HasSubstr("port 'http' is not a number"));
  EXPECT_THAT(Error("host:65536"), HasSubstr("'65536'"));
  EXPECT_THAT(Error("host:-1"), HasSubstr("'-1'"));
  EXPECT_THAT(Error("host:+1"), HasSubstr("'+1'"));
  EXPECT_THAT(Error("host:1 "), HasSubstr("'1 '"));
  EXPECT_THAT(Error("host:99999999999999999999"), HasSubstr("not a number"));
}

}  // namespace
}  // namespace otlp_arrow::common
