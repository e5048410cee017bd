// SPDX-License-Identifier: Apache-2.0
// MetricRegistry: the service's own metrics, read through callbacks when scraped and
// rendered in the Prometheus text exposition format 0.0.4.

#pragma once

#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <arrow/status.h>

#include "otlp_arrow/telemetry/histogram.h"

namespace otlp_arrow::telemetry {

/// \brief Label name/value pairs of one series. Order does not matter: the registry
/// sorts them by name, as Prometheus client libraries do.
using Labels = std::vector<std::pair<std::string, std::string>>;

/// \brief The kind of a metric family, as `# TYPE` names it.
enum class MetricType { kCounter, kGauge, kHistogram };

/// \brief What describes one series: its family (name, help, unit) and its constant
/// labels. Series of one family share name, help and unit and differ in label values.
struct MetricDesc {
  /// \brief Family name, `[a-zA-Z_:][a-zA-Z0-9_:]*`. A counter's name ends in `_total`
  /// (required, so that the name in the code is the name on the dashboard); a
  /// histogram's is the base of its `_bucket`, `_sum` and `_count` samples.
  std::string name;
  /// \brief One line for `# HELP`; must not be empty.
  std::string help;
  /// \brief Optional unit such as "seconds" or "bytes". The 0.0.4 format has no UNIT
  /// line, so it is not rendered; when set, the name (without `_total`) must end in
  /// `_<unit>`, as OpenMetrics requires, which keeps names and units consistent.
  std::string unit;
  /// \brief Constant labels of this series: names `[a-zA-Z_][a-zA-Z0-9_]*` not starting
  /// with `__` (reserved) and not `le` on a histogram; values any UTF-8. Every series of
  /// a family has the same label names.
  Labels labels;
};

/// \brief Registered metrics whose values come from callbacks at scrape time, like the
/// OpenTelemetry Collector's observable instruments: the pipeline, receivers and store
/// keep their own atomics and stats structs, and the registry only reads them.
///
/// Thread-safe. Render() calls the callbacks under a shared lock, so scrapes may run
/// concurrently with each other and a callback is never called once Unregister() has
/// returned for its series. Callbacks therefore must be thread-safe, cheap, and must not
/// call into the registry.
class MetricRegistry {
 public:
  /// \brief The Content-Type of Render()'s output.
  static constexpr std::string_view kContentType =
      "text/plain; version=0.0.4; charset=utf-8";

  MetricRegistry();
  ~MetricRegistry();
  MetricRegistry(const MetricRegistry&) = delete;
  MetricRegistry& operator=(const MetricRegistry&) = delete;

  /// \brief A monotonically increasing value (a count since start).
  ///
  /// \return Invalid for a bad name, label, unit or help, for a family registered
  /// before with another type, help, unit or label names, or for a sample name that
  /// collides with another family's (e.g. a gauge `x_count` beside a histogram `x`);
  /// AlreadyExists for a series registered before with the same labels.
  arrow::Status AddCounter(MetricDesc desc, std::function<double()> value);

  /// \brief A value that goes up and down. Errors as AddCounter().
  arrow::Status AddGauge(MetricDesc desc, std::function<double()> value);

  /// \brief A histogram, e.g. `[&h] { return h.Snapshot(); }` for a Histogram `h`.
  /// Errors as AddCounter(). A snapshot whose `counts` do not have one entry more than
  /// its ascending `bounds` is a programming error: the series is left out of that
  /// scrape rather than exposed wrong.
  arrow::Status AddHistogram(MetricDesc desc,
                             std::function<HistogramSnapshot()> snapshot);

  /// \brief Removes one series (labels compared as a set); a family without series is
  /// removed too. When this returns, the series' callback is not running and will not
  /// be called again, so the object it reads may be destroyed.
  ///
  /// \return KeyError when no such series is registered.
  arrow::Status Unregister(std::string_view name, const Labels& labels);

  /// \brief Every family in registration order, every series in registration order, in
  /// the Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE` once per family,
  /// label values escaped, histograms as cumulative `_bucket{le="…"}` (up to
  /// `le="+Inf"`), `_sum` and `_count`, values in the shortest form that parses back to
  /// the same double (`+Inf`, `-Inf`, `NaN`). Ends with a newline unless empty.
  std::string Render() const;

 private:
  struct Family;
  arrow::Status Add(MetricType type, MetricDesc desc, std::function<double()> value,
                    std::function<HistogramSnapshot()> snapshot);

  mutable std::shared_mutex mutex_;
  std::vector<std::unique_ptr<Family>> families_;
  // Every sample name a family renders (`x_bucket`, `x_sum`, ...) → its family name, to
  // refuse families whose samples would be indistinguishable.
  std::unordered_map<std::string, std::string> sample_names_;
};

}  // namespace otlp_arrow::telemetry
