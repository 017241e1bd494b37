// The exchange layers (areas, incidents, checkpoints): their attributes, the same in every export
// format and in OGC API - Features, and the SQL that selects their rows. All values come back as
// text; all SQL uses $n parameters.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "exchange/cql2.hpp"
#include "pg/connection.hpp"

namespace wangge::exchange {

enum class LayerKind { areas, incidents, checkpoints };
enum class FieldType { text, integer, datetime };

struct FieldSpec {
  std::string name;
  FieldType type;
  std::string description;  // for the shapefile field-name mapping and the OpenAPI document
  int width_hint = 0;       // bytes that fit typical text values (dBase fields are fixed-width)
};

std::optional<LayerKind> parse_layer(std::string_view name);
const char* layer_name(LayerKind layer);
const std::vector<FieldSpec>& layer_fields(LayerKind layer);
// The properties a CQL2 filter and sortby may name (OGC API queryables): the layer's fields that
// have a column of their own, and "geometry". Their column expressions are the only way a
// property name reaches SQL.
const std::vector<cql2::Queryable>& queryables(LayerKind layer);

// Which rows. Times are instants in UTC microseconds.
struct Selection {
  LayerKind layer = LayerKind::areas;
  std::optional<std::string> level;  // areas only; validated by the caller
  std::optional<std::string> area;   // subtree root (code); incidents/checkpoints by their grid
  std::optional<std::string> scope;  // the token's scope: applied like `area`, both when both are set
  std::optional<Micros> at;          // areas: versions valid then; incidents: reported by then
  // OGC datetime intervals (either end open): areas whose validity overlaps it, incidents reported in it.
  std::optional<std::pair<std::optional<Micros>, std::optional<Micros>>> interval;
  std::optional<std::array<double, 4>> bbox;  // min x, min y, max x, max y in EPSG:4490 lon/lat
  // A compiled CQL2 condition on the layer's queryables (cql2::compile with queryables(layer)).
  std::shared_ptr<const cql2::Fragment> filter;
  // Sort keys before the layer's own order: column expressions of queryables, descending or not.
  std::vector<std::pair<std::string, bool>> sort;
};

enum class GeometryOut { none, wkb, geojson };

struct SqlQuery {
  std::string sql;
  std::vector<pg::Param> params;
};

// What select_rows returns beyond the selection itself: axis order, time format, one page of rows.
struct RowOptions {
  bool lat_first = false;  // swap the axes (EPSG axis order of geographic CRSs)
  // Times as PostgreSQL's own timestamptz text (cheaper to produce: "2026-10-24 23:18:47.123456+00"
  // when the session's TimeZone is UTC) instead of RFC 3339 text in UTC ("2026-10-24T23:18:47.123456Z").
  bool pg_times = false;
  std::optional<long long> limit;  // none: every row
  long long offset = 0;
  // A last column "matched": the count of every row the selection matches (count_rows), computed
  // once within the same statement, so a page costs one statement rather than two. A page past
  // the last row has no row to carry it.
  bool count_matched = false;
};
// Columns: fid (row id; for areas the id of the version row), the fields of layer_fields in order
// (named after them), then "geom_out" unless `geometry` is none: hex WKB ("\x..." bytea text) or
// GeoJSON text in `srid`.
SqlQuery select_rows(const Selection& s, GeometryOut geometry, int srid, const RowOptions& options = {});
SqlQuery count_rows(const Selection& s);
// One row by fid (same columns as select_rows), restricted by the scope of `s` only.
SqlQuery select_one(const Selection& s, long long fid, int srid, bool lat_first);
// Extent of the layer's current rows (lon/lat 4490) and the time span, for OGC collections.
SqlQuery extent_of(const Selection& s);

}  // namespace wangge::exchange
