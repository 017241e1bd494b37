// GET /v1/incidents/lifecycle: the case lifecycle as data (each action, the states it leaves from
// and the state it leads to) and the categories with their time limits, so a client builds a case's
// action buttons and its intake form from the rules the server enforces instead of a copy of them
// that would drift when the lifecycle changes.
#include "app/routes_console.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "http/params.hpp"
#include "http/router.hpp"
#include "incidents/store.hpp"

namespace wangge::app {

void add_console_routes(http::RouteTable& routes, registry::Registry& registry, const incidents::IncidentStore& cases) {
  registry::Registry* r = &registry;
  const incidents::IncidentStore* c = &cases;
  routes.add("GET", "/v1/incidents/lifecycle", [r, c](const http::Request& req) {
    r->authenticate(req);
    nlohmann::json actions = nlohmann::json::array();
    nlohmann::json states = nlohmann::json::array();
    for (const auto& t : incidents::lifecycle()) {
      nlohmann::json from = nlohmann::json::array();
      for (const char* s : t.from) from.push_back(s);
      // A null `to`: the case stays where it is (extend) or goes back to where it was (return, resume).
      actions.push_back({{"action", t.action}, {"from", from}, {"to", t.to ? nlohmann::json(t.to) : nlohmann::json(nullptr)}});
      if (t.to && std::find(states.begin(), states.end(), t.to) == states.end()) states.push_back(t.to);
    }
    http::Response res =
        http::json_response(200, nlohmann::json{{"states", states}, {"actions", actions}, {"categories", c->rules().categories}}.dump());
    res.headers.emplace_back("Cache-Control", "no-cache");
    return res;
  });
}

}  // namespace wangge::app
