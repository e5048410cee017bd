// SPDX-License-Identifier: Apache-2.0
// What the store's tests may do that no caller of ParquetSpanStore can.

#pragma once

#include "otlp_arrow/storage/parquet_span_store.h"

namespace otlp_arrow::storage::internal {

struct ParquetSpanStoreTesting {
  /// \brief For crash tests: stops `store` as a killed process would, leaving the open
  /// `*.parquet.tmp` files (without footers) and the WAL as they are. The store is
  /// unusable afterwards.
  static void Abandon(ParquetSpanStore& store);
};

}  // namespace otlp_arrow::storage::internal
