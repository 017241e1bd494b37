#include "pg/bulk.hpp"

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"

namespace wangge::pg::bulk {

struct Reads::State {
  explicit State(Settings s) : settings(std::move(s)), standby(settings.url, settings.pool_size, settings.statement_timeout_ms) {}
  Settings settings;
  Pool standby;
  metrics::Counter on_standby, on_primary;
  metrics::Histogram wait{metrics::latency_buckets()};
  std::vector<metrics::Registration> registrations;  // after what they read: unregistered first
};

namespace {

// Set by the one Reads object while it lives; read by request and listener threads, which run only
// between its construction and destruction.
Reads::State* g_state = nullptr;

using Clock = std::chrono::steady_clock;

// The primary's WAL position now: every write acknowledged so far ends at or before it.
std::string primary_position(Connection& primary) { return primary.exec("bulk.position", "SELECT pg_current_wal_lsn()::text").str(0, 0); }

enum class Caught { standby, primary, late };

// Waits until the server behind `conn` has replayed `position` (a standby), or finds it is not in
// recovery at all (prefer-standby found no standby and connected to the primary).
Caught wait_for_replay(Connection& conn, const std::string& position, Clock::time_point deadline) {
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    const auto r =
        conn.exec("bulk.replayed", "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", {position});
    if (!r.boolean(0, 0)) return Caught::primary;
    if (r.boolean(0, 1)) return Caught::standby;
    if (Clock::now() + pause > deadline) return Caught::late;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

// The wait alone (the histogram's meaning), observed once the standby caught up or was given up.
void observe_wait(Reads::State& s, Clock::time_point began) { s.wait.observe(std::chrono::duration<double>(Clock::now() - began).count()); }

// A read counted once it is done, by the server that answered it: a read that failed on a standby
// and was done again on the primary counts for the primary only.
void count_served(Reads::State& s, Caught caught) { (caught == Caught::standby ? s.on_standby : s.on_primary).add(); }

}  // namespace

Settings settings_from_environment(int statement_timeout_ms) {
  Settings s;
  if (const char* url = std::getenv("WANGGE_DATABASE_BULK_URL")) s.url = url;
  if (const char* wait = std::getenv("WANGGE_BULK_MAX_WAIT_MS"); wait && *wait) {
    char* end = nullptr;
    const long ms = std::strtol(wait, &end, 10);
    if (*end != '\0' || ms < 0 || ms > 600000) throw std::runtime_error("WANGGE_BULK_MAX_WAIT_MS must be 0..600000 milliseconds");
    s.max_wait = std::chrono::milliseconds(ms);
  }
  s.statement_timeout_ms = statement_timeout_ms;
  return s;
}

Reads::Reads(Settings settings) {
  if (settings.url.empty()) return;
  m_state = std::make_unique<State>(std::move(settings));
  State* s = m_state.get();
  s->registrations.push_back(metrics::add(
      "wangge_db_bulk_reads_total", metrics::Type::kCounter,
      "Bulk reads (loads, exports) by the server that answered them: a caught-up standby or the primary", [s](metrics::Family& f) {
        f.value(metrics::label("served_by", "standby"), static_cast<double>(s->on_standby.value()));
        f.value(metrics::label("served_by", "primary"), static_cast<double>(s->on_primary.value()));
      }));
  s->registrations.push_back(metrics::add("wangge_db_bulk_read_wait_seconds", metrics::Type::kHistogram,
                                          "From reading the primary's WAL position to a standby that replayed it (or giving up)",
                                          [s](metrics::Family& f) { f.histogram("", s->wait.totals(), s->wait.bounds()); }));
  g_state = s;
}

Reads::~Reads() {
  if (g_state == m_state.get()) g_state = nullptr;
}

namespace {

struct CaughtUp {
  Lease lease;
  Caught caught;
};

// A caught-up standby's connection (or the primary's, when prefer-standby found no standby), or
// nothing when no standby replayed the primary's position in time.
std::optional<CaughtUp> caught_up(Reads::State& s, Pool& primary_pool) {
  const auto began = Clock::now();
  std::string position;
  {
    auto primary = primary_pool.acquire();
    position = primary_position(*primary);
  }
  try {
    auto lease = s.standby.acquire(s.settings.max_wait);
    const Caught caught = wait_for_replay(*lease, position, began + s.settings.max_wait);
    observe_wait(s, began);
    if (caught != Caught::late) return CaughtUp{std::move(lease), caught};
    log::warn("bulk read: no standby replayed " + position + " within " + std::to_string(s.settings.max_wait.count()) +
              " ms; reading on the primary");
  } catch (const std::exception& e) {
    observe_wait(s, began);
    log::warn(std::string("bulk read: no standby (") + e.what() + "); reading on the primary");
  }
  return std::nullopt;
}

}  // namespace

void read(Pool& primary_pool, const std::function<void(Connection&)>& run) {
  Reads::State* s = g_state;
  if (s) {
    if (auto found = caught_up(*s, primary_pool)) {
      // As for loads: a standby that fails during the read (it went down, cancelled the read for
      // a conflict with the replay of a vacuum, or may not read a table) is not the client's
      // error: the read is done again on the primary. Errors of the request itself (limits, bad
      // options) are not database errors and go to the client as they are.
      try {
        run(*found->lease);
        count_served(*s, found->caught);
        return;
      } catch (const sql_error& e) {
        log::warn(std::string("bulk read: failed on the standby (") + e.what() + "); reading on the primary");
      } catch (const Error& e) {
        // A lost connection or a cancelled statement (Connection::fail); a request's own errors
        // have other codes and go to the client.
        if (e.code() != "database_unavailable") throw;
        log::warn(std::string("bulk read: the standby became unavailable (") + e.what() + "); reading on the primary");
      }
    }
  }
  run(*primary_pool.acquire());
  if (s) count_served(*s, Caught::primary);
}

void load(Connection& primary, int statement_timeout_ms, const std::function<void(Connection&)>& run) {
  Reads::State* s = g_state;
  if (!s) {
    run(primary);
    return;
  }
  const auto began = Clock::now();
  const std::string position = primary_position(primary);  // a failure here is the primary's: the listener reconnects
  std::optional<Connection> standby;
  Caught caught = Caught::late;
  try {
    Connection conn(s->settings.url, statement_timeout_ms);
    caught = wait_for_replay(conn, position, began + s->settings.max_wait);
    observe_wait(*s, began);
    if (caught != Caught::late)
      standby.emplace(std::move(conn));
    else
      log::warn("bulk load: no standby replayed " + position + " within " + std::to_string(s->settings.max_wait.count()) +
                " ms; loading from the primary");
  } catch (const std::exception& e) {
    observe_wait(*s, began);
    log::warn(std::string("bulk load: no standby (") + e.what() + "); loading from the primary");
  }
  if (standby) {
    // A standby that fails during the load (it went down, or cancelled the long read because of a
    // conflict with the replay of a vacuum on the primary, or the read is not allowed there) must
    // not make the listener retry the same standby for ever: this one load falls back to the
    // primary, and the next one tries a standby again. Every load builds its result aside and swaps
    // it in at the end, so a failed half-load left nothing behind.
    try {
      run(*standby);
      count_served(*s, caught);
      return;
    } catch (const std::exception& e) {
      log::warn(std::string("bulk load: failed on the standby (") + e.what() + "); loading from the primary");
    }
  }
  run(primary);
  count_served(*s, Caught::primary);
}

}  // namespace wangge::pg::bulk
