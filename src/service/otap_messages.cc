// SPDX-License-Identifier: Apache-2.0

#include "otap_messages_internal.h"

#include <nghttp2/nghttp2.h>
#include <zstd.h>

#include <algorithm>

#include "opentelemetry/proto/experimental/arrow/v1/arrow_service.pb.h"
#include "receiver_internal.h"

namespace otlp_arrow::service::internal {

namespace {

arrow::Status ZstdDecompress(std::string_view input, int64_t max_bytes,
                             std::string* out) {
  struct DctxDeleter {
    void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
  };
  // One context per thread, reset for each message: its set-up is most of the cost of
  // a small message.
  thread_local std::unique_ptr<ZSTD_DCtx, DctxDeleter> ctx(ZSTD_createDCtx());
  if (ctx == nullptr) return arrow::Status::OutOfMemory("cannot make a zstd context");
  ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_only);
  out->clear();
  // The frame may say its size; it is only a hint for the first allocation, never
  // trusted beyond the limit.
  const unsigned long long declared =
      ZSTD_getFrameContentSize(input.data(), input.size());
  size_t capacity = std::max<size_t>(input.size() * 4, 64 * 1024);
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    capacity = static_cast<size_t>(std::min<unsigned long long>(
        declared, static_cast<unsigned long long>(max_bytes)));
  }
  capacity =
      std::min<size_t>(std::max<size_t>(capacity, 1), static_cast<size_t>(max_bytes));
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  const auto corrupt = [](size_t code) {
    return arrow::Status::Invalid("zstd-compressed message does not decompress: ",
                                  ZSTD_getErrorName(code));
  };
  size_t produced = 0;
  while (true) {
    if (produced == out->size()) {
      if (produced >= static_cast<size_t>(max_bytes)) {
        // Exactly full: one more byte of output would pass the limit.
        char probe;
        ZSTD_outBuffer one{&probe, 1, 0};
        const size_t left = ZSTD_decompressStream(ctx.get(), &one, &in);
        if (ZSTD_isError(left)) return corrupt(left);
        if (one.pos > 0) {
          return arrow::Status::CapacityError("message larger than ", max_bytes,
                                              " bytes after zstd decompression");
        }
        if (left == 0 && in.pos == in.size) return arrow::Status::OK();
        if (in.pos == in.size) break;
        continue;
      }
      out->resize(std::min<size_t>(static_cast<size_t>(max_bytes),
                                   std::max(capacity, out->size() * 2)));
    }
    ZSTD_outBuffer buffer{out->data(), out->size(), produced};
    const size_t left = ZSTD_decompressStream(ctx.get(), &buffer, &in);
    if (ZSTD_isError(left)) return corrupt(left);
    produced = buffer.pos;
    if (left == 0 && in.pos == in.size) {
      out->resize(produced);
      return arrow::Status::OK();
    }
    // Every byte read and room left, yet the frame goes on: the message is cut short.
    if (in.pos == in.size && buffer.pos < buffer.size) break;
  }
  return arrow::Status::Invalid("zstd-compressed message is cut short");
}

}  // namespace

arrow::Result<std::string_view> DecompressOtapMessage(std::string_view message,
                                                      int64_t max_bytes,
                                                      std::string* scratch) {
  if (LooksLikeZstd(message)) {
    ARROW_RETURN_NOT_OK(ZstdDecompress(message, max_bytes, scratch));
    return std::string_view(*scratch);
  }
  if (LooksLikeGzip(message)) {
    scratch->clear();
    GzipInflater inflater(static_cast<uint64_t>(max_bytes));
    const auto result = inflater.Inflate(message, scratch);
    if (result == GzipInflater::Result::kTooLarge) {
      return arrow::Status::CapacityError("message larger than ", max_bytes,
                                          " bytes after gzip decompression");
    }
    if (result != GzipInflater::Result::kOk || !inflater.Complete()) {
      return arrow::Status::Invalid("gzip-compressed message does not inflate");
    }
    return std::string_view(*scratch);
  }
  return message;
}

arrow::Result<std::unique_ptr<HpackHeaderDecoder>> HpackHeaderDecoder::Make(
    int64_t max_header_bytes) {
  nghttp2_hd_inflater* inflater = nullptr;
  if (nghttp2_hd_inflate_new(&inflater) != 0) {
    return arrow::Status::OutOfMemory("cannot make an HPACK decoder");
  }
  return std::unique_ptr<HpackHeaderDecoder>(
      new HpackHeaderDecoder(inflater, max_header_bytes));
}

HpackHeaderDecoder::HpackHeaderDecoder(nghttp2_hd_inflater* inflater,
                                       int64_t max_header_bytes)
    : inflater_(inflater), max_header_bytes_(max_header_bytes) {}

HpackHeaderDecoder::~HpackHeaderDecoder() { nghttp2_hd_inflate_del(inflater_); }

arrow::Result<HpackHeaderDecoder::Headers> HpackHeaderDecoder::Decode(
    std::string_view block) {
  if (broken_) {
    return arrow::Status::Invalid("headers: an earlier block of this stream was bad");
  }
  Headers headers;
  int64_t total = 0;
  auto* in = reinterpret_cast<const uint8_t*>(block.data());
  size_t left = block.size();
  while (true) {
    nghttp2_nv nv;
    int flags = 0;
    const ssize_t used =
        nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, left, /*in_final=*/1);
    if (used < 0) {
      broken_ = true;
      return arrow::Status::Invalid("headers: not a valid HPACK block (",
                                    nghttp2_strerror(static_cast<int>(used)), ")");
    }
    in += used;
    left -= static_cast<size_t>(used);
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) != 0) {
      total += static_cast<int64_t>(nv.namelen + nv.valuelen);
      if (total > max_header_bytes_) {
        broken_ = true;
        return arrow::Status::Invalid("headers: more than ", max_header_bytes_,
                                      " bytes of names and values");
      }
      headers.emplace_back(
          std::string(reinterpret_cast<const char*>(nv.name), nv.namelen),
          std::string(reinterpret_cast<const char*>(nv.value), nv.valuelen));
    }
    if ((flags & NGHTTP2_HD_INFLATE_FINAL) != 0) {
      nghttp2_hd_inflate_end_headers(inflater_);
      break;
    }
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && left == 0) break;
  }
  return headers;
}

std::string EncodeBatchStatus(int64_t batch_id, int status_code,
                              std::string_view message) {
  opentelemetry::proto::experimental::arrow::v1::BatchStatus status;
  status.set_batch_id(batch_id);
  status.set_status_code(
      static_cast<opentelemetry::proto::experimental::arrow::v1::StatusCode>(
          status_code));
  if (!message.empty()) status.set_status_message(ValidUtf8(message));
  return status.SerializeAsString();
}

}  // namespace otlp_arrow::service::internal
