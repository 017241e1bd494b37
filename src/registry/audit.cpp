#include "registry/audit.hpp"

#include "pg/array.hpp"

namespace wangge::registry::audit {

void record(pg::Connection& conn, const std::string& actor, const std::string& action, const Entry& entry) {
  record_all(conn, actor, action, {entry});
}

void record_all(pg::Connection& conn, const std::string& actor, const std::string& action, const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  std::vector<std::string> types, targets, details;
  std::vector<std::optional<long long>> before, after;
  for (const auto& e : entries) {
    types.push_back(e.target_type);
    targets.push_back(e.target);
    before.push_back(e.version_before);
    after.push_back(e.version_after);
    details.push_back(e.detail.is_null() ? "{}" : e.detail.dump());
  }
  conn.exec("audit.insert",
            "INSERT INTO audit_log (actor, action, target_type, target, version_before, version_after, detail) "
            "SELECT $1, $2, t, c, b, a, d::jsonb "
            "FROM unnest($3::text[], $4::text[], $5::int[], $6::int[], $7::text[]) WITH ORDINALITY AS u(t, c, b, a, d, i) "
            "ORDER BY i",
            {actor, action, pg::array(types), pg::array(targets), pg::array(before), pg::array(after), pg::array(details)});
}

}  // namespace wangge::registry::audit
