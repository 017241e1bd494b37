#include "route/router_cache.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

#include "core/log.hpp"
#include "pg/bulk.hpp"
#include "pg/connection.hpp"

namespace wangge::route {

RouterCache::~RouterCache() { stop(); }

void RouterCache::stop() {
  if (m_listener) m_listener->stop();
}

void RouterCache::set(std::shared_ptr<const Router> next) { m_router.store(std::move(next)); }

void RouterCache::reload(pg::Connection& conn) {
  std::lock_guard lock(m_reload_mutex);
  const auto started = std::chrono::steady_clock::now();
  std::shared_ptr<const Router> next = Router::load(conn);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char msg[200];
  std::snprintf(msg, sizeof msg, "street graph: %zu edges, %zu nodes, %zu restricted turns, revision %lld, built in %.3f s", next->edges(),
                next->nodes(), next->restricted_turns(), next->revision(), s);
  set(std::move(next));
  log::info(msg);
}

void RouterCache::notify(pg::Connection& conn) {
  for (const auto& listener : m_listeners) {
    try {
      listener(conn);
    } catch (const std::exception& e) {
      log::warn(std::string("a street graph listener failed: ") + e.what());
    }
  }
}

void RouterCache::start_listening(const std::string& url, int timeout_ms) {
  pg::Listener::Options options;
  options.name = "street graph listener";
  options.channels = {"wangge_streets"};
  options.statement_timeout_ms = timeout_ms;
  // A writer's statements arrive together at its commit; a short pause gathers a burst, and one
  // rebuild serves them all. (Revisions come from a sequence, which an uncommitted writer also
  // advances, so they cannot tell whether a load already saw a change: every batch rebuilds.)
  options.gather = std::chrono::milliseconds(50);
  pg::Listener::Handlers handlers;
  // The first load happens here too, so nothing falls between a start-up load and LISTEN; the
  // subscribers build from their own first loads and hear only of later rebuilds.
  // The street graph (and the roads tile layer its subscribers rebuild): bulk reads, on a
  // caught-up standby when configured (pg/bulk.hpp).
  handlers.catch_up = [this, timeout_ms](pg::Connection& conn) {
    pg::bulk::load(conn, timeout_ms, [this](pg::Connection& c) {
      const bool first = !current();
      reload(c);
      if (!first) notify(c);
    });
  };
  handlers.notified = [this](pg::Connection& conn, std::vector<pg::Notification>&) {
    reload(conn);
    notify(conn);
  };
  m_listener = std::make_unique<pg::Listener>(url, std::move(options), std::move(handlers));
}

bool RouterCache::wait_ready(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!current()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace wangge::route
