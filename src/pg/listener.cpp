#include "pg/listener.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/log.hpp"

namespace wangge::pg {
namespace {

// A channel is an identifier, which cannot be a statement parameter: only plain names are spelled
// into LISTEN, so a name never needs quoting.
bool plain_identifier(const std::string& name) {
  if (name.empty() || name.size() > 63 || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

int as_timeout(std::chrono::milliseconds ms) { return static_cast<int>(std::max<long long>(0, ms.count())); }

}  // namespace

Listener::Listener(std::string database_url, Options options, Handlers handlers)
    : m_url(std::move(database_url)), m_options(std::move(options)), m_handlers(std::move(handlers)) {
  for (const auto& channel : m_options.channels)
    if (!plain_identifier(channel)) throw std::invalid_argument("not a plain channel name: " + channel);
  m_thread = std::thread([this] { run(); });
}

void Listener::stop() {
  {
    std::lock_guard lock(m_stop_mutex);
    m_stop = true;
  }
  m_stop_cv.notify_all();
  if (m_thread.joinable()) m_thread.join();
}

bool Listener::pause_unless_stopped(std::chrono::milliseconds pause) {
  std::unique_lock lock(m_stop_mutex);
  return !m_stop_cv.wait_for(lock, pause, [this] { return m_stop.load(); });
}

void Listener::listen_on(Connection& conn) {
  for (const auto& channel : m_options.channels) conn.exec("listener.listen", "LISTEN " + channel);
}

void Listener::run() {
  using Clock = std::chrono::steady_clock;
  auto retry = m_options.retry_first;
  while (!m_stop) {
    try {
      Connection conn(m_url, m_options.statement_timeout_ms);
      listen_on(conn);
      if (m_handlers.catch_up) m_handlers.catch_up(conn);
      retry = m_options.retry_first;  // connected and caught up: the next failure starts afresh
      const bool ticking = m_handlers.tick && m_options.tick_every.count() > 0;
      auto next_tick = Clock::now() + m_options.tick_every;
      while (!m_stop) {
        auto wait = m_options.poll;
        if (ticking) wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now()));
        auto received = conn.notifications(as_timeout(wait));
        if (!received.empty()) {
          if (m_options.gather.count() > 0) {
            std::this_thread::sleep_for(m_options.gather);
            for (auto& more : conn.notifications(0)) received.push_back(std::move(more));
          }
          if (m_handlers.notified) m_handlers.notified(conn, received);
        }
        if (ticking && Clock::now() >= next_tick) {
          m_handlers.tick(conn);
          next_tick = Clock::now() + m_options.tick_every;
        }
      }
      return;
    } catch (const std::exception& e) {
      log::warn(m_options.name + ": " + e.what() + "; reconnecting in " + std::to_string(retry.count()) + " ms");
    }
    if (!pause_unless_stopped(retry)) return;
    retry = std::min(retry * 2, m_options.retry_max);
  }
}

}  // namespace wangge::pg
