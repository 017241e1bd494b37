// Public endpoints: landing page, health, the API description, the error catalogue.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/context.hpp"
#include "http/params.hpp"
#include "http/resources.hpp"

namespace wangge::http {
namespace {

Response text(int status, std::string_view body, std::string type) {
  Response r;
  r.status = status;
  r.body = std::string(body);
  r.content_type = std::move(type);
  return r;
}

Response health(App& app) {
  // Until every in-memory index has its first load, most requests could only answer 503: a load
  // balancer or a supervisor must not send traffic yet.
  if (!app.cache.ready() || !app.locator.current().index || (app.tiles && !app.tiles->ready()))
    return problem(503, "starting", "the server is loading its indexes; retry shortly", R"({"status":"starting"})");
  try {
    auto conn = app.pool.acquire(std::chrono::milliseconds(2000));
    conn->exec("health.ping", "SELECT 1");
  } catch (const Error&) {
    return problem(503, "database_unavailable", "the database cannot be reached; the server keeps retrying",
                   R"({"database":"unreachable"})");
  }
  return json_response(200, R"({"status":"ok","database":"ok"})");
}

}  // namespace

std::optional<Response> route_misc(App& app, const Request& req) {
  const auto& s = req.segments;
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (s.empty()) {
    if (!get) throw_method_not_allowed("GET");
    return text(200, *resource("tiles/index.html"), "text/html; charset=utf-8");
  }
  if (s.size() == 1 && s[0] == "health") {
    if (!get) throw_method_not_allowed("GET");
    return health(app);
  }
  if (s.size() == 1 && s[0] == "api") {
    if (!get) throw_method_not_allowed("GET");
    return text(200, *resource("api/openapi.yaml"), "application/vnd.oai.openapi;version=3.0");
  }
  if (s.size() == 2 && s[0] == "api" && s[1] == "errors") {
    if (!get) throw_method_not_allowed("GET");
    return text(200, *resource("api/errors.md"), "text/markdown; charset=utf-8");
  }
  return std::nullopt;
}

}  // namespace wangge::http
