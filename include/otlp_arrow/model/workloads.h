// SPDX-License-Identifier: Apache-2.0
// Span workloads shared by the demo, the tests and the benchmarks.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/result.h>

#include "otlp_arrow/model/otlp.h"

namespace otlp_arrow::model {

/// \brief The design document's `create_test_spans` (seed §3.1): span `i` has trace id
/// [i as u8; 16], span id [i as u8; 8], name "span_i", kind SERVER, start 1e9+i, end
/// 2e9+i, attributes http.method="GET" and http.status_code=200, status OK. One empty
/// resource.
otlp::ExportTraceServiceRequest SeedSpans(int64_t count);

/// \brief The OpenTelemetry performance-benchmark workload: spans with 10 string
/// attributes, each a 20-character key and a 20-character value.
otlp::ExportTraceServiceRequest OtelBenchmarkSpans(int64_t count);

/// \brief A realistic mix: a resource of ~10 attributes per 1,000 spans, spans with 5–20
/// attributes of mixed types, names from a small vocabulary, 20% with events, 5% with
/// links, 1% with error status. Deterministic for a given seed.
otlp::ExportTraceServiceRequest RealisticSpans(int64_t count, uint64_t seed = 42);

/// \brief Random spans for property tests: every AnyValue kind including nested arrays
/// and kvlists, unicode and empty strings, zero and extreme numbers, absent optional
/// fields, several resources and scopes. Deterministic for a given seed.
otlp::ExportTraceServiceRequest RandomSpans(int64_t count, uint64_t seed);

/// \brief The workload named `name` ("seed", "otel", "realistic").
arrow::Result<otlp::ExportTraceServiceRequest> MakeWorkload(std::string_view name,
                                                            int64_t count);

/// \brief Number of spans in a request.
int64_t CountSpans(const otlp::ExportTraceServiceRequest& request);

/// \brief Moves every time of the request (span start and end, event times) by one
/// offset, so that its earliest span start becomes `earliest_start_ns`: durations and
/// the spacing of spans stay as they were. The workloads start on 2026-01-01; a load
/// generator restamps them to now, so that they land in today's partition and a query
/// for the last hour finds them. 0 (unset) and the largest value, which the random
/// workload uses as extremes, are left alone.
void RestampSpans(otlp::ExportTraceServiceRequest* request, uint64_t earliest_start_ns);

/// \brief A serialized ExportTraceServiceRequest whose ids can be renewed without
/// serializing it again: a load generator sends the same few requests over and over,
/// and a gateway batching identical spans would see repeats that real traffic never has
/// (zstd and dictionaries would do better than they do on real data).
///
/// WithFreshIds(key) XORs every trace id (of spans and links) with one 16-byte mask and
/// every span id (own, parent, link) with one 8-byte mask, both drawn from `key`: ids
/// equal in the request stay equal, so parent and link references still point at the
/// same spans, and different keys give different ids.
class RequestIdRewriter {
 public:
  /// \brief Serializes `request` and notes where its ids are.
  static arrow::Result<RequestIdRewriter> Make(
      const otlp::ExportTraceServiceRequest& request);

  /// \brief The request as serialized, ids unchanged.
  const std::string& bytes() const { return bytes_; }

  /// \brief The request with the ids of `key` (see above).
  std::string WithFreshIds(uint64_t key) const;

 private:
  std::string bytes_;
  std::vector<size_t> trace_id_offsets_;  // 16 bytes each
  std::vector<size_t> span_id_offsets_;   // 8 bytes each
};

}  // namespace otlp_arrow::model
