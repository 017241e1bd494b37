#include "route/streets.hpp"

namespace wangge::route {

std::vector<long long> street_ids_intersecting(pg::Connection& conn, const std::string& wkb_hex) {
  auto r =
      conn.exec("streets.intersecting",
                "SELECT s.id FROM streets s WHERE ST_Intersects(s.geom, ST_GeomFromWKB(decode($1, 'hex'), 4490)) ORDER BY s.id", {wkb_hex});
  std::vector<long long> ids;
  ids.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) ids.push_back(r.integer(i, 0));
  return ids;
}

}  // namespace wangge::route
