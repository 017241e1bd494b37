#include "incidents/store.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include <algorithm>
#include <map>
#include <set>

#include "core/error.hpp"
#include "crs/point_crs.hpp"
#include "incidents/departments.hpp"
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

json urgings_of(pg::Connection& conn, long long id) {
  auto r = conn.exec("incidents.urgings",
                     "SELECT coalesce(json_agg(json_build_object('id', id, 'at', wg_time(at), 'actor', actor, 'note', note, "
                     "'assignee', assignee, 'status', status, 'answered_at', wg_time(answered_at), 'level', level, "
                     "'escalations', escalations) ORDER BY at, id), '[]'::json) FROM incident_urgings WHERE incident_id = $1",
                     {std::to_string(id)});
  return json::parse(r.str(0, 0));
}

json attachments_of(pg::Connection& conn, long long id) {
  auto r = conn.exec("incidents.attachments",
                     "SELECT coalesce(json_agg(json_build_object('id', id, 'kind', kind, 'content_type', content_type, "
                     "'size_bytes', size_bytes, 'sha256', sha256, 'created_at', wg_time(created_at), 'created_by', created_by, "
                     "'href', '/v1/incidents/' || incident_id || '/attachments/' || id) ORDER BY id), '[]'::json) "
                     "FROM incident_attachments WHERE incident_id = $1",
                     {std::to_string(id)});
  return json::parse(r.str(0, 0));
}

// The code a case is scoped and matched by: its grid, else the lowest area the locator found.
std::string case_code(const json& incident) {
  if (incident["grid"].is_string()) return incident["grid"].get<std::string>();
  if (incident["hierarchy"].is_array() && !incident["hierarchy"].empty()) return incident["hierarchy"].back().value("code", "");
  return "";
}

// "department:12" / "worker:7" → (kind, id); anything else is refused.
std::pair<std::string, long long> parse_assignee(const std::string& text) {
  const auto colon = text.find(':');
  const std::string kind = colon == std::string::npos ? "" : text.substr(0, colon);
  long long id = 0;
  if (kind == "department" || kind == "worker") {
    const char* b = text.data() + colon + 1;
    const char* e = text.data() + text.size();
    auto [end, ec] = std::from_chars(b, e, id);
    if (ec == std::errc() && end == e && id > 0) return {kind, id};
  }
  throw unprocessable("invalid_assignee", "assignee must be \"department:<id>\" or \"worker:<id>\"");
}

struct Assignee {
  std::string ref, name;
};

// The assignee of a dispatch: it must exist, and serve the case: a department whose scope covers
// the case's area and which handles its category; a worker assigned to the case's grid, or
// belonging to an area that contains it (a village's worker may take any of the village's cases).
Assignee check_assignee(pg::Connection& conn, const json& body, const std::string& code, const std::string& category,
                        const std::optional<std::string>& grid) {
  if (!body.contains("assignee") || body["assignee"].is_null())
    throw unprocessable("assignee_required", "dispatch names an assignee: \"department:<id>\" or \"worker:<id>\"");
  if (!body["assignee"].is_string() || body["assignee"].get<std::string>().size() > 60)
    throw unprocessable("invalid_assignee", "assignee must be \"department:<id>\" or \"worker:<id>\"");
  const std::string ref = body["assignee"].get<std::string>();
  const auto [kind, id] = parse_assignee(ref);
  if (kind == "department") {
    auto d = current_department(conn, id);
    if (!d) throw unprocessable("unknown_assignee", "no current department has the id " + std::to_string(id));
    if (code.empty() || !d->fit(code))
      throw unprocessable("assignee_out_of_scope", "department " + d->name + " serves no area containing the case",
                          json({{"scope", d->scope}}).dump());
    if (!d->serves(category))
      throw unprocessable("assignee_out_of_scope", "department " + d->name + " does not handle the category " + category,
                          json({{"categories", d->categories}}).dump());
    return {ref, d->name};
  }
  auto w = conn.exec("incidents.assignee_worker",
                     "SELECT w.name, w.area_code, EXISTS (SELECT 1 FROM worker_assignments wa WHERE wa.worker_id = w.id "
                     "AND wa.unassigned_at IS NULL AND wa.grid_code = $2) FROM workers w WHERE w.id = $1",
                     {std::to_string(id), grid});
  if (w.rows() == 0) throw unprocessable("unknown_assignee", "no worker has the id " + std::to_string(id));
  if (!w.boolean(0, 2) && (code.empty() || !registry::code_within(code, w.str(0, 1))))
    throw unprocessable("assignee_out_of_scope",
                        "worker " + std::to_string(id) + " neither belongs to an area containing the case nor is assigned to its grid");
  return {ref, w.str(0, 0)};
}

// A grid's first worker now (by assignment time, then id): the worker a case in it goes to.
struct GridWorker {
  std::string id, name;
};
constexpr const char* kGridWorkers =
    "SELECT DISTINCT ON (wa.grid_code) wa.grid_code, w.id, w.name FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id "
    "WHERE wa.grid_code = ANY($1::text[]) AND wa.unassigned_at IS NULL ORDER BY wa.grid_code, wa.assigned_at, w.id";

std::map<std::string, GridWorker> grid_workers(pg::Connection& conn, const std::vector<std::string>& grids) {
  std::map<std::string, GridWorker> out;
  if (grids.empty()) return out;
  auto r = conn.exec("incidents.grid_workers", kGridWorkers, {pg::array(grids)});
  for (int i = 0; i < r.rows(); ++i) out[r.str(i, 0)] = GridWorker{r.str(i, 1), r.str(i, 2)};
  return out;
}

// Who a registered case would go to: the department that handles its category and serves its area
// most closely (the longest scope code; the lowest id among equals), then the first worker
// assigned to its grid. `departments` may hold departments of other categories.
json suggestions_for(const std::string& code, const std::optional<std::string>& category, const std::optional<std::string>& grid,
                     const std::vector<Department>& departments, const std::map<std::string, GridWorker>& workers) {
  json out = json::array();
  if (!code.empty() && category) {
    const Department* best = nullptr;
    std::size_t best_fit = 0;
    for (const auto& d : departments) {
      if (!d.serves(*category)) continue;
      if (auto f = d.fit(code); f && (!best || *f > best_fit)) best = &d, best_fit = *f;
    }
    if (best) out.push_back({{"assignee", "department:" + std::to_string(best->id)}, {"name", best->name}, {"reason", "category"}});
  }
  if (grid) {
    auto w = workers.find(*grid);
    if (w != workers.end()) out.push_back({{"assignee", "worker:" + w->second.id}, {"name", w->second.name}, {"reason", "grid"}});
  }
  return out;
}

std::optional<std::string> string_member(const json& incident, const char* name) {
  auto it = incident.find(name);
  return it != incident.end() && it->is_string() ? std::optional<std::string>(it->get<std::string>()) : std::nullopt;
}

json suggestions_from(const json& incident, const std::vector<Department>& departments, const std::map<std::string, GridWorker>& workers) {
  return suggestions_for(case_code(incident), string_member(incident, "category"), string_member(incident, "grid"), departments, workers);
}

json suggestions(pg::Connection& conn, const json& incident) {
  std::vector<Department> departments;
  if (incident["category"].is_string()) departments = departments_for(conn, incident["category"].get<std::string>());
  std::vector<std::string> grids;
  if (incident["grid"].is_string()) grids.push_back(incident["grid"].get<std::string>());
  return suggestions_from(incident, departments, grid_workers(conn, grids));
}

// Who handles each case, by name beside its reference ("worker:<id>" / "department:<id>"), as a
// case board shows it: one read for all the references given (a page's, or one case's).
std::map<std::string, std::string> assignee_names(pg::Connection& conn, const std::vector<std::optional<std::string>>& refs) {
  std::set<std::string> workers, departments;
  for (const auto& ref : refs) {
    if (!ref) continue;
    // Ids as the references were checked when written; anything else has no name to show.
    auto id_after = [&](std::string_view prefix) -> std::optional<std::string> {
      if (ref->rfind(prefix, 0) != 0 || ref->size() == prefix.size() || ref->size() > prefix.size() + 18) return std::nullopt;
      const std::string id = ref->substr(prefix.size());
      if (!registry::all_digits(id)) return std::nullopt;
      return id;
    };
    if (auto id = id_after("worker:")) workers.insert(*id);
    if (auto id = id_after("department:")) departments.insert(*id);
  }
  std::map<std::string, std::string> names;
  if (!workers.empty() || !departments.empty()) {
    auto r = conn.exec("incidents.assignee_names",
                       "SELECT 'worker:' || id, name FROM workers WHERE id = ANY($1::bigint[]) "
                       "UNION ALL SELECT 'department:' || id, name FROM departments WHERE id = ANY($2::bigint[])",
                       {pg::array(std::vector<std::string>(workers.begin(), workers.end())),
                        pg::array(std::vector<std::string>(departments.begin(), departments.end()))});
    for (int row = 0; row < r.rows(); ++row) names[r.str(row, 0)] = r.str(row, 1);
  }
  return names;
}

// The same, written into each case given (a page, or one case) as `assignee_name`; refs[i] is
// incidents[i]'s assignee.
void add_assignee_names(pg::Connection& conn, const std::vector<std::optional<std::string>>& refs, json& incidents) {
  const auto names = assignee_names(conn, refs);
  for (std::size_t i = 0; i < refs.size(); ++i) {
    auto found = refs[i] ? names.find(*refs[i]) : names.end();
    incidents[i]["assignee_name"] = found == names.end() ? json(nullptr) : json(found->second);
  }
}

// The areas an urging climbs, nearest first: the case's hierarchy above its grid (village,
// township, county ...).
std::vector<json> levels_above(const json& hierarchy) {
  std::vector<json> out;
  if (!hierarchy.is_array()) return out;
  for (auto it = hierarchy.rbegin(); it != hierarchy.rend(); ++it) {
    const std::string level = it->value("level", "");
    if (level == "grid" || level == "microgrid") continue;
    json to = {{"code", it->value("code", "")}, {"level", level}};
    if (it->contains("name")) to["name"] = (*it)["name"];
    out.push_back(to);
  }
  return out;
}

// The verifying worker of verify and rework: a worker assigned to the case's grid now, and not
// the one who handled it. Tokens and accounts are not tied to worker records, so the request
// names the worker; the request's actor is logged beside it.
std::string check_verifier(pg::Connection& conn, const json& body, const std::optional<std::string>& grid,
                           const std::optional<std::string>& handled_by) {
  if (!body.contains("worker") || !body["worker"].is_number_integer() || body["worker"].get<long long>() <= 0)
    throw unprocessable("verifier_required", "verification names the verifying worker: \"worker\": <worker id>");
  const std::string id = std::to_string(body["worker"].get<long long>());
  auto w = conn.exec("incidents.verifier",
                     "SELECT EXISTS (SELECT 1 FROM worker_assignments wa WHERE wa.worker_id = w.id AND wa.unassigned_at IS NULL "
                     "AND wa.grid_code = $2) FROM workers w WHERE w.id = $1",
                     {id, grid});
  if (w.rows() == 0) throw unprocessable("unknown_worker", "no worker has the id " + id);
  if (!grid || !w.boolean(0, 0))
    throw unprocessable("verifier_not_in_grid", "worker " + id + " is not assigned to the case's grid " + grid.value_or("(none)"));
  if (handled_by && *handled_by == "worker:" + id)
    throw unprocessable("verifier_is_handler", "worker " + id + " handled the case; another worker of the grid verifies it");
  return "worker:" + id;
}

// References to photos of a verification: ids of the case's own attachments, or http(s) URLs.
json attachment_refs(pg::Connection& conn, const json& body, long long id) {
  json out = json::array();
  if (!body.contains("attachments") || body["attachments"].is_null()) return out;
  const json& refs = body["attachments"];
  if (!refs.is_array() || refs.size() > 20)
    throw unprocessable("invalid_property", "attachments must be an array of at most 20 attachment ids or URLs");
  for (const auto& ref : refs) {
    if (ref.is_number_integer()) {
      auto r = conn.exec("incidents.attachment_ref", "SELECT 1 FROM incident_attachments WHERE id = $1 AND incident_id = $2",
                         {std::to_string(ref.get<long long>()), std::to_string(id)});
      if (r.rows() == 0)
        throw unprocessable("invalid_property",
                            "attachment " + std::to_string(ref.get<long long>()) + " is not an attachment of this case");
      out.push_back({{"attachment", ref}});
    } else if (ref.is_string() && ref.get<std::string>().size() <= 2000 &&
               (ref.get<std::string>().rfind("https://", 0) == 0 || ref.get<std::string>().rfind("http://", 0) == 0)) {
      out.push_back({{"url", ref}});
    } else {
      throw unprocessable("invalid_property", "an attachment reference is an attachment id or an http(s) URL");
    }
  }
  return out;
}

double env_number(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || !(d > 0)) throw std::runtime_error(std::string(name) + " must be a positive number");
  return d;
}

}  // namespace

const std::vector<Transition>& lifecycle() {
  // collect → register (or cancel) → dispatch to an assignee (the clock starts) → handle →
  // feedback (awaiting verification on the ground) → verify → close; rework sends a verified-bad
  // result back to handling (counted), redispatch hands the case to another assignee (the clock
  // runs on), return sends a case back a step, hold parks it (挂账) until resume, extend moves the
  // deadline, urge (督办) presses a late or nearly late case.
  static const std::vector<Transition> all = {
      {"register", {"collect"}, "register"},
      {"cancel", {"collect", "register"}, "cancelled"},
      {"dispatch", {"register"}, "dispatch"},
      {"redispatch", {"dispatch", "handle"}, "dispatch"},
      {"handle", {"dispatch"}, "handle"},
      {"feedback", {"handle"}, "feedback"},
      {"verify", {"feedback"}, "verified"},
      {"rework", {"feedback"}, "handle"},
      {"close", {"verified"}, "closed"},
      {"return", {"dispatch", "handle"}, nullptr},
      {"hold", {"register", "dispatch", "handle"}, "hold"},
      {"resume", {"hold"}, nullptr},
      {"extend", {"dispatch", "handle", "hold"}, nullptr},
      {"urge", {"dispatch", "handle", "hold"}, nullptr},
  };
  return all;
}

bool is_source(std::string_view source) {
  return std::any_of(std::begin(kSources), std::end(kSources), [&](const char* s) { return source == s; });
}

bool is_status(std::string_view status) {
  if (status == "collect") return true;  // where every case starts
  for (const auto& t : lifecycle())
    if (t.to && status == t.to) return true;
  return false;
}

CaseSettings CaseSettings::from_environment() {
  CaseSettings s;
  s.escalate_after_minutes = env_number("WANGGE_ESCALATE_AFTER_MINUTES", s.escalate_after_minutes);
  s.max_attachment_bytes = static_cast<std::size_t>(env_number("WANGGE_MAX_ATTACHMENT_KB", 10 * 1024.0) * 1024);
  return s;
}

json IncidentStore::decorate(pg::Connection& conn, long long id, json incident) const {
  incident["urgings"] = urgings_of(conn, id);
  incident["attachments"] = attachments_of(conn, id);
  incident["suggested_assignees"] = suggestions(conn, incident);
  incident["suggested_assignee"] = incident["suggested_assignees"].empty() ? json(nullptr) : incident["suggested_assignees"][0]["assignee"];
  json one = json::array({std::move(incident)});
  add_assignee_names(conn, {string_member(one[0], "assignee")}, one);
  return with_events(conn, id, std::move(one[0]));
}

// Escalation is done lazily, when the case is next read or moved, instead of by a sweep in the
// background: every server process would run the sweep (several serve one database), and the
// steps are timed exactly anyway: each is recorded at the moment it fell due (urged at + k periods,
// counted only until the urging was answered), so a late reader sees the same history a sweep
// would have written. Call inside a transaction.
void IncidentStore::escalate_due(pg::Connection& conn, long long id) const {
  const double period_s = m_settings.escalate_after_minutes * 60.0;
  auto due = conn.exec("incidents.urgings_due",
                       "SELECT u.id, u.level, extract(epoch FROM coalesce(u.answered_at, clock_timestamp()) - u.at)::float8, "
                       "wg_time(u.at), u.status, i.hierarchy::text FROM incident_urgings u JOIN incidents i ON i.id = u.incident_id "
                       "WHERE u.incident_id = $1 AND u.at + make_interval(secs => $2::float8 * (u.level + 1)) <= "
                       "coalesce(u.answered_at, clock_timestamp()) ORDER BY u.id FOR UPDATE OF u",
                       {std::to_string(id), exact(period_s)});
  int steps = 0;
  for (int k = 0; k < due.rows(); ++k) {
    const auto above = levels_above(json::parse(due.str(k, 5)));
    const long long level = due.integer(k, 1);
    const long long reached =
        std::min<long long>(static_cast<long long>(std::floor(due.number(k, 2) / period_s)), static_cast<long long>(above.size()));
    if (reached <= level) continue;
    const Micros urged = *parse_rfc3339(due.str(k, 3));
    json added = json::array();
    for (long long step = level + 1; step <= reached; ++step) {
      const std::string at = format_rfc3339(urged + static_cast<Micros>(std::llround(step * period_s * 1e6)));
      json detail = {{"urging", due.integer(k, 0)}, {"level", step}, {"to", above[static_cast<std::size_t>(step - 1)]}};
      conn.exec("incidents.escalate_event",
                "INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status, detail) "
                "VALUES ($1, $2::timestamptz, 'supervision', 'escalate', $3, $3, $4::jsonb)",
                {std::to_string(id), at, due.str(k, 4), detail.dump()});
      detail.erase("urging");
      detail["at"] = at;
      added.push_back(detail);
      ++steps;
    }
    conn.exec("incidents.escalate", "UPDATE incident_urgings SET level = $2, escalations = escalations || $3::jsonb WHERE id = $1",
              {due.str(k, 0), std::to_string(reached), added.dump()});
  }
  // The case shows its urgings, so a recorded step changes it: its ETag must change too.
  if (steps > 0) conn.exec("incidents.escalated", "UPDATE incidents SET version = version + 1 WHERE id = $1", {std::to_string(id)});
}

std::string IncidentStore::require_access(pg::Connection& conn, const Actor& actor, long long id) const {
  auto r =
      conn.exec("incidents.access", "SELECT status, grid_code, hierarchy->-1->>'code' FROM incidents WHERE id = $1", {std::to_string(id)});
  if (r.rows() == 0) throw not_found("incident_not_found", "no incident has the id " + std::to_string(id));
  require_case_scope(actor, r.opt(0, 1) ? r.opt(0, 1) : r.opt(0, 2));
  return r.str(0, 0);
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
  return decorate(conn, id, out);
}

json IncidentStore::get(pg::Connection& conn, const Actor& actor, long long id) const {
  require_access(conn, actor, id);
  {
    pg::Transaction tx(conn);
    escalate_due(tx.connection(), id);
    tx.commit();
  }
  auto r = conn.exec("incidents.get", "SELECT wg_incident_json(i), i.version FROM incidents i WHERE i.id = $1", {std::to_string(id)});
  if (r.rows() == 0) throw not_found("incident_not_found", "no incident has the id " + std::to_string(id));
  json out = json::parse(r.str(0, 0));
  out["etag"] = etag_of(id, r.integer(0, 1));
  if (!out["deadline"].is_null() && (out["status"] == "dispatch" || out["status"] == "handle")) {
    const Micros deadline = *parse_rfc3339(out["deadline"].get<std::string>());
    const Micros now = now_utc();
    out["remaining_working_minutes"] =
        now < deadline ? m_rules.calendar.working_minutes_between(now, deadline) : -m_rules.calendar.working_minutes_between(deadline, now);
  }
  return decorate(conn, id, out);
}

namespace {

// The members of a case in a list, each as SQL over the page's row `s`: wg_incident_json's
// (migration 0012) one by one, so that a page built for a board computes only the members it asks
// for (the hierarchy's JSON, the location's GeoJSON and the times' text are most of the work), then
// those list() adds. A test compares a page's cases with the same cases read one by one.
struct ListMember {
  const char* name;
  const char* sql;  // nullptr: computed in list() from the row's keys
};
const std::vector<ListMember>& list_members() {
  // Where the case is, in a word: the name of the lowest area it was located in (its grid's), or
  // its grid's current name for a case stored without its hierarchy (loaded from elsewhere).
  static const std::string grid_name = "coalesce(s.hierarchy->-1->'name', to_jsonb((SELECT a.name FROM " +
                                       registry::area_versions_from("a") + " WHERE a.code = s.grid_code AND a.valid_to IS NULL LIMIT 1)))";
  static const std::vector<ListMember> all = {
      {"id", "s.id"},
      {"location", "ST_AsGeoJSON(s.location, 9, 0)::json"},
      {"category", "s.category"},
      {"source", "s.source"},
      {"status", "s.status"},
      {"description", "s.description"},
      {"reporter", "s.reporter"},
      {"grid", "s.grid_code"},
      {"microgrid", "s.microgrid_code"},
      {"method", "s.method"},
      {"distance_m", "s.distance_m"},
      {"hierarchy", "s.hierarchy"},
      {"input_crs", "s.input_crs"},
      {"input_coordinates", "s.input_coordinates"},
      {"reported_at", "wg_time(s.reported_at)"},
      {"dispatched_at", "wg_time(s.dispatched_at)"},
      {"deadline", "wg_time(s.deadline)"},
      {"closed_at", "wg_time(s.closed_at)"},
      {"held_from", "s.held_from"},
      {"version", "s.version"},
      {"overdue", "(s.deadline IS NOT NULL AND s.status IN ('dispatch', 'handle', 'hold') AND s.deadline < clock_timestamp())"},
      {"assignee", "s.assignee"},
      {"handled_by", "s.handled_by"},
      {"rework_count", "s.rework_count"},
      {"verified_at", "wg_time(s.verified_at)"},
      {"assignee_name", nullptr},
      {"suggested_assignee", nullptr},
      {"suggested_assignee_name", nullptr},
      {"grid_name", grid_name.c_str()},
  };
  return all;
}

}  // namespace

const std::vector<std::string>& incident_list_fields() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> names;
    for (const auto& m : list_members()) names.push_back(m.name);
    return names;
  }();
  return all;
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
  if (q.open) where += " AND i.status NOT IN ('closed', 'cancelled')";
  if (q.source) where += " AND i.source = " + param(*q.source);
  if (q.category) where += " AND i.category = " + param(*q.category);
  if (q.assignee) where += " AND i.assignee = " + param(*q.assignee);
  if (q.from) where += " AND i.reported_at >= " + param(format_rfc3339(*q.from)) + "::timestamptz";
  if (q.to) where += " AND i.reported_at < " + param(format_rfc3339(*q.to)) + "::timestamptz";
  if (q.overdue) where += " AND i.status IN ('dispatch', 'handle', 'hold') AND i.deadline < clock_timestamp()";
  if (q.bbox) {
    const auto& b = *q.bbox;
    where += " AND i.location && ST_MakeEnvelope(" + param(exact(b[0])) + "::float8, " + param(exact(b[1])) + "::float8, " +
             param(exact(b[2])) + "::float8, " + param(exact(b[3])) + "::float8, 4490)";
  }
  // The counts a case board shows beside its page (every match by state, and the overdue ones),
  // from the same scan as the total.
  auto count = conn.exec("incidents.count",
                         "SELECT i.status, count(*), count(*) FILTER (WHERE i.status IN ('dispatch', 'handle', 'hold') "
                         "AND i.deadline < clock_timestamp()) FROM incidents i WHERE " +
                             where + " GROUP BY i.status ORDER BY i.status",
                         params);
  long long matched = 0, overdue = 0;
  json by_status = json::object();
  for (int r = 0; r < count.rows(); ++r) {
    by_status[count.str(r, 0)] = count.integer(r, 1);
    matched += count.integer(r, 1);
    overdue += count.integer(r, 2);
  }
  // The members asked for (all when none is named), `id` always.
  auto wanted = [&](std::string_view name) {
    return q.fields.empty() || name == "id" || std::find(q.fields.begin(), q.fields.end(), name) != q.fields.end();
  };
  std::string members;
  for (const auto& m : list_members())
    if (m.sql && wanted(m.name)) members += std::string(members.empty() ? "" : ", ") + "'" + m.name + "', " + m.sql;
  // Both orders are total (id last), so pages do not overlap. The matches are sorted by their keys
  // alone and only the page's rows are read whole: sorting every match's whole row costs more than
  // the page.
  const std::string inner = q.by_deadline ? "i.deadline NULLS LAST, i.reported_at, i.id" : "i.id";
  const std::string outer = q.by_deadline ? "p.deadline NULLS LAST, p.reported_at, p.id" : "p.id";
  const std::string lim = param(std::to_string(q.limit)), off = param(std::to_string(q.offset));
  // Beside each case's members, what the names and suggestions are looked up by: its grid, the
  // code it is scoped by (its grid, else the lowest area it was located in), category, assignee.
  auto rows = conn.exec("incidents.list",
                        "SELECT json_build_object(" + members +
                            ")::text, s.grid_code, coalesce(s.grid_code, s.hierarchy->-1->>'code', ''), s.category, s.assignee "
                            "FROM (SELECT i.id, i.deadline, i.reported_at FROM incidents i WHERE " +
                            where + " ORDER BY " + inner + " LIMIT " + lim + "::int OFFSET " + off +
                            "::bigint) p JOIN incidents s ON s.id = p.id ORDER BY " + outer,
                        params);
  json items = json::array();
  for (int r = 0; r < rows.rows(); ++r) items.push_back(json::parse(rows.str(r, 0)));
  // Each case comes with its first suggested assignee, as its detail has it: two reads for the
  // whole page (the departments, the workers of the page's grids), not two per case.
  if (!items.empty() && (wanted("suggested_assignee") || wanted("suggested_assignee_name"))) {
    const auto departments = current_departments(conn);
    std::set<std::string> grids;
    for (int r = 0; r < rows.rows(); ++r)
      if (auto g = rows.opt(r, 1)) grids.insert(*g);
    const auto workers = grid_workers(conn, std::vector<std::string>(grids.begin(), grids.end()));
    for (int r = 0; r < rows.rows(); ++r) {
      const json s = suggestions_for(rows.str(r, 2), rows.opt(r, 3), rows.opt(r, 1), departments, workers);
      if (wanted("suggested_assignee")) items[r]["suggested_assignee"] = s.empty() ? json(nullptr) : s[0]["assignee"];
      if (wanted("suggested_assignee_name")) items[r]["suggested_assignee_name"] = s.empty() ? json(nullptr) : s[0]["name"];
    }
  }
  if (!items.empty() && wanted("assignee_name")) {
    // The assignee column, whether or not the page carries the member.
    std::vector<std::optional<std::string>> refs;
    for (int r = 0; r < rows.rows(); ++r) refs.push_back(rows.opt(r, 4));
    add_assignee_names(conn, refs, items);
  }
  return json{{"numberMatched", matched}, {"counts", {{"status", by_status}, {"overdue", overdue}}}, {"incidents", std::move(items)}};
}

json IncidentStore::transition(pg::Connection& conn, const Actor& actor, long long id, const json& body,
                               const std::vector<std::string>& if_match) const {
  require_case_role(actor);
  if (!body.is_object() || !body.contains("action") || !body["action"].is_string())
    throw bad_request("invalid_body", "the body must be {\"action\": ..., \"note\"?: ...}");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "action" && it.key() != "note" && it.key() != "working_hours" && it.key() != "working_days" && it.key() != "assignee" &&
        it.key() != "worker" && it.key() != "attachments")
      throw unprocessable("unknown_property", "unknown property '" + it.key() +
                                                  "'; allowed: action, note, working_hours, working_days, assignee, worker, attachments");
  const std::string action = body["action"].get<std::string>();
  const auto& all = lifecycle();
  auto t = std::find_if(all.begin(), all.end(), [&](const Transition& x) { return action == x.action; });
  if (t == all.end()) {
    std::string names;
    for (const auto& x : all) names += (names.empty() ? "" : ", ") + std::string(x.action);
    throw unprocessable("unknown_action", "action must be one of " + names);
  }
  // Grid workers work the case on the ground: handling, feedback, and verifying another's work.
  if (actor.role == Role::worker && action != "handle" && action != "feedback" && action != "verify" && action != "rework")
    throw forbidden("role_forbidden", "a grid worker may only handle cases, report feedback and verify");
  const std::string note = text_field(body, "note", false);

  pg::Transaction tx(conn);
  auto r = tx.exec("incidents.lock",
                   "SELECT status, category, version, grid_code, hierarchy->-1->>'code', held_from, wg_time(clock_timestamp()), "
                   "wg_time(deadline), assignee, handled_by FROM incidents WHERE id = $1 FOR UPDATE",
                   {std::to_string(id)});
  if (r.rows() == 0) throw not_found("incident_not_found", "no incident has the id " + std::to_string(id));
  const std::optional<std::string> grid = r.opt(0, 3);
  require_case_scope(actor, grid ? grid : r.opt(0, 4));
  const std::string status = r.str(0, 0);
  const std::string category = r.str(0, 1);
  const long long version = r.integer(0, 2);
  const std::optional<std::string> assignee = r.opt(0, 8);
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
  // Steps due before this change are recorded first, at their own times.
  escalate_due(tx.connection(), id);
  const std::string now = r.str(0, 6);
  std::string to = t->to ? t->to : status;
  if (action == "return") to = status == "dispatch" ? "register" : "dispatch";
  if (action == "resume") to = r.opt(0, 5).value_or("register");
  json detail = {{"note", note}};
  std::string set = "status = $2, version = version + 1";
  std::vector<Param> params{std::to_string(id), to};
  auto param = [&](Param p) {
    params.push_back(std::move(p));
    return "$" + std::to_string(params.size());
  };
  const std::string code = grid ? *grid : r.opt(0, 4).value_or("");
  if (action == "dispatch" || action == "redispatch") {
    const Assignee to_whom = check_assignee(tx.connection(), body, code, category, grid);
    if (action == "redispatch" && assignee && *assignee == to_whom.ref)
      throw unprocessable("invalid_assignee", "the case is already assigned to " + to_whom.ref);
    set += ", assignee = " + param(to_whom.ref);
    detail["assignee"] = to_whom.ref;
    detail["assignee_name"] = to_whom.name;
    if (action == "redispatch") detail["previous_assignee"] = assignee ? json(*assignee) : json(nullptr);
  }
  if (action == "dispatch") {
    const Micros start = *parse_rfc3339(now);
    const Micros deadline = m_rules.calendar.add_working_minutes(start, m_rules.limit_minutes(category));
    set += ", dispatched_at = clock_timestamp(), deadline = " + param(format_rfc3339(deadline)) + "::timestamptz";
    detail["deadline"] = format_rfc3339(deadline);
    detail["limit_working_minutes"] = m_rules.limit_minutes(category);
  } else if (action == "return") {
    // Who gave the case back stays in the chain; back at register it has no assignee any more.
    detail["assignee"] = assignee ? json(*assignee) : json(nullptr);
    if (to == "register") set += ", assignee = NULL";
  } else if (action == "feedback") {
    set += ", handled_by = assignee";
    detail["handled_by"] = assignee ? json(*assignee) : json(nullptr);
  } else if (action == "verify" || action == "rework") {
    const std::string verifier = check_verifier(tx.connection(), body, grid, r.opt(0, 9));
    detail["worker"] = verifier;
    detail["handled_by"] = r.opt(0, 9) ? json(*r.opt(0, 9)) : json(nullptr);
    if (action == "verify") {
      detail["attachments"] = attachment_refs(tx.connection(), body, id);
      set += ", verified_at = clock_timestamp()";
    } else {
      if (note.empty()) throw unprocessable("missing_property", "rework needs a note saying what is still wrong");
      set += ", rework_count = rework_count + 1";
    }
  } else if (action == "urge") {
    // Only late or nearly late cases: less than one working day left (or none).
    if (r.is_null(0, 7)) throw conflict("not_urgent", "the case has no deadline to urge against");
    const Micros deadline = *parse_rfc3339(r.str(0, 7)), at = *parse_rfc3339(now);
    const long long remaining =
        at < deadline ? m_rules.calendar.working_minutes_between(at, deadline) : -m_rules.calendar.working_minutes_between(deadline, at);
    if (remaining >= m_rules.calendar.minutes_per_day())
      throw conflict(
          "not_urgent",
          "the case has " + std::to_string(remaining) + " working minutes left; urge cases that are overdue or due within a working day",
          json({{"remaining_working_minutes", remaining}}).dump());
    auto u = tx.exec("incidents.urge",
                     "INSERT INTO incident_urgings (incident_id, actor, note, assignee, status) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                     {std::to_string(id), actor.label(), note, assignee, status});
    detail["urging"] = u.integer(0, 0);
    detail["assignee"] = assignee ? json(*assignee) : json(nullptr);
    detail["remaining_working_minutes"] = remaining;
    // Past its deadline is overdue even when no working time has passed since (a deadline at
    // noon, urged in the lunch break), as the case board's overdue filter counts it.
    detail["overdue"] = at > deadline;
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
    set += ", deadline = " + param(format_rfc3339(deadline)) + "::timestamptz";
    detail["deadline"] = format_rfc3339(deadline);
    detail["extended_working_minutes"] = minutes;
  } else if (action == "hold") {
    set += ", held_from = " + param(status);
  } else if (action == "close") {
    set += ", closed_at = clock_timestamp()";
  }
  auto updated =
      tx.exec("incidents.transition", "UPDATE incidents i SET " + set + " WHERE id = $1 RETURNING wg_incident_json(i), version", params);
  // A case that moves on, or goes to someone else, answers its urgings: they stop climbing.
  if (to != status || action == "redispatch")
    tx.exec("incidents.urgings_answered",
            "UPDATE incident_urgings SET answered_at = clock_timestamp() WHERE incident_id = $1 AND answered_at IS NULL",
            {std::to_string(id)});
  tx.exec("incidents.event",
          "INSERT INTO incident_events (incident_id, actor, action, from_status, to_status, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
          {std::to_string(id), actor.label(), action, status, to, detail.dump()});
  tx.commit();
  json out = json::parse(updated.str(0, 0));
  out["etag"] = etag_of(id, updated.integer(0, 1));
  return decorate(conn, id, out);
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
