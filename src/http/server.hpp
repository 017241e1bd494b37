// The HTTP server: Pistache event loops accept and parse requests, then hand them to a bounded pool
// of request workers, because handlers talk to the database and must never block an event loop.
#pragma once

#include <memory>

#include "http/context.hpp"

namespace wangge::http {

class Server {
 public:
  explicit Server(App& app);
  ~Server();
  // Serves until SIGINT/SIGTERM.
  void run();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// Routes one request through every route group and the catch ladder: whatever happens, the answer
// is a Response (problem+json for errors), never an exception. Exposed for tests.
Response dispatch(App& app, const Request& req);

}  // namespace wangge::http
