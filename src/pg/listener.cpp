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

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Listener::Listener(std::string database_url, Options options, Handlers handlers)
    : m_url(std::move(database_url)), m_options(std::move(options)), m_handlers(std::move(handlers)) {
  for (const auto& channel : m_options.channels)
    if (!plain_identifier(channel)) throw std::invalid_argument("not a plain channel name: " + channel);
  m_away_since = steady_ns();
  const std::string labels = metrics::label("listener", m_options.name);
  m_registrations.push_back(metrics::add("wangge_listener_connected", metrics::Type::kGauge,
                                         "1 while the listener's connection is up and caught up, else 0",
                                         [this, labels](metrics::Family& f) { f.value(labels, m_connected ? 1 : 0); }));
  m_registrations.push_back(metrics::add(
      "wangge_listener_away_seconds", metrics::Type::kGauge,
      "How long the listener has been without a connection (0 when connected): changes made meanwhile wait for its catch-up",
      [this, labels](metrics::Family& f) { f.value(labels, m_connected ? 0.0 : static_cast<double>(steady_ns() - m_away_since) / 1e9); }));
  m_registrations.push_back(metrics::add(
      "wangge_listener_reconnects_total", metrics::Type::kCounter, "Connections the listener lost (or failed to make) and made again",
      [this, labels](metrics::Family& f) { f.value(labels, static_cast<double>(m_reconnects.value())); }));
  m_registrations.push_back(
      metrics::add("wangge_listener_notifications_total", metrics::Type::kCounter, "Notifications the listener heard",
                   [this, labels](metrics::Family& f) { f.value(labels, static_cast<double>(m_notifications.value())); }));
  m_registrations.push_back(metrics::add("wangge_listener_lag_seconds", metrics::Type::kHistogram,
                                         "From a notification's arrival to the end of its handling (gathering pause included)",
                                         [this, labels](metrics::Family& f) { f.histogram(labels, m_apply.totals(), m_apply.bounds()); }));
  m_registrations.push_back(metrics::add(
      "wangge_listener_catch_up_seconds", metrics::Type::kHistogram, "How long a catch-up (the reload after each connection) took",
      [this, labels](metrics::Family& f) { f.histogram(labels, m_catch_up.totals(), m_catch_up.bounds()); }));
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
      const auto caught = Clock::now();
      if (m_handlers.catch_up) m_handlers.catch_up(conn);
      m_catch_up.observe(seconds_since(caught));
      m_connected = true;
      retry = m_options.retry_first;  // connected and caught up: the next failure starts afresh
      const bool ticking = m_handlers.tick && m_options.tick_every.count() > 0;
      auto next_tick = Clock::now() + m_options.tick_every;
      while (!m_stop) {
        auto wait = m_options.poll;
        if (ticking) wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now()));
        auto received = conn.notifications(as_timeout(wait));
        if (!received.empty()) {
          const auto heard = Clock::now();
          if (m_options.gather.count() > 0) {
            std::this_thread::sleep_for(m_options.gather);
            for (auto& more : conn.notifications(0)) received.push_back(std::move(more));
          }
          m_notifications.add(received.size());
          if (m_handlers.notified) m_handlers.notified(conn, received);
          m_apply.observe(seconds_since(heard));
        }
        if (ticking && Clock::now() >= next_tick) {
          m_handlers.tick(conn);
          next_tick = Clock::now() + m_options.tick_every;
        }
      }
      return;
    } catch (const std::exception& e) {
      if (m_connected.exchange(false)) m_away_since = steady_ns();
      m_reconnects.add();
      log::warn(m_options.name + ": " + e.what() + "; reconnecting in " + std::to_string(retry.count()) + " ms");
    }
    if (!pause_unless_stopped(retry)) return;
    retry = std::min(retry * 2, m_options.retry_max);
  }
}

}  // namespace wangge::pg
