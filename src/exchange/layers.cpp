#include "exchange/layers.hpp"

#include "registry/areas.hpp"
#include "registry/codes.hpp"
#include "registry/queries.hpp"

namespace wangge::exchange {
namespace {

constexpr const char* kIso = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";

std::string iso(const std::string& column, bool pg_times = false) {
  if (pg_times) return column;
  return "to_char(" + column + " AT TIME ZONE 'UTC', " + kIso + ")";
}

struct LayerSql {
  std::string table;     // FROM clause, alias t
  const char* geometry;  // geometry column of t
  const char* code;      // the column the area/scope prefix applies to
  const char* order;
};

LayerSql sql_of(LayerKind layer) {
  switch (layer) {
    case LayerKind::areas:
      return {registry::area_versions_from("t"), "t.geom", "t.code", "t.code"};
    case LayerKind::incidents:
      return {"incidents t", "t.location", "t.grid_code", "t.id"};
    case LayerKind::checkpoints:
      return {"checkpoints t", "t.location", "t.grid_code", "t.id"};
  }
  return {"", "", "", ""};
}

// Builds a WHERE clause with $n placeholders, numbering as it goes.
class Where {
 public:
  explicit Where(std::vector<pg::Param>& params) : m_params(params) {}
  std::string p(pg::Param value) {
    m_params.push_back(std::move(value));
    return "$" + std::to_string(m_params.size());
  }
  void add(const std::string& condition) { m_text += " AND " + condition; }
  std::string text() const { return "TRUE" + m_text; }

 private:
  std::vector<pg::Param>& m_params;
  std::string m_text;
};

std::string where_clause(const Selection& s, std::vector<pg::Param>& params) {
  const LayerSql l = sql_of(s.layer);
  Where w(params);
  if (s.layer == LayerKind::areas) {
    if (s.at) {
      w.p(format_rfc3339(*s.at));
      w.add(registry::valid_at("t", static_cast<int>(params.size())));
    } else if (s.interval) {
      if (s.interval->second) w.add("t.valid_from <= " + w.p(format_rfc3339(*s.interval->second)) + "::timestamptz");
      if (s.interval->first) w.add("(t.valid_to IS NULL OR t.valid_to > " + w.p(format_rfc3339(*s.interval->first)) + "::timestamptz)");
    } else {
      w.add("t.valid_to IS NULL");
    }
    if (s.level) w.add("t.level = " + w.p(*s.level));
  } else if (s.layer == LayerKind::incidents) {
    if (s.at) w.add("t.reported_at <= " + w.p(format_rfc3339(*s.at)) + "::timestamptz");
    if (s.interval) {
      if (s.interval->first) w.add("t.reported_at >= " + w.p(format_rfc3339(*s.interval->first)) + "::timestamptz");
      if (s.interval->second) w.add("t.reported_at <= " + w.p(format_rfc3339(*s.interval->second)) + "::timestamptz");
    }
  }
  for (const auto* root : {&s.area, &s.scope}) {
    if (!*root) continue;
    const std::string digits = registry::code_prefix(**root);
    const std::string prefix = w.p(digits);
    w.add("left(" + std::string(l.code) + ", length(" + prefix + ")) = " + prefix);
    // The same as a range of codes, which the code index scans also in a prepared statement's
    // generic plan (where the prefix is a parameter and left() = $n is no index condition).
    if (digits.find_first_not_of("0123456789") == std::string::npos && !digits.empty()) {
      w.add(std::string(l.code) + " >= " + prefix + "::text");
      if (auto upper = cql2::digits_upper_bound(digits)) w.add(std::string(l.code) + " < " + w.p(*upper) + "::text");
    }
  }
  if (s.bbox) {
    const auto& b = *s.bbox;
    w.add(std::string(l.geometry) + " && ST_MakeEnvelope(" + w.p(std::to_string(b[0])) + "::float8, " + w.p(std::to_string(b[1])) +
          "::float8, " + w.p(std::to_string(b[2])) + "::float8, " + w.p(std::to_string(b[3])) + "::float8, 4490)");
  }
  if (s.filter) w.add(s.filter->render(params));
  return w.text();
}

// The select list and the joins it needs.
struct Columns {
  std::string list;
  std::string joins;
};

// How the workers of each area are counted: once for all areas (an export reads every row), or
// per row through the index by grid (a page or one feature: the rows are few, and the count of
// every grid's assignments would cost more than the page itself).
enum class WorkerCount { all_at_once, per_row };

Columns columns(LayerKind layer, const Selection& s, std::vector<pg::Param>& params, bool pg_times = false,
                WorkerCount workers = WorkerCount::all_at_once) {
  switch (layer) {
    case LayerKind::areas: {
      // Workers assigned to the area at the selected time (now without at=). Counted once for all
      // rows when every row is read: the history of assignments has no index by time.
      std::string assigned = "w.unassigned_at IS NULL";
      if (s.at) {
        params.push_back(format_rfc3339(*s.at));
        const std::string t = "$" + std::to_string(params.size()) + "::timestamptz";
        assigned = "w.assigned_at <= " + t + " AND (w.unassigned_at IS NULL OR w.unassigned_at > " + t + ")";
      }
      return {
          "t.id AS fid, t.code AS code, t.name AS name, t.level AS level, t.parent_code AS parent, "
          "coalesce(wc.n, 0) AS workers, "
          "t.households AS households, t.population AS population, t.version AS version, " +
              iso("t.valid_from", pg_times) + " AS valid_from, " + iso("t.valid_to", pg_times) +
              " AS valid_to, "
              "t.changed_by AS changed_by, t.attributes::text AS attributes",
          workers == WorkerCount::per_row
              ? " LEFT JOIN LATERAL (SELECT count(*) AS n FROM worker_assignments w WHERE w.grid_code = t.code AND " + assigned +
                    ") wc ON TRUE"
              : " LEFT JOIN (SELECT w.grid_code, count(*) AS n FROM worker_assignments w WHERE " + assigned +
                    " GROUP BY w.grid_code) wc ON wc.grid_code = t.code"};
    }
    case LayerKind::incidents:
      return {
          "t.id AS fid, t.id AS id, t.category AS category, t.source AS source, t.status AS status, "
          "t.description AS description, t.reporter AS reporter, t.grid_code AS grid, " +
              iso("t.reported_at", pg_times) + " AS reported_at",
          ""};
    case LayerKind::checkpoints:
      return {"t.id AS fid, t.id AS id, t.grid_code AS grid, t.name AS name, t.kind AS kind, t.frequency AS frequency", ""};
  }
  return {};
}

std::string geometry_column(LayerKind layer, GeometryOut geometry, int srid, bool lat_first) {
  if (geometry == GeometryOut::none) return {};
  std::string g = sql_of(layer).geometry;
  // WGS 84 is written as CGCS2000's coordinates: the two agree within centimetres (PROJ's
  // transformation between them changes no digit of the 9 written), and ST_Transform would
  // cost more than writing the GeoJSON.
  if (srid != 4490 && srid != 4326) g = "ST_Transform(" + g + ", " + std::to_string(srid) + ")";
  if (lat_first) g = "ST_FlipCoordinates(" + g + ")";
  const int digits = registry::output_digits(srid);
  if (geometry == GeometryOut::wkb) return ", ST_AsBinary(" + g + ") AS geom_out";
  return ", ST_AsGeoJSON(" + g + ", " + std::to_string(digits) + ", 0) AS geom_out";
}

}  // namespace

std::optional<LayerKind> parse_layer(std::string_view name) {
  if (name == "areas") return LayerKind::areas;
  if (name == "incidents") return LayerKind::incidents;
  if (name == "checkpoints") return LayerKind::checkpoints;
  return std::nullopt;
}

const char* layer_name(LayerKind layer) {
  switch (layer) {
    case LayerKind::areas:
      return "areas";
    case LayerKind::incidents:
      return "incidents";
    case LayerKind::checkpoints:
      return "checkpoints";
  }
  return "";
}

const std::vector<FieldSpec>& layer_fields(LayerKind layer) {
  static const std::vector<FieldSpec> areas = {
      {"code", FieldType::text, "area code (GB/T 2260 / GB/T 10114; 15-digit grid code)", 24},
      {"name", FieldType::text, "name", 60},
      {"level", FieldType::text, "province, city, county, township, village, grid or microgrid", 10},
      {"parent", FieldType::text, "code of the parent area", 24},
      {"workers", FieldType::integer, "grid workers assigned"},
      {"households", FieldType::integer, "households"},
      {"population", FieldType::integer, "population"},
      {"version", FieldType::integer, "version of the area (1 = first)"},
      {"valid_from", FieldType::datetime, "this version is valid from (UTC)"},
      {"valid_to", FieldType::datetime, "this version is valid until (UTC); empty while current"},
      {"changed_by", FieldType::text, "who made this version", 40},
      {"attributes", FieldType::text, "further attributes (JSON)", 80}};
  static const std::vector<FieldSpec> incidents = {{"id", FieldType::integer, "incident number"},
                                                   {"category", FieldType::text, "event class", 30},
                                                   {"source", FieldType::text, "hotline, app, worker or video", 10},
                                                   {"status", FieldType::text, "lifecycle state", 12},
                                                   {"description", FieldType::text, "description", 120},
                                                   {"reporter", FieldType::text, "reporter", 30},
                                                   {"grid", FieldType::text, "code of the grid it lies in", 24},
                                                   {"reported_at", FieldType::datetime, "reported at (UTC)"}};
  static const std::vector<FieldSpec> checkpoints = {{"id", FieldType::integer, "checkpoint number"},
                                                     {"grid", FieldType::text, "code of the grid it belongs to", 24},
                                                     {"name", FieldType::text, "name", 60},
                                                     {"kind", FieldType::text, "kind of place", 20},
                                                     {"frequency", FieldType::text, "visit frequency: daily, weekly or monthly", 10}};
  switch (layer) {
    case LayerKind::areas:
      return areas;
    case LayerKind::incidents:
      return incidents;
    case LayerKind::checkpoints:
      return checkpoints;
  }
  return areas;
}

const std::vector<cql2::Queryable>& queryables(LayerKind layer) {
  using cql2::Type;
  static const std::vector<cql2::Queryable> areas = {
      {"code", Type::text, "t.code", "area code"},
      {"name", Type::text, "t.name", "name"},
      {"level", Type::text, "t.level", "province, city, county, township, village, grid or microgrid"},
      {"parent", Type::text, "t.parent_code", "code of the parent area"},
      {"households", Type::number, "t.households", "households"},
      {"population", Type::number, "t.population", "population"},
      {"version", Type::number, "t.version", "version of the area (1 = first)"},
      {"valid_from", Type::datetime, "t.valid_from", "this version is valid from"},
      {"valid_to", Type::datetime, "t.valid_to", "this version is valid until; null while current"},
      {"changed_by", Type::text, "t.changed_by", "who made this version"},
      {"geometry", Type::geometry, "t.geom", "the area (MultiPolygon)"}};
  static const std::vector<cql2::Queryable> incidents = {{"id", Type::number, "t.id", "incident number"},
                                                         {"category", Type::text, "t.category", "event class"},
                                                         {"source", Type::text, "t.source", "hotline, app, worker or video"},
                                                         {"status", Type::text, "t.status", "lifecycle state"},
                                                         {"description", Type::text, "t.description", "description"},
                                                         {"reporter", Type::text, "t.reporter", "reporter"},
                                                         {"grid", Type::text, "t.grid_code", "code of the grid it lies in"},
                                                         {"reported_at", Type::datetime, "t.reported_at", "reported at"},
                                                         {"geometry", Type::geometry, "t.location", "where (Point)"}};
  static const std::vector<cql2::Queryable> checkpoints = {{"id", Type::number, "t.id", "checkpoint number"},
                                                           {"grid", Type::text, "t.grid_code", "code of the grid it belongs to"},
                                                           {"name", Type::text, "t.name", "name"},
                                                           {"kind", Type::text, "t.kind", "kind of place"},
                                                           {"frequency", Type::text, "t.frequency", "daily, weekly or monthly"},
                                                           {"geometry", Type::geometry, "t.location", "where (Point)"}};
  switch (layer) {
    case LayerKind::areas:
      return areas;
    case LayerKind::incidents:
      return incidents;
    case LayerKind::checkpoints:
      return checkpoints;
  }
  return areas;
}

SqlQuery select_rows(const Selection& s, GeometryOut geometry, int srid, const RowOptions& options) {
  SqlQuery q;
  const std::string where = where_clause(s, q.params);
  const Columns cols = columns(s.layer, s, q.params, options.pg_times, options.limit ? WorkerCount::per_row : WorkerCount::all_at_once);
  const LayerSql l = sql_of(s.layer);
  // Sort columns come from the queryables (cql2::parse_sortby), never from the client's text.
  std::string order;
  for (const auto& [column, desc] : s.sort) order += column + (desc ? " DESC, " : " ASC, ");
  // The count's WHERE is the page's own text: its $n are the same parameters.
  const std::string matched = options.count_matched ? ", (SELECT count(*) FROM " + l.table + " WHERE " + where + ") AS matched" : "";
  q.sql = "SELECT " + cols.list + geometry_column(s.layer, geometry, srid, options.lat_first) + matched + " FROM " + l.table + cols.joins +
          " WHERE " + where + " ORDER BY " + order + l.order;
  if (options.limit) {
    q.params.push_back(std::to_string(*options.limit));
    q.sql += " LIMIT $" + std::to_string(q.params.size()) + "::bigint";
    q.params.push_back(std::to_string(options.offset));
    q.sql += " OFFSET $" + std::to_string(q.params.size()) + "::bigint";
  }
  return q;
}

SqlQuery count_rows(const Selection& s) {
  SqlQuery q;
  const std::string where = where_clause(s, q.params);
  q.sql = std::string("SELECT count(*) FROM ") + sql_of(s.layer).table + " WHERE " + where;
  return q;
}

SqlQuery select_one(const Selection& s, long long fid, int srid, bool lat_first) {
  Selection scoped;
  scoped.layer = s.layer;
  scoped.scope = s.scope;
  scoped.level = s.level;
  // Any version of an area may be fetched by its id: the id names the version.
  scoped.interval = std::make_pair(std::nullopt, std::nullopt);
  SqlQuery q;
  const std::string where = where_clause(scoped, q.params);
  const Columns cols = columns(s.layer, scoped, q.params, false, WorkerCount::per_row);
  q.params.push_back(std::to_string(fid));
  q.sql = "SELECT " + cols.list + geometry_column(s.layer, GeometryOut::geojson, srid, lat_first) + " FROM " + sql_of(s.layer).table +
          cols.joins + " WHERE " + where + " AND t.id = $" + std::to_string(q.params.size()) + "::bigint";
  return q;
}

SqlQuery extent_of(const Selection& s) {
  SqlQuery q;
  const std::string where = where_clause(s, q.params);
  const LayerSql l = sql_of(s.layer);
  const std::string time = s.layer == LayerKind::areas       ? "t.valid_from"
                           : s.layer == LayerKind::incidents ? "t.reported_at"
                                                             : "NULL::timestamptz";
  q.sql = "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), " + iso("tmin") + ", " + iso("tmax") + " FROM (SELECT ST_Extent(" +
          l.geometry + ") AS e, min(" + time + ") AS tmin, max(" + time + ") AS tmax FROM " + l.table + " WHERE " + where + ") s";
  return q;
}

}  // namespace wangge::exchange
