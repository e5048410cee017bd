// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/transport/connection_diagnosis.h"

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

struct Pem {
  std::string cert;
  std::string key;
};

// A self-signed certificate for localhost / 127.0.0.1, made at test time.
Pem SelfSignedLocalhost(long valid_seconds) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), valid_seconds);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name,
                                            "DNS:localhost,IP:127.0.0.1");
  X509_add_ext(x, san, -1);
  X509_EXTENSION_free(san);
  X509_EXTENSION* bc =
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "CA:TRUE");
  X509_add_ext(x, bc, -1);
  X509_EXTENSION_free(bc);
  X509_sign(x, key, EVP_sha256());
  auto to_pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(n));
    BIO_free(bio);
    return out;
  };
  Pem pem{to_pem([&](BIO* b) { PEM_write_bio_X509(b, x); }), to_pem([&](BIO* b) {
            PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
          })};
  X509_free(x);
  EVP_PKEY_free(key);
  return pem;
}

std::unique_ptr<EmptyFlightServer> Serve(const std::string& token = "",
                                         const Pem* tls = nullptr) {
  auto server = std::make_unique<EmptyFlightServer>();
  server->token_ = token;
  auto location = tls ? arrow::flight::Location::ForGrpcTls("127.0.0.1", 0)
                      : arrow::flight::Location::ForGrpcTcp("127.0.0.1", 0);
  arrow::flight::FlightServerOptions options(*location);
  if (tls) options.tls_certificates.push_back({tls->cert, tls->key});
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
  const Pem pem = SelfSignedLocalhost(3600);
  auto server = Serve("", &pem);
  const std::string ca = ::testing::TempDir() + "/diagnosis-ca.pem";
  std::ofstream(ca) << pem.cert;

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

TEST(ConnectionDiagnosis, UnreadableCaFileIsAnError) {
  ConnectionDiagnosisOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  EXPECT_TRUE(DiagnoseConnection(options).status().IsIOError());
}

}  // namespace
}  // namespace otlp_arrow::transport
