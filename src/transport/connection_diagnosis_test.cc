// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/transport/connection_diagnosis.h"
#include "test_certificates_internal.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <arrow/flight/api.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace otlp_arrow::transport {
namespace {

using ::testing::HasSubstr;

// A Flight server with an empty store: ListFlights lists nothing. With a token, calls
// without it are refused as the receiver refuses them.
class EmptyFlightServer : public arrow::flight::FlightServerBase {
 public:
  arrow::Status ListFlights(
      const arrow::flight::ServerCallContext& context, const arrow::flight::Criteria*,
      std::unique_ptr<arrow::flight::FlightListing>* listings) override {
    if (!token_.empty()) {
      bool ok = false;
      for (const auto& [key, value] : context.incoming_headers()) {
        ok |= key == "authorization" && value == "Bearer " + token_;
      }
      if (!ok) {
        return arrow::flight::MakeFlightError(
            arrow::flight::FlightStatusCode::Unauthenticated,
            "missing or wrong bearer token");
      }
    }
    *listings = std::make_unique<arrow::flight::SimpleFlightListing>(
        std::vector<arrow::flight::FlightInfo>{});
    return arrow::Status::OK();
  }
  std::string token_;
};

using testing::CertificateAndKey;

CertificateAndKey SelfSignedLocalhost(long valid_seconds) {
  return testing::SelfSigned("localhost", "DNS:localhost,IP:127.0.0.1", valid_seconds);
}

std::unique_ptr<EmptyFlightServer> Serve(const std::string& token = "",
                                         const CertificateAndKey* tls = nullptr,
                                         const CertificateAndKey* client_ca = nullptr) {
  auto server = std::make_unique<EmptyFlightServer>();
  server->token_ = token;
  auto location = tls ? arrow::flight::Location::ForGrpcTls("127.0.0.1", 0)
                      : arrow::flight::Location::ForGrpcTcp("127.0.0.1", 0);
  arrow::flight::FlightServerOptions options(*location);
  if (tls) options.tls_certificates.push_back({tls->cert_pem, tls->key_pem});
  if (client_ca) {
    options.verify_client = true;
    options.root_certificates = client_ca->cert_pem;
  }
  EXPECT_TRUE(server->Init(options).ok());
  return server;
}

std::string Step(const ConnectionDiagnosis& d, size_t i) {
  return i < d.steps.size() ? d.steps[i].name + ": " + d.steps[i].detail : "(none)";
}

TEST(ConnectionDiagnosis, HealthyPlainReceiver) {
  auto server = Serve();
  ConnectionDiagnosisOptions options;
  options.endpoint = "grpc://127.0.0.1:" + std::to_string(server->port());
  auto d = DiagnoseConnection(options);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->ok()) << Step(*d, d->steps.size() - 1);
  ASSERT_EQ(d->steps.size(), 4u);  // endpoint, DNS, TCP, Flight
  EXPECT_EQ(d->steps[3].name, "Flight ListFlights");
  EXPECT_THAT(d->steps[3].detail, HasSubstr("0 flight(s)"));
  ASSERT_TRUE(server->Shutdown().ok());
}

TEST(ConnectionDiagnosis, NothingListening) {
  // Bind a port and close it again: nothing listens there afterwards.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  ConnectionDiagnosisOptions options;
  options.endpoint = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto d = DiagnoseConnection(options);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->ok());
  const auto& last = d->steps.back();
  EXPECT_EQ(last.name, "TCP connect");
  EXPECT_THAT(last.detail, HasSubstr("refused"));
  EXPECT_THAT(last.hint, HasSubstr("otlp-arrow receiver"));
}

TEST(ConnectionDiagnosis, BadEndpoint) {
  for (const char* bad : {"grpc://nohost", "ftp://host:1", "grpc://host:99999", ""}) {
    ConnectionDiagnosisOptions options;
    options.endpoint = bad;
    auto d = DiagnoseConnection(options);
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(d->ok()) << bad;
    EXPECT_EQ(d->steps.back().name, "endpoint");
  }
}

TEST(ConnectionDiagnosis, TokenRequired) {
  auto server = Serve("s3cret");
  ConnectionDiagnosisOptions options;
  options.endpoint = "grpc://127.0.0.1:" + std::to_string(server->port());
  auto without = DiagnoseConnection(options);
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(without->ok());
  EXPECT_THAT(without->steps.back().hint, HasSubstr("--token"));
  options.token = "s3cret";
  auto with = DiagnoseConnection(options);
  ASSERT_TRUE(with.ok());
  EXPECT_TRUE(with->ok()) << Step(*with, with->steps.size() - 1);
  ASSERT_TRUE(server->Shutdown().ok());
}

TEST(ConnectionDiagnosis, TlsWithAndWithoutTheRightCa) {
  const CertificateAndKey pem = SelfSignedLocalhost(3600);
  auto server = Serve("", &pem);
  const std::string ca = ::testing::TempDir() + "/diagnosis-ca.pem";
  std::ofstream(ca) << pem.cert_pem;

  ConnectionDiagnosisOptions options;
  options.endpoint = "grpc+tls://localhost:" + std::to_string(server->port());
  auto untrusted = DiagnoseConnection(options);
  ASSERT_TRUE(untrusted.ok());
  EXPECT_FALSE(untrusted->ok());
  EXPECT_EQ(untrusted->steps.back().name, "TLS handshake");
  EXPECT_THAT(untrusted->steps.back().hint, HasSubstr("--ca"));

  options.ca_file = ca;
  auto trusted = DiagnoseConnection(options);
  ASSERT_TRUE(trusted.ok());
  EXPECT_TRUE(trusted->ok()) << Step(*trusted, trusted->steps.size() - 1);
  ASSERT_EQ(trusted->steps.size(), 5u);
  EXPECT_THAT(trusted->steps[3].detail, HasSubstr("CN=localhost"));
  EXPECT_THAT(trusted->steps[3].detail, HasSubstr("expires"));

  // Plain gRPC against the TLS port: TCP works, Flight does not.
  options.endpoint = "grpc://localhost:" + std::to_string(server->port());
  auto plain = DiagnoseConnection(options);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->ok());
  EXPECT_EQ(plain->steps.back().name, "Flight ListFlights");
  ASSERT_TRUE(server->Shutdown().ok());
  std::remove(ca.c_str());
}

// A receiver that requires a client certificate: without one the Flight step fails and
// says to pass --cert and --key; with a certificate the client CA did not sign it fails
// too; with the right one every step passes.
TEST(ConnectionDiagnosis, MutualTls) {
  const CertificateAndKey server_pem = SelfSignedLocalhost(3600);
  const CertificateAndKey client_pem = testing::SelfSigned("gateway");
  const CertificateAndKey stranger_pem = testing::SelfSigned("stranger");
  auto server = Serve("", &server_pem, &client_pem);
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& pem) {
    std::ofstream(dir + "/" + name) << pem;
    return dir + "/" + name;
  };
  ConnectionDiagnosisOptions options;
  options.endpoint = "grpc+tls://localhost:" + std::to_string(server->port());
  options.ca_file = write("mtls-ca.pem", server_pem.cert_pem);

  auto anonymous = DiagnoseConnection(options);
  ASSERT_TRUE(anonymous.ok());
  EXPECT_FALSE(anonymous->ok());
  EXPECT_THAT(anonymous->steps.back().hint, HasSubstr("--cert"));

  options.cert_file = write("mtls-stranger.pem", stranger_pem.cert_pem);
  options.key_file = write("mtls-stranger.key", stranger_pem.key_pem);
  auto stranger = DiagnoseConnection(options);
  ASSERT_TRUE(stranger.ok());
  EXPECT_FALSE(stranger->ok());

  options.cert_file = write("mtls-client.pem", client_pem.cert_pem);
  options.key_file = write("mtls-client.key", client_pem.key_pem);
  auto trusted = DiagnoseConnection(options);
  ASSERT_TRUE(trusted.ok());
  EXPECT_TRUE(trusted->ok()) << Step(*trusted, trusted->steps.size() - 1);

  // A key that is not the certificate's: the TLS step says so.
  options.key_file = write("mtls-wrong.key", stranger_pem.key_pem);
  auto mismatch = DiagnoseConnection(options);
  ASSERT_TRUE(mismatch.ok());
  EXPECT_FALSE(mismatch->ok());
  EXPECT_EQ(mismatch->steps.back().name, "TLS handshake");
  EXPECT_THAT(mismatch->steps.back().hint, HasSubstr("--key"));

  // A certificate without its key is unusable input.
  options.key_file.clear();
  EXPECT_TRUE(DiagnoseConnection(options).status().IsInvalid());
  ASSERT_TRUE(server->Shutdown().ok());
}

TEST(ConnectionDiagnosis, UnreadableCaFileIsAnError) {
  ConnectionDiagnosisOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  EXPECT_TRUE(DiagnoseConnection(options).status().IsIOError());
}

}  // namespace
}  // namespace otlp_arrow::transport
