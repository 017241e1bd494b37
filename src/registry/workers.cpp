#include "registry/workers.hpp"

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "registry/areas.hpp"
#include "registry/audit.hpp"

namespace wangge::registry {
namespace {

using nlohmann::json;

const char* kWorkerColumns =
    "w.id, w.name, w.phone, w.area_code, w.attributes::text, "
    "to_char(w.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "(SELECT coalesce(json_agg(wa.grid_code ORDER BY wa.grid_code), '[]'::json) FROM worker_assignments wa "
    " WHERE wa.worker_id = w.id AND wa.unassigned_at IS NULL)::text";

json worker_json(const pg::Result& r, int i) {
  return json{{"id", r.integer(i, 0)},
              {"name", r.str(i, 1)},
              {"phone", r.is_null(i, 2) ? json(nullptr) : json(r.str(i, 2))},
              {"area", r.str(i, 3)},
              {"attributes", json::parse(r.str(i, 4))},
              {"created_at", r.str(i, 5)},
              {"grids", json::parse(r.str(i, 6))}};
}

}  // namespace

json WorkerStore::create(pg::Connection& conn, const Actor& actor, const json& body) const {
  actor.require_edit_role();
  if (!body.is_object()) throw bad_request("invalid_body", "the body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "name" && it.key() != "phone" && it.key() != "area" && it.key() != "attributes")
      throw unprocessable("unknown_property", "unknown property '" + it.key() + "'; allowed: name, phone, area, attributes");
  if (!body.contains("name") || !body["name"].is_string() || body["name"].get<std::string>().empty())
    throw unprocessable("missing_property", "a worker needs a name");
  std::optional<std::string> phone;
  if (body.contains("phone") && !body["phone"].is_null()) {
    if (!body["phone"].is_string()) throw unprocessable("invalid_property", "phone must be a string");
    phone = body["phone"].get<std::string>();
  }
  std::string area;
  if (body.contains("area")) {
    if (!body["area"].is_string()) throw unprocessable("invalid_property", "area must be an area code");
    area = body["area"].get<std::string>();
  } else if (actor.scope) {
    area = *actor.scope;
  } else {
    throw unprocessable("missing_property", "area is required for a token without a scope");
  }
  json attributes = body.value("attributes", json::object());
  if (!attributes.is_object()) throw unprocessable("invalid_property", "attributes must be a JSON object");
  actor.require_edit(area);

  pg::Transaction tx(conn);
  auto a = tx.exec("workers.area", "SELECT 1 FROM areas WHERE code = $1 AND valid_to IS NULL", {area});
  if (a.rows() == 0) throw unprocessable("unknown_area", "area " + area + " does not exist (or is retired)");
  auto r = tx.exec("workers.insert",
                   "INSERT INTO workers (name, phone, area_code, attributes, created_by) VALUES ($1, $2, $3, $4::jsonb, $5) "
                   "RETURNING id",
                   {body["name"].get<std::string>(), phone, area, attributes.dump(), actor.label()});
  const std::string id = r.str(0, 0);
  audit::record(tx.connection(), actor.label(), "worker.create", {"worker", id, std::nullopt, std::nullopt, {{"area", area}}});
  auto w = tx.exec("workers.get", std::string("SELECT ") + kWorkerColumns + " FROM workers w WHERE w.id = $1", {id});
  tx.commit();
  return worker_json(w, 0);
}

json WorkerStore::get(pg::Connection& conn, const Actor& actor, long long id) const {
  auto w = conn.exec("workers.get", std::string("SELECT ") + kWorkerColumns + " FROM workers w WHERE w.id = $1", {std::to_string(id)});
  if (w.rows() == 0) throw not_found("worker_not_found", "no worker has the id " + std::to_string(id));
  actor.require_read(w.str(0, 3));
  return worker_json(w, 0);
}

json WorkerStore::assign(pg::Connection& conn, const Actor& actor, const std::string& grid_code, const json& body, bool dry_run) const {
  actor.require_edit_role();
  if (!body.is_object() || !body.contains("workers") || !body["workers"].is_array())
    throw bad_request("invalid_body", "the body must be {\"workers\": [worker ids]}");
  std::set<long long> wanted;
  for (const auto& v : body["workers"]) {
    if (!v.is_number_integer() || v.get<long long>() <= 0)
      throw unprocessable("invalid_property", "workers must be an array of positive integer ids");
    wanted.insert(v.get<long long>());
  }
  actor.require_edit(grid_code);
  pg::Transaction tx(conn);
  require_current(tx.connection(), grid_code);
  // Serialises assignment changes of one grid (a row lock would not cover a grid with no rows yet).
  tx.exec("workers.lock", "SELECT pg_advisory_xact_lock(hashtext('wangge.workers:' || $1))", {grid_code});
  auto g = tx.exec("workers.grid", "SELECT level FROM areas WHERE code = $1 AND valid_to IS NULL", {grid_code});
  if (g.str(0, 0) != "grid" && g.str(0, 0) != "microgrid")
    throw unprocessable("not_a_grid", "workers are assigned to grids and micro-grids; " + grid_code + " is a " + g.str(0, 0));
  for (long long id : wanted) {
    auto w = tx.exec("workers.exists", "SELECT area_code FROM workers WHERE id = $1", {std::to_string(id)});
    if (w.rows() == 0) throw unprocessable("unknown_worker", "no worker has the id " + std::to_string(id));
    actor.require_read(w.str(0, 0));
  }
  auto current = tx.exec("workers.current",
                         "SELECT worker_id FROM worker_assignments WHERE grid_code = $1 AND unassigned_at IS NULL FOR UPDATE", {grid_code});
  std::set<long long> have;
  for (int i = 0; i < current.rows(); ++i) have.insert(current.integer(i, 0));
  json added = json::array(), removed = json::array();
  for (long long id : have) {
    if (wanted.count(id)) continue;
    tx.exec("workers.unassign",
            "UPDATE worker_assignments SET unassigned_at = clock_timestamp() "
            "WHERE grid_code = $1 AND worker_id = $2 AND unassigned_at IS NULL",
            {grid_code, std::to_string(id)});
    removed.push_back(id);
  }
  for (long long id : wanted) {
    if (have.count(id)) continue;
    tx.exec("workers.assign",
            "INSERT INTO worker_assignments (grid_code, worker_id, assigned_at, assigned_by) VALUES ($1, $2, clock_timestamp(), $3)",
            {grid_code, std::to_string(id), actor.label()});
    added.push_back(id);
  }
  if (dry_run) {
    // Read inside the transaction, which then rolls back: the assignment as it would be.
    json out = of_grid(tx.connection(), actor, grid_code);
    out["added"] = added;
    out["removed"] = removed;
    out["dry_run"] = true;
    return out;
  }
  audit::record(tx.connection(), actor.label(), "area.workers",
                {"area", grid_code, std::nullopt, std::nullopt, {{"added", added}, {"removed", removed}}});
  tx.commit();
  json out = of_grid(conn, actor, grid_code);
  out["added"] = added;
  out["removed"] = removed;
  out["dry_run"] = false;
  return out;
}

json WorkerStore::list(pg::Connection& conn, const Actor& actor, const std::string& area) const {
  actor.require_read(area);
  require_current(conn, area);
  // Area codes are hierarchical (a child's code starts with its parent's), so the subtree is a prefix.
  auto w = conn.exec(
      "workers.list",
      std::string("SELECT ") + kWorkerColumns + " FROM workers w WHERE left(w.area_code, length($1)) = $1 ORDER BY w.id LIMIT $2::int",
      {area, std::to_string(kMaxListed + 1)});
  json list = json::array();
  for (int i = 0; i < w.rows() && i < kMaxListed; ++i) list.push_back(worker_json(w, i));
  return json{{"area", area}, {"workers", list}, {"truncated", w.rows() > kMaxListed}};
}

json WorkerStore::of_grid(pg::Connection& conn, const Actor& actor, const std::string& grid_code) const {
  actor.require_read(grid_code);
  require_current(conn, grid_code);
  auto w = conn.exec("workers.of_grid",
                     std::string("SELECT ") + kWorkerColumns +
                         " FROM workers w JOIN worker_assignments wa ON wa.worker_id = w.id "
                         "WHERE wa.grid_code = $1 AND wa.unassigned_at IS NULL ORDER BY w.id",
                     {grid_code});
  json list = json::array();
  for (int i = 0; i < w.rows(); ++i) list.push_back(worker_json(w, i));
  return json{{"grid", grid_code}, {"workers", list}};
}

}  // namespace wangge::registry
