// The area registry's read-side query shapes, for modules that need facts about areas. The areas
// table, its columns and the "valid at time t" rule are named only in src/registry; other modules
// call these functions (tools/check-areas-sql keeps it so).
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "pg/connection.hpp"

namespace wangge::registry {

// The condition "this version was valid at the time in parameter $n": valid_from <= t < valid_to
// (an open valid_to is the current version). `alias` qualifies the columns ("" for none).
std::string valid_at(std::string_view alias, int n);
// FROM clause reading every version of every area under `alias`, for query builders that combine
// it with valid_at() or "<alias>.valid_to IS NULL" (the export and OGC API layers).
std::string area_versions_from(std::string_view alias);

// Whether `code` names a current area.
bool is_current(pg::Connection& conn, const std::string& code);
// Whether `code` names an area, current or retired.
bool ever_existed(pg::Connection& conn, const std::string& code);
// The level name of the current area `code`.
std::optional<std::string> current_level(pg::Connection& conn, const std::string& code);

// The current area `code`: its level and whether it covers the point (lon, lat in EPSG:4490, as
// exact decimal text).
struct Placement {
  std::string level;
  bool covers = false;
};
std::optional<Placement> current_placement(pg::Connection& conn, const std::string& code, const std::string& lon, const std::string& lat);

// The current geometries (hex EWKB, EPSG:4490) of those of `codes` that are current.
std::vector<std::string> current_geometries(pg::Connection& conn, const std::vector<std::string>& codes);

// Rows (code, name, level, parent or '', ST_AsBinary(geom) as bytea) of the current areas, or of
// the versions valid at `at`; `codes` limits the read to those codes.
pg::Result read_shapes(pg::Connection& conn, std::optional<Micros> at, const std::vector<std::string>* codes = nullptr);
// Rows (is a grid, hex WKB) of the current grids and micro-grids in code order.
pg::Result current_grid_shapes_hex(pg::Connection& conn);
// min x, min y, max x, max y of every current area.
std::array<double, 4> current_extent(pg::Connection& conn);
// How many rows of the benchmark's temporary table bench_points (geom) lie in a current grid or
// micro-grid: PostGIS as the locator's peer.
long long count_bench_points_in_grids(pg::Connection& conn);

// What the locator needs to answer for points at a past moment `at`, read per request instead of
// an index of that moment. `points` holds per point lon, lat (EPSG:4490), and the half-width and
// half-height in degrees of its reach (the box in which a nearest grid is looked for). Rows, in no
// order, of the areas valid at `at` that can decide a point's answer and of every area above them:
//   0 code, 1 name, 2 level, 3 parent code or '',
//   4 ST_AsBinary(geom) of the grids and micro-grids whose box meets a point's reach, else NULL,
//   5 for an admin area covering some of the points (ST_Covers), their positions (0-based) as an
//     int[] literal, else NULL,
//   6 the workers assigned to a grid or micro-grid at `at` as JSON [[id, name], ...] in id order,
//     else NULL.
pg::Result areas_deciding_points_at(pg::Connection& conn, Micros at, const std::vector<std::array<double, 4>>& points);

// Rows (id, code, name, parent or '', hex WKB, label x, label y) of the areas of `level` (a level
// name), current or valid at `at`, whose box meets `lonlat_box` (min lon, min lat, max lon, max
// lat) when given, in code order: what a map layer draws.
pg::Result map_shapes(pg::Connection& conn, const std::string& level, std::optional<Micros> at,
                      std::optional<std::array<double, 4>> lonlat_box);
// The same columns plus the level, for the current versions of `codes` (those still current).
pg::Result map_shapes_of(pg::Connection& conn, const std::vector<std::string>& codes);

// Bulk loading (the sample jurisdiction).
bool is_empty(pg::Connection& conn);
// COPY into areas: `fill` appends rows of (code, version, name, level, parent_code, geom,
// households, population, valid_from, changed_by, change) in COPY text format, as
// pg::Connection::copy_in's producer does.
void copy_in_areas(pg::Connection& conn, const std::function<bool(std::string&)>& fill);
// Incidents without a grid get the current grid that covers their location.
void assign_incident_grids(pg::Connection& conn);
// Incidents created by `created_by` with a grid get the chain of current areas from the top down
// to that grid as their hierarchy (as GET /v1/locate names it; method "inside").
void assign_incident_hierarchies(pg::Connection& conn, const std::string& created_by);
// Fresh planner statistics after a bulk load.
void analyze(pg::Connection& conn);

}  // namespace wangge::registry

namespace wangge::registry {

// Rows (code, name, level, parent or '') of the current areas below a subtree root whose codes
// start with `prefix` (code_prefix of the root; "" for the whole registry), of the level named
// `level`, in code order: the groups a statistic rolls its figures up into.
pg::Result current_areas_under(pg::Connection& conn, const std::string& prefix, const std::string& level);
// Rows (code, name, level, parent or '') of the current children of `code` ('' for the roots), in
// code order.
pg::Result current_children(pg::Connection& conn, const std::string& code);
// Row (code, name, level, parent or '') of the current area `code`, if there is one.
pg::Result current_area_row(pg::Connection& conn, const std::string& code);

// One version row of an area by its row id (the OGC API feature id, which names a version): its
// code, version and level, and the row id and version of the code's current version (std::nullopt
// once the code is retired).
struct AreaVersionRef {
  std::string code;
  long long version = 0;
  std::string level;
  std::optional<long long> current_id;
  long long current_version = 0;
};
std::optional<AreaVersionRef> area_version_by_id(pg::Connection& conn, long long id);
// The row id of the current version of `code`, if it is current.
std::optional<long long> current_version_id(pg::Connection& conn, const std::string& code);

}  // namespace wangge::registry
