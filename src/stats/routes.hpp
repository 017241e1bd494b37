// /v1/stats/cases, /v1/stats/workers, /v1/stats/evaluation: JSON, or a table as CSV or XLSX
// (format=csv|xlsx).
#pragma once

#include "registry/registry.hpp"
#include "stats/service.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::stats {

void add_routes(http::RouteTable& routes, registry::Registry& registry, const StatsService& service);

}  // namespace wangge::stats
