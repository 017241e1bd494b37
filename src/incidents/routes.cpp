// /v1/incidents: cases located at creation and moved through their lifecycle, their photos;
// /v1/departments: the departments cases are dispatched to.
#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "incidents/departments.hpp"
#include "incidents/routes.hpp"

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

Response with_etag(int status, const nlohmann::json& incident) {
  Response r = json_response(status, incident.dump());
  r.headers.emplace_back("ETag", incident["etag"].get<std::string>());
  return r;
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
    q.assignee = req.param("assignee");
    if (auto b = req.param("bbox")) q.bbox = bbox_param(*b);
    q.from = time_param(req, "from");
    q.to = time_param(req, "to");
    q.overdue = bool_param(req, "overdue", false);
    q.limit = static_cast<int>(int_param(req, "limit", 100, 1, 10000));
    q.offset = int_param(req, "offset", 0, 0, 1000000000);
    auto page = cases->list(*r->pool.acquire(), actor, q);
    const long long matched = page["numberMatched"].get<long long>();
    page["numberReturned"] = page["incidents"].size();
    nlohmann::json links = nlohmann::json::array();
    if (q.offset + static_cast<long long>(page["incidents"].size()) < matched)
      links.push_back({{"rel", "next"}, {"href", page_link(r->config.base_url(), req, q.offset + q.limit, q.limit)}});
    page["links"] = links;
    return json_response(200, page.dump());
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
