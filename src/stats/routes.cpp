// /v1/stats: case figures rolled up over the hierarchy, workers' figures, evaluation; exports.
#include "stats/routes.hpp"

#include "core/error.hpp"
#include "http/params.hpp"
#include "http/router.hpp"

namespace wangge::stats {
namespace {

using http::Request;
using http::Response;

// Every query parameter is short: area codes, dates, names of groupings.
std::optional<std::string> short_param(const Request& req, const char* name) {
  auto v = req.param(name);
  if (v && v->size() > 64) throw bad_request("invalid_parameter", std::string(name) + " is too long");
  return v;
}

void allow_only(const Request& req, std::initializer_list<const char*> names) {
  for (const auto& [key, value] : req.query)
    if (std::none_of(names.begin(), names.end(), [&](const char* n) { return key == n; }))
      throw bad_request("invalid_parameter", "unknown parameter '" + key + "'");
}

// The answer in the format asked for: JSON (default), CSV or XLSX of the answer's table.
Response render(const Request& req, const Answer& answer, const std::string& file) {
  const std::string format = short_param(req, "format").value_or("json");
  if (format == "json") return http::json_response(200, answer.body.dump());
  Response r;
  if (format == "csv") {
    r.content_type = "text/csv; charset=utf-8";
    r.body = to_csv(answer.table);
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + file + ".csv\"");
  } else if (format == "xlsx") {
    r.content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    r.body = to_xlsx(answer.table);
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + file + ".xlsx\"");
  } else {
    throw bad_request("invalid_parameter", "format must be json, csv or xlsx");
  }
  return r;
}

}  // namespace

void add_routes(http::RouteTable& routes, registry::Registry& reg, const StatsService& service) {
  registry::Registry* r = &reg;
  const StatsService* s = &service;
  routes.add("GET", "/v1/stats/cases", [r, s](const Request& req) {
    auto actor = r->authenticate(req);
    allow_only(req, {"area", "from", "to", "group_by", "level", "format"});
    CasesRequest q{short_param(req, "area"),     short_param(req, "from"),  short_param(req, "to"),
                   short_param(req, "group_by"), short_param(req, "level"), nullptr};
    if (r->cache.ready()) q.registry_snapshot = r->cache.current();
    return render(req, s->cases(*r->pool.acquire(), actor, q), "cases");
  });
  routes.add("GET", "/v1/stats/workers", [r, s](const Request& req) {
    auto actor = r->authenticate(req);
    allow_only(req, {"area", "from", "to", "format"});
    // Plain SQL over positions and visits: seconds for a province, so it waits for a place.
    auto pass = r->expensive.enter("the worker statistics");
    WorkersRequest q{short_param(req, "area"), short_param(req, "from"), short_param(req, "to")};
    return render(req, s->workers(*r->pool.acquire(), actor, q), "workers");
  });
  routes.add("GET", "/v1/stats/evaluation", [r, s](const Request& req) {
    auto actor = r->authenticate(req);
    allow_only(req, {"area", "period", "table", "format"});
    EvaluationRequest q{short_param(req, "area"), short_param(req, "period"), short_param(req, "table")};
    return render(req, s->evaluation(*r->pool.acquire(), actor, q),
                  q.table.value_or("areas") == "departments" ? "evaluation-departments" : "evaluation");
  });
}

}  // namespace wangge::stats
