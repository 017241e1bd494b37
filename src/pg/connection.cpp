#include "pg/connection.hpp"

#include <poll.h>

#include <cerrno>
#include <cstdlib>

#include "core/error.hpp"

namespace wangge::pg {
namespace {

// Connection-level failures (class 08), shutdowns (57P0x) and a missing database mean "try again
// later", not a bug: they become 503s.
bool is_unavailable_state(const std::string& state) {
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" || state == "3D000";
}

// The parameters as libpq takes them: text, or a null pointer for NULL.
std::vector<const char*> text_values(const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return values;
}

}  // namespace

long long Result::integer(int row, int col) const { return std::strtoll(PQgetvalue(m_res.get(), row, col), nullptr, 10); }
double Result::number(int row, int col) const { return std::strtod(PQgetvalue(m_res.get(), row, col), nullptr); }

int Result::column(const char* name) const {
  int c = PQfnumber(m_res.get(), name);
  if (c < 0) throw std::logic_error(std::string("result has no column ") + name);
  return c;
}

std::vector<Notification> Connection::notifications(int timeout_ms) {
  if (timeout_ms > 0) {
    pollfd p{PQsocket(m_conn.get()), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) < 0 && errno != EINTR) throw unavailable("database_unavailable", "waiting for notifications failed");
  }
  if (PQconsumeInput(m_conn.get()) == 0 || !ok()) throw unavailable("database_unavailable", "the listening connection was lost");
  std::vector<Notification> received;
  struct Free {
    void operator()(PGnotify* n) const noexcept { PQfreemem(n); }
  };
  while (std::unique_ptr<PGnotify, Free> n{PQnotifies(m_conn.get())})
    received.push_back(Notification{n->relname ? n->relname : "", n->extra ? n->extra : ""});
  return received;
}

Connection::Connection(const std::string& url, int statement_timeout_ms) {
  if (url.empty()) throw unavailable("database_unavailable", "no database configured (WANGGE_DATABASE_URL)");
  m_conn.reset(PQconnectdb(url.c_str()));
  if (!m_conn || PQstatus(m_conn.get()) != CONNECTION_OK) {
    throw unavailable("database_unavailable", "the database cannot be reached");
  }
  // NOTICEs (e.g. "already exists, skipping") are for people at a psql prompt, not for our logs.
  PQsetNoticeProcessor(
      m_conn.get(), [](void*, const char*) {}, nullptr);
  exec("connection.setup", "SELECT set_config('statement_timeout', $1, false), set_config('TimeZone', 'UTC', false)",
       {std::to_string(statement_timeout_ms)});
}

void Connection::fail(std::string_view context, PGresult* res) {
  std::string state;
  std::string message;
  if (res) {
    const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (s) state = s;
    const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    message = m ? m : PQresultErrorMessage(res);
    PQclear(res);
  } else {
    message = PQerrorMessage(m_conn.get());
  }
  if (PQstatus(m_conn.get()) != CONNECTION_OK || is_unavailable_state(state)) {
    throw unavailable("database_unavailable", "the database is unavailable");
  }
  throw sql_error(std::string(context), state, message);
}

Result Connection::exec(std::string_view context, const std::string& sql, const std::vector<Param>& params) {
  const std::vector<const char*> values = text_values(params);
  PGresult* r = PQexecParams(m_conn.get(), sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), nullptr, nullptr, 0);
  auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(context, r);
  return Result(r);
}

Result Connection::exec_prepared(std::string_view context, const std::string& sql, const std::vector<Param>& params) {
  auto found = m_prepared_by_sql.find(sql);
  if (found != m_prepared_by_sql.end()) {
    m_prepared.splice(m_prepared.begin(), m_prepared, found->second);
  } else {
    if (m_prepared.size() >= kPreparedLimit) {
      // DEALLOCATE takes an identifier, not a parameter: the name is ours ("wg_" and a number).
      exec(context, "DEALLOCATE " + m_prepared.back().name);
      m_prepared_by_sql.erase(m_prepared.back().sql);
      m_prepared.pop_back();
    }
    std::string name = "wg_" + std::to_string(++m_prepared_count);
    PGresult* r = PQprepare(m_conn.get(), name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) fail(context, r);
    PQclear(r);
    m_prepared.push_front(Prepared{sql, std::move(name)});
    m_prepared_by_sql.emplace(m_prepared.front().sql, m_prepared.begin());
  }
  const std::vector<const char*> values = text_values(params);
  PGresult* r =
      PQexecPrepared(m_conn.get(), m_prepared.front().name.c_str(), static_cast<int>(params.size()), values.data(), nullptr, nullptr, 0);
  auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(context, r);
  return Result(r);
}

void Connection::exec_script(std::string_view context, const std::string& sql) {
  PGresult* r = PQexec(m_conn.get(), sql.c_str());
  auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  // A script of comments only is empty, not an error.
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) fail(context, r);
  PQclear(r);
}

void Connection::begin_copy(std::string_view context, const std::string& sql) {
  PGresult* r = PQexec(m_conn.get(), sql.c_str());
  if (!r || PQresultStatus(r) != PGRES_COPY_IN) fail(context, r);
  PQclear(r);
}

void Connection::put_copy(std::string_view context, const std::string& chunk) {
  if (PQputCopyData(m_conn.get(), chunk.data(), static_cast<int>(chunk.size())) != 1) fail(context, nullptr);
}

void Connection::end_copy(std::string_view context) {
  if (PQputCopyEnd(m_conn.get(), nullptr) != 1) fail(context, nullptr);
  while (PGresult* r = PQgetResult(m_conn.get())) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail(context, r);
    PQclear(r);
  }
}

Transaction::Transaction(Connection& c) : m_conn(c) { m_conn.exec("transaction.begin", "BEGIN"); }

Transaction::~Transaction() {
  if (m_done) return;
  // A destructor must not throw; if the connection is gone the server rolls back anyway.
  if (PGresult* r = PQexec(m_conn.raw(), "ROLLBACK")) PQclear(r);
}

void Transaction::commit() {
  m_conn.exec("transaction.commit", "COMMIT");
  m_done = true;
}

void append_copy_field(std::string& out, std::string_view value) {
  for (char ch : value) {
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += ch;
    }
  }
}

}  // namespace wangge::pg
