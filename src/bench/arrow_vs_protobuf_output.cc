// SPDX-License-Identifier: Apache-2.0
// The Arrow-vs-Protobuf report as tables and as JSON.

#include "otlp_arrow/bench/arrow_vs_protobuf.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace otlp_arrow::bench {

namespace {

std::string FormatTime(double ns) {
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e6)
    return fmt::format("{:.{}f} µs", ns / 1e3, ns < 1e4 ? 2 : ns < 1e5 ? 1 : 0);
  if (ns < 1e9)
    return fmt::format("{:.{}f} ms", ns / 1e6, ns < 1e7 ? 2 : ns < 1e8 ? 1 : 0);
  return fmt::format("{:.2f} s", ns / 1e9);
}

std::string FormatBytes(double bytes) {
  if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
  if (bytes < 1024 * 1024) {
    const double k = bytes / 1024;
    return fmt::format("{:.{}f} KiB", k, k < 10 ? 2 : k < 100 ? 1 : 0);
  }
  const double m = bytes / (1024 * 1024);
  return fmt::format("{:.{}f} MiB", m, m < 10 ? 2 : m < 100 ? 1 : 0);
}

std::string SpansLabel(int64_t spans) {
  if (spans >= 1000 && spans % 1000 == 0) return fmt::format("{}K spans", spans / 1000);
  return fmt::format("{} spans", spans);
}

/// One row: what Protobuf costs divided by what Arrow costs (above 1: Arrow is better,
/// as the design document's "提升倍数" column).
struct Row {
  std::string scenario;
  std::string arrow, protobuf;
  double ratio;  ///< protobuf / arrow
};

std::string Table(const std::vector<Row>& rows) {
  size_t w0 = 8, w1 = 5, w2 = 8;
  auto width = [](const std::string& s) {
    // Display width: count UTF-8 code points (µ is two bytes, one column).
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (const auto& r : rows) {
    w0 = std::max(w0, width(r.scenario));
    w1 = std::max(w1, width(r.arrow));
    w2 = std::max(w2, width(r.protobuf));
  }
  auto pad = [&](const std::string& s, size_t w) {
    return s + std::string(w > width(s) ? w - width(s) : 0, ' ');
  };
  std::string out;
  out += "  " + pad("scenario", w0) + " │ " + pad("Arrow", w1) + " │ " +
         pad("Protobuf", w2) + " │ Protobuf/Arrow\n";
  out += "  " + std::string(w0, '-') + "-┼-" + std::string(w1, '-') + "-┼-" +
         std::string(w2, '-') + "-┼---------------\n";
  std::string last_group;
  for (const auto& r : rows) {
    const std::string group = r.scenario.substr(0, r.scenario.find(" ("));
    if (!last_group.empty() && group != last_group) {
      out += "  " + std::string(w0, '-') + "-┼-" + std::string(w1, '-') + "-┼-" +
             std::string(w2, '-') + "-┼---------------\n";
    }
    last_group = group;
    std::string ratio = std::isfinite(r.ratio) && r.ratio > 0
                            ? fmt::format("{:.2f}×", r.ratio)
                            : std::string("n/a");
    if (std::isfinite(r.ratio) && r.ratio > 0 && r.ratio < 1)
      ratio += "  Protobuf better";
    out += "  " + pad(r.scenario, w0) + " │ " + pad(r.arrow, w1) + " │ " +
           pad(r.protobuf, w2) + " │ " + ratio + "\n";
  }
  return out;
}

struct TimeRow {
  const char* scenario;
  Operation arrow, protobuf;
};

constexpr TimeRow kTimeRows[] = {
    {"encode: spans → batch | → bytes", Operation::kArrowEncode,
     Operation::kProtobufSerialize},
    {"decode: batch → spans | bytes → spans", Operation::kArrowDecode,
     Operation::kProtobufParse},
    {"round trip", Operation::kArrowRoundTrip, Operation::kProtobufRoundTrip},
    {"encode to wire, zstd", Operation::kArrowEncodeIpcZstd,
     Operation::kProtobufSerializeZstd},
    {"decode from wire, zstd", Operation::kArrowDecodeIpcZstd,
     Operation::kProtobufParseZstd},
    {"round trip via wire, zstd", Operation::kArrowRoundTripIpcZstd,
     Operation::kProtobufRoundTripZstd},
    {"wire → usable: IPC → valid batch | bytes → spans", Operation::kArrowReadIpc,
     Operation::kProtobufParse},
};

}  // namespace

std::string FormatTable(const Report& report) {
  const auto& m = report.machine;
  std::string out = fmt::format(
      "Arrow (span table, Arrow {}) vs Protobuf (libprotobuf {}), {}\n"
      "{}, {} CPUs, {}; load {:.2f} → {:.2f}\n"
      "CPU time per batch, median of {} samples run side by side; zstd level {}; heap "
      "{}\n",
      m.arrow_version, m.protobuf_version, m.date, m.cpu, m.cpus, m.host, m.load_before,
      m.load_after, report.options.repetitions, report.options.zstd_level,
      m.heap_counted ? "counted (operator new + Arrow pool)" : "NOT counted (pool only)");
  std::vector<std::string> workloads;
  for (const auto& c : report.cases) {
    if (std::find(workloads.begin(), workloads.end(), c.workload) == workloads.end())
      workloads.push_back(c.workload);
  }
  for (const auto& workload : workloads) {
    std::vector<const CaseResult*> cases;
    for (const auto& c : report.cases) {
      if (c.workload == workload) cases.push_back(&c);
    }
    std::vector<Row> rows;
    for (const auto& t : kTimeRows) {
      for (const CaseResult* c : cases) {
        const auto* a = c->Find(t.arrow);
        const auto* p = c->Find(t.protobuf);
        if (a == nullptr || p == nullptr) continue;
        rows.push_back({fmt::format("{} ({})", t.scenario, SpansLabel(c->spans)),
                        FormatTime(a->cpu_ns), FormatTime(p->cpu_ns),
                        p->cpu_ns / a->cpu_ns});
      }
    }
    auto memory_row = [&](const char* scenario, Operation arrow, Operation protobuf,
                          bool net) {
      for (const CaseResult* c : cases) {
        const auto* a = c->Find(arrow);
        const auto* p = c->Find(protobuf);
        if (a == nullptr || p == nullptr) continue;
        const double av =
            static_cast<double>(net ? a->memory.net_bytes : a->memory.peak_bytes);
        const double pv =
            static_cast<double>(net ? p->memory.net_bytes : p->memory.peak_bytes);
        rows.push_back({fmt::format("{} ({})", scenario, SpansLabel(c->spans)),
                        FormatBytes(av), FormatBytes(pv), pv / av});
      }
    };
    memory_row("memory: encode, peak heap", Operation::kArrowEncode,
               Operation::kProtobufSerialize, false);
    memory_row("memory: decode, peak heap", Operation::kArrowDecode,
               Operation::kProtobufParse, false);
    memory_row("memory: spans held, batch | parsed message", Operation::kArrowEncode,
               Operation::kProtobufParse, true);
    auto size_row = [&](const char* scenario, int64_t Fixture::Sizes::*arrow,
                        int64_t Fixture::Sizes::*protobuf) {
      for (const CaseResult* c : cases) {
        const double av = static_cast<double>(c->sizes.*arrow);
        const double pv = static_cast<double>(c->sizes.*protobuf);
        rows.push_back({fmt::format("{} ({})", scenario, SpansLabel(c->spans)),
                        FormatBytes(av), FormatBytes(pv), pv / av});
      }
    };
    size_row("size on the wire, uncompressed", &Fixture::Sizes::arrow_ipc,
             &Fixture::Sizes::protobuf);
    size_row("size on the wire, lz4", &Fixture::Sizes::arrow_ipc_lz4,
             &Fixture::Sizes::protobuf_lz4);
    size_row("size on the wire, zstd", &Fixture::Sizes::arrow_ipc_zstd,
             &Fixture::Sizes::protobuf_zstd);
    size_row("size at rest: Parquet | protobuf zstd", &Fixture::Sizes::parquet,
             &Fixture::Sizes::protobuf_zstd);
    bool equal = true;
    for (const CaseResult* c : cases) equal = equal && c->round_trips_equal;
    out += fmt::format("\nworkload {}: round trips {}\n", workload,
                       equal ? "equal to the input" : "DIFFER FROM THE INPUT");
    out += Table(rows);
  }
  out +=
      "\nProtobuf/Arrow above 1: Arrow is faster or smaller. Arrow = the span table "
      "(RecordBatch; on the wire an IPC stream), Protobuf = OTLP "
      "ExportTraceServiceRequest; "
      "spans = protobuf messages on an arena.\n";
  return out;
}

std::string FormatColumnSizes(const Report& report) {
  std::string out;
  for (const auto& c : report.cases) {
    auto columns = c.columns;
    std::sort(columns.begin(), columns.end(),
              [](const auto& a, const auto& b) { return a.zstd_bytes > b.zstd_bytes; });
    int64_t bytes = 0, zstd_bytes = 0;
    for (const auto& col : columns) {
      bytes += col.bytes;
      zstd_bytes += col.zstd_bytes;
    }
    out += fmt::format(
        "\n{} at {}: span table columns, buffers raw and zstd level {} one by one\n",
        c.workload, SpansLabel(c.spans), report.options.zstd_level);
    out +=
        fmt::format("  {:<34} {:>10} {:>10} {:>6}\n", "column", "raw", "zstd", "share");
    for (const auto& col : columns) {
      out += fmt::format("  {:<34} {:>10} {:>10} {:>5.1f}%\n", col.column,
                         FormatBytes(static_cast<double>(col.bytes)),
                         FormatBytes(static_cast<double>(col.zstd_bytes)),
                         zstd_bytes > 0 ? 100.0 * static_cast<double>(col.zstd_bytes) /
                                              static_cast<double>(zstd_bytes)
                                        : 0.0);
    }
    out += fmt::format("  {:<34} {:>10} {:>10}\n", "total",
                       FormatBytes(static_cast<double>(bytes)),
                       FormatBytes(static_cast<double>(zstd_bytes)));
  }
  return out;
}

std::string ToJson(const Report& report) {
  using nlohmann::json;
  const auto& m = report.machine;
  json j;
  j["machine"] = {{"date", m.date},
                  {"host", m.host},
                  {"cpu", m.cpu},
                  {"cpus", m.cpus},
                  {"load_before", m.load_before},
                  {"load_after", m.load_after},
                  {"arrow_version", m.arrow_version},
                  {"arrow_pool", m.arrow_pool},
                  {"protobuf_version", m.protobuf_version},
                  {"heap_counted", m.heap_counted}};
  json ops = json::array();
  for (Operation op : report.options.operations) ops.push_back(OperationName(op));
  j["options"] = {{"workloads", report.options.workloads},
                  {"input", report.options.input},
                  {"sizes", report.options.sizes},
                  {"operations", ops},
                  {"repetitions", report.options.repetitions},
                  {"min_sample_seconds", report.options.min_sample_seconds},
                  {"zstd_level", report.options.zstd_level}};
  auto stats = [](const AllocationStats& s) {
    return json{{"allocations", s.allocations},
                {"bytes_allocated", s.bytes_allocated},
                {"peak_bytes", s.peak_bytes},
                {"net_bytes", s.net_bytes}};
  };
  json cases = json::array();
  for (const auto& c : report.cases) {
    json operations = json::array();
    for (const auto& r : c.operations) {
      operations.push_back({{"name", OperationName(r.op)},
                            {"cpu_ns", r.cpu_ns},
                            {"wall_ns", r.wall_ns},
                            {"cpu_ns_min", r.cpu_ns_min},
                            {"cpu_ns_max", r.cpu_ns_max},
                            {"cpu_ns_samples", r.cpu_ns_samples},
                            {"samples", r.samples},
                            {"runs_per_sample", r.runs_per_sample},
                            {"page_faults", r.page_faults},
                            {"memory",
                             {{"heap", stats(r.memory.heap)},
                              {"pool", stats(r.memory.pool)},
                              {"peak_bytes", r.memory.peak_bytes},
                              {"net_bytes", r.memory.net_bytes}}}});
    }
    json columns = json::array();
    for (const auto& col : c.columns) {
      columns.push_back(
          {{"column", col.column}, {"bytes", col.bytes}, {"zstd_bytes", col.zstd_bytes}});
    }
    const auto& s = c.sizes;
    cases.push_back({{"workload", c.workload},
                     {"spans", c.spans},
                     {"round_trips_equal", c.round_trips_equal},
                     {"sizes",
                      {{"arrow_batch", s.arrow_batch},
                       {"arrow_ipc", s.arrow_ipc},
                       {"arrow_ipc_schema", s.arrow_ipc_schema},
                       {"arrow_ipc_lz4", s.arrow_ipc_lz4},
                       {"arrow_ipc_zstd", s.arrow_ipc_zstd},
                       {"protobuf", s.protobuf},
                       {"protobuf_lz4", s.protobuf_lz4},
                       {"protobuf_zstd", s.protobuf_zstd},
                       {"parquet", s.parquet}}},
                     {"columns", columns},
                     {"operations", operations}});
  }
  j["cases"] = cases;
  return j.dump(2) + "\n";
}

}  // namespace otlp_arrow::bench
