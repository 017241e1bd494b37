#include "registry/migrate.hpp"

#include <map>
#include <optional>

#include "core/log.hpp"
#include "registry/auth.hpp"

namespace wangge::registry {

std::vector<std::string> migrate(pg::Connection& conn) {
  // Session-level lock: two servers starting at once apply each migration exactly once.
  conn.exec("migrate.lock", "SELECT pg_advisory_lock(hashtext('wangge.migrate'))");
  std::vector<std::string> applied_now;
  try {
    conn.exec("migrate.table",
              "CREATE TABLE IF NOT EXISTS schema_migrations ("
              " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())");
    // The text of every applied migration is remembered by its SHA-256: a migration edited after
    // it ran on this database is reported, since the database will never see the edit.
    conn.exec("migrate.checksum_column", "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text");
    auto done = conn.exec("migrate.list", "SELECT name, checksum FROM schema_migrations");
    std::map<std::string, std::optional<std::string>> applied;
    for (int i = 0; i < done.rows(); ++i) applied[done.str(i, 0)] = done.opt(i, 1);
    for (const auto& m : embedded_migrations()) {
      const std::string sum = sha256_hex(m.sql);
      if (auto it = applied.find(m.name); it != applied.end()) {
        if (!it->second) {
          conn.exec("migrate.remember", "UPDATE schema_migrations SET checksum = $2 WHERE name = $1", {std::string(m.name), sum});
        } else if (*it->second != sum) {
          log::warn(std::string("migration ") + m.name +
                    " has changed since it was applied to this database; "
                    "its changes are not in this database (write a new migration instead)");
        }
        continue;
      }
      pg::Transaction tx(conn);
      tx.connection().exec_script(std::string("migrate.") + m.name, m.sql);
      tx.exec("migrate.record", "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", {std::string(m.name), sum});
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
