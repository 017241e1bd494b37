#include "pg/pool.hpp"

#include "core/error.hpp"

namespace wangge::pg {

Lease::~Lease() {
  if (m_conn) m_pool->give_back(std::move(m_conn));
}

Pool::Pool(std::string url, int max_size, int statement_timeout_ms)
    : m_url(std::move(url)), m_max(max_size), m_timeout_ms(statement_timeout_ms) {}

Lease Pool::acquire(std::chrono::milliseconds wait) {
  std::unique_lock lock(m_mutex);
  if (m_idle.empty() && m_open >= m_max) ++m_waited;
  if (!m_cv.wait_for(lock, wait, [&] { return !m_idle.empty() || m_open < m_max; })) {
    ++m_timed_out;
    throw unavailable("database_busy", "all database connections are busy; retry shortly");
  }
  while (!m_idle.empty()) {
    auto conn = std::move(m_idle.front());
    m_idle.pop_front();
    // An idle connection whose server went away shows it only when read: PQconsumeInput sees the
    // EOF and marks it bad, so a restarted database costs no failed request.
    if (PQconsumeInput(conn->raw()) == 1 && conn->ok()) return Lease(*this, std::move(conn));
    --m_open;
  }
  if (m_open >= m_max) {
    throw unavailable("database_busy", "all database connections are busy; retry shortly");
  }
  ++m_open;
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<Connection>(m_url, m_timeout_ms));
  } catch (...) {
    lock.lock();
    --m_open;
    m_cv.notify_one();
    throw;
  }
}

Pool::Stats Pool::stats() {
  std::lock_guard lock(m_mutex);
  return Stats{m_open, static_cast<int>(m_idle.size()), m_max, m_waited, m_timed_out};
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(m_mutex);
  // A connection that broke, or was left inside a transaction by an error path, is not reused.
  if (conn->ok() && PQtransactionStatus(conn->raw()) == PQTRANS_IDLE) {
    m_idle.push_back(std::move(conn));
  } else {
    --m_open;
  }
  m_cv.notify_one();
}

}  // namespace wangge::pg
