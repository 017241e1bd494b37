// The current Router, swapped whole when the roads change: an import (or any write to `streets` or
// `street_restrictions`) ends with NOTIFY wangge_streets; a listener thread rebuilds the graphs on its
// own connection and swaps the shared_ptr. Readers take the pointer once per request and keep it, so
// they never block and never see half a network.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/snapshot.hpp"
#include "pg/listener.hpp"
#include "route/router.hpp"

namespace wangge::route {

class RouterCache {
 public:
  RouterCache() = default;
  RouterCache(const RouterCache&) = delete;
  RouterCache& operator=(const RouterCache&) = delete;
  ~RouterCache();

  // The snapshot to use for one request; null before the first load. Keep it for the whole request.
  std::shared_ptr<const Router> current() const { return m_router.load(); }
  void set(std::shared_ptr<const Router> next);
  // Builds a new snapshot from the database and swaps it in; logs its size and time.
  void reload(pg::Connection& conn);

  // Starts the thread that LISTENs for road changes on its own connection and makes the first
  // load after LISTEN; after a lost connection it reconnects and reloads, since notifications may
  // have been lost.
  void start_listening(const std::string& database_url, int statement_timeout_ms);
  // Waits until the listener's first load is in (true) or `timeout` passed (false).
  bool wait_ready(std::chrono::milliseconds timeout);
  // Stops the listener thread (waits for it); call before the subscribers go away.
  void stop();

  // Runs after every swap made by the listener, on its thread (e.g. the tile layer `roads`).
  // Register before start_listening().
  using Listener = std::function<void(pg::Connection& conn)>;
  void subscribe(Listener listener) { m_listeners.push_back(std::move(listener)); }

 private:
  void notify(pg::Connection& conn);

  Snapshot<Router> m_router;
  std::mutex m_reload_mutex;  // one rebuild at a time
  std::vector<Listener> m_listeners;
  std::unique_ptr<pg::Listener> m_listener;  // last: stopped first, before what its handlers use
};

}  // namespace wangge::route
