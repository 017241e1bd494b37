// Many-to-one fastest costs on a profile's graph: one search backwards from the target, so ranking
// workers by their network time to an incident costs one Dijkstra whatever the number of workers,
// and one-way streets count in the direction the workers travel.
#pragma once

#include <optional>
#include <vector>

#include "route/router.hpp"

namespace wangge::route {

// Fastest costs from each position to `to` (the same rules as Graph::route: along the shared edge
// when its direction allows, else through the edges' end nodes); none when it cannot reach `to`.
std::vector<std::optional<Cost>> costs_to(const Graph& g, const std::vector<std::optional<Snap>>& from, const Snap& to);

}  // namespace wangge::route
