// A thread that follows changes in the database through LISTEN/NOTIFY, on a connection of its own,
// so that every server process on one database sees every process's writes.
//
// NOTIFY is not durable: what is sent while the connection is down never arrives. So after every
// connection (the first one included), once LISTEN is in effect, `catch_up` runs and the owner
// reloads whatever may have changed: a change committed before LISTEN is in that reload, one
// committed after it is heard. When the connection is lost, or a handler throws (its change may
// then be half applied), the listener logs it, waits (1 s, doubling up to 5 s while it keeps
// failing), reconnects and catches up again.
//
// The handlers run on the listener's thread, one at a time, with its connection.
//
// /metrics shows, per listener (label listener="<name>"): whether it is connected, for how long
// it has been away when not (what it misses meanwhile is reloaded by the catch-up), its
// reconnections, the notifications heard, and how long after a notification arrived its change
// was applied (the gathering pause included) and how long catch-ups take.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.hpp"
#include "pg/connection.hpp"

namespace wangge::pg {

class Listener {
 public:
  struct Options {
    std::string name;                   // names the listener in log lines, e.g. "tile feed"
    std::vector<std::string> channels;  // lower-case letters, digits and '_' (they are spelled into LISTEN)
    int statement_timeout_ms = 30000;   // for the listener's connection, as for any other
    // After the first notification of a burst, wait this long and take what arrived meanwhile
    // too: one commit sends a notification per statement, all at once, and they are handled
    // together. 0: hand over what is there at once.
    std::chrono::milliseconds gather{0};
    // The longest one wait for notifications lasts: how late stop() is heard.
    std::chrono::milliseconds poll{200};
    // How often `tick` runs (for owners that also check on a timer); 0: never.
    std::chrono::milliseconds tick_every{0};
    // The pause before reconnecting: `retry_first`, doubling while reconnecting keeps failing, up
    // to `retry_max`. A database that is down is not hammered, and one that is back is found soon.
    std::chrono::milliseconds retry_first{1000};
    std::chrono::milliseconds retry_max{5000};
  };

  struct Handlers {
    // After LISTEN on every new connection: reload what may have changed meanwhile.
    std::function<void(Connection& conn)> catch_up;
    // The notifications received, in order, at least one.
    std::function<void(Connection& conn, std::vector<Notification>& received)> notified;
    // Every `tick_every` while connected.
    std::function<void(Connection& conn)> tick;
  };

  // Starts the thread; it connects to `database_url` (and keeps reconnecting) until stop().
  // Throws std::invalid_argument for a channel name that is not a plain identifier.
  Listener(std::string database_url, Options options, Handlers handlers);
  ~Listener() { stop(); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Ends the thread and waits for it (for a handler that is running to return). Call it before
  // whatever the handlers use goes away. Idempotent; called by one owner.
  void stop();

 private:
  void run();
  void listen_on(Connection& conn);
  // Sleeps up to `pause`; false when stop() was called meanwhile.
  bool pause_unless_stopped(std::chrono::milliseconds pause);

  const std::string m_url;
  const Options m_options;
  const Handlers m_handlers;
  std::atomic<bool> m_stop{false};
  std::mutex m_stop_mutex;
  std::condition_variable m_stop_cv;
  // Read by /metrics. m_away_since: steady-clock nanoseconds since the connection was lost (or
  // since the start, before the first one); meaningful while m_connected is false.
  std::atomic<bool> m_connected{false};
  std::atomic<std::int64_t> m_away_since{0};
  metrics::Counter m_reconnects, m_notifications;
  metrics::Histogram m_apply{metrics::rebuild_buckets()}, m_catch_up{metrics::rebuild_buckets()};
  std::vector<metrics::Registration> m_registrations;  // after what they read: unregistered first
  std::thread m_thread;                                // last: started once everything it reads is in place
};

}  // namespace wangge::pg
