// Bulk reads from a standby: the large reads that serve no write (the case statistics' and street
// graph's loads at start-up and after a reconnection, exports) may go to a PostgreSQL standby, so
// that the primary keeps its cores and its buffer cache for the writes and the small reads.
//
// Off unless WANGGE_DATABASE_BULK_URL names the servers (a libpq multi-host URL with
// target_session_attrs=prefer-standby: a standby when one answers, else the primary).
//
// Read-your-writes: before every bulk read the primary's current WAL position is read, and the
// standby is used only once it has replayed up to there (pg_last_wal_replay_lsn), else, after
// WANGGE_BULK_MAX_WAIT_MS, the read goes to the primary. So a bulk read sees every write
// acknowledged before it began, whichever process took that write. Waiting for the position was
// chosen over sending a client's reads to the primary for a while after its writes: behind a
// balancer a client's next request usually reaches another process, which never saw the write;
// the primary's position covers every client's writes, at the cost of one short query there.
// (Replication is synchronous, so the standby has the WAL already; replay lags by milliseconds.)
//
// LISTEN never uses this URL: a standby cannot LISTEN, and the notifications come from the
// primary's commits. The listeners stay on WANGGE_DATABASE_URL and hand their catch-up load here.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "pg/connection.hpp"
#include "pg/pool.hpp"

namespace wangge::pg::bulk {

struct Settings {
  std::string url;                           // "": bulk reads stay on the primary
  std::chrono::milliseconds max_wait{2000};  // how long a standby may take to replay the position
  int pool_size = 2;                         // kept standby connections (exports; loads connect anew)
  int statement_timeout_ms = 30000;          // for the exports' standby connections
};

// The settings from WANGGE_DATABASE_BULK_URL and WANGGE_BULK_MAX_WAIT_MS; throws
// std::runtime_error for a wait that is not a number of milliseconds.
Settings settings_from_environment(int statement_timeout_ms);

// Bulk reads as configured, for the life of this object: made once at start-up before any
// listener or request thread runs, destroyed after they stopped (the functions below read it).
// Its metrics: wangge_db_bulk_reads_total{served_by="standby"|"primary"} and
// wangge_db_bulk_read_wait_seconds (from the primary's position read to a standby caught up).
class Reads {
 public:
  explicit Reads(Settings settings);
  ~Reads();
  Reads(const Reads&) = delete;
  Reads& operator=(const Reads&) = delete;

  struct State;

 private:
  std::unique_ptr<State> m_state;
};

// A bulk read on behalf of a request (an export): `run` on a caught-up standby's connection, and
// again on the primary's when it failed there with a database error (sql_error, or the connection
// lost: database_unavailable), so a standby
// that goes down or cancels the read costs the client time, not an error. `run` must leave
// nothing behind when it throws (an export writes into its own temporary directory).
void read(Pool& primary_pool, const std::function<void(Connection&)>& run);

// A load on behalf of a listener whose connection `primary` is on the primary (after LISTEN):
// runs `load` on a caught-up standby (a connection of its own, `statement_timeout_ms`), or on
// `primary` when bulk reads are off or no standby caught up in time. A change committed before
// LISTEN is at or before the position read here, so the load sees it; one committed after LISTEN
// is heard by the listener.
void load(Connection& primary, int statement_timeout_ms, const std::function<void(Connection&)>& load);

}  // namespace wangge::pg::bulk
