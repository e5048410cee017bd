// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/service/otlp_http_receiver.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include <arrow/util/macros.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "receiver_internal.h"

namespace otlp_arrow::service {

namespace {

using internal::RpcCode;

// The two OTLP/HTTP encodings, and what a request that has neither is answered in.
enum class Encoding { kProtobuf, kJson, kOther };

constexpr std::string_view kProtobufType = "application/x-protobuf";
constexpr std::string_view kJsonType = "application/json";

// Where the pre-routing handler leaves the request's content coding for the export
// handler once it has taken `Content-Encoding` away from httplib (see PreRoute). A
// client's own header of this name is removed first.
constexpr char kCodingHeader[] = "X-Otlp-Arrow-Internal-Content-Coding";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The media type of `Content-Type`, parameters (`; charset=utf-8`) ignored.
Encoding EncodingOf(const httplib::Request& req) {
  const std::string value = req.get_header_value("Content-Type");
  std::string_view type = value;
  type = Trim(type.substr(0, type.find(';')));
  if (EqualsIgnoreCase(type, kProtobufType)) return Encoding::kProtobuf;
  if (EqualsIgnoreCase(type, kJsonType)) return Encoding::kJson;
  return Encoding::kOther;
}

enum class Coding { kIdentity, kGzip, kUnsupported };

// All `Content-Encoding` headers together, as HTTP lists them; identity adds nothing,
// and one gzip is all this receiver inflates.
Coding CodingOf(const httplib::Request& req) {
  int gzip = 0;
  const size_t headers = req.get_header_value_count("Content-Encoding");
  for (size_t i = 0; i < headers; ++i) {
    const std::string value = req.get_header_value("Content-Encoding", i);
    std::string_view rest = value;
    while (true) {
      const size_t comma = rest.find(',');
      const std::string_view token = Trim(rest.substr(0, comma));
      if (EqualsIgnoreCase(token, "gzip") || EqualsIgnoreCase(token, "x-gzip")) {
        ++gzip;
      } else if (!token.empty() && !EqualsIgnoreCase(token, "identity")) {
        return Coding::kUnsupported;
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (gzip > 1) return Coding::kUnsupported;
  return gzip == 1 ? Coding::kGzip : Coding::kIdentity;
}

bool IsChunked(const httplib::Request& req) {
  const size_t headers = req.get_header_value_count("Transfer-Encoding");
  for (size_t i = 0; i < headers; ++i) {
    if (req.get_header_value("Transfer-Encoding", i).find("chunked") !=
        std::string::npos) {
      return true;
    }
  }
  return false;
}

// The declared body length, when the body is delimited by Content-Length. httplib reads
// a chunked body as chunked whatever Content-Length says.
std::optional<uint64_t> DeclaredLength(const httplib::Request& req) {
  if (IsChunked(req) || !req.has_header("Content-Length")) return std::nullopt;
  const std::string value = req.get_header_value("Content-Length");
  uint64_t length = 0;
  const auto [end, error] =
      std::from_chars(value.data(), value.data() + value.size(), length);
  if (error != std::errc() || end != value.data() + value.size()) {
    // Unparsable: treat it as huge, it is refused unread.
    return std::numeric_limits<uint64_t>::max();
  }
  return length;
}

// Whether the request may have a body that has not been read.
bool MayHaveBody(const httplib::Request& req) {
  const auto length = DeclaredLength(req);
  return IsChunked(req) || (length.has_value() && *length > 0);
}

// Seconds for Retry-After: rounded up, at least 1.
int64_t RetryAfterSeconds(std::chrono::milliseconds delay) {
  return std::max<int64_t>(1, (delay.count() + 999) / 1000);
}

// Reads a request body chunk by chunk: counts its bytes as sent, inflates gzip, and
// keeps at most `max_decompressed` bytes. Past a limit it keeps reading without keeping
// anything (draining) up to `2 * max_wire` bytes in all, so that the client gets to
// read the answer instead of a reset connection.
class BodyReader {
 public:
  BodyReader(bool gzip, int64_t max_wire, int64_t max_decompressed,
             RequestMemoryBudget::Reservation* reservation)
      : reservation_(reservation),
        max_wire_(static_cast<uint64_t>(max_wire)),
        max_decompressed_(static_cast<uint64_t>(max_decompressed)),
        drain_limit_(static_cast<uint64_t>(max_wire) * 2) {
    if (gzip) inflater_.emplace(max_decompressed_);
  }

  // Room for a body declared to be this long (identity only: a gzip body's size after
  // inflating is unknown), so that it is not copied as it grows.
  void Reserve(uint64_t declared) {
    if (!inflater_.has_value() && declared <= max_decompressed_) body_.reserve(declared);
  }

  // Starts out draining: the body is known to be too large before it is read.
  void Refuse() { Overflow(); }
  // Starts out draining: the memory budget has no room for the body.
  void RefuseForMemory(int64_t needed) {
    memory_needed_ = needed;
    memory_refused_ = true;
    draining_ = true;
  }

  // The httplib content receiver: false stops reading.
  bool Consume(const char* data, size_t size) {
    wire_bytes_ += size;
    if (draining_) return wire_bytes_ <= drain_limit_;
    if (wire_bytes_ > max_wire_) return Overflow();
    if (!inflater_.has_value()) {
      if (body_.size() + size > max_decompressed_) return Overflow();
      body_.append(data, size);
      return Reserved();
    }
    switch (inflater_->Inflate(std::string_view(data, size), &body_)) {
      case internal::GzipInflater::Result::kOk:
        return Reserved();
      case internal::GzipInflater::Result::kTooLarge:
        return Overflow();
      case internal::GzipInflater::Result::kCorrupt:
        bad_gzip_ = true;
        return false;
    }
    return false;
  }

  // After the last chunk: whether a gzip stream ended where the body did.
  bool Complete() const { return !inflater_.has_value() || inflater_->Complete(); }

  uint64_t wire_bytes() const { return wire_bytes_; }
  bool too_large() const { return too_large_; }
  bool memory_refused() const { return memory_refused_; }
  // What the reservation should have held when it was refused.
  int64_t memory_needed() const { return memory_needed_; }
  bool bad_gzip() const { return bad_gzip_; }
  const std::string& body() const { return body_; }

 private:
  bool Overflow() {
    too_large_ = true;
    draining_ = true;
    std::string().swap(body_);  // give the memory back now
    return wire_bytes_ <= drain_limit_;
  }

  // Whether the reservation covers the body as it has grown; if not, reading stops.
  bool Reserved() {
    const auto needed = static_cast<int64_t>(body_.capacity());
    if (reservation_->GrowTo(needed)) return true;
    RefuseForMemory(needed);
    std::string().swap(body_);
    return wire_bytes_ <= drain_limit_;
  }

  RequestMemoryBudget::Reservation* const reservation_;
  const uint64_t max_wire_;
  const uint64_t max_decompressed_;
  const uint64_t drain_limit_;
  std::optional<internal::GzipInflater> inflater_;
  uint64_t wire_bytes_ = 0;
  bool draining_ = false;
  bool too_large_ = false;
  bool bad_gzip_ = false;
  bool memory_refused_ = false;
  int64_t memory_needed_ = 0;
  std::string body_;
};

// A PEM bundle as certificates, in order; empty when it holds none or is unreadable.
std::vector<X509*> ReadCertificates(const std::string& pem) {
  std::vector<X509*> certs;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return certs;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    certs.push_back(cert);
  }
  ERR_clear_error();  // the read that ends the loop leaves "no start line"
  BIO_free(bio);
  return certs;
}

}  // namespace

class OtlpHttpReceiver::Impl {
 public:
  Impl(OtlpHttpReceiverOptions options, std::shared_ptr<pipeline::TraceIngest> ingest)
      : options_(std::move(options)), ingest_(std::move(ingest)) {}

  ~Impl() { ARROW_UNUSED(Shutdown()); }

  arrow::Status Start() {
    std::lock_guard<std::mutex> lock(lifecycle_mutex_);
    if (started_) return arrow::Status::Invalid("OtlpHttpReceiver started twice");
    try {
      return StartLocked();
    } catch (const std::exception& e) {
      // std::thread and std::regex throw; nothing may escape this module.
      if (listener_.joinable()) {
        server_->stop();
        listener_.join();
      }
      server_.reset();
      return arrow::Status::UnknownError("OtlpHttpReceiver: ", e.what());
    }
  }

  arrow::Status StartLocked() {
    if (ingest_ == nullptr) {
      return arrow::Status::Invalid("OtlpHttpReceiver: no TraceIngest");
    }
    ARROW_ASSIGN_OR_RAISE(const internal::HostPort host_port,
                          internal::ParseEndpoint(options_.endpoint));
    ARROW_RETURN_NOT_OK(CheckOptions());
    ARROW_RETURN_NOT_OK(MakeServer());

    server_->new_task_queue = [threads = options_.num_threads] {
      return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    server_->set_read_timeout(options_.read_timeout);
    server_->set_write_timeout(options_.write_timeout);
    server_->set_keep_alive_timeout(options_.keep_alive_timeout.count());
    server_->set_keep_alive_max_count(static_cast<size_t>(options_.keep_alive_max_count));
    // Responses go out as several small writes; without this, Nagle's algorithm and
    // delayed ACKs add tens of milliseconds to every export.
    server_->set_tcp_nodelay(true);
    // httplib's default sets SO_REUSEPORT, which would let a second receiver bind a
    // port that is in use and silently share its traffic.
    server_->set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    // Bodies are read by the export handler only; this is a second fence.
    server_->set_payload_max_length(static_cast<size_t>(options_.max_request_bytes) * 2);
    server_->set_expect_100_continue_handler(
        [this](const httplib::Request& req, httplib::Response& res) {
          return Precheck(req, res) ? 100 : res.status;
        });
    server_->set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) {
          // httplib hands the handlers its own, non-const Request object.
          return PreRoute(const_cast<httplib::Request&>(req), res);
        });
    // PreRoute lets only `POST <traces_path>` through, so the pattern can match all.
    server_->Post(
        ".*", [this](const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& reader) { Export(req, res, reader); });
    server_->set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          res.status = 500;
          res.set_content(
              internal::EncodeRpcStatusJson(internal::kRpcInternal, "internal error"),
              std::string(kJsonType));
        });

    if (host_port.port == 0) {
      port_ = server_->bind_to_any_port(host_port.host);
    } else {
      port_ = server_->bind_to_port(host_port.host, host_port.port) ? host_port.port : -1;
    }
    if (port_ < 0) {
      server_.reset();
      return arrow::Status::IOError("OtlpHttpReceiver: cannot listen on ",
                                    options_.endpoint);
    }
    listener_ = std::thread([this] {
      try {
        server_->listen_after_bind();
      } catch (...) {
        // The thread pool could not start its threads; Start() reports it.
      }
      listener_done_ = true;
    });
    // stop() does nothing before the listener runs, so Shutdown() must not come first.
    while (!server_->is_running() && !listener_done_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (listener_done_) {
      listener_.join();
      server_.reset();
      return arrow::Status::IOError("OtlpHttpReceiver: cannot serve on ",
                                    options_.endpoint);
    }
    started_ = true;
    return arrow::Status::OK();
  }

  arrow::Status Shutdown() {
    std::lock_guard<std::mutex> lock(lifecycle_mutex_);
    if (!started_ || stopped_) return arrow::Status::OK();
    stopped_ = true;
    server_->stop();
    listener_.join();  // returns once the thread pool has served what it accepted
    return arrow::Status::OK();
  }

  int port() const { return port_; }

  OtlpHttpReceiverStats Stats() const {
    OtlpHttpReceiverStats stats;
    stats.protobuf = protobuf_.Snapshot();
    stats.json = json_.Snapshot();
    stats.requests_not_found = not_found_.load(std::memory_order_relaxed);
    stats.requests_method_not_allowed =
        method_not_allowed_.load(std::memory_order_relaxed);
    stats.requests_unsupported_media_type = unsupported_.load(std::memory_order_relaxed);
    return stats;
  }

  const OtlpHttpReceiverOptions& options() const { return options_; }

 private:
  arrow::Status CheckOptions() const {
    const auto& o = options_;
    if (o.traces_path.empty() || o.traces_path.front() != '/') {
      return arrow::Status::Invalid("traces_path must start with '/'");
    }
    if (o.max_request_bytes <= 0 || o.max_decompressed_bytes <= 0 ||
        o.max_request_bytes > (int64_t{1} << 40) ||
        o.max_decompressed_bytes > (int64_t{1} << 40)) {
      return arrow::Status::Invalid(
          "max_request_bytes and max_decompressed_bytes must be in [1, 2^40]");
    }
    if (o.num_threads <= 0 || o.keep_alive_max_count <= 0) {
      return arrow::Status::Invalid("num_threads and keep_alive_max_count must be > 0");
    }
    if (o.read_timeout.count() <= 0 || o.write_timeout.count() <= 0 ||
        o.keep_alive_timeout.count() <= 0) {
      return arrow::Status::Invalid("timeouts must be > 0");
    }
    if (o.tls_cert_pem.empty() != o.tls_key_pem.empty()) {
      return arrow::Status::Invalid("TLS needs both tls_cert_pem and tls_key_pem");
    }
    if (o.tls_cert_pem.empty() && !o.client_ca_pem.empty()) {
      return arrow::Status::Invalid("client_ca_pem (mTLS) needs TLS");
    }
    return arrow::Status::OK();
  }

  arrow::Status MakeServer() {
    if (options_.tls_cert_pem.empty()) {
      server_ = std::make_unique<httplib::Server>();
      return arrow::Status::OK();
    }
    std::string error;
    server_ = std::make_unique<httplib::SSLServer>(
        [&](SSL_CTX& ctx) { return ConfigureTls(ctx, &error); });
    if (!server_->is_valid()) {
      server_.reset();
      return arrow::Status::Invalid("OtlpHttpReceiver TLS: ", error);
    }
    return arrow::Status::OK();
  }

  bool ConfigureTls(SSL_CTX& ctx, std::string* error) const {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(
        &ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
    std::vector<X509*> chain = ReadCertificates(options_.tls_cert_pem);
    if (chain.empty()) {
      *error = "tls_cert_pem holds no PEM certificate";
      return false;
    }
    bool ok = SSL_CTX_use_certificate(&ctx, chain[0]) == 1;
    X509_free(chain[0]);
    for (size_t i = 1; i < chain.size(); ++i) {
      // add0 takes the reference on success.
      if (!ok || SSL_CTX_add0_chain_cert(&ctx, chain[i]) != 1) {
        X509_free(chain[i]);
        ok = false;
      }
    }
    if (!ok) {
      *error = "tls_cert_pem is not usable";
      return false;
    }
    BIO* bio = BIO_new_mem_buf(options_.tls_key_pem.data(),
                               static_cast<int>(options_.tls_key_pem.size()));
    EVP_PKEY* key = bio == nullptr
                        ? nullptr
                        : PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ok = key != nullptr && SSL_CTX_use_PrivateKey(&ctx, key) == 1 &&
         SSL_CTX_check_private_key(&ctx) == 1;
    EVP_PKEY_free(key);
    if (!ok) {
      ERR_clear_error();
      *error = "tls_key_pem is not a PEM private key of the certificate";
      return false;
    }
    if (!options_.client_ca_pem.empty()) {
      std::vector<X509*> cas = ReadCertificates(options_.client_ca_pem);
      if (cas.empty()) {
        *error = "client_ca_pem holds no PEM certificate";
        return false;
      }
      X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
      for (X509* ca : cas) {
        // Both take their own reference.
        X509_STORE_add_cert(store, ca);
        SSL_CTX_add_client_CA(&ctx, ca);
        X509_free(ca);
      }
      SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         nullptr);
    }
    return true;
  }

  internal::ReceiverCounters& CountersOf(Encoding encoding) {
    return encoding == Encoding::kJson ? json_ : protobuf_;
  }

  // An error answer: google.rpc.Status in the request's encoding (JSON when it has
  // none of ours).
  static void Reply(httplib::Response& res, Encoding encoding, int http_status,
                    int32_t rpc_code, std::string_view message) {
    res.status = http_status;
    if (encoding == Encoding::kProtobuf) {
      res.set_content(internal::EncodeRpcStatus(rpc_code, message, std::nullopt),
                      std::string(kProtobufType));
    } else {
      res.set_content(internal::EncodeRpcStatusJson(rpc_code, message),
                      std::string(kJsonType));
    }
  }

  // Sends `res` and closes the connection. httplib keeps a connection open whatever
  // the response says, unless sending the response fails; so the body goes out through
  // a content provider that reports failure once it has written all of it.
  static void CloseAfter(httplib::Response& res) {
    auto body = std::make_shared<std::string>(std::move(res.body));
    res.body.clear();
    const std::string type = res.get_header_value("Content-Type");
    res.headers.erase("Content-Type");  // set_content_provider() adds it again
    res.set_header("Connection", "close");
    res.set_content_provider(
        body->size(), type,
        [body](size_t offset, size_t length, httplib::DataSink& sink) {
          sink.write(body->data() + offset, length);
          return false;
        });
  }

  // Refuses before reading the body; the connection closes when a body may follow,
  // since its bytes would otherwise be read as the next request.
  static void RefuseUnread(const httplib::Request& req, httplib::Response& res,
                           Encoding encoding, int http_status, int32_t rpc_code,
                           std::string_view message) {
    Reply(res, encoding, http_status, rpc_code, message);
    if (MayHaveBody(req)) CloseAfter(res);
  }

  // Everything that can be decided from the request line and headers. Returns true
  // when the request may go on to Export(); otherwise `res` holds the refusal.
  bool Precheck(const httplib::Request& req, httplib::Response& res) {
    const Encoding encoding = EncodingOf(req);
    if (req.path != options_.traces_path) {
      not_found_.fetch_add(1, std::memory_order_relaxed);
      RefuseUnread(req, res, encoding, 404, internal::kRpcNotFound,
                   "no such path; OTLP trace exports go to POST " + options_.traces_path);
      return false;
    }
    if (req.method != "POST") {
      method_not_allowed_.fetch_add(1, std::memory_order_relaxed);
      RefuseUnread(req, res, encoding, 405, internal::kRpcUnimplemented,
                   "method " + req.method + " not allowed; OTLP trace exports are POST");
      res.set_header("Allow", "POST");
      return false;
    }
    if (encoding == Encoding::kOther) {
      unsupported_.fetch_add(1, std::memory_order_relaxed);
      RefuseUnread(req, res, encoding, 415, internal::kRpcInvalidArgument,
                   "unsupported content type '" + req.get_header_value("Content-Type") +
                       "'; OTLP/HTTP takes application/x-protobuf or application/json");
      return false;
    }
    if (CodingOf(req) == Coding::kUnsupported) {
      unsupported_.fetch_add(1, std::memory_order_relaxed);
      RefuseUnread(req, res, encoding, 415, internal::kRpcInvalidArgument,
                   "unsupported content encoding '" +
                       req.get_header_value("Content-Encoding") +
                       "'; this receiver takes gzip or identity");
      return false;
    }
    const auto declared = DeclaredLength(req);
    if (declared.has_value() &&
        *declared > static_cast<uint64_t>(options_.max_request_bytes) * 2) {
      // Too large to drain (see Export); refused unread.
      auto& counters = CountersOf(encoding);
      counters.AddRequest(CodingOf(req) == Coding::kGzip);
      counters.AddRefusedTooLarge();
      RefuseUnread(req, res, encoding, 413, internal::kRpcResourceExhausted,
                   TooLargeMessage());
      return false;
    }
    return true;
  }

  httplib::Server::HandlerResponse PreRoute(httplib::Request& req,
                                            httplib::Response& res) {
    if (!Precheck(req, res)) return httplib::Server::HandlerResponse::Handled;
    // httplib would inflate a gzip body itself, into memory without a bound and
    // without telling how many bytes came over the wire. Taking Content-Encoding away
    // makes it pass the body through as sent; Export() inflates it.
    const Coding coding = CodingOf(req);
    req.headers.erase("Content-Encoding");
    req.headers.erase(kCodingHeader);
    if (coding == Coding::kGzip) req.set_header(kCodingHeader, "gzip");
    return httplib::Server::HandlerResponse::Unhandled;
  }

  std::string TooLargeMessage() const {
    return "request body exceeds the limit of " +
           std::to_string(options_.max_request_bytes) + " bytes as sent or " +
           std::to_string(options_.max_decompressed_bytes) + " bytes decompressed";
  }

  void Export(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& content_reader) {
    const Encoding encoding = EncodingOf(req);
    auto& counters = CountersOf(encoding);
    try {
      ExportBody(req, res, content_reader, encoding, counters);
    } catch (const std::exception& e) {
      Fail(res, encoding, counters, std::string("OTLP receiver: ") + e.what());
    } catch (...) {
      Fail(res, encoding, counters, "OTLP receiver: unknown error");
    }
  }

  // 500 for an exception: the body may be half read, so the connection closes.
  static void Fail(httplib::Response& res, Encoding encoding,
                   internal::ReceiverCounters& counters, const std::string& message) {
    counters.AddFailed();
    res.headers.clear();
    Reply(res, encoding, 500, internal::kRpcInternal, message);
    CloseAfter(res);
  }

  // The answer when `reservation` could not grow to `needed` bytes: 429 while other
  // requests hold the budget, 413 when the request alone needs more than all of it.
  void RefuseForMemory(httplib::Response& res, Encoding encoding,
                       internal::ReceiverCounters& counters,
                       const RequestMemoryBudget::Reservation& reservation,
                       int64_t needed) const {
    if (!reservation.CouldHold(needed)) {
      counters.AddRefusedTooLarge();
      Reply(res, encoding, 413, internal::kRpcResourceExhausted,
            internal::NeverFitsMessage(needed));
      return;
    }
    counters.AddRefusedMemory();
    Reply(res, encoding, 429, internal::kRpcResourceExhausted, internal::kBusyMessage);
    res.set_header("Retry-After",
                   std::to_string(RetryAfterSeconds(options_.default_retry_after)));
  }

  void ExportBody(const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& content_reader, Encoding encoding,
                  internal::ReceiverCounters& counters) {
    const bool gzip = req.has_header(kCodingHeader);
    counters.AddRequest(gzip);
    const internal::BodyEncoding body_encoding = encoding == Encoding::kJson
                                                     ? internal::BodyEncoding::kJson
                                                     : internal::BodyEncoding::kProtobuf;
    auto reservation = RequestMemoryBudget::Open(options_.memory_budget);
    BodyReader body(gzip, options_.max_request_bytes, options_.max_decompressed_bytes,
                    &reservation);
    const auto declared = DeclaredLength(req);
    if (declared.has_value() &&
        *declared > static_cast<uint64_t>(options_.max_request_bytes)) {
      body.Refuse();
    } else if (declared.has_value()) {
      // An identity body is reserved whole with its decoding before a byte of it is
      // read; a gzip one as it inflates.
      const auto length = static_cast<int64_t>(*declared);
      const int64_t needed =
          gzip ? length : length + internal::DecodeCostBytes(body_encoding, length);
      if (reservation.Grow(needed)) {
        body.Reserve(*declared);
      } else {
        body.RefuseForMemory(needed);
      }
    }
    const bool read = content_reader(
        [&](const char* data, size_t size) { return body.Consume(data, size); });
    counters.AddWireBytes(static_cast<int64_t>(body.wire_bytes()));
    if (body.memory_refused()) {
      RefuseForMemory(res, encoding, counters, reservation, body.memory_needed());
      if (!read) CloseAfter(res);
      return;
    }
    if (body.too_large()) {
      counters.AddRefusedTooLarge();
      Reply(res, encoding, 413, internal::kRpcResourceExhausted, TooLargeMessage());
      if (!read) CloseAfter(res);
      return;
    }
    if (body.bad_gzip() || (read && !body.Complete())) {
      counters.AddRefusedInvalid();
      Reply(res, encoding, 400, internal::kRpcInvalidArgument,
            "request body is not valid gzip");
      if (!read) CloseAfter(res);
      return;
    }
    if (!read) {
      // The connection broke or timed out, or the chunked framing was bad.
      counters.AddRefusedInvalid();
      Reply(res, encoding, 400, internal::kRpcInvalidArgument,
            "could not read the request body");
      CloseAfter(res);
      return;
    }

    const auto size = static_cast<int64_t>(body.body().size());
    const int64_t needed = static_cast<int64_t>(body.body().capacity()) +
                           internal::DecodeCostBytes(body_encoding, size);
    if (!reservation.GrowTo(needed)) {
      RefuseForMemory(res, encoding, counters, reservation, needed);
      return;
    }
    counters.AddDecompressedBytes(size);
    const pipeline::IngestResult result = encoding == Encoding::kJson
                                              ? ingest_->IngestOtlpJson(body.body())
                                              : ingest_->IngestOtlpProtobuf(body.body());
    counters.AddResult(result);
    const internal::IngestAnswer answer = internal::AnswerFor(result.code);
    if (answer.rpc_code == internal::kRpcOk) {
      // An empty ExportTraceServiceResponse (no partial_success).
      res.status = 200;
      if (encoding == Encoding::kJson) {
        res.set_content("{}", std::string(kJsonType));
      } else {
        res.set_content("", std::string(kProtobufType));
      }
      return;
    }
    Reply(res, encoding, answer.http_status, answer.rpc_code, result.message);
    if (answer.retry) {
      const auto delay =
          internal::RetryDelay(result.retry_after, options_.default_retry_after);
      res.set_header("Retry-After", std::to_string(RetryAfterSeconds(delay)));
    }
  }

  const OtlpHttpReceiverOptions options_;
  const std::shared_ptr<pipeline::TraceIngest> ingest_;

  internal::ReceiverCounters protobuf_;
  internal::ReceiverCounters json_;
  std::atomic<int64_t> not_found_{0};
  std::atomic<int64_t> method_not_allowed_{0};
  std::atomic<int64_t> unsupported_{0};

  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  int port_ = 0;
  std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool stopped_ = false;
};

OtlpHttpReceiver::OtlpHttpReceiver(OtlpHttpReceiverOptions options,
                                   std::shared_ptr<pipeline::TraceIngest> ingest)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(ingest))) {}

OtlpHttpReceiver::~OtlpHttpReceiver() = default;

arrow::Status OtlpHttpReceiver::Start() { return impl_->Start(); }

int OtlpHttpReceiver::port() const { return impl_->port(); }

arrow::Status OtlpHttpReceiver::Shutdown() { return impl_->Shutdown(); }

OtlpHttpReceiverStats OtlpHttpReceiver::Stats() const { return impl_->Stats(); }

const OtlpHttpReceiverOptions& OtlpHttpReceiver::options() const {
  return impl_->options();
}

}  // namespace otlp_arrow::service
