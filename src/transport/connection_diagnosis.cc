// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/transport/connection_diagnosis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <arrow/flight/client.h>
#include <arrow/flight/types.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "otlp_arrow/common/file.h"
#include "otlp_arrow/common/host_port.h"
#include "otlp_arrow/transport/flight_protocol.h"

namespace otlp_arrow::transport {

bool ConnectionDiagnosis::ok() const {
  for (const auto& step : steps) {
    if (!step.ok) return false;
  }
  return !steps.empty();
}

namespace {

struct Endpoint {
  std::string scheme;  // "grpc" or "grpc+tls"
  std::string host;
  int port = 0;
  bool tls() const { return scheme == "grpc+tls"; }
};

bool ParseEndpoint(const std::string& text, Endpoint* out, std::string* error) {
  const auto sep = text.find("://");
  out->scheme = "grpc";
  if (sep != std::string::npos) {
    out->scheme = text.substr(0, sep);
    if (out->scheme == "grpc+tcp" || out->scheme == "http") out->scheme = "grpc";
    if (out->scheme == "https") out->scheme = "grpc+tls";
    if (out->scheme != "grpc" && out->scheme != "grpc+tls") {
      *error = "unknown scheme '" + out->scheme + "' (use grpc:// or grpc+tls://)";
      return false;
    }
  }
  auto host_port = common::HostPort::Parse(text);
  if (!host_port.ok()) {
    *error = host_port.status().message();
    return false;
  }
  if (host_port->port == 0) {
    *error = "port 0 in '" + text + "' is not a port to connect to";
    return false;
  }
  out->host = host_port->host;
  out->port = host_port->port;
  return true;
}

std::string AddressText(const sockaddr* addr) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, buf,
              sizeof buf);
  } else if (addr->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, buf,
              sizeof buf);
  }
  return buf;
}

using AddrInfoPtr = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

/// Non-blocking connect with a timeout; returns the connected socket or -1 and errno
/// text.
int ConnectWithTimeout(const addrinfo& ai, std::chrono::milliseconds timeout,
                       std::string* error) {
  const int fd = socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) {
    *error = std::strerror(errno);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (connect(fd, ai.ai_addr, ai.ai_addrlen) != 0 && errno != EINPROGRESS) {
    *error = std::strerror(errno);
    close(fd);
    return -1;
  }
  pollfd pfd{fd, POLLOUT, 0};
  const int ready = poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (ready == 0) {
    *error = "timed out after " + std::to_string(timeout.count()) + " ms";
    close(fd);
    return -1;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (ready < 0 || so_error != 0) {
    *error = std::strerror(ready < 0 ? errno : so_error);
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::string Asn1TimeText(const ASN1_TIME* time) {
  BIO* bio = BIO_new(BIO_s_mem());
  ASN1_TIME_print(bio, time);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

/// TLS handshake on a connected socket: verifies the chain and the host name, reports the
/// certificate's subject and expiry.
DiagnosisStep TlsHandshake(int fd, const Endpoint& endpoint,
                           const ConnectionDiagnosisOptions& options) {
  DiagnosisStep step{"TLS handshake", false, "", ""};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // judged below, to explain it
  if (options.ca_file.empty()) {
    SSL_CTX_set_default_verify_paths(ctx.get());
  } else if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) !=
             1) {
    step.detail = "cannot load CA file " + options.ca_file + ": " + OpenSslErrors();
    step.hint = "pass a PEM file with --ca";
    return step;
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(),
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      step.detail = "cannot use client certificate " + options.cert_file + " with key " +
                    options.key_file + ": " + OpenSslErrors();
      step.hint = "pass the PEM certificate chain with --cert and its key with --key";
      return step;
    }
  }
  static const unsigned char kAlpn[] = {2, 'h', '2'};  // gRPC runs over HTTP/2
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  const std::string name =
      options.server_name_override.empty() ? endpoint.host : options.server_name_override;
  SSL_set_tlsext_host_name(ssl.get(), name.c_str());
  SSL_set1_host(ssl.get(), name.c_str());
  SSL_set_fd(ssl.get(), fd);
  timeval tv{static_cast<time_t>(options.timeout.count() / 1000),
             static_cast<suseconds_t>((options.timeout.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (SSL_connect(ssl.get()) != 1) {
    step.detail = "handshake failed: " + OpenSslErrors();
    step.hint =
        "the server may not speak TLS (use grpc://), or its TLS settings differ from the "
        "client's";
    return step;
  }
  X509* cert = SSL_get1_peer_certificate(ssl.get());
  if (cert == nullptr) {
    step.detail = "the server sent no certificate";
    step.hint = "configure a certificate on the receiver (--tls-cert, --tls-key)";
    return step;
  }
  char subject[512];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  const std::string expiry = Asn1TimeText(X509_get0_notAfter(cert));
  const bool expired = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
  X509_free(cert);
  const long verify = SSL_get_verify_result(ssl.get());
  step.detail = std::string("certificate ") + subject + ", expires " + expiry;
  if (expired) {
    step.hint = "the receiver's certificate has expired: renew it";
    return step;
  }
  if (verify != X509_V_OK) {
    step.detail += "; verification failed: ";
    step.detail += X509_verify_cert_error_string(verify);
    step.hint = verify == X509_V_ERR_HOSTNAME_MISMATCH
                    ? "the certificate is not for '" + name +
                          "': connect by a name it lists, or set the server-name override"
                    : "pass the CA that signed the receiver's certificate with --ca";
    return step;
  }
  SSL_shutdown(ssl.get());
  step.ok = true;
  return step;
}

// PEM files read whole.
struct TlsFiles {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

DiagnosisStep FlightRoundTrip(const Endpoint& endpoint, const TlsFiles& tls,
                              const ConnectionDiagnosisOptions& options) {
  DiagnosisStep step{"Flight ListFlights", false, "", ""};
  auto location = endpoint.tls()
                      ? arrow::flight::Location::ForGrpcTls(endpoint.host, endpoint.port)
                      : arrow::flight::Location::ForGrpcTcp(endpoint.host, endpoint.port);
  if (!location.ok()) {
    step.detail = location.status().ToString();
    return step;
  }
  auto client_options = arrow::flight::FlightClientOptions::Defaults();
  client_options.tls_root_certs = tls.ca_pem;
  client_options.cert_chain = tls.cert_pem;
  client_options.private_key = tls.key_pem;
  client_options.override_hostname = options.server_name_override;
  auto client = arrow::flight::FlightClient::Connect(*location, client_options);
  if (!client.ok()) {
    step.detail = client.status().ToString();
    return step;
  }
  arrow::flight::FlightCallOptions call;
  call.timeout = std::chrono::duration<double>(options.timeout);
  if (!options.token.empty()) {
    if (auto valid = CheckBearerToken(options.token); !valid.ok()) {
      step.detail = valid.message();
      step.hint = "pass the token without line breaks or spaces";
      return step;
    }
    call.headers.emplace_back(std::string(kAuthorizationHeader),
                              "Bearer " + options.token);
  }
  const auto started = std::chrono::steady_clock::now();
  auto listing = (*client)->ListFlights(call, {});
  arrow::Status status = listing.status();
  int flights = 0;
  int64_t records = 0;
  while (status.ok()) {
    auto next = (*listing)->Next();
    if (!next.ok()) {
      status = next.status();
      break;
    }
    if (*next == nullptr) break;
    ++flights;
    records += std::max<int64_t>(0, (*next)->total_records());
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  if (status.ok()) {
    step.ok = true;
    step.detail = std::to_string(flights) + " flight(s), " + std::to_string(records) +
                  " span(s) stored, " + std::to_string(ms) + " ms";
    return step;
  }
  step.detail = status.ToString();
  auto detail = arrow::flight::FlightStatusDetail::UnwrapStatus(status);
  const auto code = detail ? detail->code() : arrow::flight::FlightStatusCode::Internal;
  if (detail && code == arrow::flight::FlightStatusCode::Unauthenticated) {
    step.hint = options.token.empty() ? "the receiver requires a token: pass --token"
                                      : "the receiver refused the token: check --token";
  } else if (detail && code == arrow::flight::FlightStatusCode::Unauthorized) {
    step.hint = "the token is not allowed to list flights";
  } else if (detail && code == arrow::flight::FlightStatusCode::Unavailable) {
    // With TLS 1.3 a server that wants a client certificate checks it after the
    // handshake, so the missing certificate shows here, not in the TLS step.
    step.hint = endpoint.tls() && options.cert_file.empty()
                    ? "TCP and TLS work but gRPC does not: the receiver may require a "
                      "client certificate (mutual TLS): pass --cert and --key"
                : endpoint.tls()
                    ? "TCP works but gRPC does not: check TLS settings (is the client "
                      "certificate one the receiver's client CA signed?) and that the "
                      "port serves Arrow Flight"
                    : "TCP works but gRPC does not: the server may expect TLS "
                      "(grpc+tls://) or not be an Arrow Flight server";
  } else if (detail && code == arrow::flight::FlightStatusCode::TimedOut) {
    step.hint = "the receiver is overloaded or stuck; check its logs and /metrics";
  } else {
    step.hint = "the port answers, but not as an otlp-arrow receiver";
  }
  return step;
}

}  // namespace

arrow::Result<ConnectionDiagnosis> DiagnoseConnection(
    const ConnectionDiagnosisOptions& options) {
  ConnectionDiagnosis out;
  if (options.cert_file.empty() != options.key_file.empty()) {
    return arrow::Status::Invalid(
        "a client certificate needs its key and a key its certificate (--cert and "
        "--key)");
  }
  auto read = [](const std::string& path, const char* what,
                 std::string* pem) -> arrow::Status {
    if (path.empty()) return arrow::Status::OK();
    ARROW_ASSIGN_OR_RAISE(*pem, common::ReadWholeFile(path, what));
    return arrow::Status::OK();
  };
  TlsFiles tls_files;
  ARROW_RETURN_NOT_OK(read(options.ca_file, "--ca", &tls_files.ca_pem));
  ARROW_RETURN_NOT_OK(read(options.cert_file, "--cert", &tls_files.cert_pem));
  ARROW_RETURN_NOT_OK(read(options.key_file, "--key", &tls_files.key_pem));

  Endpoint endpoint;
  std::string error;
  if (!ParseEndpoint(options.endpoint, &endpoint, &error)) {
    out.steps.push_back({"endpoint", false, error,
                         "write it as grpc://host:port or grpc+tls://host:port"});
    return out;
  }
  out.steps.push_back(
      {"endpoint", true,
       endpoint.scheme + "://" + endpoint.host + ":" + std::to_string(endpoint.port),
       ""});

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(endpoint.host.c_str(), std::to_string(endpoint.port).c_str(),
                             &hints, &found);
  AddrInfoPtr addresses(found, freeaddrinfo);
  if (rc != 0 || found == nullptr) {
    out.steps.push_back({"DNS", false, endpoint.host + ": " + gai_strerror(rc),
                         "check the host name; in Kubernetes, the Service name and "
                         "namespace (e.g. arrow-flight-service.<ns>.svc)"});
    return out;
  }
  std::string listed;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const std::string text = AddressText(a->ai_addr);
    if (listed.find(text) == std::string::npos)
      listed += (listed.empty() ? "" : ", ") + text;
  }
  out.steps.push_back({"DNS", true, endpoint.host + " → " + listed, ""});

  int fd = -1;
  std::string connect_error;
  for (const addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ConnectWithTimeout(*a, options.timeout, &connect_error);
  }
  if (fd < 0) {
    const bool refused = connect_error.find("refused") != std::string::npos;
    out.steps.push_back(
        {"TCP connect", false,
         "port " + std::to_string(endpoint.port) + ": " + connect_error,
         refused
             ? "nothing listens there: start the receiver (otlp-arrow receiver --flight "
               "ADDR) or fix the port"
             : "a firewall or network policy may drop the packets; check the route"});
    return out;
  }
  out.steps.push_back({"TCP connect", true, "port " + std::to_string(endpoint.port), ""});

  if (endpoint.tls()) {
    DiagnosisStep tls = TlsHandshake(fd, endpoint, options);
    close(fd);
    out.steps.push_back(tls);
    if (!tls.ok) return out;
  } else {
    close(fd);
  }
  out.steps.push_back(FlightRoundTrip(endpoint, tls_files, options));
  return out;
}

}  // namespace otlp_arrow::transport
