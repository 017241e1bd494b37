#include "incidents/store.hpp"

#include <charconv>

#include <algorithm>

#include "core/error.hpp"
#include "crs/point_crs.hpp"
#include "locate/index.hpp"
#include "pg/array.hpp"
#include "registry/codes.hpp"
#include "registry/queries.hpp"

namespace wangge::incidents {
namespace {

// A double as SQL parameter text, shortest form that reads back as the same value
// (std::to_string keeps 6 decimals: 0.1 m of longitude, enough to move a point across a border).
std::string exact(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

using nlohmann::json;
using pg::Param;
using registry::Actor;
using registry::Role;

const char* kSources[] = {"hotline", "app", "worker", "video"};

std::string etag_of(long long id, long long version) { return "\"inc-" + std::to_string(id) + "-v" + std::to_string(version) + "\""; }

void require_case_role(const Actor& actor) {
  if (actor.role == Role::viewer || actor.role == Role::analyst)
    throw forbidden("role_forbidden", std::string("role ") + registry::role_name(actor.role) + " may not create or move cases");
}

// Scope of a case: its grid (or, in a gap, the lowest area the locator fell back to).
void require_case_scope(const Actor& actor, const std::optional<std::string>& code) {
  if (!actor.scope) return;
  if (!code || !actor.covers(*code)) throw forbidden("outside_scope", "the case lies outside this token's scope " + *actor.scope);
}

std::string text_field(const json& body, const char* name, bool required, std::size_t max = 2000) {
  if (!body.contains(name) || body[name].is_null()) {
    if (required) throw unprocessable("missing_property", std::string(name) + " is required");
    return "";
  }
  if (!body[name].is_string()) throw unprocessable("invalid_property", std::string(name) + " must be a string");
  auto s = body[name].get<std::string>();
  if (s.size() > max) throw unprocessable("invalid_property", std::string(name) + " is too long");
  return s;
}

json with_events(pg::Connection& conn, long long id, json incident) {
  auto ev = conn.exec("incidents.events",
                      "SELECT coalesce(json_agg(json_build_object('at', wg_time(at), 'actor', actor, 'action', action, "
                      "'from', from_status, 'to', to_status, 'detail', detail) ORDER BY at, id), '[]'::json) "
                      "FROM incident_events WHERE incident_id = $1",
                      {std::to_string(id)});
  incident["events"] = json::parse(ev.str(0, 0));
  return incident;
}

}  // namespace

const std::vector<Transition>& lifecycle() {
  // collect → register (or cancel) → dispatch (the clock starts) → handle → feedback → close;
  // return sends a case back a step, hold parks it (挂账) until resume, extend moves the deadline.
  static const std::vector<Transition> all = {
      {"register", {"collect"}, "register"},
      {"cancel", {"collect", "register"}, "cancelled"},
      {"dispatch", {"register"}, "dispatch"},
      {"handle", {"dispatch"}, "handle"},
      {"feedback", {"handle"}, "feedback"},
      {"close", {"feedback"}, "closed"},
      {"return", {"dispatch", "handle", "feedback"}, nullptr},
      {"hold", {"register", "dispatch", "handle"}, "hold"},
      {"resume", {"hold"}, nullptr},
      {"extend", {"dispatch", "handle", "hold"}, nullptr},
  };
  return all;
}

bool is_status(std::string_view status) {
  if (status == "collect") return true;  // where every case starts
  for (const auto& t : lifecycle())
    if (t.to && status == t.to) return true;
  return false;
}

long long CaseRules::limit_minutes(const std::string& category) const {
  const json& c = categories.contains("categories") && categories["categories"].contains(category)
                      ? categories["categories"][category]
                      : categories.value("default", json{{"working_days", 5}});
  if (c.contains("working_hours")) return c["working_hours"].get<long long>() * 60;
  return c.value("working_days", 5LL) * calendar.minutes_per_day();
}

CaseRules CaseRules::parse(const std::string& calendar_json, const std::string& categories_json) {
  return CaseRules{WorkCalendar::parse(calendar_json), json::parse(categories_json)};
}

json IncidentStore::create(pg::Connection& conn, const Actor& actor, const json& body, const locate::Locator::View& view,
                           const std::string& crs_param) const {
  require_case_role(actor);
  if (!body.is_object()) throw bad_request("invalid_body", "the body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "location" && it.key() != "crs" && it.key() != "category" && it.key() != "source" && it.key() != "description" &&
        it.key() != "reporter")
      throw unprocessable("unknown_property",
                          "unknown property '" + it.key() + "'; allowed: location, crs, category, source, description, reporter");
  const json& loc = body.value("location", json());
  if (!loc.is_object() || loc.value("type", "") != "Point" || !loc.contains("coordinates") || !loc["coordinates"].is_array() ||
      loc["coordinates"].size() < 2 || !loc["coordinates"][0].is_number() || !loc["coordinates"][1].is_number())
    throw unprocessable("invalid_location", "location must be a GeoJSON Point");
  const std::string crs_text = body.contains("crs") ? text_field(body, "crs", false, 100) : crs_param;
  const auto crs = crs::parse_point_crs(crs_text);
  const double x = loc["coordinates"][0].get<double>(), y = loc["coordinates"][1].get<double>();
  const auto p = crs::to_storage(crs, x, y);
  const std::string category = text_field(body, "category", true, 100);
  const std::string source = text_field(body, "source", true, 20);
  if (std::none_of(std::begin(kSources), std::end(kSources), [&](const char* s) { return source == s; }))
    throw unprocessable("invalid_property", "source must be hotline, app, worker or video");
  const std::string description = text_field(body, "description", false);
  const std::string reporter = text_field(body, "reporter", false, 200);
  if (category.empty()) throw unprocessable("missing_property", "category is required");

  if (!view.index) throw unavailable("locator_not_ready", "the locator is still loading the areas; retry shortly");
  std::string answer_text;
  const locate::Pt pt{p.lon, p.lat};
  view.index->append_json(view.index->locate(pt), pt, view.workers.get(), answer_text);
  json answer = json::parse(answer_text);
  std::optional<std::string> grid, micro;
  if (answer["grid"].is_object()) grid = answer["grid"]["code"].get<std::string>();
  if (answer["microgrid"].is_object()) micro = answer["microgrid"]["code"].get<std::string>();
  std::optional<std::string> lowest;
  if (!answer["hierarchy"].empty()) lowest = answer["hierarchy"].back()["code"].get<std::string>();
  require_case_scope(actor, grid ? grid : lowest);

  pg::Transaction tx(conn);
  auto r = tx.exec("incidents.insert",
                   "INSERT INTO incidents AS i (location, category, source, status, description, reporter, grid_code, "
                   "  microgrid_code, method, distance_m, hierarchy, input_crs, input_coordinates, created_by, reported_at) "
                   "VALUES (ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4490), $3, $4, 'collect', $5, $6, $7, $8, $9, "
                   "  $10::float8, $11::jsonb, $12, $13::jsonb, $14, clock_timestamp()) "
                   "RETURNING i.id, wg_incident_json(i)",
                   {exact(p.lon), exact(p.lat), category, source, description, reporter, grid, micro, answer["method"].get<std::string>(),
                    answer["distance_m"].is_null() ? Param() : Param(exact(answer["distance_m"].get<double>())), answer["hierarchy"].dump(),
                    crs_text.empty() ? "EPSG:4490" : crs_text, json::array({x, y}).dump(), actor.label()});
  const long long id = r.integer(0, 0);
  tx.exec("incidents.event",
          "INSERT INTO incident_events (incident_id, actor, action, to_status, detail) VALUES ($1, $2, 'collect', 'collect', $3::jsonb)",
          {std::to_string(id), actor.label(), json({{"method", answer["method"]}, {"grid", grid ? json(*grid) : json()}}).dump()});
  tx.commit();
  json out = json::parse(r.str(0, 1));
  out["workers"] = answer["workers"];
  out["etag"] = etag_of(id, 1);
  return with_events(conn, id, out);
}

json IncidentStore::get(pg::Connection& conn, const Actor& actor, long long id) const {
  auto r = conn.exec("incidents.get",
                     "SELECT wg_incident_json(i), i.grid_code, i.hierarchy->-1->>'code', i.version FROM incidents i WHERE i.id = $1",
                     {std::to_string(id)});
  if (r.rows() == 0) throw not_found("incident_not_found", "no incident has the id " + std::to_string(id));
  require_case_scope(actor, r.opt(0, 1) ? r.opt(0, 1) : r.opt(0, 2));
  json out = json::parse(r.str(0, 0));
  out["etag"] = etag_of(id, r.integer(0, 3));
  if (!out["deadline"].is_null() && (out["status"] == "dispatch" || out["status"] == "handle")) {
    const Micros deadline = *parse_rfc3339(out["deadline"].get<std::string>());
    const Micros now = now_utc();
    out["remaining_working_minutes"] =
        now < deadline ? m_rules.calendar.working_minutes_between(now, deadline) : -m_rules.calendar.working_minutes_between(deadline, now);
  }
  return with_events(conn, id, out);
}

json IncidentStore::list(pg::Connection& conn, const Actor& actor, const IncidentQuery& q) const {
  std::vector<Param> params;
  std::string where = "TRUE";
  auto param = [&](Param p) {
    params.push_back(std::move(p));
    return "$" + std::to_string(params.size());
  };
  if (actor.scope) {
    const std::string n = param(registry::code_prefix(*actor.scope));
    where += " AND left(coalesce(i.grid_code, i.hierarchy->-1->>'code', ''), length(" + n + ")) = " + n;
  }
  if (q.area) {
    const std::string n = param(registry::code_prefix(*q.area));
    where += " AND left(coalesce(i.grid_code, i.hierarchy->-1->>'code', ''), length(" + n + ")) = " + n;
  }
  if (q.status) where += " AND i.status = " + param(*q.status);
  if (q.category) where += " AND i.category = " + param(*q.category);
  if (q.from) where += " AND i.reported_at >= " + param(format_rfc3339(*q.from)) + "::timestamptz";
  if (q.to) where += " AND i.reported_at < " + param(format_rfc3339(*q.to)) + "::timestamptz";
  if (q.overdue) where += " AND i.status IN ('dispatch', 'handle', 'hold') AND i.deadline < clock_timestamp()";
  if (q.bbox) {
    const auto& b = *q.bbox;
    where += " AND i.location && ST_MakeEnvelope(" + param(exact(b[0])) + "::float8, " + param(exact(b[1])) + "::float8, " +
             param(exact(b[2])) + "::float8, " + param(exact(b[3])) + "::float8, 4490)";
  }
  auto count = conn.exec("incidents.count", "SELECT count(*) FROM incidents i WHERE " + where, params);
  const std::string lim = param(std::to_string(q.limit)), off = param(std::to_string(q.offset));
  auto rows = conn.exec("incidents.list",
                        "SELECT coalesce(json_agg(wg_incident_json(s) ORDER BY s.id), '[]'::json) FROM "
                        "(SELECT i.* FROM incidents i WHERE " +
                            where + " ORDER BY i.id LIMIT " + lim + "::int OFFSET " + off + "::bigint) s",
                        params);
  return json{{"numberMatched", count.integer(0, 0)}, {"incidents", json::parse(rows.str(0, 0))}};
}

json IncidentStore::transition(pg::Connection& conn, const Actor& actor, long long id, const json& body,
                               const std::vector<std::string>& if_match) const {
  require_case_role(actor);
  if (!body.is_object() || !body.contains("action") || !body["action"].is_string())
    throw bad_request("invalid_body", "the body must be {\"action\": ..., \"note\"?: ...}");
  const std::string action = body["action"].get<std::string>();
  const auto& all = lifecycle();
  auto t = std::find_if(all.begin(), all.end(), [&](const Transition& x) { return action == x.action; });
  if (t == all.end())
    throw unprocessable("unknown_action",
                        "action must be register, cancel, dispatch, handle, feedback, close, return, hold, resume or extend");
  if (actor.role == Role::worker && action != "handle" && action != "feedback")
    throw forbidden("role_forbidden", "a grid worker may only handle cases and report feedback");
  const std::string note = text_field(body, "note", false);

  pg::Transaction tx(conn);
  auto r = tx.exec("incidents.lock",
                   "SELECT status, category, version, grid_code, hierarchy->-1->>'code', held_from, wg_time(clock_timestamp()), "
                   "wg_time(deadline) FROM incidents WHERE id = $1 FOR UPDATE",
                   {std::to_string(id)});
  if (r.rows() == 0) throw not_found("incident_not_found", "no incident has the id " + std::to_string(id));
  require_case_scope(actor, r.opt(0, 3) ? r.opt(0, 3) : r.opt(0, 4));
  const std::string status = r.str(0, 0);
  const long long version = r.integer(0, 2);
  if (!if_match.empty() &&
      std::none_of(if_match.begin(), if_match.end(), [&](const std::string& e) { return e == "*" || e == etag_of(id, version); }))
    throw Error(412, "precondition_failed", "the case has changed since it was read (current ETag " + etag_of(id, version) + ")",
                json({{"current_etag", etag_of(id, version)}}).dump());
  if (std::none_of(t->from.begin(), t->from.end(), [&](const char* s) { return status == s; })) {
    json allowed = json::array();
    for (const auto& x : all)
      if (std::any_of(x.from.begin(), x.from.end(), [&](const char* s) { return status == s; })) allowed.push_back(x.action);
    throw conflict("transition_not_allowed", "a case in state '" + status + "' cannot be '" + action + "'",
                   json({{"status", status}, {"allowed_actions", allowed}}).dump());
  }
  const std::string now = r.str(0, 6);
  std::string to = t->to ? t->to : status;
  if (action == "return") to = status == "dispatch" ? "register" : status == "handle" ? "dispatch" : "handle";
  if (action == "resume") to = r.opt(0, 5).value_or("register");
  json detail = {{"note", note}};
  std::string set = "status = $2, version = version + 1";
  std::vector<Param> params{std::to_string(id), to};
  if (action == "dispatch") {
    const Micros start = *parse_rfc3339(now);
    const Micros deadline = m_rules.calendar.add_working_minutes(start, m_rules.limit_minutes(r.str(0, 1)));
    params.push_back(format_rfc3339(deadline));
    set += ", dispatched_at = clock_timestamp(), deadline = $3::timestamptz";
    detail["deadline"] = format_rfc3339(deadline);
    detail["limit_working_minutes"] = m_rules.limit_minutes(r.str(0, 1));
  } else if (action == "extend") {
    long long minutes = 0;
    if (body.contains("working_hours") && body["working_hours"].is_number_integer())
      minutes = body["working_hours"].get<long long>() * 60;
    else if (body.contains("working_days") && body["working_days"].is_number_integer())
      minutes = body["working_days"].get<long long>() * m_rules.calendar.minutes_per_day();
    if (minutes <= 0 || minutes > 366LL * 24 * 60)
      throw unprocessable("invalid_property", "extend needs a positive whole working_hours or working_days");
    if (r.is_null(0, 7)) throw conflict("transition_not_allowed", "the case has no deadline to extend");
    const Micros from = *parse_rfc3339(r.str(0, 7));
    const Micros deadline = m_rules.calendar.add_working_minutes(from, minutes);
    params.push_back(format_rfc3339(deadline));
    set += ", deadline = $3::timestamptz";
    detail["deadline"] = format_rfc3339(deadline);
    detail["extended_working_minutes"] = minutes;
  } else if (action == "hold") {
    params.push_back(status);
    set += ", held_from = $3";
  } else if (action == "close") {
    set += ", closed_at = clock_timestamp()";
  }
  auto updated =
      tx.exec("incidents.transition", "UPDATE incidents i SET " + set + " WHERE id = $1 RETURNING wg_incident_json(i), version", params);
  tx.exec("incidents.event",
          "INSERT INTO incident_events (incident_id, actor, action, from_status, to_status, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
          {std::to_string(id), actor.label(), action, status, to, detail.dump()});
  tx.commit();
  json out = json::parse(updated.str(0, 0));
  out["etag"] = etag_of(id, updated.integer(0, 1));
  return with_events(conn, id, out);
}

int IncidentStore::reassign(pg::Connection& conn, const std::vector<std::string>& codes, const locate::Locator& locator) const {
  auto view = locator.current();
  if (!view.index) return 0;
  // The open cases a change can move: those on a changed code, and those inside a changed
  // area's current shape. Two index-driven halves: as one OR (with EXISTS per case) PostgreSQL
  // tested every open case against the areas, 0.75 s per edit with 2,700 open cases at province
  // scale, growing with the number of cases.
  static constexpr const char* kColumns =
      "SELECT i.id, ST_X(i.location), ST_Y(i.location), coalesce(i.grid_code, ''), coalesce(i.microgrid_code, '') ";
  static constexpr const char* kOpen = "i.status NOT IN ('closed', 'cancelled')";
  std::vector<Param> params;
  std::string sql = std::string(kColumns) + "FROM incidents i WHERE " + kOpen;
  if (!codes.empty()) {
    // The changed areas' current shapes come from the registry (hex EWKB, cast once each).
    params.push_back(json(codes).dump());
    params.push_back(pg::array(registry::current_geometries(conn, codes)));
    sql = "WITH changed AS (SELECT json_array_elements_text($1::json) AS code) " + std::string(kColumns) + "FROM incidents i WHERE " +
          kOpen + " AND i.grid_code IN (SELECT code FROM changed) UNION " + kColumns +
          "FROM (SELECT g::geometry AS geom FROM unnest($2::text[]) AS g) a "
          "JOIN incidents i ON a.geom && i.location AND ST_Covers(a.geom, i.location) WHERE " +
          kOpen;
  }
  auto open = conn.exec("incidents.open_in_changed", sql, params);
  int moved = 0;
  for (int k = 0; k < open.rows(); ++k) {
    const locate::Pt pt{open.number(k, 1), open.number(k, 2)};
    std::string text;
    view.index->append_json(view.index->locate(pt), pt, view.workers.get(), text);
    json answer = json::parse(text);
    const std::string grid = answer["grid"].is_object() ? answer["grid"]["code"].get<std::string>() : "";
    const std::string micro = answer["microgrid"].is_object() ? answer["microgrid"]["code"].get<std::string>() : "";
    if (grid == open.str(k, 3) && micro == open.str(k, 4)) continue;
    pg::Transaction tx(conn);
    // Conditional on the old grid: with several server processes, the first one to get here moves
    // the case and logs it; the others find nothing left to do.
    auto u = tx.exec(
        "incidents.reassign",
        "UPDATE incidents SET grid_code = NULLIF($2, ''), microgrid_code = NULLIF($3, ''), method = $4, "
        "hierarchy = $5::jsonb, version = version + 1 WHERE id = $1 AND coalesce(grid_code, '') = $6 "
        "AND coalesce(microgrid_code, '') = $7 RETURNING status",
        {open.str(k, 0), grid, micro, answer["method"].get<std::string>(), answer["hierarchy"].dump(), open.str(k, 3), open.str(k, 4)});
    if (u.rows() == 1) {
      tx.exec("incidents.event",
              "INSERT INTO incident_events (incident_id, actor, action, from_status, to_status, detail) "
              "VALUES ($1, 'registry', 'reassign', $2, $2, $3::jsonb)",
              {open.str(k, 0), u.str(0, 0),
               json({{"from_grid", open.str(k, 3)}, {"to_grid", grid}, {"to_microgrid", micro}, {"method", answer["method"]}}).dump()});
      ++moved;
    }
    tx.commit();
  }
  return moved;
}

}  // namespace wangge::incidents
