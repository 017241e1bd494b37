// Slows down guessing: after `free_failures` wrong credentials (unknown tokens, wrong Basic
// passwords, unknown session cookies, wrong sign-in passwords) from one client address, each
// further attempt from it within the back-off is refused before anything is checked, and the
// back-off doubles with every failure (1 s, 2 s, 4 s, ... up to 15 minutes). Ten minutes without
// a failure forgive the client; a right credential does not (one valid token must not reset the
// count of someone guessing others). The account lock (accounts.hpp) guards
// each account; this guards against one client trying many tokens or accounts.
#pragma once

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace wangge::registry {

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AuthThrottle(int free_failures) : m_free_failures(free_failures < 1 ? 1 : free_failures) {}

  // Seconds the client must still wait, 0 when it may try.
  long long wait_seconds(const std::string& client, Clock::time_point now = Clock::now()) {
    std::lock_guard lock(m_mutex);
    auto it = m_clients.find(client);
    if (it == m_clients.end() || !(it->second.blocked_until > now)) return 0;
    return std::chrono::ceil<std::chrono::seconds>(it->second.blocked_until - now).count();
  }

  // Counts a wrong credential; returns true when this failure started a back-off (the moment to
  // audit: not every guess, so that guessing cannot flood the audit log).
  bool failed(const std::string& client, Clock::time_point now = Clock::now()) {
    std::lock_guard lock(m_mutex);
    if (m_clients.size() >= kMaxClients) forget_quiet(now);
    Entry& e = m_clients[client];
    if (e.last_failure + kForgiveAfter < now) e.failures = 0;
    e.last_failure = now;
    ++e.failures;
    if (e.failures <= m_free_failures) return false;
    const int doublings = std::min(e.failures - m_free_failures - 1, 10);
    e.blocked_until = now + std::min<Clock::duration>(std::chrono::seconds(1LL << doublings), kMaxBackOff);
    return e.failures == m_free_failures + 1;
  }

  int failures(const std::string& client) {
    std::lock_guard lock(m_mutex);
    auto it = m_clients.find(client);
    return it == m_clients.end() ? 0 : it->second.failures;
  }

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point last_failure{};
    Clock::time_point blocked_until{};
  };
  static constexpr std::size_t kMaxClients = 100000;  // bounded: addresses are the client's to choose
  static constexpr std::chrono::minutes kForgiveAfter{10};
  static constexpr std::chrono::minutes kMaxBackOff{15};

  // Drops the clients that are forgiven anyway; if all are recent (a flood from many addresses),
  // drops all rather than grow without bound.
  void forget_quiet(Clock::time_point now) {
    std::erase_if(m_clients, [&](const auto& kv) { return kv.second.last_failure + kForgiveAfter < now; });
    if (m_clients.size() >= kMaxClients) m_clients.clear();
  }

  const int m_free_failures;
  std::mutex m_mutex;
  std::unordered_map<std::string, Entry> m_clients;
};

}  // namespace wangge::registry
