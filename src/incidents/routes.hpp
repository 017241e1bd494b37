// /v1/incidents: cases located at creation and moved through their lifecycle.
#pragma once

#include "incidents/store.hpp"
#include "locate/service.hpp"
#include "registry/registry.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::incidents {

void add_routes(http::RouteTable& routes, registry::Registry& registry, const locate::Locator& locator, IncidentStore& store);

}  // namespace wangge::incidents
