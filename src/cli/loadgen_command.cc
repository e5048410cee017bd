// SPDX-License-Identifier: Apache-2.0

#include "loadgen_command.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "otlp_arrow/model/trace_request_file.h"
#include "otlp_arrow/model/workloads.h"

namespace otlp_arrow::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kExportMethod[] =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

struct LoadgenOptions {
  std::string protocol = "grpc";
  std::string endpoint;  // default depends on the protocol
  std::string workload = "otel";
  // A file of OTLP requests to replay instead of a workload
  // (model::ReadTraceRequestFile).
  std::string input;
  int64_t passes = 0;  // with `input`: times through the file; 0: until `duration_s`
  int64_t spans_per_request = 100;
  bool spans_per_request_set = false;
  double rate = 0;  // spans per second, all connections together; 0: flat out
  double duration_s = 10;
  int connections = 4;
  bool gzip = false;
  int distinct_requests = 8;
  std::string json_file;
};

// What one connection saw.
struct ConnectionResult {
  int64_t requests = 0;
  int64_t spans_accepted = 0;
  std::map<std::string, int64_t> outcomes;  // "OK", "RESOURCE_EXHAUSTED", "HTTP 429", …
  std::vector<double> latencies_ms;         // of every answered request
  int64_t late_sends = 0;                   // requests sent after their slot
  // Requests of the schedule given up (the connection fell too far behind).
  int64_t unsent = 0;
};

bool IsBackpressure(const std::string& outcome) {
  return outcome == "RESOURCE_EXHAUSTED" || outcome == "UNAVAILABLE" ||
         outcome == "HTTP 429" || outcome == "HTTP 503";
}

arrow::Result<std::string> Gzip(const std::string& data) {
  z_stream stream{};
  // 15 + 16: a gzip header and trailer, as Content-Encoding: gzip wants.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return arrow::Status::IOError("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) return arrow::Status::IOError("deflate failed: ", rc);
  return out;
}

// The earliest span start of `request`, ignoring 0 and the largest value (as
// model::RestampSpans does); 0 when it has none.
uint64_t EarliestStart(const otlp::ExportTraceServiceRequest& request) {
  uint64_t earliest = 0;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        const uint64_t t = span.start_time_unix_nano();
        if (t == 0 || t == UINT64_MAX) continue;
        if (earliest == 0 || t < earliest) earliest = t;
      }
    }
  }
  return earliest;
}

// What a connection sends next.
struct Send {
  std::string body;
  int64_t spans = 0;
};

// The bodies a run sends, their spans stamped with the time the run starts. Every send
// carries ids no other send of the run carries (model::RequestIdRewriter): a gateway
// batching the same spans over and over would compress and dictionary-encode them better
// than real traffic. Except gzip over HTTP of a workload: those bodies are compressed
// once up front, so their ids repeat every --distinct-requests sends.
//
// A file (--input) is sent in its order, its requests shared by all connections: the
// first pass with the file's own ids, each later pass with ids XORed by a key of its own
// (parent and link references kept), so no two sends carry the same spans. All its times
// move by one offset, so that its earliest span starts now.
class RequestBodies {
 public:
  static arrow::Result<std::unique_ptr<RequestBodies>> Make(
      const LoadgenOptions& options) {
    auto bodies = std::make_unique<RequestBodies>();
    bodies->gzip_http_ = options.gzip && options.protocol == "http";
    bodies->run_key_ = (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    // The workloads start on 2026-01-01; stored spans belong in today's partition, where
    // a query for the last hour looks.
    const auto now_ns =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    std::vector<otlp::ExportTraceServiceRequest> requests;
    if (!options.input.empty()) {
      ARROW_ASSIGN_OR_RAISE(auto file, model::ReadTraceRequestFile(options.input));
      bodies->description_ = fmt::format("{} ({})", options.input, file.DescribeFormat());
      requests = options.spans_per_request_set
                     ? model::Rebatch(file.requests, options.spans_per_request)
                     : std::move(file.requests);
      uint64_t file_earliest = 0;
      for (const auto& request : requests) {
        const uint64_t t = EarliestStart(request);
        if (t != 0 && (file_earliest == 0 || t < file_earliest)) file_earliest = t;
      }
      for (auto& request : requests) {
        const uint64_t t = EarliestStart(request);
        if (t != 0) model::RestampSpans(&request, now_ns + (t - file_earliest));
      }
      bodies->passes_ = options.passes;
    } else {
      bodies->description_ = fmt::format("{} {} spans per request",
                                         options.spans_per_request, options.workload);
      for (int i = 0; i < options.distinct_requests; ++i) {
        otlp::ExportTraceServiceRequest request;
        if (options.workload == "realistic") {
          request = model::RealisticSpans(options.spans_per_request, 1000 + i);
        } else if (options.workload == "random") {
          request = model::RandomSpans(options.spans_per_request, 1000 + i);
        } else {
          ARROW_ASSIGN_OR_RAISE(
              request, model::MakeWorkload(options.workload, options.spans_per_request));
        }
        model::RestampSpans(&request, now_ns);
        requests.push_back(std::move(request));
      }
    }
    for (size_t i = 0; i < requests.size(); ++i) {
      bodies->spans_.push_back(model::CountSpans(requests[i]));
      ARROW_ASSIGN_OR_RAISE(auto rewriter, model::RequestIdRewriter::Make(requests[i]));
      if (bodies->gzip_http_ && options.input.empty()) {
        ARROW_ASSIGN_OR_RAISE(auto body,
                              Gzip(rewriter.WithFreshIds(bodies->run_key_ + i)));
        bodies->compressed_.push_back(std::move(body));
      } else {
        bodies->templates_.push_back(std::move(rewriter));
      }
    }
    bodies->from_file_ = !options.input.empty();
    return bodies;
  }

  // The body of send `index` of `connection` (a workload), or the file's next request;
  // nothing once the file's passes are done.
  arrow::Result<std::optional<Send>> Next(int connection, int64_t index) {
    if (!compressed_.empty()) {
      const size_t i = static_cast<size_t>(index) % compressed_.size();
      return Send{compressed_[i], spans_[i]};
    }
    Send send;
    if (from_file_) {
      const auto n = static_cast<int64_t>(templates_.size());
      const int64_t sequence = next_in_file_.fetch_add(1);
      const int64_t pass = sequence / n;
      if (passes_ > 0 && pass >= passes_) return std::nullopt;
      const auto& request = templates_[static_cast<size_t>(sequence % n)];
      send.body = pass == 0
                      ? request.bytes()
                      : request.WithFreshIds(run_key_ + static_cast<uint64_t>(pass));
      send.spans = spans_[static_cast<size_t>(sequence % n)];
    } else {
      const size_t i = static_cast<size_t>(index) % templates_.size();
      const uint64_t key =
          run_key_ + (uint64_t(connection) << 40) + static_cast<uint64_t>(index);
      send.body = templates_[i].WithFreshIds(key);
      send.spans = spans_[i];
    }
    if (gzip_http_) {
      ARROW_ASSIGN_OR_RAISE(send.body, Gzip(send.body));
    }
    return send;
  }

  const std::string& description() const { return description_; }
  double MeanSpansPerRequest() const {
    int64_t total = 0;
    for (int64_t n : spans_) total += n;
    return static_cast<double>(total) / static_cast<double>(spans_.size());
  }

 private:
  std::string description_;
  bool gzip_http_ = false;
  bool from_file_ = false;
  int64_t passes_ = 0;
  uint64_t run_key_ = 0;
  std::vector<model::RequestIdRewriter> templates_;
  std::vector<std::string> compressed_;
  std::vector<int64_t> spans_;  // per request
  std::atomic<int64_t> next_in_file_{0};
};

// Paces one connection: request i goes at start + i * interval (no pacing when the
// interval is zero). A paced connection sends its whole schedule, every slot before
// `end`, so that a run at a set rate sends rate × duration spans however busy the
// machine: one that falls behind sends at once and counts it late. It gives up only when
// it is still behind a whole run's length after `end` (a server answering far too
// slowly), and counts what it did not send.
class Pacer {
 public:
  Pacer(Clock::time_point start, Clock::duration interval)
      : start_(start), interval_(interval) {}
  // False when the connection is done: flat out, once `end` has passed; paced, after the
  // last slot before `end`.
  bool WaitForSlot(int64_t i, Clock::time_point end, ConnectionResult* result) {
    const auto now = Clock::now();
    if (interval_.count() == 0) return now < end;
    const auto slot = start_ + interval_ * i;
    if (slot >= end) return false;
    if (now >= end + (end - start_)) {
      // Slots i, i+1, … before `end`.
      result->unsent += (end - slot + interval_ - Clock::duration(1)) / interval_;
      return false;
    }
    if (slot > now) {
      std::this_thread::sleep_until(slot);
    } else if (now - slot > interval_) {
      ++result->late_sends;
    }
    return true;
  }

 private:
  Clock::time_point start_;
  Clock::duration interval_;
};

// The next body of `connection`, or nothing when it is done (the file's passes are over,
// or the body could not be made: counted as a failure).
std::optional<Send> NextSend(RequestBodies& bodies, int connection, int64_t index,
                             ConnectionResult* result) {
  auto send = bodies.Next(connection, index);
  if (send.ok()) return std::move(*send);
  spdlog::error("{}", send.status().ToString());
  ++result->outcomes["loadgen error"];
  return std::nullopt;
}

void RunGrpcConnection(const LoadgenOptions& options, RequestBodies& bodies,
                       int connection, Pacer pacer, Clock::time_point end,
                       ConnectionResult* result) {
  grpc::ChannelArguments args;
  // One TCP connection per loadgen connection, not one shared by all channels.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("otlp_arrow.loadgen.connection", connection);
  args.SetMaxSendMessageSize(-1);
  auto channel = grpc::CreateCustomChannel(options.endpoint,
                                           grpc::InsecureChannelCredentials(), args);
  grpc::GenericStub stub(channel);
  for (int64_t i = 0; pacer.WaitForSlot(i, end, result); ++i) {
    auto send = NextSend(bodies, connection, i, result);
    if (!send) break;
    grpc::Slice slice(send->body);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (options.gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
    grpc::ByteBuffer response;
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    grpc::Status status;
    const auto sent = Clock::now();
    stub.UnaryCall(&context, kExportMethod, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     std::lock_guard lock(mutex);
                     status = std::move(s);
                     done = true;
                     done_cv.notify_one();
                   });
    {
      std::unique_lock lock(mutex);
      done_cv.wait(lock, [&] { return done; });
    }
    result->latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
    ++result->requests;
    static const char* kNames[] = {"OK",
                                   "CANCELLED",
                                   "UNKNOWN",
                                   "INVALID_ARGUMENT",
                                   "DEADLINE_EXCEEDED",
                                   "NOT_FOUND",
                                   "ALREADY_EXISTS",
                                   "PERMISSION_DENIED",
                                   "RESOURCE_EXHAUSTED",
                                   "FAILED_PRECONDITION",
                                   "ABORTED",
                                   "OUT_OF_RANGE",
                                   "UNIMPLEMENTED",
                                   "INTERNAL",
                                   "UNAVAILABLE",
                                   "DATA_LOSS",
                                   "UNAUTHENTICATED"};
    const int code = static_cast<int>(status.error_code());
    const std::string name =
        code >= 0 && code <= 16 ? kNames[code] : "CODE " + std::to_string(code);
    ++result->outcomes[name];
    if (status.ok()) result->spans_accepted += send->spans;
  }
}

void RunHttpConnection(const LoadgenOptions& options, RequestBodies& bodies,
                       int connection, Pacer pacer, Clock::time_point end,
                       ConnectionResult* result) {
  // endpoint: http://host:port[/path]
  std::string base = options.endpoint;
  std::string path = "/v1/traces";
  if (const auto scheme = base.find("://"); scheme != std::string::npos) {
    if (const auto slash = base.find('/', scheme + 3); slash != std::string::npos) {
      path = base.substr(slash);
      base = base.substr(0, slash);
    }
  }
  httplib::Client client(base);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);  // small requests must not wait for delayed ACKs
  client.set_read_timeout(30, 0);
  httplib::Headers headers;
  if (options.gzip) headers.emplace("Content-Encoding", "gzip");
  for (int64_t i = 0; pacer.WaitForSlot(i, end, result); ++i) {
    auto send = NextSend(bodies, connection, i, result);
    if (!send) break;
    const auto sent = Clock::now();
    auto response =
        client.Post(path.c_str(), headers, send->body, "application/x-protobuf");
    result->latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
    ++result->requests;
    if (!response) {
      ++result->outcomes["HTTP error: " + httplib::to_string(response.error())];
      continue;
    }
    ++result->outcomes[response->status == 200
                           ? "OK"
                           : "HTTP " + std::to_string(response->status)];
    if (response->status == 200) result->spans_accepted += send->spans;
  }
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index =
      static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

int RunLoadgen(LoadgenOptions options) {
  if (options.endpoint.empty()) {
    options.endpoint =
        options.protocol == "grpc" ? "127.0.0.1:4317" : "http://127.0.0.1:4318/v1/traces";
  }
  auto bodies = RequestBodies::Make(options);
  if (!bodies.ok()) {
    spdlog::error("{}", bodies.status().ToString());
    return 1;
  }
  Clock::duration interval{0};
  if (options.rate > 0) {
    const double per_connection = options.rate / options.connections;
    interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>((*bodies)->MeanSpansPerRequest() / per_connection));
  }
  std::cerr << fmt::format(
      "loadgen: {} to {}, {} connection(s), {}{}, {} for {} s{}\n", options.protocol,
      options.endpoint, options.connections, (*bodies)->description(),
      options.gzip ? " (gzip)" : "",
      options.rate > 0 ? fmt::format("{:.0f} spans/s", options.rate) : "flat out",
      options.duration_s,
      options.passes > 0 ? fmt::format(" or {} pass(es) through the file", options.passes)
                         : "");

  std::vector<ConnectionResult> results(options.connections);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(options.duration_s));
  for (int c = 0; c < options.connections; ++c) {
    // Connections start spread over one interval, not all at once.
    Pacer pacer(start + interval * c / options.connections, interval);
    threads.emplace_back([&, c, pacer] {
      if (options.protocol == "grpc") {
        RunGrpcConnection(options, **bodies, c, pacer, end, &results[c]);
      } else {
        RunHttpConnection(options, **bodies, c, pacer, end, &results[c]);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  ConnectionResult total;
  for (auto& r : results) {
    total.requests += r.requests;
    total.spans_accepted += r.spans_accepted;
    total.late_sends += r.late_sends;
    total.unsent += r.unsent;
    for (const auto& [name, n] : r.outcomes) total.outcomes[name] += n;
    total.latencies_ms.insert(total.latencies_ms.end(), r.latencies_ms.begin(),
                              r.latencies_ms.end());
  }
  std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
  int64_t refused = 0, failed = 0;
  for (const auto& [name, n] : total.outcomes) {
    if (name == "OK") continue;
    (IsBackpressure(name) ? refused : failed) += n;
  }
  const double rate = static_cast<double>(total.spans_accepted) / seconds;
  std::cout << fmt::format(
      "requests: {} in {:.2f} s; accepted {} spans = {:.0f} spans/s; refused "
      "(backpressure) "
      "{} requests; failed {} requests; late sends {}{}\n",
      total.requests, seconds, total.spans_accepted, rate, refused, failed,
      total.late_sends,
      total.unsent > 0
          ? fmt::format("; not sent (too far behind) {} requests", total.unsent)
          : "");
  for (const auto& [name, n] : total.outcomes)
    std::cout << "  " << name << ": " << n << "\n";
  std::cout << fmt::format("latency ms: p50 {:.2f}  p90 {:.2f}  p99 {:.2f}  max {:.2f}\n",
                           Percentile(total.latencies_ms, 50),
                           Percentile(total.latencies_ms, 90),
                           Percentile(total.latencies_ms, 99),
                           total.latencies_ms.empty() ? 0.0 : total.latencies_ms.back());
  if (!options.json_file.empty()) {
    nlohmann::json j = {
        {"protocol", options.protocol},
        {"endpoint", options.endpoint},
        {"workload", options.input.empty() ? options.workload : options.input},
        {"spans_per_request", options.spans_per_request},
        {"connections", options.connections},
        {"target_rate", options.rate},
        {"seconds", seconds},
        {"requests", total.requests},
        {"spans_accepted", total.spans_accepted},
        {"spans_per_second", rate},
        {"refused_requests", refused},
        {"failed_requests", failed},
        {"late_sends", total.late_sends},
        {"unsent_requests", total.unsent},
        {"outcomes", total.outcomes},
        {"latency_ms",
         {{"p50", Percentile(total.latencies_ms, 50)},
          {"p90", Percentile(total.latencies_ms, 90)},
          {"p99", Percentile(total.latencies_ms, 99)}}}};
    std::ofstream(options.json_file) << j.dump(2) << "\n";
  }
  return total.spans_accepted > 0 && failed == 0 ? 0 : 1;
}

}  // namespace

void AddLoadgenCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<LoadgenOptions>();
  CLI::App* cmd = app.add_subcommand(
      "loadgen", "Send OTLP trace requests (gRPC or HTTP) at a set rate or flat out");
  cmd->add_option("--protocol", options->protocol, "grpc or http")
      ->capture_default_str()
      ->check(CLI::IsMember({"grpc", "http"}));
  cmd->add_option("--endpoint", options->endpoint,
                  "host:port for grpc (default 127.0.0.1:4317), URL for http (default "
                  "http://127.0.0.1:4318/v1/traces)");
  auto* workload =
      cmd->add_option("--workload", options->workload,
                      "seed, otel (10 attributes of 20 characters), realistic or random")
          ->capture_default_str()
          ->check(CLI::IsMember({"seed", "otel", "realistic", "random"}));
  auto* input =
      cmd->add_option(
             "--input", options->input,
             "Replay this file of OTLP trace requests instead of a workload: what "
             "the Collector's file exporter writes (OTLP/JSON lines or 4-byte "
             "big-endian length-prefixed protobuf, optionally zstd), in its order, "
             "times moved to now, ids renewed on each pass after the first")
          ->check(CLI::ExistingFile)
          ->excludes(workload);
  cmd->add_option("--passes", options->passes,
                  "With --input: stop after this many passes through the file (0: run "
                  "for --duration)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(input);
  auto* spans_per_request =
      cmd->add_option("--spans-per-request", options->spans_per_request,
                      "Spans per request; with --input, cut the file's spans into "
                      "requests of this size (default: its requests as they are)")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  cmd->add_option(
         "--rate", options->rate,
         "Spans per second over all connections (rate x duration spans in all, late "
         "ones sent at once); 0 sends flat out for the duration")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--duration", options->duration_s, "Seconds to run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--connections", options->connections, "Concurrent connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--gzip", options->gzip,
                "Compress the requests with gzip (HTTP bodies once up front: their ids "
                "then repeat every --distinct-requests requests)");
  cmd->add_option("--distinct-requests", options->distinct_requests,
                  "Different requests to cycle through (each send gets fresh trace and "
                  "span ids, except gzip over HTTP)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--json", options->json_file, "Also write the results as JSON here");
  cmd->callback([options, exit_code, spans_per_request] {
    options->spans_per_request_set = spans_per_request->count() > 0;
    *exit_code = RunLoadgen(*options);
  });
}

}  // namespace otlp_arrow::cli
