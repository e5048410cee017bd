// SPDX-License-Identifier: Apache-2.0
// The OTLP/HTTP receiver on Boost.Beast: a few I/O threads serve every connection
// (event-driven, so that idle keep-alive connections cost memory, not threads), and a
// pool of workers runs TraceIngest, which may block while the export queue is full.

#include "otlp_arrow/service/otlp_http_receiver.h"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <arrow/util/macros.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/range/iterator_range.hpp>

#include "otlp_arrow/common/host_port.h"
#include "otlp_arrow/common/log.h"
#include "receiver_internal.h"

namespace otlp_arrow::service {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// The request as parsed so far: the head, and the body read piece by piece into a buffer
// of ours (BodyReader keeps what it needs of it).
using RequestParser = http::request_parser<http::buffer_body>;
using RequestHead = RequestParser::value_type;
using Response = http::response<http::string_body>;

// The two OTLP/HTTP encodings, and what a request that has neither is answered in.
enum class Encoding { kProtobuf, kJson, kOther };

constexpr std::string_view kProtobufType = "application/x-protobuf";
constexpr std::string_view kJsonType = "application/json";

// Largest request head (request line and headers); more is answered 431.
constexpr size_t kMaxHeadBytes = 16 * 1024;
// Bytes a connection reads at a time, head or body.
constexpr size_t kReadBytes = 16 * 1024;
// How long a closing connection waits for the client to take the answer and close
// (see Session::Close), and what it reads meanwhile at most.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerBytes = 1 << 20;

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

std::string_view ViewOf(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view BeastView(std::string_view s) { return {s.data(), s.size()}; }

// The media type of `Content-Type`, parameters (`; charset=utf-8`) ignored.
Encoding EncodingOf(const RequestHead& req) {
  std::string_view type = ViewOf(req[http::field::content_type]);
  type = Trim(type.substr(0, type.find(';')));
  if (EqualsIgnoreCase(type, kProtobufType)) return Encoding::kProtobuf;
  if (EqualsIgnoreCase(type, kJsonType)) return Encoding::kJson;
  return Encoding::kOther;
}

enum class Coding { kIdentity, kGzip, kUnsupported };

// All `Content-Encoding` headers together, as HTTP lists them; identity adds nothing,
// and one gzip is all this receiver inflates.
Coding CodingOf(const RequestHead& req) {
  int gzip = 0;
  for (const auto& field :
       boost::make_iterator_range(req.equal_range(http::field::content_encoding))) {
    std::string_view rest = ViewOf(field.value());
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

  // Takes the next piece of the body; false stops reading.
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
// Sets up the server's certificate chain and key, and client verification for mTLS.
bool ConfigureTls(const OtlpHttpReceiverOptions& options, SSL_CTX& ctx,
                  std::string* error) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      &ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  std::vector<X509*> chain = ReadCertificates(options.tls_cert_pem);
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
  BIO* bio = BIO_new_mem_buf(options.tls_key_pem.data(),
                             static_cast<int>(options.tls_key_pem.size()));
  EVP_PKEY* key =
      bio == nullptr ? nullptr : PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ok = key != nullptr && SSL_CTX_use_PrivateKey(&ctx, key) == 1 &&
       SSL_CTX_check_private_key(&ctx) == 1;
  EVP_PKEY_free(key);
  if (!ok) {
    ERR_clear_error();
    *error = "tls_key_pem is not a PEM private key of the certificate";
    return false;
  }
  if (!options.client_ca_pem.empty()) {
    std::vector<X509*> cas = ReadCertificates(options.client_ca_pem);
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
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return true;
}

// What the sessions need of the receiver: options, counters, the ingest and its workers.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual const OtlpHttpReceiverOptions& options() const = 0;
  virtual pipeline::TraceIngest& ingest() = 0;
  virtual asio::thread_pool& workers() = 0;
  virtual bool stopping() const = 0;
  virtual internal::ReceiverCounters& counters(Encoding encoding) = 0;
  virtual void CountNotFound() = 0;
  virtual void CountMethodNotAllowed() = 0;
  virtual void CountUnsupported() = 0;
  virtual void Unregister(const void* session) = 0;
};

// An error answer: google.rpc.Status in the request's encoding (JSON when it has none of
// ours).
void SetError(Response& res, Encoding encoding, int http_status, int32_t rpc_code,
              std::string_view message) {
  res.result(static_cast<unsigned>(http_status));
  if (encoding == Encoding::kProtobuf) {
    res.set(http::field::content_type, BeastView(kProtobufType));
    res.body() = internal::EncodeRpcStatus(rpc_code, message, std::nullopt);
  } else {
    res.set(http::field::content_type, BeastView(kJsonType));
    res.body() = internal::EncodeRpcStatusJson(rpc_code, message);
  }
}

// One connection, from accept to close, on its own strand. Every step has a deadline:
// the TLS handshake and a request head `header_timeout` from their first byte, an idle
// keep-alive connection `keep_alive_timeout`, each read of a body `read_timeout` and the
// whole body `body_timeout`, each answer `write_timeout`.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(SessionHost& host, Stream stream)
      : host_(host),
        options_(host.options()),
        stream_(std::move(stream)),
        buffer_(kMaxHeadBytes + kReadBytes) {}

  ~Session() { host_.Unregister(this); }

  void Run() {
    if constexpr (kTls) {
      state_ = State::kHead;
      Lowest().expires_after(options_.header_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->Close(false);
                                self->WaitForRequest();
                              });
    } else {
      WaitForRequest();
    }
  }

  // Shutdown: a connection that is idle or has not sent a whole head yet closes now;
  // one with a request in hand answers it and then closes.
  void Stop() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->state_ == State::kIdle || self->state_ == State::kHead) {
        self->Lowest().cancel();
      }
    });
  }

 private:
  enum class State { kIdle, kHead, kBody, kIngest, kWriting, kClosing };

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Waits for the first bytes of the next request: a new connection as long as a head
  // may take, a kept-alive one for `keep_alive_timeout`.
  void WaitForRequest() {
    if (host_.stopping()) return Close(false);
    if (buffer_.size() > 0) return ReadHead();  // pipelined
    buffer_.shrink_to_fit();                    // an idle connection keeps no buffer
    state_ = State::kIdle;
    Lowest().expires_after(requests_ == 0 ? options_.header_timeout
                                          : options_.keep_alive_timeout);
    stream_.async_read_some(
        buffer_.prepare(kReadBytes),
        [self = this->shared_from_this()](beast::error_code ec, size_t n) {
          if (ec) return self->Close(false);
          self->buffer_.commit(n);
          self->ReadHead();
        });
  }

  void ReadHead() {
    state_ = State::kHead;
    parser_.emplace();
    parser_->header_limit(kMaxHeadBytes);
    // BodyReader and Precheck limit bodies. (Not boost::none: Boost 1.74 compares a
    // Content-Length with it as if it were less than any length.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    Lowest().expires_after(options_.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](
                                beast::error_code ec, size_t) { self->OnHead(ec); });
  }

  void OnHead(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return RespondError(
          Encoding::kOther, 431, internal::kRpcInvalidArgument,
          "request head larger than " + std::to_string(kMaxHeadBytes) + " bytes", true);
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return RespondError(Encoding::kOther, 400, internal::kRpcInvalidArgument,
                          "malformed HTTP request: " + ec.message(), true);
    }
    if (ec) return Close(false);  // timed out, closed, cancelled
    ++requests_;
    const RequestHead& req = parser_->get();
    encoding_ = EncodingOf(req);
    if (!Precheck(req)) return;

    const bool gzip = CodingOf(req) == Coding::kGzip;
    auto& counters = host_.counters(encoding_);
    counters.AddRequest(gzip);
    reservation_ = RequestMemoryBudget::Open(options_.memory_budget);
    body_.emplace(gzip, options_.max_request_bytes, options_.max_decompressed_bytes,
                  &reservation_);
    const auto declared = parser_->content_length();
    if (declared.has_value() &&
        *declared > static_cast<uint64_t>(options_.max_request_bytes)) {
      body_->Refuse();
    } else if (declared.has_value()) {
      // An identity body is reserved whole with its decoding before a byte of it is
      // read; a gzip one as it inflates.
      const auto length = static_cast<int64_t>(*declared);
      const int64_t needed =
          gzip ? length : length + internal::DecodeCostBytes(BodyEncoding(), length);
      if (reservation_.Grow(needed)) {
        body_->Reserve(*declared);
      } else {
        body_->RefuseForMemory(needed);
      }
    }
    body_deadline_ = Clock::now() + options_.body_timeout;
    if (parser_->is_done()) return BodyRead(true);
    if (EqualsIgnoreCase(ViewOf(req[http::field::expect]), "100-continue")) {
      continue_.emplace(http::status::continue_, req.version());
      state_ = State::kWriting;
      Lowest().expires_after(options_.write_timeout);
      return http::async_write(
          stream_, *continue_,
          [self = this->shared_from_this()](beast::error_code ec, size_t) {
            self->continue_.reset();
            if (ec) return self->Close(false);
            self->ReadBody();
          });
    }
    ReadBody();
  }

  internal::BodyEncoding BodyEncoding() const {
    return encoding_ == Encoding::kJson ? internal::BodyEncoding::kJson
                                        : internal::BodyEncoding::kProtobuf;
  }

  // Everything that can be decided from the request head. Returns true when the request
  // may go on; otherwise the refusal is on its way.
  bool Precheck(const RequestHead& req) {
    std::string_view path = ViewOf(req.target());
    path = path.substr(0, path.find('?'));
    if (path != options_.traces_path) {
      host_.CountNotFound();
      RefuseUnread(404, internal::kRpcNotFound,
                   "no such path; OTLP trace exports go to POST " + options_.traces_path);
      return false;
    }
    if (req.method() != http::verb::post) {
      host_.CountMethodNotAllowed();
      RefuseUnread(405, internal::kRpcUnimplemented,
                   "method " + std::string(ViewOf(req.method_string())) +
                       " not allowed; OTLP trace exports are POST",
                   /*allow_post=*/true);
      return false;
    }
    if (encoding_ == Encoding::kOther) {
      host_.CountUnsupported();
      RefuseUnread(415, internal::kRpcInvalidArgument,
                   "unsupported content type '" +
                       std::string(ViewOf(req[http::field::content_type])) +
                       "'; OTLP/HTTP takes application/x-protobuf or application/json");
      return false;
    }
    if (CodingOf(req) == Coding::kUnsupported) {
      host_.CountUnsupported();
      std::string codings;
      for (const auto& field :
           boost::make_iterator_range(req.equal_range(http::field::content_encoding))) {
        if (!codings.empty()) codings += ", ";
        codings += std::string(ViewOf(field.value()));
      }
      RefuseUnread(415, internal::kRpcInvalidArgument,
                   "unsupported content encoding '" + codings +
                       "'; this receiver takes gzip or identity");
      return false;
    }
    const auto declared = parser_->content_length();
    if (declared.has_value() &&
        *declared > static_cast<uint64_t>(options_.max_request_bytes) * 2) {
      // Too large to drain (see BodyReader); refused unread.
      auto& counters = host_.counters(encoding_);
      counters.AddRequest(CodingOf(req) == Coding::kGzip);
      counters.AddRefusedTooLarge();
      RefuseUnread(413, internal::kRpcResourceExhausted, TooLargeMessage());
      return false;
    }
    return true;
  }

  // Refuses before reading the body; the connection closes when a body may follow,
  // since its bytes would otherwise be read as the next request.
  void RefuseUnread(int http_status, int32_t rpc_code, std::string_view message,
                    bool allow_post = false) {
    const bool may_have_body =
        parser_->chunked() || parser_->content_length().value_or(0) > 0;
    auto res = NewResponse();
    SetError(*res, encoding_, http_status, rpc_code, message);
    if (allow_post) res->set(http::field::allow, "POST");
    Respond(std::move(res), may_have_body);
  }

  std::string TooLargeMessage() const {
    return "request body exceeds the limit of " +
           std::to_string(options_.max_request_bytes) + " bytes as sent or " +
           std::to_string(options_.max_decompressed_bytes) + " bytes decompressed";
  }

  void ReadBody() {
    state_ = State::kBody;
    if (chunk_ == nullptr) chunk_ = std::make_unique<char[]>(kReadBytes);
    auto& body = parser_->get().body();
    body.data = chunk_.get();
    body.size = kReadBytes;
    const auto now = Clock::now();
    if (now >= body_deadline_) return BodyRead(false);
    Lowest().expires_after(
        std::min<Clock::duration>(options_.read_timeout, body_deadline_ - now));
    http::async_read_some(stream_, buffer_, *parser_,
                          [self = this->shared_from_this()](
                              beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    const size_t got = kReadBytes - parser_->get().body().size;
    const bool go_on = got == 0 || body_->Consume(chunk_.get(), got);
    if (ec || !go_on) return BodyRead(false);
    if (parser_->is_done()) return BodyRead(true);
    ReadBody();
  }

  // The body is read (`read`), or reading stopped: a limit, bad framing, a timeout.
  void BodyRead(bool read) {
    chunk_.reset();
    auto& counters = host_.counters(encoding_);
    counters.AddWireBytes(static_cast<int64_t>(body_->wire_bytes()));
    const bool close = !read;  // the rest of the body is unread
    if (body_->memory_refused()) {
      return RefuseForMemory(body_->memory_needed(), close);
    }
    if (body_->too_large()) {
      counters.AddRefusedTooLarge();
      return RespondError(encoding_, 413, internal::kRpcResourceExhausted,
                          TooLargeMessage(), close);
    }
    if (body_->bad_gzip() || (read && !body_->Complete())) {
      counters.AddRefusedInvalid();
      return RespondError(encoding_, 400, internal::kRpcInvalidArgument,
                          "request body is not valid gzip", close);
    }
    if (!read) {
      // The connection broke or timed out (then it is closed already), or the chunked
      // framing was bad.
      counters.AddRefusedInvalid();
      return RespondError(encoding_, 400, internal::kRpcInvalidArgument,
                          "could not read the request body", true);
    }
    const auto size = static_cast<int64_t>(body_->body().size());
    const int64_t needed = static_cast<int64_t>(body_->body().capacity()) +
                           internal::DecodeCostBytes(BodyEncoding(), size);
    if (!reservation_.GrowTo(needed)) return RefuseForMemory(needed, false);
    counters.AddDecompressedBytes(size);

    // TraceIngest may block (a full queue): on a worker, not on an I/O thread.
    state_ = State::kIngest;
    asio::post(host_.workers(), [self = this->shared_from_this()] {
      auto res = self->Ingest();
      asio::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
        self->reservation_.Release();
        self->body_.reset();
        const bool failed = res->result_int() == 500;
        self->Respond(std::move(res), failed);
      });
    });
  }

  std::unique_ptr<Response> Ingest() {
    auto& counters = host_.counters(encoding_);
    auto res = NewResponse();
    try {
      const std::string& bytes = body_->body();
      const pipeline::IngestResult result =
          encoding_ == Encoding::kJson ? host_.ingest().IngestOtlpJson(bytes)
                                       : host_.ingest().IngestOtlpProtobuf(bytes);
      counters.AddResult(result);
      const internal::IngestAnswer answer = internal::AnswerFor(result.code);
      if (answer.rpc_code == internal::kRpcOk) {
        // An empty ExportTraceServiceResponse (no partial_success).
        res->result(http::status::ok);
        res->set(http::field::content_type,
                 BeastView(encoding_ == Encoding::kJson ? kJsonType : kProtobufType));
        if (encoding_ == Encoding::kJson) res->body() = "{}";
        return res;
      }
      SetError(*res, encoding_, answer.http_status, answer.rpc_code, result.message);
      if (answer.retry) {
        const auto delay =
            internal::RetryDelay(result.retry_after, options_.default_retry_after);
        res->set(http::field::retry_after, std::to_string(RetryAfterSeconds(delay)));
      }
    } catch (const std::exception& e) {
      counters.AddFailed();
      SetError(*res, encoding_, 500, internal::kRpcInternal,
               std::string("OTLP receiver: ") + e.what());
    } catch (...) {
      counters.AddFailed();
      SetError(*res, encoding_, 500, internal::kRpcInternal,
               "OTLP receiver: unknown error");
    }
    return res;
  }

  // The answer when the reservation could not grow to `needed` bytes: 429 while other
  // requests hold the budget, 413 when the request alone needs more than all of it.
  void RefuseForMemory(int64_t needed, bool close) {
    auto& counters = host_.counters(encoding_);
    if (!reservation_.CouldHold(needed)) {
      counters.AddRefusedTooLarge();
      return RespondError(encoding_, 413, internal::kRpcResourceExhausted,
                          internal::NeverFitsMessage(needed), close);
    }
    counters.AddRefusedMemory();
    auto res = NewResponse();
    SetError(*res, encoding_, 429, internal::kRpcResourceExhausted,
             internal::kBusyMessage);
    res->set(http::field::retry_after,
             std::to_string(RetryAfterSeconds(options_.default_retry_after)));
    Respond(std::move(res), close);
  }

  std::unique_ptr<Response> NewResponse() const {
    auto res = std::make_unique<Response>();
    res->version(
        parser_.has_value() && parser_->is_header_done() ? parser_->get().version() : 11);
    return res;
  }

  void RespondError(Encoding encoding, int http_status, int32_t rpc_code,
                    std::string_view message, bool close) {
    auto res = NewResponse();
    SetError(*res, encoding, http_status, rpc_code, message);
    Respond(std::move(res), close);
  }

  // Sends `res`; then the next request, unless the connection is to close: asked for,
  // the body not read to its end, the client's wish, or enough requests served.
  void Respond(std::unique_ptr<Response> res, bool close) {
    reservation_.Release();
    const bool keep_alive = !close && !host_.stopping() && parser_.has_value() &&
                            parser_->is_header_done() && parser_->get().keep_alive() &&
                            requests_ < options_.keep_alive_max_count;
    res->keep_alive(keep_alive);
    res->prepare_payload();
    response_ = std::move(res);
    state_ = State::kWriting;
    Lowest().expires_after(options_.write_timeout);
    http::async_write(
        stream_, *response_,
        [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
          self->response_.reset();
          self->body_.reset();
          self->parser_.reset();
          if (ec || !keep_alive) return self->Close(!ec);
          self->WaitForRequest();
        });
  }

  // Closes the connection. After an answer (`linger`), the client gets a moment to read
  // it: the sending side is shut first and what the client still sends is read and
  // dropped, since closing a socket with unread bytes resets the connection, and the
  // client could lose the answer.
  void Close(bool linger) {
    if (state_ == State::kClosing) return;
    state_ = State::kClosing;
    auto self = this->shared_from_this();
    if (!linger || host_.stopping()) {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      Lowest().close();
      return;
    }
    Lowest().expires_after(kLingerTime);
    buffer_.clear();
    if constexpr (kTls) {
      stream_.async_shutdown([self](beast::error_code) { self->Lowest().close(); });
    } else {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      Linger();
    }
  }

  void Linger() {
    if (lingered_ >= kLingerBytes) return Lowest().close();
    Lowest().async_read_some(
        buffer_.prepare(std::min(kReadBytes, buffer_.max_size() - buffer_.size())),
        [self = this->shared_from_this()](beast::error_code ec, size_t n) {
          self->lingered_ += n;
          self->buffer_.clear();
          if (ec) return self->Lowest().close();
          self->Linger();
        });
  }

  SessionHost& host_;
  const OtlpHttpReceiverOptions& options_;
  Stream stream_;
  beast::flat_buffer buffer_;
  State state_ = State::kIdle;
  int requests_ = 0;
  size_t lingered_ = 0;

  // The request being served.
  std::optional<RequestParser> parser_;
  Encoding encoding_ = Encoding::kOther;
  RequestMemoryBudget::Reservation reservation_;
  std::optional<BodyReader> body_;
  std::unique_ptr<char[]> chunk_;
  Clock::time_point body_deadline_;
  std::optional<http::response<http::empty_body>> continue_;
  std::unique_ptr<Response> response_;
};

}  // namespace

arrow::Status OtlpHttpReceiverOptions::Validate() const {
  ARROW_RETURN_NOT_OK(common::HostPort::Parse(endpoint).status());
  if (traces_path.empty() || traces_path.front() != '/') {
    return arrow::Status::Invalid("traces_path must start with '/'");
  }
  if (max_request_bytes <= 0 || max_decompressed_bytes <= 0 ||
      max_request_bytes > (int64_t{1} << 40) ||
      max_decompressed_bytes > (int64_t{1} << 40)) {
    return arrow::Status::Invalid(
        "max_request_bytes and max_decompressed_bytes must be in [1, 2^40]");
  }
  if (num_threads <= 0 || io_threads <= 0 || keep_alive_max_count <= 0 ||
      max_connections <= 0) {
    return arrow::Status::Invalid(
        "num_threads, io_threads, keep_alive_max_count and max_connections must be > "
        "0");
  }
  if (header_timeout.count() <= 0 || read_timeout.count() <= 0 ||
      body_timeout.count() <= 0 || write_timeout.count() <= 0 ||
      keep_alive_timeout.count() <= 0) {
    return arrow::Status::Invalid("timeouts must be > 0");
  }
  if (tls_cert_pem.empty() != tls_key_pem.empty()) {
    return arrow::Status::Invalid("TLS needs both tls_cert_pem and tls_key_pem");
  }
  if (tls_cert_pem.empty() && !client_ca_pem.empty()) {
    return arrow::Status::Invalid("client_ca_pem (mTLS) needs TLS");
  }
  return arrow::Status::OK();
}

class OtlpHttpReceiver::Impl : public SessionHost {
 public:
  Impl(OtlpHttpReceiverOptions options, std::shared_ptr<pipeline::TraceIngest> ingest)
      : options_(std::move(options)), ingest_(std::move(ingest)) {}

  ~Impl() override { common::LogErrorFromDestructor("OtlpHttpReceiver", Shutdown()); }

  arrow::Status Start() {
    std::lock_guard<std::mutex> lock(lifecycle_mutex_);
    if (started_) return arrow::Status::Invalid("OtlpHttpReceiver started twice");
    try {
      const arrow::Status status = StartLocked();
      if (!status.ok()) StopThreads();
      return status;
    } catch (const std::exception& e) {
      // std::thread throws; nothing may escape this module.
      StopThreads();
      return arrow::Status::UnknownError("OtlpHttpReceiver: ", e.what());
    }
  }

  arrow::Status Shutdown() {
    std::lock_guard<std::mutex> lock(lifecycle_mutex_);
    if (!started_ || stopped_) return arrow::Status::OK();
    stopped_ = true;
    stopping_ = true;
    asio::post(io_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
    });
    std::vector<std::function<void()>> stops;
    {
      std::lock_guard<std::mutex> sessions_lock(sessions_mutex_);
      for (auto& [key, stop] : sessions_) stops.push_back(stop);
    }
    for (auto& stop : stops) stop();
    {
      // Requests in hand are answered; each step has a deadline, so this ends.
      std::unique_lock<std::mutex> sessions_lock(sessions_mutex_);
      sessions_changed_.wait(sessions_lock, [&] { return sessions_.empty(); });
    }
    StopThreads();
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
    stats.connections_refused = connections_refused_.load(std::memory_order_relaxed);
    return stats;
  }

  // SessionHost
  const OtlpHttpReceiverOptions& options() const override { return options_; }
  pipeline::TraceIngest& ingest() override { return *ingest_; }
  asio::thread_pool& workers() override { return *workers_; }
  bool stopping() const override { return stopping_.load(); }
  internal::ReceiverCounters& counters(Encoding encoding) override {
    return encoding == Encoding::kJson ? json_ : protobuf_;
  }
  void CountNotFound() override { not_found_.fetch_add(1, std::memory_order_relaxed); }
  void CountMethodNotAllowed() override {
    method_not_allowed_.fetch_add(1, std::memory_order_relaxed);
  }
  void CountUnsupported() override {
    unsupported_.fetch_add(1, std::memory_order_relaxed);
  }
  void Unregister(const void* session) override {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    sessions_.erase(session);
    sessions_changed_.notify_all();
  }

 private:
  arrow::Status StartLocked() {
    ARROW_ASSIGN_OR_RAISE(const common::HostPort host_port,
                          common::HostPort::Parse(options_.endpoint));
    if (!options_.tls_cert_pem.empty()) {
      tls_.emplace(asio::ssl::context::tls_server);
      std::string error;
      if (!ConfigureTls(options_, *tls_->native_handle(), &error)) {
        return arrow::Status::Invalid("OtlpHttpReceiver TLS: ", error);
      }
      // Idle connections give their TLS buffers back.
      SSL_CTX_set_mode(tls_->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    }

    beast::error_code ec;
    tcp::resolver resolver(io_);
    const auto endpoints =
        resolver.resolve(host_port.host, std::to_string(host_port.port),
                         tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || endpoints.empty()) {
      return arrow::Status::IOError("OtlpHttpReceiver: cannot resolve ",
                                    options_.endpoint, ": ", ec.message());
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    // SO_REUSEADDR only: SO_REUSEPORT would let a second receiver bind a port that is
    // in use and silently share its traffic.
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return arrow::Status::IOError("OtlpHttpReceiver: cannot listen on ",
                                    options_.endpoint, ": ", ec.message());
    }
    port_ = acceptor_.local_endpoint().port();

    workers_.emplace(static_cast<size_t>(options_.num_threads));
    Accept();
    for (int i = 0; i < options_.io_threads; ++i) {
      io_threads_.emplace_back([this] { io_.run(); });
    }
    started_ = true;
    return arrow::Status::OK();
  }

  void StopThreads() {
    work_.reset();
    if (workers_.has_value()) workers_->join();
    io_.stop();
    for (auto& thread : io_threads_) thread.join();
    io_threads_.clear();
  }

  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_),
                           [this](beast::error_code ec, tcp::socket socket) {
                             if (!acceptor_.is_open()) return;
                             if (ec) {
                               // Out of file descriptors, say: try again shortly rather
                               // than spin.
                               retry_timer_.expires_after(std::chrono::milliseconds(100));
                               retry_timer_.async_wait([this](beast::error_code wait_ec) {
                                 if (!wait_ec) Accept();
                               });
                               return;
                             }
                             OnAccept(std::move(socket));
                             Accept();
                           });
  }

  void OnAccept(tcp::socket socket) {
    beast::error_code ignored;
    if (stopping_ || SessionCount() >= static_cast<size_t>(options_.max_connections)) {
      connections_refused_.fetch_add(1, std::memory_order_relaxed);
      socket.close(ignored);
      return;
    }
    // Answers go out as several small writes; without this, Nagle's algorithm and
    // delayed ACKs add tens of milliseconds to every export.
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls_.has_value()) {
      Launch(std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          *this, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *tls_)));
    } else {
      Launch(std::make_shared<Session<beast::tcp_stream>>(
          *this, beast::tcp_stream(std::move(socket))));
    }
  }

  template <class S>
  void Launch(std::shared_ptr<S> session) {
    {
      std::lock_guard<std::mutex> lock(sessions_mutex_);
      sessions_[session.get()] = [weak = std::weak_ptr<S>(session)] {
        if (auto s = weak.lock()) s->Stop();
      };
    }
    session->Run();
  }

  size_t SessionCount() {
    std::lock_guard<std::mutex> lock(sessions_mutex_);
    return sessions_.size();
  }

  const OtlpHttpReceiverOptions options_;
  const std::shared_ptr<pipeline::TraceIngest> ingest_;

  internal::ReceiverCounters protobuf_;
  internal::ReceiverCounters json_;
  std::atomic<int64_t> not_found_{0};
  std::atomic<int64_t> method_not_allowed_{0};
  std::atomic<int64_t> unsupported_{0};
  std::atomic<int64_t> connections_refused_{0};

  asio::io_context io_{options_.io_threads};
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  tcp::acceptor acceptor_{io_};
  asio::steady_timer retry_timer_{io_};
  std::optional<asio::ssl::context> tls_;
  std::optional<asio::thread_pool> workers_;
  std::vector<std::thread> io_threads_;
  int port_ = 0;

  std::mutex sessions_mutex_;
  std::condition_variable sessions_changed_;
  // Each session, by address, with what stops it.
  std::unordered_map<const void*, std::function<void()>> sessions_;

  std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
};

arrow::Result<std::unique_ptr<OtlpHttpReceiver>> OtlpHttpReceiver::Make(
    OtlpHttpReceiverOptions options, std::shared_ptr<pipeline::TraceIngest> ingest) {
  if (ingest == nullptr)
    return arrow::Status::Invalid("OtlpHttpReceiver: no TraceIngest");
  ARROW_RETURN_NOT_OK(options.Validate());
  return std::unique_ptr<OtlpHttpReceiver>(new OtlpHttpReceiver(
      std::make_unique<Impl>(std::move(options), std::move(ingest))));
}

OtlpHttpReceiver::OtlpHttpReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OtlpHttpReceiver::~OtlpHttpReceiver() = default;

arrow::Status OtlpHttpReceiver::Start() { return impl_->Start(); }

int OtlpHttpReceiver::port() const { return impl_->port(); }

arrow::Status OtlpHttpReceiver::Shutdown() { return impl_->Shutdown(); }

OtlpHttpReceiverStats OtlpHttpReceiver::Stats() const { return impl_->Stats(); }

const OtlpHttpReceiverOptions& OtlpHttpReceiver::options() const {
  return impl_->options();
}

}  // namespace otlp_arrow::service
