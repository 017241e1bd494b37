// Workers' reported positions (history kept; the latest per worker is one index probe) and the
// candidates a dispatcher may send to an incident. Positions are stored in EPSG:4490 lon/lat.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "registry/auth.hpp"

namespace wangge::patrol {

struct Candidate {
  long long id = 0;
  std::string name, area;
  nlohmann::json grids;            // current assignments
  std::optional<double> lon, lat;  // latest position, EPSG:4490
  std::string at;                  // its time (RFC 3339), empty without one
  double age_s = 0;                // how long ago
};

class PositionStore {
 public:
  // Body {"location": GeoJSON Point} or {"lon", "lat"}, "crs"? (else the crs parameter, else
  // EPSG:4490), "at"? (RFC 3339, default now).
  nlohmann::json record(pg::Connection& conn, const registry::Actor& actor, long long worker_id, const nlohmann::json& body,
                        const std::string& crs_param) const;
  // Workers the actor may see, optionally only those belonging to (or assigned inside) `area`,
  // each with the latest position.
  std::vector<Candidate> candidates(pg::Connection& conn, const registry::Actor& actor, const std::optional<std::string>& area) const;
};

}  // namespace wangge::patrol
