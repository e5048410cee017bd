// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/common/zstd_codec.h"

#include <zstd.h>

#include <utility>

#include <arrow/status.h>

namespace otlp_arrow::common {

namespace {

// Arrow's default level for zstd.
constexpr int kDefaultLevel = 1;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* ctx) const { ZSTD_freeCCtx(ctx); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};

// One context of each kind per thread, for every codec of this kind: a context carries
// no state from one frame to the next that matters to the output, and the IPC writer
// and reader call a codec from one thread at a time per batch.
ZSTD_CCtx* ThreadCompressionContext() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDecompressionContext() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

arrow::Status ZstdError(const char* what, size_t code) {
  return arrow::Status::IOError("zstd ", what, " failed: ", ZSTD_getErrorName(code));
}

class ZstdCodec final : public arrow::util::Codec {
 public:
  ZstdCodec(int level, std::unique_ptr<arrow::util::Codec> streaming)
      : level_(level), streaming_(std::move(streaming)) {}

  int minimum_compression_level() const override { return ZSTD_minCLevel(); }
  int maximum_compression_level() const override { return ZSTD_maxCLevel(); }
  int default_compression_level() const override { return kDefaultLevel; }
  int compression_level() const override { return level_; }
  arrow::Compression::type compression_type() const override {
    return arrow::Compression::ZSTD;
  }

  arrow::Result<int64_t> Compress(int64_t input_len, const uint8_t* input,
                                  int64_t output_buffer_len,
                                  uint8_t* output_buffer) override {
    ZSTD_CCtx* ctx = ThreadCompressionContext();
    if (ctx == nullptr) return arrow::Status::OutOfMemory("zstd compression context");
    const size_t n =
        ZSTD_compressCCtx(ctx, output_buffer, static_cast<size_t>(output_buffer_len),
                          input, static_cast<size_t>(input_len), level_);
    if (ZSTD_isError(n)) return ZstdError("compression", n);
    return static_cast<int64_t>(n);
  }

  arrow::Result<int64_t> Decompress(int64_t input_len, const uint8_t* input,
                                    int64_t output_buffer_len,
                                    uint8_t* output_buffer) override {
    // Arrow's codec accepts a null output for an empty frame; so does this one.
    if (output_buffer == nullptr && output_buffer_len == 0) {
      static uint8_t empty;
      output_buffer = &empty;
    }
    ZSTD_DCtx* ctx = ThreadDecompressionContext();
    if (ctx == nullptr) return arrow::Status::OutOfMemory("zstd decompression context");
    const size_t n =
        ZSTD_decompressDCtx(ctx, output_buffer, static_cast<size_t>(output_buffer_len),
                            input, static_cast<size_t>(input_len));
    if (ZSTD_isError(n)) return ZstdError("decompression", n);
    return static_cast<int64_t>(n);
  }

  int64_t MaxCompressedLen(int64_t input_len, const uint8_t* /*input*/) override {
    return static_cast<int64_t>(ZSTD_compressBound(static_cast<size_t>(input_len)));
  }

  // Streaming is not on the IPC path; Arrow's codec does it.
  arrow::Result<std::shared_ptr<arrow::util::Compressor>> MakeCompressor() override {
    return streaming_->MakeCompressor();
  }
  arrow::Result<std::shared_ptr<arrow::util::Decompressor>> MakeDecompressor() override {
    return streaming_->MakeDecompressor();
  }

 private:
  int level_;
  std::unique_ptr<arrow::util::Codec> streaming_;
};

}  // namespace

arrow::Result<std::shared_ptr<arrow::util::Codec>> MakeZstdCodec(int level) {
  if (level == arrow::util::kUseDefaultCompressionLevel) level = kDefaultLevel;
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return arrow::Status::Invalid("zstd level must be in ", ZSTD_minCLevel(), "..",
                                  ZSTD_maxCLevel(), ", got ", level);
  }
  ARROW_ASSIGN_OR_RAISE(auto streaming,
                        arrow::util::Codec::Create(arrow::Compression::ZSTD, level));
  return std::make_shared<ZstdCodec>(level, std::move(streaming));
}

}  // namespace otlp_arrow::common
