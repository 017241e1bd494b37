// Grid workers (网格员) and their assignments to grids. Assignments keep their history.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pg/connection.hpp"
#include "registry/auth.hpp"

namespace wangge::registry {

class WorkerStore {
 public:
  // Body: {"name", "phone"?, "area"?, "attributes"?}; "area" (the area the worker belongs to)
  // defaults to the token's scope. Returns the worker as JSON.
  nlohmann::json create(pg::Connection& conn, const Actor& actor, const nlohmann::json& body) const;
  nlohmann::json get(pg::Connection& conn, const Actor& actor, long long id) const;
  // Replaces the set of workers assigned to a grid: body {"workers": [id, ...]}. With dry_run the
  // answer (the new assignment, added, removed) is computed and nothing is written.
  nlohmann::json assign(pg::Connection& conn, const Actor& actor, const std::string& grid_code, const nlohmann::json& body,
                        bool dry_run = false) const;
  // The workers who belong to an area's subtree (their area is the area or below it), for the
  // pickers that assign them: {"area", "workers": [...], "truncated"}; at most kMaxListed.
  static constexpr int kMaxListed = 2000;
  nlohmann::json list(pg::Connection& conn, const Actor& actor, const std::string& area) const;
  nlohmann::json of_grid(pg::Connection& conn, const Actor& actor, const std::string& grid_code) const;
};

}  // namespace wangge::registry
