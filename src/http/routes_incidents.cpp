// /v1/incidents: cases located at creation and moved through their lifecycle.
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/context.hpp"
#include "http/params.hpp"
#include "registry/areas.hpp"

namespace wangge::http {
namespace {

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

std::optional<Response> route_incidents(App& app, const Request& req) {
  const auto& s = req.segments;
  if (s.size() < 2 || s[0] != "v1" || s[1] != "incidents" || s.size() > 3) return std::nullopt;
  if (!app.incidents) throw unavailable("incidents_unavailable", "incidents are not enabled on this server");
  auto actor = authenticate(app, req);
  if (s.size() == 2) {
    if (req.method == "POST") {
      auto view = app.locator.current();
      auto incident = app.incidents->create(*app.pool.acquire(), actor, json_body(req), view, req.param("crs").value_or(""));
      Response r = with_etag(201, incident);
      r.headers.emplace_back("Location", app.config.base_url() + "/v1/incidents/" + std::to_string(incident["id"].get<long long>()));
      return r;
    }
    if (req.method != "GET") throw_method_not_allowed("GET, POST");
    incidents::IncidentQuery q;
    q.area = req.param("area");
    q.status = req.param("status");
    if (q.status && !incidents::is_status(*q.status))
      throw bad_request("invalid_parameter", "status must be one of collect, register, dispatch, handle, feedback, closed, cancelled, hold");
    q.category = req.param("category");
    if (auto b = req.param("bbox")) q.bbox = bbox_param(*b);
    q.from = time_param(req, "from");
    q.to = time_param(req, "to");
    q.overdue = bool_param(req, "overdue", false);
    q.limit = static_cast<int>(int_param(req, "limit", 100, 1, 10000));
    q.offset = int_param(req, "offset", 0, 0, 1000000000);
    auto page = app.incidents->list(*app.pool.acquire(), actor, q);
    const long long matched = page["numberMatched"].get<long long>();
    page["numberReturned"] = page["incidents"].size();
    nlohmann::json links = nlohmann::json::array();
    if (q.offset + static_cast<long long>(page["incidents"].size()) < matched)
      links.push_back({{"rel", "next"}, {"href", page_link(app, req, q.offset + q.limit, q.limit)}});
    page["links"] = links;
    return json_response(200, page.dump());
  }
  const long long id = incident_id(s[2]);
  if (req.method == "GET") return with_etag(200, app.incidents->get(*app.pool.acquire(), actor, id));
  if (req.method == "PATCH") {
    std::vector<std::string> if_match;
    if (auto h = req.header("if-match")) if_match = registry::parse_if_match(*h);
    return with_etag(200, app.incidents->transition(*app.pool.acquire(), actor, id, json_body(req), if_match));
  }
  throw_method_not_allowed("GET, PATCH");
}

}  // namespace wangge::http
