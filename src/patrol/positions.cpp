#include "patrol/positions.hpp"

#include "core/error.hpp"
#include "core/time.hpp"
#include "crs/point_crs.hpp"
#include "patrol/fields.hpp"
#include "registry/accounts.hpp"
#include "registry/codes.hpp"

namespace wangge::patrol {

using nlohmann::json;
using registry::Actor;
using registry::Role;

json PositionStore::record(pg::Connection& conn, const Actor& actor, long long worker_id, const json& body,
                           const std::string& crs_param) const {
  if (actor.role == Role::viewer || actor.role == Role::analyst)
    throw forbidden("role_forbidden", std::string("role ") + registry::role_name(actor.role) + " may not record positions");
  registry::require_own_worker(conn, actor, worker_id);
  if (!body.is_object()) throw bad_request("invalid_body", "the body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "location" && it.key() != "lon" && it.key() != "lat" && it.key() != "crs" && it.key() != "at")
      throw unprocessable("unknown_property", "unknown property '" + it.key() + "'; allowed: location, lon, lat, crs, at");
  double x = 0, y = 0;
  if (body.contains("location")) {
    if (body.contains("lon") || body.contains("lat")) throw unprocessable("invalid_location", "give location or lon/lat, not both");
    const auto xy = geojson_point(body["location"], "location");
    x = xy[0], y = xy[1];
  } else if (body.contains("lon") && body.contains("lat") && body["lon"].is_number() && body["lat"].is_number()) {
    x = body["lon"].get<double>(), y = body["lat"].get<double>();
  } else {
    throw unprocessable("invalid_location", "a position is {\"location\": GeoJSON Point} or {\"lon\": x, \"lat\": y}");
  }
  std::string crs_text = crs_param;
  if (body.contains("crs")) {
    if (!body["crs"].is_string()) throw unprocessable("invalid_property", "crs must be a string");
    crs_text = body["crs"].get<std::string>();
  }
  const auto p = crs::to_storage(crs::parse_point_crs(crs_text), x, y);
  const std::string at = past_instant(body, "at");
  pg::Transaction tx(conn);
  auto w = tx.exec("positions.worker", "SELECT area_code FROM workers WHERE id = $1", {std::to_string(worker_id)});
  if (w.rows() == 0) throw not_found("worker_not_found", "no worker has the id " + std::to_string(worker_id));
  actor.require_read(w.str(0, 0));
  auto r = tx.exec("positions.insert",
                   "INSERT INTO worker_positions (worker_id, location, at, input_crs, recorded_by) "
                   "VALUES ($1, ST_SetSRID(ST_MakePoint($2::float8, $3::float8), 4490), $4::timestamptz, $5, $6) "
                   "RETURNING json_build_object('id', id, 'worker', worker_id, 'location', ST_AsGeoJSON(location, 9, 0)::json, "
                   "'at', wg_time(at), 'input_crs', input_crs, 'recorded_by', recorded_by)",
                   {std::to_string(worker_id), exact_text(p.lon), exact_text(p.lat), at,
                    crs_text.empty() ? "EPSG:4490" : crs::parse_point_crs(crs_text).name(), actor.label()});
  json out = json::parse(r.str(0, 0));
  // One audit row per report would drown the log in GPS fixes; the position row itself records who and when.
  tx.commit();
  return out;
}

std::vector<Candidate> PositionStore::candidates(pg::Connection& conn, const Actor& actor, const std::optional<std::string>& area) const {
  std::vector<pg::Param> params{actor.scope ? registry::code_prefix(*actor.scope) : std::string()};
  std::string where = "left(w.area_code, length($1)) = $1";
  if (area) {
    params.push_back(registry::code_prefix(*area));
    where +=
        " AND (left(w.area_code, length($2)) = $2 OR EXISTS (SELECT 1 FROM worker_assignments wa WHERE wa.worker_id = w.id "
        "AND wa.unassigned_at IS NULL AND left(wa.grid_code, length($2)) = $2))";
  }
  auto r = conn.exec("positions.candidates",
                     "SELECT w.id, w.name, w.area_code, "
                     " (SELECT coalesce(json_agg(wa.grid_code ORDER BY wa.grid_code), '[]'::json) FROM worker_assignments wa "
                     "  WHERE wa.worker_id = w.id AND wa.unassigned_at IS NULL)::text, "
                     " ST_X(p.location), ST_Y(p.location), wg_time(p.at), extract(epoch FROM clock_timestamp() - p.at) "
                     "FROM workers w LEFT JOIN LATERAL (SELECT location, at FROM worker_positions wp WHERE wp.worker_id = w.id "
                     " ORDER BY wp.at DESC, wp.id DESC LIMIT 1) p ON true WHERE " +
                         where + " ORDER BY w.id",
                     params);
  std::vector<Candidate> out;
  for (int i = 0; i < r.rows(); ++i) {
    Candidate c;
    c.id = r.integer(i, 0), c.name = r.str(i, 1), c.area = r.str(i, 2), c.grids = json::parse(r.str(i, 3));
    if (!r.is_null(i, 4)) c.lon = r.number(i, 4), c.lat = r.number(i, 5), c.at = r.str(i, 6), c.age_s = r.number(i, 7);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace wangge::patrol
