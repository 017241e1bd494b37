// /v1/incidents: cases located at creation and moved through their lifecycle, their photos;
// /v1/incidents/lifecycle: that lifecycle as data; /v1/departments: the departments cases are
// dispatched to.
#include <algorithm>
#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "incidents/departments.hpp"
#include "incidents/routes.hpp"
#include "registry/auth.hpp"

namespace wangge::incidents {
namespace {

using namespace http;  // Request, Response, json_body, the parameter parsers

long long positive_id(const std::string& text, const char* what) {
  long long id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0)
    throw bad_request("invalid_parameter", std::string(what) + " id is a positive integer");
  return id;
}

long long incident_id(const std::string& text) { return positive_id(text, "an incident"); }

std::vector<std::string> if_match_of(const Request& req) {
  if (auto h = req.header("if-match")) return registry::parse_if_match(*h);
  return {};
}

// Weak and strong tags compare alike here (parse_if_match drops the W/): a list is never ranged.
std::vector<std::string> if_none_match_of(const Request& req) {
  if (auto h = req.header("if-none-match")) return registry::parse_if_match(*h);
  return {};
}

Response with_etag(int status, const nlohmann::json& incident) {
  Response r = json_response(status, incident.dump());
  r.headers.emplace_back("ETag", incident["etag"].get<std::string>());
  return r;
}

// What an action needs in the PATCH body besides "action", for the lifecycle document: a client
// builds each action's form from it. Kept beside the route, next to the body members the store
// accepts; the API test sends each action without its required input and expects the refusal.
nlohmann::json inputs_of(std::string_view action) {
  using nlohmann::json;
  const json assignee = {{"name", "assignee"},
                         {"required", true},
                         {"format", "department:<id> | worker:<id>"},
                         {"choices", json::array({"/v1/departments?area={grid}&category={category}", "/v1/areas/{grid}/workers"})}};
  // The verifying worker: one of the case's grid, not the one who handled it (handled_by).
  const json worker = {{"name", "worker"},
                       {"required", true},
                       {"format", "<worker id>"},
                       {"choices", json::array({"/v1/areas/{grid}/workers"})},
                       {"excludes", "handled_by"}};
  const json note = {{"name", "note"}, {"required", false}, {"format", "text"}};
  if (action == "dispatch" || action == "redispatch") return json::array({assignee, note});
  if (action == "verify")
    return json::array({worker, note, {{"name", "attachments"}, {"required", false}, {"format", "[<attachment id> | <http(s) URL>]"}}});
  if (action == "rework") return json::array({worker, {{"name", "note"}, {"required", true}, {"format", "text"}}});
  if (action == "extend")
    return json::array(
        {{{"name", "working_hours"}, {"required", true}, {"format", "positive integer"}, {"instead", "working_days"}}, note});
  return json::array({note});
}

}  // namespace

void add_routes(http::RouteTable& routes, registry::Registry& reg, const locate::Locator& locator, IncidentStore& store) {
  registry::Registry* r = &reg;
  const locate::Locator* l = &locator;
  IncidentStore* cases = &store;
  routes.add("POST", "/v1/incidents", [r, l, cases](const Request& req) {
    auto actor = r->authenticate(req);
    auto body = json_body(req);
    auto view = l->current();
    auto incident = cases->create(*r->pool.acquire(), actor, body, view, crs_text(req));
    Response res = with_etag(201, incident);
    res.headers.emplace_back("Location", r->config.base_url() + "/v1/incidents/" + std::to_string(incident["id"].get<long long>()));
    return res;
  });
  routes.add("GET", "/v1/incidents", [r, cases](const Request& req) {
    auto actor = r->authenticate(req);
    IncidentQuery q;
    q.area = req.param("area");
    q.status = req.param("status");
    if (q.status && !is_status(*q.status))
      throw bad_request("invalid_parameter",
                        "status must be one of collect, register, dispatch, handle, feedback, verified, closed, cancelled, hold");
    q.category = req.param("category");
    q.source = req.param("source");
    if (q.source && !is_source(*q.source)) throw bad_request("invalid_parameter", "source must be one of hotline, app, worker, video");
    q.open = bool_param(req, "open", false);
    const std::string sort = req.param("sort").value_or("id");
    if (sort != "id" && sort != "deadline") throw bad_request("invalid_parameter", "sort must be id or deadline");
    q.by_deadline = sort == "deadline";
    q.assignee = req.param("assignee");
    if (auto b = req.param("bbox")) q.bbox = bbox_param(*b);
    q.from = time_param(req, "from");
    q.to = time_param(req, "to");
    q.overdue = bool_param(req, "overdue", false);
    q.limit = static_cast<int>(int_param(req, "limit", 100, 1, 10000));
    q.offset = int_param(req, "offset", 0, 0, 1000000000);
    if (auto fields = req.param("fields")) {
      const auto& known = incident_list_fields();
      std::string_view rest = *fields;
      while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string name(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (std::find(known.begin(), known.end(), name) == known.end()) {
          std::string all;
          for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
          throw bad_request("invalid_parameter", "fields names members of a case, separated by commas: " + all);
        }
        if (std::find(q.fields.begin(), q.fields.end(), name) == q.fields.end()) q.fields.push_back(name);
      }
    }
    auto page = cases->list(*r->pool.acquire(), actor, q);
    const long long matched = page["numberMatched"].get<long long>();
    page["numberReturned"] = page["incidents"].size();
    nlohmann::json links = nlohmann::json::array();
    if (q.offset + static_cast<long long>(page["incidents"].size()) < matched)
      links.push_back({{"rel", "next"}, {"href", page_link(r->config.base_url(), req, q.offset + q.limit, q.limit)}});
    page["links"] = links;
    // The board polls this every few seconds: an ETag of the answer itself (so it covers the
    // caller's scope and cases turning overdue with time) lets an unchanged board cost a 304
    // without a body.
    std::string body = page.dump();
    const std::string etag = "\"" + registry::sha256_hex(body).substr(0, 32) + "\"";
    const auto tags = if_none_match_of(req);
    const bool unchanged = std::any_of(tags.begin(), tags.end(), [&](const std::string& t) { return t == "*" || t == etag; });
    Response res = json_response(unchanged ? 304 : 200, unchanged ? std::string() : std::move(body));
    if (unchanged) res.content_type.clear();
    res.headers.emplace_back("ETag", etag);
    res.headers.emplace_back("Cache-Control", "private, no-cache");
    return res;
  });
  // The lifecycle as data (each action, the states it leaves from, the state it leads to, the inputs
  // it needs) and the categories with their time limits, so a client builds a case's actions and
  // its intake form from the rules the server enforces instead of a copy that would drift. Urging is
  // accepted only for a case due within urge_within_working_minutes (or overdue).
  routes.add("GET", "/v1/incidents/lifecycle", [r, cases](const Request& req) {
    r->authenticate(req);
    nlohmann::json actions = nlohmann::json::array();
    nlohmann::json states = nlohmann::json::array();
    for (const auto& t : lifecycle()) {
      nlohmann::json from = nlohmann::json::array();
      for (const char* s : t.from) from.push_back(s);
      // A null `to`: the case stays where it is (extend, urge) or goes back to where it was (return, resume).
      actions.push_back({{"action", t.action},
                         {"from", from},
                         {"to", t.to ? nlohmann::json(t.to) : nlohmann::json(nullptr)},
                         {"inputs", inputs_of(t.action)}});
      if (t.to && std::find(states.begin(), states.end(), t.to) == states.end()) states.push_back(t.to);
    }
    Response res = json_response(200, nlohmann::json{{"states", states},
                                                     {"actions", actions},
                                                     {"categories", cases->rules().categories},
                                                     {"urge_within_working_minutes", cases->rules().calendar.minutes_per_day()}}
                                          .dump());
    res.headers.emplace_back("Cache-Control", "no-cache");
    return res;
  });
  routes.add("GET", "/v1/incidents/{id}", [r, cases](const Request& req) {
    auto actor = r->authenticate(req);
    return with_etag(200, cases->get(*r->pool.acquire(), actor, incident_id(req.path_param("id"))));
  });
  routes.add("PATCH", "/v1/incidents/{id}", [r, cases](const Request& req) {
    auto actor = r->authenticate(req);
    const long long id = incident_id(req.path_param("id"));
    return with_etag(200, cases->transition(*r->pool.acquire(), actor, id, json_body(req), if_match_of(req)));
  });

  // Photos: the body is the image itself (Content-Type image/jpeg, image/png or image/webp).
  routes.add("POST", "/v1/incidents/{id}/attachments", [r, cases](const Request& req) {
    auto actor = r->authenticate(req);
    const long long id = incident_id(req.path_param("id"));
    auto kind = req.param("kind");
    if (!kind) throw bad_request("invalid_parameter", "kind is required: before or after");
    auto doc = cases->attach(*r->pool.acquire(), actor, id, *kind, req.header("content-type").value_or(""), req.body);
    Response res = json_response(201, doc.dump());
    res.headers.emplace_back("Location", r->config.base_url() + doc["href"].get<std::string>());
    return res;
  });
  routes.add("GET", "/v1/incidents/{id}/attachments", [r, cases](const Request& req) {
    auto actor = r->authenticate(req);
    return json_response(200, cases->attachments(*r->pool.acquire(), actor, incident_id(req.path_param("id"))).dump());
  });
  routes.add("GET", "/v1/incidents/{id}/attachments/{attachment}", [r, cases](const Request& req) {
    auto actor = r->authenticate(req);
    auto a = cases->attachment(*r->pool.acquire(), actor, incident_id(req.path_param("id")),
                               positive_id(req.path_param("attachment"), "an attachment"));
    Response res;
    res.status = 200;
    res.content_type = a.content_type;
    res.body = std::move(a.bytes);
    res.headers.emplace_back("ETag", "\"" + a.sha256 + "\"");
    return res;
  });

  // Departments: stateless store, one per route table.
  auto departments = std::make_shared<DepartmentStore>();
  routes.add("POST", "/v1/departments", [r, departments](const Request& req) {
    auto actor = r->authenticate(req);
    auto body = json_body(req);
    auto doc = departments->create(*r->pool.acquire(), actor, body);
    Response res = with_etag(201, doc);
    res.headers.emplace_back("Location", r->config.base_url() + "/v1/departments/" + std::to_string(doc["id"].get<long long>()));
    return res;
  });
  routes.add("GET", "/v1/departments", [r, departments](const Request& req) {
    auto actor = r->authenticate(req);
    return json_response(200, departments->list(*r->pool.acquire(), actor, req.param("area"), req.param("category")).dump());
  });
  routes.add("GET", "/v1/departments/{id}", [r, departments](const Request& req) {
    auto actor = r->authenticate(req);
    return with_etag(200, departments->get(*r->pool.acquire(), actor, positive_id(req.path_param("id"), "a department")));
  });
  routes.add("PATCH", "/v1/departments/{id}", [r, departments](const Request& req) {
    auto actor = r->authenticate(req);
    const long long id = positive_id(req.path_param("id"), "a department");
    return with_etag(200, departments->update(*r->pool.acquire(), actor, id, json_body(req), if_match_of(req)));
  });
  routes.add("DELETE", "/v1/departments/{id}", [r, departments](const Request& req) {
    auto actor = r->authenticate(req);
    departments->retire(*r->pool.acquire(), actor, positive_id(req.path_param("id"), "a department"), if_match_of(req));
    return empty_response(204);
  });
}

}  // namespace wangge::incidents
