// Checkpoints (巡查点) of a grid: where a worker must look in, how long it takes, how important it
// is, when it may be visited and how often; their visits; and which are due on a day.
// Locations are EPSG:4490 lon/lat (input in any CRS crs::parse_point_crs knows).
//
// Due rule (Asia/Shanghai calendar days): a checkpoint is due on day D unless it was visited in
// its current period before D. The period is D itself (daily), D's ISO week from Monday (weekly),
// D's calendar month (monthly) or the N days ending with D (every_n_days: due when the last visit
// before D is N or more days before D). A visit on D itself marks a due checkpoint `done`.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/lonlat.hpp"
#include "pg/connection.hpp"
#include "registry/auth.hpp"

namespace wangge::patrol {

// Changes after a committed write, for the checkpoints tile layer: the locations before and after.
struct CheckpointChange {
  std::vector<LonLat> locations;  // EPSG:4490
};

class CheckpointStore {
 public:
  // GET /v1/checkpoints?grid=: {"grid", "checkpoints": [...]}.
  nlohmann::json list(pg::Connection& conn, const registry::Actor& actor, const std::string& grid) const;
  nlohmann::json get(pg::Connection& conn, const registry::Actor& actor, long long id) const;
  nlohmann::json create(pg::Connection& conn, const registry::Actor& actor, const nlohmann::json& body, const std::string& crs_param,
                        CheckpointChange& change) const;
  nlohmann::json update(pg::Connection& conn, const registry::Actor& actor, long long id, const nlohmann::json& body,
                        const std::vector<std::string>& if_match, const std::string& crs_param, CheckpointChange& change) const;
  void remove(pg::Connection& conn, const registry::Actor& actor, long long id, const std::vector<std::string>& if_match,
              CheckpointChange& change) const;
  // Body {"visited_at"?: RFC 3339 (default now), "worker"?: id, "note"?}.
  nlohmann::json add_visit(pg::Connection& conn, const registry::Actor& actor, long long id, const nlohmann::json& body) const;
  nlohmann::json visits(pg::Connection& conn, const registry::Actor& actor, long long id) const;
  // `date`: YYYY-MM-DD (Asia/Shanghai).
  nlohmann::json due(pg::Connection& conn, const registry::Actor& actor, const std::string& grid, const std::string& date) const;
};

}  // namespace wangge::patrol
