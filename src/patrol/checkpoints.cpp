#include "patrol/checkpoints.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "core/error.hpp"
#include "core/time.hpp"
#include "crs/point_crs.hpp"
#include "patrol/fields.hpp"
#include "registry/accounts.hpp"
#include "registry/audit.hpp"
#include "registry/queries.hpp"

namespace wangge::patrol {
namespace {

using nlohmann::json;
using pg::Param;
using registry::Actor;
using registry::Role;

const char* kFrequencies[] = {"daily", "weekly", "monthly", "every_n_days"};
const char* kProperties[] = {"grid",     "name",        "kind",      "location",   "crs",       "service_minutes",
                             "priority", "time_window", "frequency", "every_days", "attributes"};

std::string etag_of(long long id, long long version) { return "\"cp-" + std::to_string(id) + "-v" + std::to_string(version) + "\""; }

// The values of a checkpoint as written.
struct Fields {
  std::string grid, name, kind = "other", frequency;
  double lon = 0, lat = 0;
  long long service_minutes = 10, priority = 3;
  std::optional<long long> every_days;
  std::optional<std::string> window_start, window_end;  // "HH:MM"
  json attributes = json::object();
};

std::string text(const json& body, const char* name, std::size_t max) {
  if (!body[name].is_string()) throw unprocessable("invalid_property", std::string(name) + " must be a string");
  auto s = body[name].get<std::string>();
  if (s.empty() || s.size() > max)
    throw unprocessable("invalid_property", std::string(name) + " must be 1 to " + std::to_string(max) + " bytes");
  return s;
}

long long integer(const json& body, const char* name, long long lo, long long hi) {
  const json& v = body[name];
  if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
    throw unprocessable("invalid_property",
                        std::string(name) + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  return v.get<long long>();
}

// "HH:MM", 00:00 to 23:59.
bool clock_time(const json& v, std::string& out) {
  if (!v.is_string()) return false;
  const auto s = v.get<std::string>();
  if (s.size() != 5 || s[2] != ':') return false;
  int h = 0, m = 0;
  auto r1 = std::from_chars(s.data(), s.data() + 2, h);
  auto r2 = std::from_chars(s.data() + 3, s.data() + 5, m);
  if (r1.ptr != s.data() + 2 || r2.ptr != s.data() + 5 || h < 0 || h > 23 || m < 0 || m > 59) return false;
  out = s;
  return true;
}

// Applies the body's properties to `f` (all of them for a create, the given ones for a patch).
void apply(const json& body, Fields& f, bool create, const std::string& crs_param) {
  if (!body.is_object()) throw bad_request("invalid_body", "the body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (std::none_of(std::begin(kProperties), std::end(kProperties), [&](const char* p) { return it.key() == p; }))
      throw unprocessable("unknown_property", "unknown property '" + it.key() +
                                                  "'; allowed: grid, name, kind, location, crs, service_minutes, priority, "
                                                  "time_window, frequency, every_days, attributes");
  if (create)
    for (const char* p : {"grid", "name", "location", "frequency"})
      if (!body.contains(p) || body[p].is_null()) throw unprocessable("missing_property", std::string("a checkpoint needs ") + p);
  if (body.contains("grid")) f.grid = text(body, "grid", 64);
  if (body.contains("name")) f.name = text(body, "name", 200);
  if (body.contains("kind")) f.kind = text(body, "kind", 64);
  if (body.contains("location")) {
    const auto xy = geojson_point(body["location"], "location");
    std::string crs_text = crs_param;
    if (body.contains("crs")) crs_text = text(body, "crs", 64);
    const auto p = crs::to_storage(crs::parse_point_crs(crs_text), xy[0], xy[1]);
    f.lon = p.lon, f.lat = p.lat;
  } else if (body.contains("crs")) {
    throw unprocessable("invalid_property", "crs applies to location only");
  }
  if (body.contains("service_minutes")) f.service_minutes = integer(body, "service_minutes", 0, 1440);
  if (body.contains("priority")) f.priority = integer(body, "priority", 1, 5);
  if (body.contains("time_window")) {
    const json& w = body["time_window"];
    if (w.is_null()) {
      f.window_start.reset(), f.window_end.reset();
    } else {
      std::string a, b;
      if (!w.is_object() || w.size() != 2 || !w.contains("start") || !w.contains("end") || !clock_time(w["start"], a) ||
          !clock_time(w["end"], b) || a >= b)
        throw unprocessable("invalid_property",
                            "time_window is {\"start\": \"HH:MM\", \"end\": \"HH:MM\"} with start before end (Asia/Shanghai)");
      f.window_start = a, f.window_end = b;
    }
  }
  if (body.contains("frequency")) {
    f.frequency = text(body, "frequency", 20);
    if (std::none_of(std::begin(kFrequencies), std::end(kFrequencies), [&](const char* x) { return f.frequency == x; }))
      throw unprocessable("invalid_property", "frequency must be daily, weekly, monthly or every_n_days");
    if (f.frequency != "every_n_days") f.every_days.reset();
  }
  if (body.contains("every_days")) {
    if (body["every_days"].is_null())
      f.every_days.reset();
    else
      f.every_days = integer(body, "every_days", 1, 366);
  }
  if (f.frequency == "every_n_days" && !f.every_days)
    throw unprocessable("missing_property", "frequency every_n_days needs every_days (1 to 366)");
  if (f.frequency != "every_n_days" && f.every_days)
    throw unprocessable("invalid_property", "every_days applies to frequency every_n_days only");
  if (body.contains("attributes")) {
    if (!body["attributes"].is_object()) throw unprocessable("invalid_property", "attributes must be a JSON object");
    f.attributes = body["attributes"];
  }
}

// The grid must be a current grid or micro-grid that covers the location.
void check_place(pg::Transaction& tx, const Fields& f) {
  const auto r = registry::current_placement(tx.connection(), f.grid, exact_text(f.lon), exact_text(f.lat));
  if (!r) throw unprocessable("unknown_area", "grid " + f.grid + " does not exist (or is retired)");
  if (r->level != "grid" && r->level != "microgrid")
    throw unprocessable("not_a_grid", "checkpoints belong to grids and micro-grids; " + f.grid + " is a " + r->level);
  if (!r->covers)
    throw unprocessable("outside_grid", "the location is not inside grid " + f.grid,
                        json{{"grid", f.grid}, {"location", {{"type", "Point"}, {"coordinates", {f.lon, f.lat}}}}}.dump());
}

std::vector<Param> params_of(const Fields& f) {
  return {f.grid,
          f.name,
          f.kind,
          exact_text(f.lon),
          exact_text(f.lat),
          f.frequency,
          f.every_days ? Param(std::to_string(*f.every_days)) : Param(),
          std::to_string(f.service_minutes),
          std::to_string(f.priority),
          f.window_start,
          f.window_end,
          f.attributes.dump()};
}

void audit(pg::Transaction& tx, const Actor& actor, const char* action, long long id, std::optional<long long> before,
           std::optional<long long> after, const json& detail) {
  registry::audit::record(tx.connection(), actor.label(), action, {"checkpoint", std::to_string(id), before, after, detail});
}

json with_etag(const pg::Result& r, int row, int col) { return json::parse(r.str(row, col)); }

void check_if_match(const std::vector<std::string>& if_match, long long id, long long version) {
  const std::string current = etag_of(id, version);
  if (if_match.empty()) throw Error(428, "precondition_required", "this change needs an If-Match header with the checkpoint's ETag");
  for (const auto& tag : if_match)
    if (tag == "*" || tag == current) return;
  throw Error(412, "precondition_failed", "the checkpoint has changed since it was read (current ETag " + current + ")",
              json{{"etag", current}}.dump());
}

// Row of a checkpoint for a change, locked. Throws checkpoint_not_found.
struct Current {
  Fields f;
  long long version = 0;
};
Current lock_current(pg::Transaction& tx, long long id) {
  auto r = tx.exec("checkpoints.lock",
                   "SELECT grid_code, name, kind, ST_X(location), ST_Y(location), frequency, every_days, service_minutes, priority, "
                   "to_char(window_start, 'HH24:MI'), to_char(window_end, 'HH24:MI'), attributes::text, version "
                   "FROM checkpoints WHERE id = $1 FOR UPDATE",
                   {std::to_string(id)});
  if (r.rows() == 0) throw not_found("checkpoint_not_found", "no checkpoint has the id " + std::to_string(id));
  Current c;
  c.f.grid = r.str(0, 0), c.f.name = r.str(0, 1), c.f.kind = r.str(0, 2);
  c.f.lon = r.number(0, 3), c.f.lat = r.number(0, 4);
  c.f.frequency = r.str(0, 5);
  if (!r.is_null(0, 6)) c.f.every_days = r.integer(0, 6);
  c.f.service_minutes = r.integer(0, 7), c.f.priority = r.integer(0, 8);
  c.f.window_start = r.opt(0, 9), c.f.window_end = r.opt(0, 10);
  c.f.attributes = json::parse(r.str(0, 11));
  c.version = r.integer(0, 12);
  return c;
}

void require_visit_role(const Actor& actor) {
  if (actor.role == Role::viewer || actor.role == Role::analyst)
    throw forbidden("role_forbidden", std::string("role ") + registry::role_name(actor.role) + " may not record visits");
}

// A calendar date YYYY-MM-DD that exists (core/time's RFC 3339 parser checks the day of the month).
bool valid_date(const std::string& s) { return s.size() == 10 && parse_rfc3339(s + "T00:00:00Z").has_value(); }

}  // namespace

json CheckpointStore::list(pg::Connection& conn, const Actor& actor, const std::string& grid) const {
  actor.require_read(grid);
  if (!registry::is_current(conn, grid)) throw not_found("area_not_found", "no current area has the code " + grid);
  auto r = conn.exec("checkpoints.list",
                     "SELECT coalesce(json_agg(wg_checkpoint_json(c) ORDER BY c.id), '[]'::json) FROM checkpoints c WHERE c.grid_code = $1",
                     {grid});
  return json{{"grid", grid}, {"checkpoints", json::parse(r.str(0, 0))}};
}

json CheckpointStore::get(pg::Connection& conn, const Actor& actor, long long id) const {
  auto r =
      conn.exec("checkpoints.get", "SELECT c.grid_code, wg_checkpoint_json(c) FROM checkpoints c WHERE c.id = $1", {std::to_string(id)});
  if (r.rows() == 0) throw not_found("checkpoint_not_found", "no checkpoint has the id " + std::to_string(id));
  actor.require_read(r.str(0, 0));
  return with_etag(r, 0, 1);
}

json CheckpointStore::create(pg::Connection& conn, const Actor& actor, const json& body, const std::string& crs_param,
                             CheckpointChange& change) const {
  actor.require_edit_role();
  Fields f;
  apply(body, f, true, crs_param);
  actor.require_edit(f.grid);
  pg::Transaction tx(conn);
  check_place(tx, f);
  auto r = tx.exec("checkpoints.insert",
                   "INSERT INTO checkpoints AS c (grid_code, name, kind, location, frequency, every_days, service_minutes, priority, "
                   "  window_start, window_end, attributes) "
                   "VALUES ($1, $2, $3, ST_SetSRID(ST_MakePoint($4::float8, $5::float8), 4490), $6, $7::int, $8::int, $9::int, "
                   "  $10::time, $11::time, $12::jsonb) RETURNING c.id, wg_checkpoint_json(c)",
                   params_of(f));
  const long long id = r.integer(0, 0);
  audit(tx, actor, "checkpoint.create", id, std::nullopt, 1, json{{"grid", f.grid}});
  tx.commit();
  change.locations.push_back({f.lon, f.lat});
  return with_etag(r, 0, 1);
}

json CheckpointStore::update(pg::Connection& conn, const Actor& actor, long long id, const json& body,
                             const std::vector<std::string>& if_match, const std::string& crs_param, CheckpointChange& change) const {
  actor.require_edit_role();
  pg::Transaction tx(conn);
  Current c = lock_current(tx, id);
  actor.require_edit(c.f.grid);
  check_if_match(if_match, id, c.version);
  Fields f = c.f;
  apply(body, f, false, crs_param);
  if (f.grid != c.f.grid) actor.require_edit(f.grid);
  check_place(tx, f);
  auto params = params_of(f);
  params.push_back(std::to_string(id));
  auto r = tx.exec("checkpoints.update",
                   "UPDATE checkpoints AS c SET grid_code = $1, name = $2, kind = $3, "
                   "  location = ST_SetSRID(ST_MakePoint($4::float8, $5::float8), 4490), frequency = $6, every_days = $7::int, "
                   "  service_minutes = $8::int, priority = $9::int, window_start = $10::time, window_end = $11::time, "
                   "  attributes = $12::jsonb, version = c.version + 1, updated_at = clock_timestamp() "
                   "WHERE c.id = $13 RETURNING wg_checkpoint_json(c)",
                   params);
  json changed = json::array();
  for (auto it = body.begin(); it != body.end(); ++it) changed.push_back(it.key());
  audit(tx, actor, "checkpoint.update", id, c.version, c.version + 1, json{{"grid", f.grid}, {"changed", changed}});
  tx.commit();
  change.locations.push_back({c.f.lon, c.f.lat});
  change.locations.push_back({f.lon, f.lat});
  return with_etag(r, 0, 0);
}

void CheckpointStore::remove(pg::Connection& conn, const Actor& actor, long long id, const std::vector<std::string>& if_match,
                             CheckpointChange& change) const {
  actor.require_edit_role();
  pg::Transaction tx(conn);
  Current c = lock_current(tx, id);
  actor.require_edit(c.f.grid);
  check_if_match(if_match, id, c.version);
  auto last = tx.exec("checkpoints.last", "SELECT wg_checkpoint_json(c) FROM checkpoints c WHERE c.id = $1", {std::to_string(id)});
  tx.exec("checkpoints.delete", "DELETE FROM checkpoints WHERE id = $1", {std::to_string(id)});
  audit(tx, actor, "checkpoint.delete", id, c.version, std::nullopt, json{{"grid", c.f.grid}, {"checkpoint", json::parse(last.str(0, 0))}});
  tx.commit();
  change.locations.push_back({c.f.lon, c.f.lat});
}

json CheckpointStore::add_visit(pg::Connection& conn, const Actor& actor, long long id, const json& body) const {
  require_visit_role(actor);
  if (!body.is_object()) throw bad_request("invalid_body", "the body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "visited_at" && it.key() != "worker" && it.key() != "note")
      throw unprocessable("unknown_property", "unknown property '" + it.key() + "'; allowed: visited_at, worker, note");
  const std::string at = past_instant(body, "visited_at");
  std::optional<long long> worker_id;
  if (body.contains("worker") && !body["worker"].is_null()) {
    if (!body["worker"].is_number_integer() || body["worker"].get<long long>() <= 0)
      throw unprocessable("invalid_property", "worker must be a worker id");
    worker_id = body["worker"].get<long long>();
  }
  // A grid worker's own account visits as its worker: credited to it when the body names nobody.
  if (const auto own = registry::require_own_worker(conn, actor, worker_id); own && !worker_id) worker_id = own;
  Param worker;
  if (worker_id) worker = std::to_string(*worker_id);
  std::string note;
  if (body.contains("note") && !body["note"].is_null()) {
    if (!body["note"].is_string() || body["note"].get<std::string>().size() > 2000)
      throw unprocessable("invalid_property", "note must be a string of at most 2000 bytes");
    note = body["note"].get<std::string>();
  }
  pg::Transaction tx(conn);
  auto c = tx.exec("checkpoints.visit_target", "SELECT grid_code FROM checkpoints WHERE id = $1 FOR SHARE", {std::to_string(id)});
  if (c.rows() == 0) throw not_found("checkpoint_not_found", "no checkpoint has the id " + std::to_string(id));
  actor.require_read(c.str(0, 0));
  if (worker) {
    auto w = tx.exec("checkpoints.visit_worker", "SELECT 1 FROM workers WHERE id = $1", {worker});
    if (w.rows() == 0) throw unprocessable("unknown_worker", "no worker has the id " + *worker);
  }
  auto r = tx.exec("checkpoints.visit",
                   "INSERT INTO checkpoint_visits AS v (checkpoint_id, visited_at, worker_id, note, recorded_by) "
                   "VALUES ($1, $2::timestamptz, $3::bigint, $4, $5) RETURNING wg_visit_json(v)",
                   {std::to_string(id), at, worker, note, actor.label()});
  json visit = json::parse(r.str(0, 0));
  audit(tx, actor, "checkpoint.visit", id, std::nullopt, std::nullopt, visit);
  tx.commit();
  return visit;
}

json CheckpointStore::visits(pg::Connection& conn, const Actor& actor, long long id) const {
  auto c = conn.exec("checkpoints.visits_target", "SELECT grid_code FROM checkpoints WHERE id = $1", {std::to_string(id)});
  if (c.rows() == 0) throw not_found("checkpoint_not_found", "no checkpoint has the id " + std::to_string(id));
  actor.require_read(c.str(0, 0));
  auto r = conn.exec("checkpoints.visits",
                     "SELECT coalesce(json_agg(wg_visit_json(v) ORDER BY v.visited_at DESC, v.id DESC), '[]'::json) "
                     "FROM checkpoint_visits v WHERE v.id IN (SELECT id FROM checkpoint_visits WHERE checkpoint_id = $1 "
                     "ORDER BY visited_at DESC, id DESC LIMIT 1000)",
                     {std::to_string(id)});
  return json{{"checkpoint", id}, {"visits", json::parse(r.str(0, 0))}};
}

json CheckpointStore::due(pg::Connection& conn, const Actor& actor, const std::string& grid, const std::string& date) const {
  if (!valid_date(date)) throw bad_request("invalid_parameter", "date must be a calendar date YYYY-MM-DD (Asia/Shanghai)");
  actor.require_read(grid);
  if (!registry::is_current(conn, grid)) throw not_found("area_not_found", "no current area has the code " + grid);
  // Visits are counted by their Asia/Shanghai calendar day; visits after the day are ignored.
  auto r = conn.exec(
      "checkpoints.due",
      "SELECT coalesce(json_agg(x.doc ORDER BY x.priority, x.id), '[]'::json) FROM ( "
      " SELECT c.id, c.priority, (wg_checkpoint_json(c)::jsonb || jsonb_build_object("
      "   'period_start', p.since, 'last_visit_before', v.last_before, 'done', coalesce(v.done, false), "
      "   'due_reason', CASE WHEN v.last_before IS NULL THEN 'never_visited' ELSE 'period_elapsed' END))::json AS doc "
      " FROM checkpoints c "
      " CROSS JOIN LATERAL (SELECT CASE c.frequency WHEN 'daily' THEN $2::date "
      "   WHEN 'weekly' THEN date_trunc('week', $2::date)::date WHEN 'monthly' THEN date_trunc('month', $2::date)::date "
      "   ELSE $2::date - c.every_days + 1 END AS since) p "
      " LEFT JOIN LATERAL (SELECT max(d) FILTER (WHERE d < $2::date) AS last_before, bool_or(d = $2::date) AS done "
      "   FROM (SELECT (cv.visited_at AT TIME ZONE 'Asia/Shanghai')::date AS d FROM checkpoint_visits cv "
      "         WHERE cv.checkpoint_id = c.id AND cv.visited_at < (($2::date + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')) s) v ON true "
      " WHERE c.grid_code = $1 AND (v.last_before IS NULL OR v.last_before < p.since)) x",
      {grid, date});
  return json{{"grid", grid},
              {"date", date},
              {"timezone", "Asia/Shanghai"},
              {"rule",
               "due unless visited in the current period before the date: daily = the date, weekly = its ISO week "
               "(Monday first), monthly = its calendar month, every_n_days = the N days ending with the date"},
              {"checkpoints", json::parse(r.str(0, 0))}};
}

}  // namespace wangge::patrol
