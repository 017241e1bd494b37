#include "registry/queries.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "pg/array.hpp"

namespace wangge::registry {

std::string valid_at(std::string_view alias, int n) {
  const std::string a = alias.empty() ? "" : std::string(alias) + ".";
  const std::string t = "$" + std::to_string(n) + "::timestamptz";
  return "(" + a + "valid_from <= " + t + " AND (" + a + "valid_to IS NULL OR " + a + "valid_to > " + t + "))";
}

std::string area_versions_from(std::string_view alias) { return "areas " + std::string(alias); }

bool is_current(pg::Connection& conn, const std::string& code) {
  return conn.exec("areas.is_current", "SELECT 1 FROM areas WHERE code = $1 AND valid_to IS NULL", {code}).rows() > 0;
}

bool ever_existed(pg::Connection& conn, const std::string& code) {
  return conn.exec("areas.ever_existed", "SELECT 1 FROM areas WHERE code = $1 LIMIT 1", {code}).rows() > 0;
}

std::optional<std::string> current_level(pg::Connection& conn, const std::string& code) {
  auto r = conn.exec("areas.current_level", "SELECT level FROM areas WHERE code = $1 AND valid_to IS NULL", {code});
  if (r.rows() == 0) return std::nullopt;
  return r.str(0, 0);
}

std::optional<Placement> current_placement(pg::Connection& conn, const std::string& code, const std::string& lon, const std::string& lat) {
  auto r = conn.exec("areas.placement",
                     "SELECT level, ST_Covers(geom, ST_SetSRID(ST_MakePoint($2::float8, $3::float8), 4490)) "
                     "FROM areas WHERE code = $1 AND valid_to IS NULL",
                     {code, lon, lat});
  if (r.rows() == 0) return std::nullopt;
  return Placement{r.str(0, 0), r.boolean(0, 1)};
}

std::vector<std::string> current_geometries(pg::Connection& conn, const std::vector<std::string>& codes) {
  auto r =
      conn.exec("areas.current_geometries",
                "SELECT ST_AsHEXEWKB(geom) FROM areas WHERE code = ANY($1::text[]) AND valid_to IS NULL ORDER BY code", {pg::array(codes)});
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.str(i, 0));
  return out;
}

pg::Result read_shapes(pg::Connection& conn, std::optional<Micros> at, const std::vector<std::string>* codes) {
  std::string sql = "SELECT code, name, level, coalesce(parent_code, ''), ST_AsBinary(geom) FROM areas ";
  std::vector<pg::Param> params;
  if (at) {
    sql += "WHERE " + valid_at("", 1);
    params.push_back(format_rfc3339(*at));
  } else {
    sql += "WHERE valid_to IS NULL";
  }
  if (codes) {
    sql += " AND code IN (SELECT json_array_elements_text($" + std::to_string(params.size() + 1) + "::json))";
    params.push_back(nlohmann::json(*codes).dump());
  }
  return conn.exec("locate.areas", sql, params);
}

pg::Result current_grid_shapes_hex(pg::Connection& conn) {
  return conn.exec("bench.geos_areas",
                   "SELECT level = 'grid', encode(ST_AsBinary(geom), 'hex') FROM areas "
                   "WHERE valid_to IS NULL AND level IN ('grid', 'microgrid') ORDER BY code");
}

std::array<double, 4> current_extent(pg::Connection& conn) {
  auto ext = conn.exec("bench.extent",
                       "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                       "(SELECT ST_Extent(geom) e FROM areas WHERE valid_to IS NULL) s");
  return {ext.number(0, 0), ext.number(0, 1), ext.number(0, 2), ext.number(0, 3)};
}

long long count_bench_points_in_grids(pg::Connection& conn) {
  return conn
      .exec("bench.join",
            "SELECT count(*) FROM bench_points p JOIN areas a ON a.valid_to IS NULL "
            "AND a.level IN ('grid', 'microgrid') AND ST_Covers(a.geom, p.geom)")
      .integer(0, 0);
}

namespace {

// {1.5,-2,...}: shortest round-trip text, so float8 reads back the very same doubles.
std::string float_array(const std::vector<std::array<double, 4>>& rows, std::size_t column) {
  std::string out = "{";
  char buf[32];
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i) out += ',';
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, rows[i][column]);
    out.append(buf, static_cast<std::size_t>(end - buf));
  }
  return out + "}";
}

}  // namespace

pg::Result areas_deciding_points_at(pg::Connection& conn, Micros at, const std::vector<std::array<double, 4>>& points) {
  // Grids and micro-grids are returned whole (their edges decide inside, boundary and nearest);
  // an admin area only says which points it covers, since its outline (up to a province's) would
  // cost more to send than the rest, and its ancestors only their names. Every step is an index
  // probe: areas_geom for the boxes and points, areas_code_time for the parents,
  // worker_assignments_grid_time for the workers.
  const std::string a_at = valid_at("a", 1), u_at = valid_at("u", 1);
  // The planner's guesses for a recursive query over a thousand points pass the cost at which
  // PostgreSQL compiles the plan with LLVM: seconds of compiling (3 s on a bench machine) for a
  // query that runs in less than one.
  pg::Transaction tx(conn);
  tx.exec("locate.deciding_areas_no_jit", "SET LOCAL jit = off");
  auto rows =
      tx.exec("locate.deciding_areas_at",
              "WITH RECURSIVE p AS ("
              "  SELECT (v.i - 1)::int AS i, v.x, v.y, v.rx, v.ry, ST_SetSRID(ST_MakePoint(v.x, v.y), 4490) AS g"
              "  FROM unnest($2::float8[], $3::float8[], $4::float8[], $5::float8[]) WITH ORDINALITY AS v(x, y, rx, ry, i)),"
              " fine AS (SELECT DISTINCT ON (a.id) a.id, a.code, a.name, a.level, a.parent_code, a.geom FROM p JOIN areas a"
              "  ON a.geom && ST_MakeEnvelope(p.x - p.rx, p.y - p.ry, p.x + p.rx, p.y + p.ry, 4490)"
              "  WHERE a.level IN ('grid', 'microgrid') AND " +
                  a_at +
                  "),"
                  " admin AS (SELECT a.id, a.code, a.name, a.level, a.parent_code, array_agg(p.i ORDER BY p.i) AS covers"
                  "  FROM p JOIN areas a ON a.geom && p.g WHERE a.level NOT IN ('grid', 'microgrid') AND " +
                  a_at +
                  " AND ST_Covers(a.geom, p.g) GROUP BY a.id),"
                  // The areas above, one level per step, each found through (code, valid_from).
                  " tree (id, code, name, level, parent) AS ("
                  "  SELECT id, code, name, level, parent_code FROM fine"
                  "  UNION SELECT id, code, name, level, parent_code FROM admin"
                  "  UNION SELECT up.* FROM tree CROSS JOIN LATERAL (SELECT u.id, u.code, u.name, u.level, u.parent_code FROM areas u"
                  "   WHERE u.code = tree.parent AND " +
                  u_at +
                  " LIMIT 1) up),"
                  " w AS (SELECT wa.grid_code, json_agg(json_build_array(wk.id, wk.name) ORDER BY wk.id) AS workers"
                  "  FROM fine JOIN worker_assignments wa ON wa.grid_code = fine.code JOIN workers wk ON wk.id = wa.worker_id"
                  "  WHERE wa.assigned_at <= $1::timestamptz AND (wa.unassigned_at IS NULL OR wa.unassigned_at > $1::timestamptz)"
                  "  GROUP BY wa.grid_code)"
                  " SELECT t.code, t.name, t.level, coalesce(t.parent, ''), ST_AsBinary(f.geom), ad.covers::text, w.workers::text"
                  " FROM tree t LEFT JOIN fine f ON f.id = t.id LEFT JOIN admin ad ON ad.id = t.id"
                  " LEFT JOIN w ON w.grid_code = t.code AND t.level IN ('grid', 'microgrid')",
              {format_rfc3339(at), float_array(points, 0), float_array(points, 1), float_array(points, 2), float_array(points, 3)});
  tx.commit();
  return rows;
}

pg::Result map_shapes(pg::Connection& conn, const std::string& level, std::optional<Micros> at,
                      std::optional<std::array<double, 4>> lonlat_box) {
  std::vector<pg::Param> params{level};
  std::string where = "a.valid_to IS NULL";
  if (at) {
    params.push_back(format_rfc3339(*at));
    where = valid_at("a", 2);
  }
  if (lonlat_box) {
    for (double v : *lonlat_box) params.push_back(std::to_string(v));
    const auto n = params.size();
    where += " AND a.geom && ST_MakeEnvelope($" + std::to_string(n - 3) + "::float8, $" + std::to_string(n - 2) + "::float8, $" +
             std::to_string(n - 1) + "::float8, $" + std::to_string(n) + "::float8, 4490)";
  }
  return conn.exec("tiles.layer",
                   "SELECT a.id, a.code, a.name, coalesce(a.parent_code, ''), encode(ST_AsBinary(a.geom), 'hex'), "
                   "ST_X(p.p), ST_Y(p.p) FROM areas a, LATERAL (SELECT ST_PointOnSurface(a.geom) AS p) p "
                   "WHERE a.level = $1 AND " +
                       where + " ORDER BY a.code",
                   params);
}

pg::Result map_shapes_of(pg::Connection& conn, const std::vector<std::string>& codes) {
  return conn.exec("tiles.changed_areas",
                   "SELECT a.id, a.code, a.name, coalesce(a.parent_code, ''), encode(ST_AsBinary(a.geom), 'hex'), "
                   "ST_X(p.p), ST_Y(p.p), a.level FROM areas a, LATERAL (SELECT ST_PointOnSurface(a.geom) AS p) p "
                   "WHERE a.code IN (SELECT json_array_elements_text($1::json)) AND a.valid_to IS NULL ORDER BY a.code",
                   {nlohmann::json(codes).dump()});
}

bool is_empty(pg::Connection& conn) { return !conn.exec("sample.any_area", "SELECT EXISTS (SELECT 1 FROM areas)").boolean(0, 0); }

void copy_in_areas(pg::Connection& conn, const std::function<bool(std::string&)>& fill) {
  conn.copy_in("sample.areas",
               "COPY areas (code, version, name, level, parent_code, geom, households, population, valid_from, changed_by, change) "
               "FROM STDIN",
               fill);
}

void assign_incident_grids(pg::Connection& conn) {
  conn.exec("sample.incident_grids",
            "UPDATE incidents i SET grid_code = a.code FROM areas a "
            "WHERE i.grid_code IS NULL AND a.valid_to IS NULL AND a.level = 'grid' AND ST_Covers(a.geom, i.location)");
}

void assign_incident_hierarchies(pg::Connection& conn, const std::string& created_by) {
  conn.exec("sample.case_hierarchies", R"SQL(
WITH RECURSIVE up AS (
  SELECT i.id, a.code, a.parent_code, a.level, a.name, 0 AS depth
  FROM incidents i JOIN areas a ON a.code = i.grid_code AND a.valid_to IS NULL
  WHERE i.created_by = $1
  UNION ALL
  SELECT up.id, p.code, p.parent_code, p.level, p.name, up.depth + 1
  FROM up JOIN areas p ON p.code = up.parent_code AND p.valid_to IS NULL)
UPDATE incidents i SET method = 'inside', hierarchy = h.chain
FROM (SELECT id, jsonb_agg(jsonb_build_object('level', level, 'code', code, 'name', name) ORDER BY depth DESC) AS chain
      FROM up GROUP BY id) h
WHERE i.id = h.id
)SQL",
            {created_by});
}

void analyze(pg::Connection& conn) { conn.exec("sample.analyze", "ANALYZE areas; "); }

}  // namespace wangge::registry

namespace wangge::registry {

pg::Result current_areas_under(pg::Connection& conn, const std::string& prefix, const std::string& level) {
  // The range lets the (level, code) index find the prefix (a township's grids in 13 ms instead
  // of 600 ms for a scan of every grid); starts_with keeps the answer exact.
  return conn.exec("areas.current_under",
                   "SELECT code, name, level, coalesce(parent_code, '') FROM areas WHERE valid_to IS NULL AND level = $2 "
                   "AND code >= $1 AND code < $1 || chr(1114111) AND starts_with(code, $1) ORDER BY code",
                   {prefix, level});
}

pg::Result current_children(pg::Connection& conn, const std::string& code) {
  if (code.empty())
    return conn.exec("areas.current_roots",
                     "SELECT code, name, level, '' FROM areas WHERE valid_to IS NULL AND parent_code IS NULL ORDER BY code");
  return conn.exec("areas.current_children",
                   "SELECT code, name, level, parent_code FROM areas WHERE valid_to IS NULL AND parent_code = $1 ORDER BY code", {code});
}

pg::Result current_area_row(pg::Connection& conn, const std::string& code) {
  return conn.exec("areas.current_row",
                   "SELECT code, name, level, coalesce(parent_code, '') FROM areas WHERE valid_to IS NULL AND code = $1", {code});
}

std::optional<AreaVersionRef> area_version_by_id(pg::Connection& conn, long long id) {
  auto r = conn.exec("areas.version_by_id",
                     "SELECT v.code, v.version, v.level, c.id, c.version FROM areas v "
                     "LEFT JOIN areas c ON c.code = v.code AND c.valid_to IS NULL WHERE v.id = $1::bigint",
                     {std::to_string(id)});
  if (r.rows() == 0) return std::nullopt;
  AreaVersionRef ref{r.str(0, 0), r.integer(0, 1), r.str(0, 2), std::nullopt, 0};
  if (!r.is_null(0, 3)) {
    ref.current_id = r.integer(0, 3);
    ref.current_version = r.integer(0, 4);
  }
  return ref;
}

std::optional<long long> current_version_id(pg::Connection& conn, const std::string& code) {
  auto r = conn.exec("areas.current_id", "SELECT id FROM areas WHERE code = $1 AND valid_to IS NULL", {code});
  if (r.rows() == 0) return std::nullopt;
  return r.integer(0, 0);
}

}  // namespace wangge::registry
