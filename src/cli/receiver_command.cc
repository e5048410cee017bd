// SPDX-License-Identifier: Apache-2.0

#include "receiver_command.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "otlp_arrow/storage/parquet_span_store.h"
#include "otlp_arrow/transport/flight_protocol.h"
#include "otlp_arrow/transport/flight_span_receiver.h"

namespace otlp_arrow::cli {

namespace {

struct ReceiverCommandOptions {
  std::string flight = "127.0.0.1:" + std::to_string(transport::kDefaultFlightPort);
  std::string data_dir = "./data";
  std::string token_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string client_ca_file;
  std::string durability = "fsync";
  int64_t max_batch_mib = 64;
  int max_streams = 16;
  double shutdown_grace_s = 30;
};

arrow::Result<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return arrow::Status::IOError("cannot open ", what, " file '", path, "'");
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return arrow::Status::IOError("cannot read ", what, " file '", path, "'");
  return content.str();
}

// A token file usually ends with a newline that is not part of the token.
arrow::Result<std::string> ReadToken(const std::string& path) {
  ARROW_ASSIGN_OR_RAISE(std::string token, ReadFile(path, "token"));
  const auto end = token.find_last_not_of(" \t\r\n");
  token.erase(end == std::string::npos ? 0 : end + 1);
  const auto begin = token.find_first_not_of(" \t\r\n");
  token.erase(0, begin == std::string::npos ? token.size() : begin);
  if (token.empty()) return arrow::Status::Invalid("token file '", path, "' is empty");
  if (token.find_first_of(" \t\r\n") != std::string::npos) {
    return arrow::Status::Invalid("token file '", path, "' holds more than one word");
  }
  return token;
}

// `host:port` gets the scheme the TLS flags imply; a full URI is taken as it is.
std::string ListenUri(const ReceiverCommandOptions& options) {
  if (options.flight.find("://") != std::string::npos) return options.flight;
  return (options.tls_cert_file.empty() ? "grpc://" : "grpc+tls://") + options.flight;
}

arrow::Result<transport::FlightSpanReceiverOptions> MakeReceiverOptions(
    const ReceiverCommandOptions& options) {
  auto receiver = transport::FlightSpanReceiverOptions::Defaults();
  receiver.listen_uri = ListenUri(options);
  if (!options.token_file.empty()) {
    ARROW_ASSIGN_OR_RAISE(receiver.bearer_token, ReadToken(options.token_file));
  }
  if (!options.tls_cert_file.empty()) {
    ARROW_ASSIGN_OR_RAISE(receiver.tls_cert_pem,
                          ReadFile(options.tls_cert_file, "TLS certificate"));
    ARROW_ASSIGN_OR_RAISE(receiver.tls_key_pem,
                          ReadFile(options.tls_key_file, "TLS key"));
  }
  if (!options.client_ca_file.empty()) {
    ARROW_ASSIGN_OR_RAISE(receiver.client_ca_pem,
                          ReadFile(options.client_ca_file, "client CA"));
  }
  receiver.max_batch_bytes = options.max_batch_mib << 20;
  receiver.max_concurrent_streams = options.max_streams;
  return receiver;
}

std::string Security(const transport::FlightSpanReceiverOptions& options) {
  std::string tls = options.tls_cert_pem.empty() ? "plaintext"
                    : options.client_ca_pem.empty()
                        ? "TLS"
                        : "mTLS (client certificates required)";
  return tls + (options.bearer_token ? ", bearer token required" : ", no authentication");
}

// SIGINT and SIGTERM are blocked in every thread (the mask is inherited, so this runs
// before the store and gRPC start theirs) and taken by one thread with sigwait(): the
// shutdown then runs as ordinary code instead of inside a signal handler.
class ShutdownSignals {
 public:
  ShutdownSignals() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  }

  // Runs `on_signal(signal)` on a new thread once SIGINT or SIGTERM arrives.
  template <typename Callback>
  void OnSignal(Callback on_signal) {
    waiter_ = std::thread([this, on_signal] {
      int signal = 0;
      sigwait(&signals_, &signal);
      if (!stopping_.exchange(true)) on_signal(signal);
    });
  }

  // Ends the waiting thread if no signal came (the server stopped on its own).
  void Join() {
    if (!waiter_.joinable()) return;
    if (!stopping_.exchange(true)) pthread_kill(waiter_.native_handle(), SIGTERM);
    waiter_.join();
  }

  ~ShutdownSignals() { Join(); }

 private:
  sigset_t signals_;
  std::atomic<bool> stopping_{false};
  std::thread waiter_;
};

arrow::Status RunReceiver(const ReceiverCommandOptions& options) {
  ARROW_ASSIGN_OR_RAISE(auto receiver_options, MakeReceiverOptions(options));
  auto store_options = storage::ParquetSpanStoreOptions::Defaults();
  store_options.data_dir = options.data_dir;
  store_options.durability = options.durability == "fsync"
                                 ? storage::WalDurability::kFsync
                                 : storage::WalDurability::kFlushToOs;

  ShutdownSignals signals;
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<storage::ParquetSpanStore> store,
                        storage::ParquetSpanStore::Open(store_options));
  const auto& recovery = store->recovery_report();
  if (recovery.segments_replayed > 0 || recovery.temporary_files_removed > 0) {
    spdlog::info(
        "recovered {}: {} WAL segments replayed ({} rows written, {} already published), "
        "{} temporary files removed, {} torn bytes dropped",
        options.data_dir, recovery.segments_replayed, recovery.rows_written,
        recovery.rows_already_published, recovery.temporary_files_removed,
        recovery.torn_bytes_dropped);
  }

  transport::FlightSpanReceiver receiver(receiver_options, store, store);
  if (auto started = receiver.Start(); !started.ok()) {
    ARROW_RETURN_NOT_OK(store->Close());
    return started;
  }
  fmt::print("otlp-arrow receiver listening on {} ({})\n", receiver.uri(),
             Security(receiver_options));
  fmt::print("storing spans under {}/spans (write-ahead log {}/wal, {})\n",
             options.data_dir, options.data_dir,
             options.durability == "fsync" ? "fsync before acknowledging"
                                           : "flushed to the OS before acknowledging");
  std::fflush(stdout);  // scripts wait for these lines on a pipe

  const auto grace = std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::duration<double>(options.shutdown_grace_s));
  signals.OnSignal([&receiver, grace](int signal) {
    spdlog::info("{}: no new calls; waiting up to {:.1f} s for running streams",
                 strsignal(signal), std::chrono::duration<double>(grace).count());
    if (auto stopped = receiver.Shutdown(std::chrono::system_clock::now() + grace);
        !stopped.ok()) {
      spdlog::warn("shutdown: {}", stopped.ToString());
    }
  });
  const arrow::Status served = receiver.Wait();
  signals.Join();

  const auto stats = receiver.Stats();
  const arrow::Status closed = store->Close();
  fmt::print(
      "stopped: {} spans stored in {} batches ({} Arrow bytes) from {} streams; {} "
      "refused "
      "as invalid, {} as too large, {} unauthenticated calls\n",
      stats.spans_stored, stats.batches_stored, stats.bytes_stored,
      stats.streams_completed, stats.validation_failures, stats.oversize_batches,
      stats.unauthenticated_calls);
  std::fflush(stdout);
  ARROW_RETURN_NOT_OK(served);
  return closed;
}

}  // namespace

void AddReceiverCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<ReceiverCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "receiver",
      "Receive span batches over Arrow Flight (DoPut to [\"otlp\", \"spans\"]), store "
      "them as Parquet and serve them back (DoGet); stops cleanly on SIGTERM/SIGINT");
  cmd->add_option("--flight", options->flight,
                  "Address to listen on: host:port, grpc://host:port or "
                  "grpc+tls://host:port (port 0 picks a free port)")
      ->capture_default_str();
  cmd->add_option("--data-dir", options->data_dir,
                  "Where spans are stored (<dir>/spans/dt=…/hour=…/, WAL in <dir>/wal)")
      ->capture_default_str();
  cmd->add_option("--token-file", options->token_file,
                  "File holding the bearer token every call must carry")
      ->check(CLI::ExistingFile);
  auto* cert = cmd->add_option("--tls-cert", options->tls_cert_file,
                               "PEM certificate chain of the server (enables TLS)")
                   ->check(CLI::ExistingFile);
  auto* key =
      cmd->add_option("--tls-key", options->tls_key_file, "PEM private key of --tls-cert")
          ->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  cmd->add_option("--client-ca", options->client_ca_file,
                  "PEM CA of the clients; requires client certificates (mTLS)")
      ->check(CLI::ExistingFile)
      ->needs(cert);
  cmd->add_option("--durability", options->durability,
                  "What a batch acknowledgement waits for: fsync (survives power loss) "
                  "or os (in the OS page cache: survives a crash of the process)")
      ->check(CLI::IsMember({"fsync", "os"}))
      ->capture_default_str();
  cmd->add_option("--max-batch-mib", options->max_batch_mib,
                  "Largest batch accepted (larger: RESOURCE_EXHAUSTED)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_option("--max-streams", options->max_streams,
                  "Upload streams served at once (more: UNAVAILABLE, retried by clients)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--shutdown-grace", options->shutdown_grace_s,
                  "Seconds running streams get to finish after SIGTERM/SIGINT")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->callback([options, exit_code] {
    const arrow::Status status = RunReceiver(*options);
    if (!status.ok()) spdlog::error("receiver: {}", status.ToString());
    *exit_code = status.ok() ? 0 : 1;
  });
}

}  // namespace otlp_arrow::cli
