// SPDX-License-Identifier: Apache-2.0
// A zstd arrow::util::Codec that keeps its compression and decompression contexts.

#pragma once

#include <memory>

#include <arrow/result.h>
#include <arrow/util/compression.h>

namespace otlp_arrow::common {

/// \brief A codec for Arrow IPC body compression (IpcWriteOptions::codec), producing
/// the same zstd frames as `arrow::util::Codec::Create(arrow::Compression::ZSTD)`.
///
/// Arrow's own zstd codec calls `ZSTD_compress` / `ZSTD_decompress`, which set up a
/// fresh context (tables of up to hundreds of KiB, zeroed) for every buffer; an IPC
/// batch has a hundred buffers, most of them small, and the set-up cost more than the
/// compression (a third of the exporter's compression time in the gateway's profile).
/// This one keeps a context per thread and resets it between buffers. Thread-safe.
/// `level` is a zstd level (Arrow's default for zstd, 1, when
/// `arrow::util::kUseDefaultCompressionLevel`).
arrow::Result<std::shared_ptr<arrow::util::Codec>> MakeZstdCodec(
    int level = arrow::util::kUseDefaultCompressionLevel);

}  // namespace otlp_arrow::common
