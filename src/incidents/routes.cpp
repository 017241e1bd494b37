// /v1/incidents: cases located at creation and moved through their lifecycle.
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "incidents/routes.hpp"

namespace wangge::incidents {
namespace {

using namespace http;  // Request, Response, json_body, the parameter parsers

long long incident_id(const std::string& text) {
  long long id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0)
    throw bad_request("invalid_parameter", "an incident id is a positive integer");
  return id;
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
                        "status must be one of collect, register, dispatch, handle, feedback, closed, cancelled, hold");
    q.category = req.param("category");
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
    std::vector<std::string> if_match;
    if (auto h = req.header("if-match")) if_match = registry::parse_if_match(*h);
    return with_etag(200, cases->transition(*r->pool.acquire(), actor, id, json_body(req), if_match));
  });
}

}  // namespace wangge::incidents
