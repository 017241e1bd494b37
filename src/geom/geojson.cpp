#include "geom/geojson.hpp"

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace wangge::geom {
namespace {

using nlohmann::json;

std::atomic<std::size_t> g_max_coordinates{GeometryLimits{}.max_coordinates};
std::atomic<std::size_t> g_max_parts{GeometryLimits{}.max_parts};

[[noreturn]] void too_large(const std::string& code, const std::string& what, std::size_t limit, const char* setting) {
  throw Error(413, code, "a geometry may have at most " + std::to_string(limit) + " " + what + " (" + setting + ")",
              json({{"limit", limit}}).dump());
}

// The sizes of a Polygon's or MultiPolygon's coordinates, counted without looking at a position,
// so an oversized geometry is refused before the work it would cost.
void check_size(const json& coords, bool multi) {
  const std::size_t max_coordinates = g_max_coordinates.load(std::memory_order_relaxed);
  const std::size_t max_parts = g_max_parts.load(std::memory_order_relaxed);
  std::size_t rings = 0, positions = 0;
  auto count_polygon = [&](const json& polygon) {
    if (!polygon.is_array()) return;  // the structural check names it
    rings += polygon.size();
    if (rings > max_parts) too_large("too_many_parts", "rings (polygons and holes)", max_parts, "WANGGE_MAX_PARTS");
    for (const auto& ring : polygon) {
      if (ring.is_array()) positions += ring.size();
      if (positions > max_coordinates) too_large("too_many_coordinates", "positions", max_coordinates, "WANGGE_MAX_COORDINATES");
    }
  };
  if (!coords.is_array()) return;
  if (!multi) {
    count_polygon(coords);
    return;
  }
  for (const auto& polygon : coords) count_polygon(polygon);
}

[[noreturn]] void invalid(const std::string& reason, const std::string& detail, const json& location) {
  json extra = {{"reason", reason}};
  if (!location.is_null()) extra["location"] = location;
  throw unprocessable("invalid_geometry", detail, extra.dump());
}

json position_of(const json& pos) { return json::array({pos[0], pos[1]}); }

void check_position(const json& pos, const std::string& where) {
  if (!pos.is_array() || pos.size() < 2 || pos.size() > 3)
    throw bad_request("invalid_geojson", where + ": a position must be an array of 2 or 3 numbers");
  for (const auto& n : pos) {
    if (!n.is_number()) throw bad_request("invalid_geojson", where + ": coordinates must be numbers");
    if (!std::isfinite(n.get<double>())) invalid("Non-finite coordinate", where + ": coordinate is not finite", nullptr);
  }
}

void check_ring(const json& ring, const std::string& where) {
  if (!ring.is_array()) throw bad_request("invalid_geojson", where + ": a ring must be an array of positions");
  for (std::size_t i = 0; i < ring.size(); ++i) check_position(ring[i], where + " position " + std::to_string(i));
  if (ring.size() < 4) {
    invalid("Too few points", where + ": a ring needs at least 4 positions (first = last), got " + std::to_string(ring.size()),
            ring.empty() ? json(nullptr) : position_of(ring[0]));
  }
  const json& first = ring.front();
  const json& last = ring.back();
  if (first[0].get<double>() != last[0].get<double>() || first[1].get<double>() != last[1].get<double>()) {
    invalid("Ring not closed", where + ": ring is not closed: the last position must equal the first",
            json::array({position_of(first), position_of(last)}));
  }
}

void check_polygon(const json& rings, const std::string& where) {
  if (!rings.is_array()) throw bad_request("invalid_geojson", where + ": a polygon must be an array of rings");
  // An empty polygon is valid GeoJSON but no area: a rule broken, not a syntax error.
  if (rings.empty()) invalid("Empty", where + ": the geometry is empty", nullptr);
  for (std::size_t i = 0; i < rings.size(); ++i)
    check_ring(rings[i], where + (i == 0 ? " exterior ring" : " interior ring " + std::to_string(i)));
}

}  // namespace

void set_geometry_limits(const GeometryLimits& limits) {
  g_max_coordinates.store(limits.max_coordinates, std::memory_order_relaxed);
  g_max_parts.store(limits.max_parts, std::memory_order_relaxed);
}

GeometryLimits geometry_limits() {
  return {g_max_coordinates.load(std::memory_order_relaxed), g_max_parts.load(std::memory_order_relaxed)};
}

std::string checked_polygonal(const json& geometry) {
  if (!geometry.is_object() || !geometry.contains("type") || !geometry["type"].is_string())
    throw bad_request("invalid_geojson", "geometry must be a GeoJSON geometry object with a type");
  const auto type = geometry["type"].get<std::string>();
  if (!geometry.contains("coordinates")) throw bad_request("invalid_geojson", "geometry has no coordinates");
  const json& coords = geometry["coordinates"];
  if (type == "Polygon" || type == "MultiPolygon") check_size(coords, type == "MultiPolygon");
  if (type == "Polygon") {
    check_polygon(coords, "polygon");
  } else if (type == "MultiPolygon") {
    if (!coords.is_array()) throw bad_request("invalid_geojson", "a MultiPolygon must be an array of polygons");
    if (coords.empty()) invalid("Empty", "the geometry is empty", nullptr);
    for (std::size_t i = 0; i < coords.size(); ++i) check_polygon(coords[i], "polygon " + std::to_string(i));
  } else {
    throw unprocessable("invalid_geometry_type", "areas must be Polygon or MultiPolygon, got " + type,
                        json({{"reason", "Wrong geometry type"}}).dump());
  }
  return json({{"type", type}, {"coordinates", coords}}).dump();
}

}  // namespace wangge::geom
