// libpq behind RAII. One owner per PGconn/PGresult; SQL only with $n parameters (sent as text).
// Failures throw pg::sql_error (an internal error: its message never reaches a client) or, when the
// server cannot be reached, wangge::unavailable("database_unavailable").
#pragma once

#include <libpq-fe.h>

#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace wangge::pg {

struct ConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};

// A statement failed on a live connection. `sqlstate` lets callers map constraint violations.
class sql_error : public std::runtime_error {
 public:
  sql_error(std::string context, std::string sqlstate, std::string message)
      : std::runtime_error(context + ": " + message), m_sqlstate(std::move(sqlstate)) {}
  const std::string& sqlstate() const noexcept { return m_sqlstate; }
  // A failure of the database rather than of the statement's input: a statement timeout (57014),
  // a cancel or shutdown (57P0x), a lost connection (08xxx). Code that reads "could not parse"
  // into an SQL error must let these through to the error ladder (503), not call them bad input.
  bool is_unavailability() const noexcept {
    return m_sqlstate == "57014" || m_sqlstate.rfind("57P0", 0) == 0 || m_sqlstate.rfind("08", 0) == 0;
  }

 private:
  std::string m_sqlstate;
};

// One NOTIFY as a listening connection received it.
struct Notification {
  std::string channel;
  std::string payload;  // empty when the sender gave none
};

// A parameter: text value or SQL NULL.
using Param = std::optional<std::string>;

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : m_res(r) {}
  int rows() const { return m_res ? PQntuples(m_res.get()) : 0; }
  int columns() const { return m_res ? PQnfields(m_res.get()) : 0; }
  bool is_null(int row, int col) const { return PQgetisnull(m_res.get(), row, col) != 0; }
  std::string_view get(int row, int col) const {
    return {PQgetvalue(m_res.get(), row, col), static_cast<std::size_t>(PQgetlength(m_res.get(), row, col))};
  }
  std::string str(int row, int col) const { return std::string(get(row, col)); }
  std::optional<std::string> opt(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return str(row, col);
  }
  long long integer(int row, int col) const;
  double number(int row, int col) const;
  bool boolean(int row, int col) const { return get(row, col) == "t"; }
  int column(const char* name) const;  // throws std::logic_error when absent
  PGresult* raw() const { return m_res.get(); }

 private:
  std::unique_ptr<PGresult, ResultDeleter> m_res;
};

class Connection {
 public:
  // Connects (throws unavailable on failure). `statement_timeout_ms` bounds every statement.
  Connection(const std::string& url, int statement_timeout_ms);
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  // `context` names the operation in errors (e.g. "areas.insert"), never the parameter values.
  Result exec(std::string_view context, const std::string& sql, const std::vector<Param>& params = {});
  // The same, through a statement prepared on this connection the first time its text is seen
  // and run with its generic plan: planned once, not on every run. For statements a request
  // runs again and again with other values (a filtered page), where planning costs more than
  // running. Their conditions must be ones a generic plan serves well (index conditions that
  // do not depend on the values' selectivity, e.g. a code range rather than a LIKE). Outside a
  // transaction only: the plan mode is a session setting, switched back by the next exec(), and
  // a setting changed inside a transaction would be undone by its rollback.
  // Statements compiled from clients' filters have unbounded variety: the most recently used
  // kPreparedLimit stay prepared, older ones are deallocated.
  Result exec_prepared(std::string_view context, const std::string& sql, const std::vector<Param>& params = {});
  static constexpr std::size_t kPreparedLimit = 64;
  // Runs a script of several statements (migrations); no parameters.
  void exec_script(std::string_view context, const std::string& sql);
  // COPY ... FROM STDIN in text format: `feed` is called until it returns false; it fills `chunk`.
  template <typename Feed>
  void copy_in(std::string_view context, const std::string& copy_sql, Feed&& feed);

  // On a connection that LISTENs: waits up to `timeout_ms` (0: not at all) for notifications and
  // returns all that have arrived, in order (empty when none). Throws unavailable when the
  // connection is lost, so a listener reconnects (and reloads what it may have missed).
  std::vector<Notification> notifications(int timeout_ms);

  bool ok() const { return m_conn && PQstatus(m_conn.get()) == CONNECTION_OK; }
  PGconn* raw() const { return m_conn.get(); }

 private:
  void begin_copy(std::string_view context, const std::string& sql);
  void put_copy(std::string_view context, const std::string& chunk);
  void end_copy(std::string_view context);
  [[noreturn]] void fail(std::string_view context, PGresult* res);

  std::unique_ptr<PGconn, ConnDeleter> m_conn;
  // Prepared statements of this connection, most recently used first; names are never reused.
  struct Prepared {
    std::string sql;
    std::string name;
  };
  std::list<Prepared> m_prepared;
  std::unordered_map<std::string_view, std::list<Prepared>::iterator> m_prepared_by_sql;  // views into m_prepared
  unsigned long m_prepared_count = 0;
  bool m_generic_plans = false;  // plan_cache_mode is force_generic_plan on the session
  void set_generic_plans(std::string_view context, bool on);
};

template <typename Feed>
void Connection::copy_in(std::string_view context, const std::string& copy_sql, Feed&& feed) {
  begin_copy(context, copy_sql);
  std::string chunk;
  while (true) {
    chunk.clear();
    bool more = feed(chunk);
    if (!chunk.empty()) put_copy(context, chunk);
    if (!more) break;
  }
  end_copy(context);
}

// BEGIN on construction, ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Connection& c);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Result exec(std::string_view context, const std::string& sql, const std::vector<Param>& params = {}) {
    return m_conn.exec(context, sql, params);
  }
  Connection& connection() { return m_conn; }
  void commit();

 private:
  Connection& m_conn;
  bool m_done = false;
};

// Escapes one field for COPY text format.
void append_copy_field(std::string& out, std::string_view value);

}  // namespace wangge::pg
