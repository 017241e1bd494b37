#include "registry/migrate.hpp"

#include <set>

namespace wangge::registry {

std::vector<std::string> migrate(pg::Connection& conn) {
  // Session-level lock: two servers starting at once apply each migration exactly once.
  conn.exec("migrate.lock", "SELECT pg_advisory_lock(hashtext('wangge.migrate'))");
  std::vector<std::string> applied_now;
  try {
    conn.exec("migrate.table",
              "CREATE TABLE IF NOT EXISTS schema_migrations ("
              " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())");
    auto done = conn.exec("migrate.list", "SELECT name FROM schema_migrations");
    std::set<std::string> applied;
    for (int i = 0; i < done.rows(); ++i) applied.insert(done.str(i, 0));
    for (const auto& m : embedded_migrations()) {
      if (applied.count(m.name)) continue;
      pg::Transaction tx(conn);
      tx.connection().exec_script(std::string("migrate.") + m.name, m.sql);
      tx.exec("migrate.record", "INSERT INTO schema_migrations (name) VALUES ($1)", {std::string(m.name)});
      tx.commit();
      applied_now.push_back(m.name);
    }
  } catch (...) {
    conn.exec("migrate.unlock", "SELECT pg_advisory_unlock(hashtext('wangge.migrate'))");
    throw;
  }
  conn.exec("migrate.unlock", "SELECT pg_advisory_unlock(hashtext('wangge.migrate'))");
  return applied_now;
}

}  // namespace wangge::registry
