// The HTTP server: Pistache event loops accept and parse requests, then hand them to a bounded pool
// of request workers, because handlers talk to the database and must never block an event loop.
// It knows the route table, not the modules whose routes fill it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "http/proxies.hpp"
#include "http/router.hpp"

namespace wangge::http {
class RequestMetrics;
}

namespace wangge::http {

struct ServerOptions {
  std::string listen_address = "127.0.0.1";
  int port = 8080;
  std::string base_url;  // for the start-up log line
  int http_threads = 2;  // Pistache event loops
  int workers = 4;       // request worker threads
  std::size_t max_body_bytes = 32u << 20;
  std::size_t max_head_bytes = 64u << 10;  // request line and headers together
  std::size_t max_headers = 100;
  int max_json_depth = 64;
  int request_timeout_s = 900;
  // After SIGTERM or SIGINT: stop accepting connections, finish the requests under way (and any
  // that arrive on connections already open, each closing its connection), then return; at most
  // this long, after which whatever is left is cut off.
  int drain_timeout_s = 30;
  RequestMetrics* metrics = nullptr;  // counts every answer when set
  // WANGGE_TRUSTED_PROXIES: peers whose X-Forwarded-For names the client (Request::client).
  std::vector<Cidr> trusted_proxies;
};

// True from the stop signal on: readiness checks answer 503 so that balancers send nothing new.
bool draining();

class Server {
 public:
  Server(const RouteTable& routes, ServerOptions options);
  ~Server();
  // Serves until SIGINT/SIGTERM, then drains (ServerOptions::drain_timeout_s) and returns.
  void run();

 private:
  static void drain(const ServerOptions& options);
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// Routes one request through the route table and the catch ladder: whatever happens, the answer
// is a Response (problem+json for errors), never an exception. Exposed for tests. `route`, when
// given, receives the index of the route that answered (-1: none).
Response dispatch(const RouteTable& routes, const Request& req, int* route = nullptr);

}  // namespace wangge::http
