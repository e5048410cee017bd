// SPDX-License-Identifier: Apache-2.0

#include "otlp_arrow/telemetry/operations_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "otlp_arrow/common/host_port.h"

namespace otlp_arrow::telemetry {

namespace {

// An idle keep-alive connection holds one of the listener's few threads, and Stop()
// waits for it, so connections are not kept long; probes come seconds apart anyway.
constexpr time_t kKeepAliveTimeoutSeconds = 1;
constexpr time_t kReadTimeoutSeconds = 5;
constexpr auto kStartTimeout = std::chrono::seconds(10);

using common::HostPort;

// The error names the listener, so that a bad address points at the key to fix.
arrow::Result<HostPort> ParseAddress(std::string_view what, std::string_view address) {
  auto parsed = HostPort::Parse(address);
  if (!parsed.ok()) {
    return parsed.status().WithMessage(what, " address ", parsed.status().message());
  }
  return parsed;
}

// httplib's bind_to_port() only says that binding failed. Binding a socket the same way
// (SO_REUSEADDR, as StartListener() sets it) recovers the errno for the message; if this
// one succeeds the cause was transient and the message says so.
std::string BindFailureCause(const HostPort& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(address.port);
  if (const int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &result);
      rc != 0) {
    return gai_strerror(rc);
  }
  std::string cause = "unknown cause (binding a probe socket succeeded)";
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      cause = strerror(errno);
      continue;
    }
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    const bool bound = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    const int err = errno;
    close(fd);
    if (!bound) {
      cause = strerror(err);
      break;
    }
  }
  freeaddrinfo(result);
  return cause;
}

}  // namespace

std::vector<std::string> ReadinessReport::Failing() const {
  std::vector<std::string> failing;
  if (draining) failing.emplace_back("draining");
  for (const auto& [name, result] : checks) {
    if (!result.ready) failing.push_back(name);
  }
  return failing;
}

std::string ReadinessReport::ToJson() const {
  nlohmann::json body;
  body["ready"] = ready;
  body["draining"] = draining;
  body["failing"] = Failing();
  body["checks"] = nlohmann::json::array();
  for (const auto& [name, result] : checks) {
    body["checks"].push_back(
        {{"name", name}, {"ready", result.ready}, {"reason", result.reason}});
  }
  // Reasons come from other modules and may quote bytes that are not UTF-8; replacing
  // them beats dump() throwing.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct OperationsServer::Impl {
  struct Listener {
    HostPort address;
    std::string paths;  // for messages: "/health, /ready"
    bool health = false;
    bool metrics = false;
    std::unique_ptr<httplib::Server> server;
    std::thread thread;
    std::atomic<bool> finished{false};
    int port = 0;
  };

  OperationsServerOptions options;
  std::shared_ptr<const MetricRegistry> registry;
  HostPort health_address;
  HostPort metrics_address;
  bool single = false;

  mutable std::shared_mutex checks_mutex;
  std::vector<std::pair<std::string, ReadinessCheck>> checks;
  std::atomic<bool> draining{false};

  std::mutex run_mutex;  // Start() and Stop()
  std::vector<std::unique_ptr<Listener>> listeners;
  std::atomic<int> health_port{0};
  std::atomic<int> metrics_port{0};

  ReadinessReport CheckReadiness() const {
    ReadinessReport report;
    report.draining = draining.load(std::memory_order_acquire);
    {
      // Shared: concurrent probes evaluate at once; RemoveReadinessCheck() waits.
      std::shared_lock lock(checks_mutex);
      for (const auto& [name, check] : checks) report.checks.emplace_back(name, check());
    }
    report.ready =
        !report.draining && std::all_of(report.checks.begin(), report.checks.end(),
                                        [](const auto& c) { return c.second.ready; });
    return report;
  }

  void AddRoutes(Listener* listener) {
    httplib::Server& server = *listener->server;
    if (listener->health) {
      server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("ok\n", "text/plain; charset=utf-8");
      });
      server.Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
        const ReadinessReport report = CheckReadiness();
        res.status = report.ready ? 200 : 503;
        res.set_content(report.ToJson(), "application/json");
      });
    }
    if (listener->metrics) {
      server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(registry->Render(), std::string(MetricRegistry::kContentType));
      });
    }
  }

  arrow::Status StartListener(Listener* listener) {
    listener->server = std::make_unique<httplib::Server>();
    httplib::Server& server = *listener->server;
    const int threads = options.threads_per_listener;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server.set_keep_alive_timeout(kKeepAliveTimeoutSeconds);
    server.set_read_timeout(kReadTimeoutSeconds, 0);
    // httplib's default sets SO_REUSEPORT, with which a second process binds the same
    // port without an error and the kernel splits the probes between the two. Only
    // SO_REUSEADDR (rebinding a port whose old connections are in TIME_WAIT), so that a
    // taken port fails Start().
    server.set_socket_options([](socket_t sock) {
      const int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    AddRoutes(listener);

    const HostPort& address = listener->address;
    bool bound;
    if (address.port == 0) {
      listener->port = server.bind_to_any_port(address.host);
      bound = listener->port > 0;
    } else {
      bound = server.bind_to_port(address.host, address.port);
      listener->port = address.port;
    }
    if (!bound) {
      return arrow::Status::IOError("operations server: cannot listen on ", address.host,
                                    ":", address.port, " for ", listener->paths, ": ",
                                    BindFailureCause(address));
    }
    listener->thread = std::thread([listener] {
      listener->server->listen_after_bind();
      listener->finished.store(true, std::memory_order_release);
    });
    // httplib's stop() only acts on a server whose accept loop runs; wait for it, so that
    // a Stop() right after Start() cannot leave the loop running forever.
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (!server.is_running()) {
      if (listener->finished.load(std::memory_order_acquire) ||
          std::chrono::steady_clock::now() > deadline) {
        return arrow::Status::IOError("operations server: the listener on ", address.host,
                                      ":", listener->port, " did not start");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return arrow::Status::OK();
  }

  void StopListeners() {
    for (auto& listener : listeners) {
      if (listener->server) listener->server->stop();
      if (listener->thread.joinable()) listener->thread.join();
    }
    listeners.clear();
    health_port.store(0);
    metrics_port.store(0);
  }
};

OperationsServer::OperationsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OperationsServer::~OperationsServer() { Stop(); }

arrow::Status OperationsServerOptions::Validate() const {
  if (threads_per_listener < 1) {
    return arrow::Status::Invalid("operations server: threads_per_listener must be >= 1");
  }
  ARROW_RETURN_NOT_OK(ParseAddress("health", health_address).status());
  if (!metrics_address.empty()) {
    ARROW_RETURN_NOT_OK(ParseAddress("metrics", metrics_address).status());
  }
  return arrow::Status::OK();
}

arrow::Result<std::unique_ptr<OperationsServer>> OperationsServer::Make(
    OperationsServerOptions options, std::shared_ptr<const MetricRegistry> registry) {
  if (registry == nullptr) {
    return arrow::Status::Invalid("operations server: no metric registry");
  }
  ARROW_RETURN_NOT_OK(options.Validate());
  auto impl = std::make_unique<Impl>();
  ARROW_ASSIGN_OR_RAISE(impl->health_address,
                        ParseAddress("health", options.health_address));
  if (options.metrics_address.empty()) {
    impl->single = true;
  } else {
    ARROW_ASSIGN_OR_RAISE(impl->metrics_address,
                          ParseAddress("metrics", options.metrics_address));
    impl->single = impl->metrics_address.host == impl->health_address.host &&
                   impl->metrics_address.port == impl->health_address.port &&
                   impl->health_address.port != 0;
  }
  impl->options = std::move(options);
  impl->registry = std::move(registry);
  return std::unique_ptr<OperationsServer>(new OperationsServer(std::move(impl)));
}

arrow::Status OperationsServer::AddReadinessCheck(std::string name,
                                                  ReadinessCheck check) {
  if (name.empty()) return arrow::Status::Invalid("readiness check without a name");
  if (!check) return arrow::Status::Invalid("readiness check '", name, "' is empty");
  std::unique_lock lock(impl_->checks_mutex);
  for (const auto& [existing, unused] : impl_->checks) {
    if (existing == name) {
      return arrow::Status::AlreadyExists("readiness check '", name, "' exists");
    }
  }
  impl_->checks.emplace_back(std::move(name), std::move(check));
  return arrow::Status::OK();
}

arrow::Status OperationsServer::RemoveReadinessCheck(std::string_view name) {
  std::unique_lock lock(impl_->checks_mutex);
  auto& checks = impl_->checks;
  auto it = std::find_if(checks.begin(), checks.end(),
                         [&](const auto& c) { return c.first == name; });
  if (it == checks.end()) {
    return arrow::Status::KeyError("no readiness check '", name, "'");
  }
  checks.erase(it);
  return arrow::Status::OK();
}

void OperationsServer::SetDraining(bool draining) {
  impl_->draining.store(draining, std::memory_order_release);
}

bool OperationsServer::draining() const {
  return impl_->draining.load(std::memory_order_acquire);
}

ReadinessReport OperationsServer::CheckReadiness() const {
  return impl_->CheckReadiness();
}

arrow::Status OperationsServer::Start() {
  std::lock_guard lock(impl_->run_mutex);
  if (!impl_->listeners.empty()) {
    return arrow::Status::Invalid("operations server: running already");
  }
  auto health = std::make_unique<Impl::Listener>();
  health->address = impl_->health_address;
  health->health = true;
  health->metrics = impl_->single;
  health->paths = impl_->single ? "/health, /ready, /metrics" : "/health, /ready";
  impl_->listeners.push_back(std::move(health));
  if (!impl_->single) {
    auto metrics = std::make_unique<Impl::Listener>();
    metrics->address = impl_->metrics_address;
    metrics->metrics = true;
    metrics->paths = "/metrics";
    impl_->listeners.push_back(std::move(metrics));
  }
  for (auto& listener : impl_->listeners) {
    if (auto status = impl_->StartListener(listener.get()); !status.ok()) {
      impl_->StopListeners();
      return status;
    }
  }
  impl_->health_port.store(impl_->listeners.front()->port);
  impl_->metrics_port.store(impl_->listeners.back()->port);
  return arrow::Status::OK();
}

void OperationsServer::Stop() {
  std::lock_guard lock(impl_->run_mutex);
  impl_->StopListeners();
}

int OperationsServer::health_port() const { return impl_->health_port.load(); }

int OperationsServer::metrics_port() const { return impl_->metrics_port.load(); }

bool OperationsServer::single_listener() const { return impl_->single; }

}  // namespace otlp_arrow::telemetry
