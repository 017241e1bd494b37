#include "route/router_cache.hpp"

#include <chrono>
#include <cstdio>

#include "core/log.hpp"
#include "pg/connection.hpp"

namespace wangge::route {

RouterCache::~RouterCache() { stop(); }

void RouterCache::stop() {
  m_stop = true;
  if (m_listener.joinable()) m_listener.join();
}

void RouterCache::set(std::shared_ptr<const Router> next) { std::atomic_store(&m_router, std::move(next)); }

void RouterCache::reload(pg::Connection& conn) {
  std::lock_guard lock(m_reload_mutex);
  const auto started = std::chrono::steady_clock::now();
  std::shared_ptr<const Router> next = Router::load(conn);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char msg[200];
  std::snprintf(msg, sizeof msg, "street graph: %zu edges, %zu nodes, %zu restricted turns, revision %lld, built in %.3f s",
                next->edges(), next->nodes(), next->restricted_turns(), next->revision(), s);
  set(std::move(next));
  log::info(msg);
}

void RouterCache::start_listening(const std::string& url, int timeout_ms) {
  m_listener = std::thread([this, url, timeout_ms] { listen_loop(url, timeout_ms); });
}

void RouterCache::listen_loop(std::string url, int timeout_ms) {
  auto notify = [this](pg::Connection& conn) {
    for (const auto& listener : m_listeners) {
      try {
        listener(conn);
      } catch (const std::exception& e) {
        log::warn(std::string("a street graph listener failed: ") + e.what());
      }
    }
  };
  while (!m_stop) {
    try {
      pg::Connection conn(url, timeout_ms);
      conn.exec("route.listen", "LISTEN wangge_streets");
      // Loaded after LISTEN: a change committed before it is in this load, one after it is heard.
      // (The first load happens here too, so nothing falls between a start-up load and LISTEN.)
      const bool first = !current();
      reload(conn);
      if (!first) notify(conn);
      while (!m_stop) {
        // One commit sends a notification per statement: rebuild once for all that have arrived.
        // (Revisions come from a sequence, which an uncommitted writer also advances, so they
        // cannot tell whether a load already saw a change: every batch rebuilds.)
        if (!conn.notifications(200).empty()) {
          // A writer's statements arrive together at its commit; a short pause gathers a burst.
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          conn.notifications(0);
          reload(conn);
          notify(conn);
        }
      }
    } catch (const std::exception& e) {
      log::warn(std::string("street graph listener: ") + e.what() + "; reconnecting");
    }
    for (int i = 0; i < 10 && !m_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace wangge::route

namespace wangge::route {

bool RouterCache::wait_ready(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!current()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace wangge::route
