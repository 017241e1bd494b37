// A bounded pool of connections. Connections are made lazily, so the server starts (and answers
// /health with 503) while the database is down, and recovers without a restart when it returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "pg/connection.hpp"

namespace wangge::pg {

class Pool;

// A borrowed connection; returned to the pool on destruction (dropped if it went bad).
class Lease {
 public:
  Lease(Pool& pool, std::unique_ptr<Connection> conn) : m_pool(&pool), m_conn(std::move(conn)) {}
  Lease(Lease&& o) noexcept : m_pool(o.m_pool), m_conn(std::move(o.m_conn)) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  Connection& operator*() { return *m_conn; }
  Connection* operator->() { return m_conn.get(); }

 private:
  Pool* m_pool;
  std::unique_ptr<Connection> m_conn;
};

class Pool {
 public:
  Pool(std::string url, int max_size, int statement_timeout_ms);
  // Waits up to `wait` for a free slot; throws unavailable when none frees up or connecting fails.
  Lease acquire(std::chrono::milliseconds wait = std::chrono::milliseconds(5000));
  const std::string& url() const { return m_url; }

  // For /metrics: connections open, of them idle, the limit; acquisitions that found no free
  // connection at once (they waited) and those that gave up (503 database_busy).
  struct Stats {
    int open = 0, idle = 0, max = 0;
    std::uint64_t waited = 0, timed_out = 0;
  };
  Stats stats();

 private:
  friend class Lease;
  void give_back(std::unique_ptr<Connection> conn);

  std::string m_url;
  int m_max;
  int m_timeout_ms;
  int m_open = 0;  // connections that exist, idle or leased
  std::deque<std::unique_ptr<Connection>> m_idle;
  std::uint64_t m_waited = 0, m_timed_out = 0;  // under m_mutex
  std::mutex m_mutex;
  std::condition_variable m_cv;
};

}  // namespace wangge::pg
