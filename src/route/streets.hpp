// Queries of the street table that other modules need (the route module owns `streets`).
#pragma once

#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace wangge::route {

// Ids of the streets that intersect a geometry given as hex WKB in EPSG:4490, ascending.
std::vector<long long> street_ids_intersecting(pg::Connection& conn, const std::string& wkb_hex);

}  // namespace wangge::route
