// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/telemetry/metric_registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <mutex>

namespace otlp_arrow::telemetry {

namespace {

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// Prometheus data model: metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`.
bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        IsAsciiLetter(c) || c == '_' || c == ':' || (i > 0 && IsAsciiDigit(c));
    if (!ok) return false;
  }
  return true;
}

// Label names `[a-zA-Z_][a-zA-Z0-9_]*`; those starting with `__` are Prometheus's own.
bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(IsAsciiLetter(c) || c == '_' || (i > 0 && IsAsciiDigit(c)))) return false;
  }
  return true;
}

bool IsValidUnit(std::string_view unit) {
  return std::all_of(unit.begin(), unit.end(), [](char c) {
    return IsAsciiLetter(c) || IsAsciiDigit(c) || c == '_';
  });
}

// Prometheus rejects a scrape whose text is not UTF-8, so a bad label value or help text
// would lose every metric of the endpoint, not only its own: refuse it at registration.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra;
    uint32_t min;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Label values escape backslash, double quote and line feed; HELP text only backslash and
// line feed (format 0.0.4).
void AppendEscaped(std::string* out, std::string_view s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (quote && c == '"') {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// Shortest decimal form that parses back to the same double (std::to_chars without a
// precision), e.g. "0.1", "12", "1e+21"; Go's ParseFloat, which Prometheus uses, reads
// all of them.
void AppendValue(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr);
  }
}

void AppendValue(std::string* out, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// `name{labels,extra} `, without braces when there are no labels at all.
void AppendSampleName(std::string* out, std::string_view name, std::string_view suffix,
                      std::string_view labels, std::string_view extra_label = {}) {
  out->append(name);
  out->append(suffix);
  if (!labels.empty() || !extra_label.empty()) {
    out->push_back('{');
    out->append(labels);
    if (!labels.empty() && !extra_label.empty()) out->push_back(',');
    out->append(extra_label);
    out->push_back('}');
  }
  out->push_back(' ');
}

bool IsWellFormed(const HistogramSnapshot& s) {
  if (s.counts.size() != s.bounds.size() + 1) return false;
  for (size_t i = 0; i < s.bounds.size(); ++i) {
    if (!std::isfinite(s.bounds[i])) return false;
    if (i > 0 && !(s.bounds[i - 1] < s.bounds[i])) return false;
  }
  return true;
}

std::vector<std::string> SampleNames(MetricType type, const std::string& name) {
  if (type == MetricType::kHistogram) {
    return {name, name + "_bucket", name + "_sum", name + "_count"};
  }
  return {name};
}

}  // namespace

struct MetricRegistry::Family {
  struct Series {
    Labels labels;  // sorted by name
    // `a="x",b="y"`, escaped once at registration rather than at every scrape.
    std::string label_text;
    std::function<double()> value;
    std::function<HistogramSnapshot()> snapshot;
  };

  std::string name;
  std::string help;
  std::string unit;
  MetricType type;
  std::vector<std::string> label_names;  // sorted
  std::string header;                    // the `# HELP` and `# TYPE` lines
  std::vector<Series> series;
};

MetricRegistry::MetricRegistry() = default;
MetricRegistry::~MetricRegistry() = default;

arrow::Status MetricRegistry::AddCounter(MetricDesc desc, std::function<double()> value) {
  return Add(MetricType::kCounter, std::move(desc), std::move(value), nullptr);
}

arrow::Status MetricRegistry::AddGauge(MetricDesc desc, std::function<double()> value) {
  return Add(MetricType::kGauge, std::move(desc), std::move(value), nullptr);
}

arrow::Status MetricRegistry::AddHistogram(MetricDesc desc,
                                           std::function<HistogramSnapshot()> snapshot) {
  return Add(MetricType::kHistogram, std::move(desc), nullptr, std::move(snapshot));
}

arrow::Status MetricRegistry::Add(MetricType type, MetricDesc desc,
                                  std::function<double()> value,
                                  std::function<HistogramSnapshot()> snapshot) {
  const std::string& name = desc.name;
  if (!IsValidMetricName(name)) {
    return arrow::Status::Invalid("metric name '", name,
                                  "' is not of the form [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  if (!value && !snapshot) {
    return arrow::Status::Invalid("metric '", name, "': no callback");
  }
  std::string_view base = name;
  if (type == MetricType::kCounter) {
    if (!base.ends_with("_total") || base.size() == 6) {
      return arrow::Status::Invalid("counter '", name, "': counter names end in _total");
    }
    base.remove_suffix(6);
  }
  if (desc.help.empty() || !IsValidUtf8(desc.help)) {
    return arrow::Status::Invalid("metric '", name, "': help must be non-empty UTF-8");
  }
  if (!desc.unit.empty()) {
    if (!IsValidUnit(desc.unit)) {
      return arrow::Status::Invalid("metric '", name, "': unit '", desc.unit,
                                    "' is not of the form [a-zA-Z0-9_]+");
    }
    if (!base.ends_with("_" + desc.unit)) {
      return arrow::Status::Invalid("metric '", name, "': a metric of unit '", desc.unit,
                                    "' has a name ending in _", desc.unit,
                                    type == MetricType::kCounter ? "_total" : "");
    }
  }

  Labels labels = std::move(desc.labels);
  std::sort(labels.begin(), labels.end());
  std::vector<std::string> label_names;
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto& [label, label_value] = labels[i];
    if (!IsValidLabelName(label)) {
      return arrow::Status::Invalid(
          "metric '", name, "': label name '", label,
          "' is not of the form [a-zA-Z_][a-zA-Z0-9_]* or starts with __");
    }
    if (type == MetricType::kHistogram && label == "le") {
      return arrow::Status::Invalid("histogram '", name,
                                    "': label 'le' is the bucket bound's");
    }
    if (i > 0 && labels[i - 1].first == label) {
      return arrow::Status::Invalid("metric '", name, "': label '", label, "' twice");
    }
    if (!IsValidUtf8(label_value)) {
      return arrow::Status::Invalid("metric '", name, "': value of label '", label,
                                    "' is not UTF-8");
    }
    label_names.push_back(label);
  }

  Family::Series series{std::move(labels), {}, std::move(value), std::move(snapshot)};
  for (const auto& [label, label_value] : series.labels) {
    if (!series.label_text.empty()) series.label_text.push_back(',');
    series.label_text.append(label);
    series.label_text.append("=\"");
    AppendEscaped(&series.label_text, label_value, /*quote=*/true);
    series.label_text.push_back('"');
  }

  std::unique_lock lock(mutex_);
  auto it = std::find_if(families_.begin(), families_.end(),
                         [&](const auto& f) { return f->name == name; });
  if (it != families_.end()) {
    Family& family = **it;
    if (family.type != type) {
      return arrow::Status::Invalid("metric '", name, "' is registered as a ",
                                    TypeName(family.type), ", not a ", TypeName(type));
    }
    if (family.help != desc.help || family.unit != desc.unit) {
      return arrow::Status::Invalid("metric '", name,
                                    "' is registered with another help or unit");
    }
    if (family.label_names != label_names) {
      return arrow::Status::Invalid(
          "metric '", name, "': every series of a family has the same label names");
    }
    for (const auto& existing : family.series) {
      if (existing.labels == series.labels) {
        return arrow::Status::AlreadyExists("metric '", name, "{", series.label_text,
                                            "}' is registered already");
      }
    }
    family.series.push_back(std::move(series));
    return arrow::Status::OK();
  }

  const auto samples = SampleNames(type, name);
  for (const auto& sample : samples) {
    auto taken = sample_names_.find(sample);
    if (taken != sample_names_.end()) {
      return arrow::Status::Invalid("metric '", name, "': sample name '", sample,
                                    "' is taken by metric '", taken->second, "'");
    }
  }
  auto family = std::make_unique<Family>();
  family->name = name;
  family->help = std::move(desc.help);
  family->unit = std::move(desc.unit);
  family->type = type;
  family->label_names = std::move(label_names);
  family->header = "# HELP " + name + " ";
  AppendEscaped(&family->header, family->help, /*quote=*/false);
  family->header += "\n# TYPE " + name + " ";
  family->header += TypeName(type);
  family->header += "\n";
  family->series.push_back(std::move(series));
  for (const auto& sample : samples) sample_names_.emplace(sample, name);
  families_.push_back(std::move(family));
  return arrow::Status::OK();
}

arrow::Status MetricRegistry::Unregister(std::string_view name, const Labels& labels) {
  Labels sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  // Exclusive: waits for renders in flight, so the callback is not running afterwards.
  std::unique_lock lock(mutex_);
  auto family = std::find_if(families_.begin(), families_.end(),
                             [&](const auto& f) { return f->name == name; });
  if (family != families_.end()) {
    auto& series = (*family)->series;
    auto it = std::find_if(series.begin(), series.end(),
                           [&](const auto& s) { return s.labels == sorted; });
    if (it != series.end()) {
      series.erase(it);
      if (series.empty()) {
        for (const auto& sample : SampleNames((*family)->type, (*family)->name)) {
          sample_names_.erase(sample);
        }
        families_.erase(family);
      }
      return arrow::Status::OK();
    }
  }
  return arrow::Status::KeyError("no metric '", name, "' with these labels");
}

std::string MetricRegistry::Render() const {
  std::shared_lock lock(mutex_);
  std::string out;
  for (const auto& family : families_) {
    out.append(family->header);
    for (const auto& series : family->series) {
      if (family->type != MetricType::kHistogram) {
        AppendSampleName(&out, family->name, "", series.label_text);
        AppendValue(&out, series.value());
        out.push_back('\n');
        continue;
      }
      const HistogramSnapshot snapshot = series.snapshot();
      if (!IsWellFormed(snapshot)) continue;
      // Observations land in a bucket before they are counted (Histogram::Observe), so
      // a racing snapshot's `count` can be ahead of its buckets. Prometheus requires
      // _count to equal the +Inf bucket, so both are the buckets' total.
      uint64_t cumulative = 0;
      std::string le;
      for (size_t i = 0; i <= snapshot.bounds.size(); ++i) {
        cumulative += snapshot.counts[i];
        le = "le=\"";
        if (i < snapshot.bounds.size()) {
          AppendValue(&le, snapshot.bounds[i]);
        } else {
          le.append("+Inf");
        }
        le.push_back('"');
        AppendSampleName(&out, family->name, "_bucket", series.label_text, le);
        AppendValue(&out, cumulative);
        out.push_back('\n');
      }
      AppendSampleName(&out, family->name, "_sum", series.label_text);
      AppendValue(&out, snapshot.sum);
      out.push_back('\n');
      AppendSampleName(&out, family->name, "_count", series.label_text);
      AppendValue(&out, cumulative);
      out.push_back('\n');
    }
  }
  return out;
}

}  // namespace otlp_arrow::telemetry
