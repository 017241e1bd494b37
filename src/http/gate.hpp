// A cap on requests that may cost seconds of CPU or of a database worker at once (exports,
// imports, toolkit runs, coverage, tours, matrices, history, historical locate): without it a
// handful of such requests from one client occupies every worker and the cheap requests of
// everyone else wait behind them.
#pragma once

#include <atomic>
#include <string>

#include "core/error.hpp"

namespace wangge::http {

class CostGate {
 public:
  // One admitted request; gives its place back when it ends, however it ends.
  class Pass {
   public:
    explicit Pass(std::atomic<int>* in_use) noexcept : m_in_use(in_use) {}
    Pass(Pass&& other) noexcept : m_in_use(other.m_in_use) { other.m_in_use = nullptr; }
    Pass& operator=(Pass&&) = delete;
    Pass(const Pass&) = delete;
    ~Pass() {
      if (m_in_use) m_in_use->fetch_sub(1, std::memory_order_release);
    }

   private:
    std::atomic<int>* m_in_use;
  };

  explicit CostGate(int capacity) : m_capacity(capacity < 1 ? 1 : capacity) {}
  CostGate(const CostGate&) = delete;
  CostGate& operator=(const CostGate&) = delete;

  // Admits the request or throws 503 `busy` (with Retry-After) when `capacity` are running: the
  // client is told to come back rather than queued, since a queued request would hold its worker.
  Pass enter(const std::string& what) {
    int now = m_in_use.load(std::memory_order_relaxed);
    do {
      if (now >= m_capacity)
        throw unavailable("busy", std::to_string(m_capacity) +
                                      " expensive requests (exports, imports, toolkit, "
                                      "coverage, tours, matrices, history) are running; retry " +
                                      what + " shortly");
    } while (!m_in_use.compare_exchange_weak(now, now + 1, std::memory_order_acquire, std::memory_order_relaxed));
    return Pass(&m_in_use);
  }

  int capacity() const { return m_capacity; }
  int in_use() const { return m_in_use.load(std::memory_order_relaxed); }

 private:
  const int m_capacity;
  std::atomic<int> m_in_use{0};
};

}  // namespace wangge::http
