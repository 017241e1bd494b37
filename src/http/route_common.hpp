// Helpers shared by the routes on the street graphs (/v1/route, /v1/patrol/*, dispatch): the
// profile parameter and the graph snapshot a request keeps to its end (route_json.hpp has the
// JSON pieces).
#pragma once

#include <memory>
#include <string>

#include "http/context.hpp"
#include "http/route_json.hpp"

namespace wangge::http {

// 400 unknown_profile for anything but foot, ebike, car.
route::Profile profile_of(const std::string& name);
// The current street graph snapshot; hold it for the whole request (roads may be re-imported
// meanwhile). 503 router_not_ready until `serve` has loaded the streets.
std::shared_ptr<const route::Router> router_of(App& app);

}  // namespace wangge::http
