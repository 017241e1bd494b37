#include "incidents/departments.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "pg/array.hpp"
#include "registry/audit.hpp"
#include "registry/codes.hpp"
#include "registry/queries.hpp"

namespace wangge::incidents {
namespace {

using nlohmann::json;
using registry::Actor;

// Bounds of what one department may list: a county's departments serve a few dozen townships and
// handle a few dozen of the categories of geodata/case_categories.json.
constexpr std::size_t kMaxScope = 500, kMaxCategories = 200, kMaxText = 200;

const char* kColumns =
    "d.id, d.name, array_to_json(d.scope)::text, array_to_json(d.categories)::text, d.phone, d.version, wg_time(d.created_at), "
    "d.created_by";

json department_json(const pg::Result& r, int i) {
  return json{{"id", r.integer(i, 0)},
              {"name", r.str(i, 1)},
              {"scope", json::parse(r.str(i, 2))},
              {"categories", json::parse(r.str(i, 3))},
              {"phone", r.is_null(i, 4) ? json(nullptr) : json(r.str(i, 4))},
              {"version", r.integer(i, 5)},
              {"created_at", r.str(i, 6)},
              {"created_by", r.str(i, 7)},
              {"assignee", "department:" + r.str(i, 0)},
              {"etag", department_etag(r.integer(i, 0), r.integer(i, 5))}};
}

Department department_of(const pg::Result& r, int i) {
  return Department{r.integer(i, 0), r.str(i, 1), json::parse(r.str(i, 2)).get<std::vector<std::string>>(),
                    json::parse(r.str(i, 3)).get<std::vector<std::string>>()};
}

std::vector<std::string> text_list(const json& body, const char* name, std::size_t max) {
  if (!body.contains(name) || !body[name].is_array() || body[name].empty())
    throw unprocessable("missing_property", std::string(name) + " must be a non-empty array of strings");
  if (body[name].size() > max)
    throw unprocessable("invalid_property", std::string(name) + " has more than " + std::to_string(max) + " entries");
  std::vector<std::string> out;
  for (const auto& v : body[name]) {
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > kMaxText)
      throw unprocessable("invalid_property", std::string(name) + " must hold non-empty strings of at most 200 bytes");
    out.push_back(v.get<std::string>());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The scope codes must be current areas inside the actor's own scope.
void check_scope(pg::Connection& conn, const Actor& actor, const std::vector<std::string>& scope) {
  for (const auto& code : scope) {
    actor.require_edit(code);
    if (!registry::is_current(conn, code)) throw unprocessable("unknown_area", "area " + code + " does not exist (or is retired)");
  }
}

void check_properties(const json& body) {
  if (!body.is_object()) throw bad_request("invalid_body", "the body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "name" && it.key() != "scope" && it.key() != "categories" && it.key() != "phone")
      throw unprocessable("unknown_property", "unknown property '" + it.key() + "'; allowed: name, scope, categories, phone");
}

std::string name_of(const json& body) {
  if (!body.contains("name") || !body["name"].is_string() || body["name"].get<std::string>().empty() ||
      body["name"].get<std::string>().size() > kMaxText)
    throw unprocessable("missing_property", "a department needs a name (at most 200 bytes)");
  return body["name"].get<std::string>();
}

pg::Param phone_of(const json& body) {
  if (!body.contains("phone") || body["phone"].is_null()) return std::nullopt;
  if (!body["phone"].is_string() || body["phone"].get<std::string>().size() > 50)
    throw unprocessable("invalid_property", "phone must be a string of at most 50 bytes");
  return body["phone"].get<std::string>();
}

void refuse_taken_name(pg::Connection& conn, const std::string& name, long long except) {
  auto r = conn.exec("departments.name_taken", "SELECT id FROM departments WHERE name = $1 AND retired_at IS NULL AND id <> $2",
                     {name, std::to_string(except)});
  if (r.rows() > 0)
    throw conflict("name_taken", "a current department is already named " + name, json({{"department", r.integer(0, 0)}}).dump());
}

// A department's scope meets the actor's when either subtree contains the other.
bool meets(const std::vector<std::string>& scope, const std::string& area) {
  return std::any_of(scope.begin(), scope.end(),
                     [&](const std::string& s) { return registry::code_within(s, area) || registry::code_within(area, s); });
}

void check_if_match(const std::vector<std::string>& if_match, long long id, long long version) {
  const std::string etag = department_etag(id, version);
  if (!if_match.empty() && std::none_of(if_match.begin(), if_match.end(), [&](const std::string& e) { return e == "*" || e == etag; }))
    throw Error(412, "precondition_failed", "the department has changed since it was read (current ETag " + etag + ")",
                json({{"current_etag", etag}}).dump());
}

pg::Result locked(pg::Transaction& tx, long long id) {
  auto r = tx.exec("departments.lock",
                   std::string("SELECT ") + kColumns + " FROM departments d WHERE d.id = $1 AND d.retired_at IS NULL FOR UPDATE",
                   {std::to_string(id)});
  if (r.rows() == 0) throw not_found("department_not_found", "no current department has the id " + std::to_string(id));
  return r;
}

}  // namespace

bool Department::serves(const std::string& category) const {
  return std::find(categories.begin(), categories.end(), category) != categories.end();
}

std::optional<std::size_t> Department::fit(const std::string& code) const {
  std::optional<std::size_t> best;
  for (const auto& s : scope)
    if (registry::code_within(code, s)) best = std::max(best.value_or(0), registry::code_prefix(s).size());
  return best;
}

std::string department_etag(long long id, long long version) {
  return "\"dep-" + std::to_string(id) + "-v" + std::to_string(version) + "\"";
}

std::optional<Department> current_department(pg::Connection& conn, long long id) {
  auto r =
      conn.exec("departments.current", std::string("SELECT ") + kColumns + " FROM departments d WHERE d.id = $1 AND d.retired_at IS NULL",
                {std::to_string(id)});
  if (r.rows() == 0) return std::nullopt;
  return department_of(r, 0);
}

std::vector<Department> departments_for(pg::Connection& conn, const std::string& category) {
  auto r = conn.exec(
      "departments.for_category",
      std::string("SELECT ") + kColumns + " FROM departments d WHERE $1 = ANY (d.categories) AND d.retired_at IS NULL ORDER BY d.id",
      {category});
  std::vector<Department> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(department_of(r, i));
  return out;
}

std::vector<Department> current_departments(pg::Connection& conn) {
  auto r =
      conn.exec("departments.current", std::string("SELECT ") + kColumns + " FROM departments d WHERE d.retired_at IS NULL ORDER BY d.id");
  std::vector<Department> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(department_of(r, i));
  return out;
}

json DepartmentStore::create(pg::Connection& conn, const Actor& actor, const json& body) const {
  actor.require_edit_role();
  check_properties(body);
  const std::string name = name_of(body);
  const auto scope = text_list(body, "scope", kMaxScope);
  const auto categories = text_list(body, "categories", kMaxCategories);
  const pg::Param phone = phone_of(body);
  pg::Transaction tx(conn);
  check_scope(tx.connection(), actor, scope);
  // Serialises creations and renames so two requests cannot both take a free name.
  tx.exec("departments.names_lock", "SELECT pg_advisory_xact_lock(hashtext('wangge.departments.names'))");
  refuse_taken_name(tx.connection(), name, 0);
  auto r = tx.exec("departments.insert",
                   "INSERT INTO departments AS d (name, scope, categories, phone, created_by) VALUES ($1, $2::text[], $3::text[], $4, $5) "
                   "RETURNING " +
                       std::string(kColumns),
                   {name, pg::array(scope), pg::array(categories), phone, actor.label()});
  json out = department_json(r, 0);
  registry::audit::record(tx.connection(), actor.label(), "department.create",
                          {"department", r.str(0, 0), std::nullopt, 1, {{"name", name}, {"scope", scope}, {"categories", categories}}});
  tx.commit();
  return out;
}

json DepartmentStore::get(pg::Connection& conn, const Actor& actor, long long id) const {
  auto r = conn.exec("departments.get", std::string("SELECT ") + kColumns + ", d.retired_at IS NOT NULL FROM departments d WHERE d.id = $1",
                     {std::to_string(id)});
  if (r.rows() == 0) throw not_found("department_not_found", "no department has the id " + std::to_string(id));
  if (actor.scope && !meets(department_of(r, 0).scope, *actor.scope))
    throw forbidden("outside_scope", "the department serves no area inside this token's scope " + *actor.scope);
  json out = department_json(r, 0);
  out["retired"] = r.boolean(0, 8);
  return out;
}

json DepartmentStore::list(pg::Connection& conn, const Actor& actor, const std::optional<std::string>& area,
                           const std::optional<std::string>& category) const {
  auto r = conn.exec("departments.list",
                     std::string("SELECT ") + kColumns +
                         " FROM departments d WHERE d.retired_at IS NULL AND ($1::text IS NULL OR $1 = ANY (d.categories)) ORDER BY d.id",
                     {category});
  json out = json::array();
  for (int i = 0; i < r.rows(); ++i) {
    const Department d = department_of(r, i);
    if (actor.scope && !meets(d.scope, *actor.scope)) continue;
    if (area && !meets(d.scope, *area)) continue;
    out.push_back(department_json(r, i));
  }
  return json{{"departments", out}, {"numberReturned", out.size()}};
}

json DepartmentStore::update(pg::Connection& conn, const Actor& actor, long long id, const json& body,
                             const std::vector<std::string>& if_match) const {
  actor.require_edit_role();
  check_properties(body);
  pg::Transaction tx(conn);
  tx.exec("departments.names_lock", "SELECT pg_advisory_xact_lock(hashtext('wangge.departments.names'))");
  auto r = locked(tx, id);
  const long long version = r.integer(0, 5);
  check_if_match(if_match, id, version);
  const Department before = department_of(r, 0);
  // Both the old and the new scope must lie inside the actor's: a township's manager neither takes
  // nor gives away a county department.
  check_scope(tx.connection(), actor, before.scope);
  const std::string name = body.contains("name") ? name_of(body) : before.name;
  const auto scope = body.contains("scope") ? text_list(body, "scope", kMaxScope) : before.scope;
  const auto categories = body.contains("categories") ? text_list(body, "categories", kMaxCategories) : before.categories;
  if (body.contains("scope")) check_scope(tx.connection(), actor, scope);
  if (name != before.name) refuse_taken_name(tx.connection(), name, id);
  const pg::Param phone = body.contains("phone") ? phone_of(body) : r.opt(0, 4);
  auto u = tx.exec("departments.update",
                   "UPDATE departments d SET name = $2, scope = $3::text[], categories = $4::text[], phone = $5, version = version + 1 "
                   "WHERE d.id = $1 RETURNING " +
                       std::string(kColumns),
                   {std::to_string(id), name, pg::array(scope), pg::array(categories), phone});
  registry::audit::record(tx.connection(), actor.label(), "department.update",
                          {"department",
                           std::to_string(id),
                           version,
                           version + 1,
                           {{"name", name}, {"scope", scope}, {"categories", categories}, {"changed", [&] {
                                                                                             json keys = json::array();
                                                                                             for (auto it = body.begin(); it != body.end();
                                                                                                  ++it)
                                                                                               keys.push_back(it.key());
                                                                                             return keys;
                                                                                           }()}}});
  json out = department_json(u, 0);
  tx.commit();
  return out;
}

void DepartmentStore::retire(pg::Connection& conn, const Actor& actor, long long id, const std::vector<std::string>& if_match) const {
  actor.require_edit_role();
  pg::Transaction tx(conn);
  auto r = locked(tx, id);
  const long long version = r.integer(0, 5);
  check_if_match(if_match, id, version);
  check_scope(tx.connection(), actor, department_of(r, 0).scope);
  auto open =
      tx.exec("departments.open_cases", "SELECT count(*) FROM incidents WHERE assignee = $1 AND status NOT IN ('closed', 'cancelled')",
              {"department:" + std::to_string(id)});
  if (open.integer(0, 0) > 0)
    throw conflict("department_in_use", "the department still handles " + open.str(0, 0) + " open cases; re-dispatch them first",
                   json({{"open_cases", open.integer(0, 0)}}).dump());
  tx.exec("departments.retire", "UPDATE departments SET retired_at = clock_timestamp(), version = version + 1 WHERE id = $1",
          {std::to_string(id)});
  registry::audit::record(tx.connection(), actor.label(), "department.retire",
                          {"department", std::to_string(id), version, version + 1, {}});
  tx.commit();
}

}  // namespace wangge::incidents
