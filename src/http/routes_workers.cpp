// /v1/workers
#include <charconv>

#include "core/error.hpp"
#include "http/context.hpp"
#include "http/params.hpp"

namespace wangge::http {

std::optional<Response> route_workers(App& app, const Request& req) {
  const auto& s = req.segments;
  if (s.size() < 2 || s[0] != "v1" || s[1] != "workers" || s.size() > 3) return std::nullopt;
  auto actor = authenticate(app, req);
  if (s.size() == 2) {
    if (req.method != "POST") throw_method_not_allowed("POST");
    auto worker = app.workers.create(*app.pool.acquire(), actor, json_body(req));
    Response r = json_response(201, worker.dump());
    r.headers.emplace_back("Location", app.config.base_url() + "/v1/workers/" + std::to_string(worker["id"].get<long long>()));
    return r;
  }
  long long id = 0;
  const std::string& text = s[2];
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0)
    throw bad_request("invalid_parameter", "a worker id is a positive integer");
  if (req.method != "GET") throw_method_not_allowed("GET");
  return json_response(200, app.workers.get(*app.pool.acquire(), actor, id).dump());
}

}  // namespace wangge::http
