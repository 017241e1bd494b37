// Patrol routes: checkpoints with visits and due lists (/v1/checkpoints, /v1/patrol/due), workers'
// positions and the nearest workers to an incident (/v1/workers/{id}/position,
// /v1/dispatch/nearest-workers), checkpoint tours (/v1/patrol/tour) and street coverage
// (/v1/patrol/coverage) on the street graphs.
#pragma once

#include <functional>
#include <vector>

#include "patrol/checkpoints.hpp"
#include "registry/registry.hpp"
#include "route/router_cache.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::patrol {

struct PatrolServices {
  registry::Registry& registry;
  const route::RouterCache& router;
  // Called after a committed checkpoint change in this process, with the change's old and new
  // locations (the server points it at the tile layer; other processes follow through NOTIFY).
  std::function<void(pg::Connection&, const CheckpointChange&)> checkpoints_changed;
};

void add_routes(http::RouteTable& routes, const PatrolServices& services);

// One file each; add_routes calls them all.
void add_checkpoint_routes(http::RouteTable& routes, const PatrolServices& services);
void add_dispatch_routes(http::RouteTable& routes, const PatrolServices& services);
void add_tour_routes(http::RouteTable& routes, const PatrolServices& services);
void add_coverage_routes(http::RouteTable& routes, const PatrolServices& services);

}  // namespace wangge::patrol
