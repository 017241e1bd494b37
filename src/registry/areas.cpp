#include "registry/areas.hpp"

#include <set>

#include "core/error.hpp"
#include "geom/crs.hpp"
#include "geom/geojson.hpp"
#include "pg/connection.hpp"
#include "registry/audit.hpp"
#include "registry/queries.hpp"

namespace wangge::registry {
namespace {

using nlohmann::json;
using pg::Param;

std::string pg_time(Micros t) { return format_rfc3339(t); }

// When a code's last version ended, as RFC 3339 (NULL for a code never seen).
const char* kRetiredAt = "to_char(max(valid_to) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

const std::set<std::string> kWritableProperties = {"code", "name", "level", "parent", "households", "population", "attributes"};

std::optional<long long> count_field(const json& v, const char* name) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 100000000)
    throw unprocessable("invalid_property", std::string(name) + " must be a non-negative integer or null");
  return v.get<long long>();
}

Param opt_number(const std::optional<long long>& v) {
  if (!v) return std::nullopt;
  return std::to_string(*v);
}

[[noreturn]] void gone(const std::string& code, const std::string& when) {
  throw Error(410, "area_retired", "area " + code + " was retired at " + when + "; its history remains at /v1/areas/" + code + "/history");
}

void audit_area(pg::Transaction& tx, const Actor& actor, const std::string& action, const std::string& code,
                std::optional<long long> before, std::optional<long long> after, const json& detail) {
  audit::record(tx.connection(), actor.label(), action, {"area", code, before, after, detail});
}

// Checkpoints belong to grids (or micro-grids). A plain retire leaves its checkpoints on the retired code: the
// ground becomes a gap that no grid holds, and deleting them would lose their visit history. The
// grid that later covers them (a new grid in the freed space, or a neighbour redrawn over it)
// adopts them. Their version goes up, so an ETag held for the old state no longer matches.
// `report.checkpoints_adopted` lists them as [{"id", "from"}]. Other levels hold no checkpoints.
void adopt_orphan_checkpoints(pg::Transaction& tx, Level level, const std::string& grid, const std::string& ewkb, json& report) {
  if (level != Level::grid && level != Level::microgrid) return;
  auto r = tx.exec("areas.adopt_checkpoints",
                   "WITH orphan AS (SELECT c.id, c.grid_code FROM checkpoints c "
                   "  WHERE c.location && $2::geometry AND ST_Covers($2::geometry, c.location) AND c.grid_code <> $1 "
                   "  AND NOT EXISTS (SELECT 1 FROM areas g WHERE g.code = c.grid_code AND g.valid_to IS NULL)), "
                   "moved AS (UPDATE checkpoints c SET grid_code = $1, version = c.version + 1 FROM orphan o "
                   "  WHERE c.id = o.id RETURNING c.id, o.grid_code) "
                   "SELECT id, grid_code FROM moved ORDER BY id",
                   {grid, ewkb});
  if (r.rows() == 0) return;
  json& adopted = report["checkpoints_adopted"] = json::array();
  for (int i = 0; i < r.rows(); ++i) adopted.push_back({{"id", r.integer(i, 0)}, {"from", r.str(i, 1)}});
}

void check_if_match(const std::vector<std::string>& if_match, const std::string& current) {
  if (if_match.empty()) throw Error(428, "precondition_required", "this change needs an If-Match header with the area's ETag");
  for (const auto& tag : if_match)
    if (tag == "*" || tag == current) return;
  throw Error(412, "precondition_failed", "the area has changed since it was read (current ETag " + current + ")",
              json({{"current_etag", current}}).dump());
}

}  // namespace

AreaFields read_area_fields(const json& props) {
  if (!props.is_object()) throw bad_request("invalid_feature", "properties must be a JSON object");
  AreaFields f;
  for (auto it = props.begin(); it != props.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (is_server_property(k)) continue;  // echoes of a GET; the server owns them
    if (!kWritableProperties.count(k))
      throw unprocessable("unknown_property",
                          "unknown property '" + k + "'; allowed: code, name, level, parent, households, population, attributes");
    if (k == "code" || k == "name" || k == "level") {
      if (!v.is_string()) throw unprocessable("invalid_property", k + " must be a string");
      (k == "code" ? f.code : k == "name" ? f.name : f.level) = v.get<std::string>();
    } else if (k == "parent") {
      if (!v.is_null() && !v.is_string()) throw unprocessable("invalid_property", "parent must be a code or null");
      f.parent = v.is_null() ? std::optional<std::string>() : v.get<std::string>();
    } else if (k == "households") {
      f.households = count_field(v, "households");
    } else if (k == "population") {
      f.population = count_field(v, "population");
    } else if (k == "attributes") {
      if (!v.is_object()) throw unprocessable("invalid_property", "attributes must be a JSON object");
      f.attributes = v;
    }
  }
  if (f.name) {
    if (!valid_area_name(*f.name)) throw unprocessable("invalid_property", "name must be 1 to 300 bytes");
  }
  return f;
}

AreaProperties apply_area_fields(const AreaFields& f, const std::string& code, const std::string& level, const std::string& parent,
                                 const AreaProperties& current, bool replace) {
  if (f.code && *f.code != code) throw unprocessable("immutable_property", "code cannot change; create a new area instead");
  if (f.level && *f.level != level) throw unprocessable("immutable_property", "level cannot change");
  if (f.parent && f.parent->value_or("") != parent)
    throw unprocessable("immutable_property", "parent cannot change here; moving an area to another parent changes its code");
  if (replace && !f.name) throw unprocessable("missing_property", "PUT needs the name");
  AreaProperties out;
  out.name = f.name.value_or(current.name);
  if (replace) {
    out.households = f.households.value_or(std::nullopt);
    out.population = f.population.value_or(std::nullopt);
    out.attributes = f.attributes.value_or(json::object());
  } else {
    out.households = f.households ? *f.households : current.households;
    out.population = f.population ? *f.population : current.population;
    out.attributes = current.attributes;
    if (f.attributes) out.attributes.merge_patch(*f.attributes);  // RFC 7396: null removes a key
  }
  return out;
}

bool valid_area_name(std::string_view name) { return !name.empty() && name.size() <= 300; }

bool is_server_property(std::string_view key) {
  static const std::set<std::string, std::less<>> kServerProperties = {"version", "valid_from", "valid_to", "changed_by",
                                                                       "change",  "retired_by", "etag"};
  return kServerProperties.count(key) > 0;
}

int output_digits(int srid) { return srid == 4490 || srid == 4326 ? 9 : 3; }

void lock_children_of(pg::Transaction& tx, const std::string& parent) {
  tx.exec("areas.lock", "SELECT pg_advisory_xact_lock(hashtext('wangge.children:' || $1))", {parent});
}

std::optional<std::string> require_current(pg::Connection& conn, const std::string& code) {
  auto cur = conn.exec("areas.current_parent", "SELECT parent_code FROM areas WHERE code = $1 AND valid_to IS NULL", {code});
  if (cur.rows() == 1) return cur.opt(0, 0);
  auto any = conn.exec("areas.exists", std::string("SELECT ") + kRetiredAt + " FROM areas WHERE code = $1", {code});
  if (any.is_null(0, 0)) throw not_found("area_not_found", "no area has the code " + code);
  gone(code, any.str(0, 0));
}

std::string area_etag(std::string_view code, long long version) { return "\"" + std::string(code) + "-v" + std::to_string(version) + "\""; }

std::vector<std::string> parse_if_match(std::string_view header) {
  std::vector<std::string> tags;
  std::size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',' || header[i] == '\t')) ++i;
    if (i >= header.size()) break;
    if (header.substr(i, 2) == "W/") i += 2;
    std::size_t start = i;
    if (i < header.size() && header[i] == '"') {
      std::size_t close = header.find('"', i + 1);
      i = close == std::string_view::npos ? header.size() : close + 1;
    } else {
      while (i < header.size() && header[i] != ',') ++i;
    }
    std::string tag(header.substr(start, i - start));
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.pop_back();
    if (!tag.empty()) tags.push_back(tag);
  }
  return tags;
}

AreaPage AreaStore::list(pg::Connection& conn, const AreaQuery& q) const {
  std::vector<Param> params;
  std::string where = "TRUE";
  auto add = [&](const std::string& condition, Param p) {
    params.push_back(std::move(p));
    std::string c = condition;
    std::string marker = "$?";
    c.replace(c.find(marker), marker.size(), "$" + std::to_string(params.size()));
    where += " AND " + c;
  };
  if (q.at) {
    params.push_back(pg_time(*q.at));
    where += " AND " + valid_at("a", static_cast<int>(params.size()));
  } else {
    where += " AND a.valid_to IS NULL";
  }
  if (q.level) add("a.level = $?", *q.level);
  if (q.parent) add("a.parent_code = $?", *q.parent);
  if (q.scope) {
    params.push_back(code_prefix(*q.scope));
    const std::string n = "$" + std::to_string(params.size());
    where += " AND left(a.code, length(" + n + ")) = " + n;
  }
  if (q.text) {
    params.push_back(*q.text);
    const std::string n = "$" + std::to_string(params.size());
    where += " AND (strpos(a.name, " + n + ") > 0 OR left(a.code, length(" + n + ")) = " + n + ")";
  }
  if (q.bbox) {
    const auto& b = *q.bbox;
    params.push_back(std::to_string(b[0]));
    params.push_back(std::to_string(b[1]));
    params.push_back(std::to_string(b[2]));
    params.push_back(std::to_string(b[3]));
    const int n = static_cast<int>(params.size());
    const std::string envelope = "ST_MakeEnvelope($" + std::to_string(n - 3) + "::float8, $" + std::to_string(n - 2) + "::float8, $" +
                                 std::to_string(n - 1) + "::float8, $" + std::to_string(n) + "::float8, 4490)";
    // The index narrows by bounding box; the geometry itself must touch the box (OGC API semantics).
    where += " AND a.geom && " + envelope + " AND ST_Intersects(a.geom, " + envelope + ")";
  }
  auto count = conn.exec("areas.count", "SELECT count(*) FROM areas a WHERE " + where, params);
  const int n = static_cast<int>(params.size());
  params.push_back(std::to_string(q.srid));
  params.push_back(std::to_string(q.limit));
  params.push_back(std::to_string(q.offset));
  auto rows = conn.exec("areas.list",
                        "SELECT coalesce(json_agg(wg_area_feature(s, $" + std::to_string(n + 1) +
                            "::int) ORDER BY s.code), '[]'::json), count(*) FROM (SELECT a.* FROM areas a WHERE " + where +
                            " ORDER BY a.code LIMIT $" + std::to_string(n + 2) + "::int OFFSET $" + std::to_string(n + 3) + "::bigint) s",
                        params);
  return AreaPage{rows.str(0, 0), count.integer(0, 0), static_cast<int>(rows.integer(0, 1))};
}

AreaDocument AreaStore::get(pg::Connection& conn, const std::string& code, std::optional<Micros> at, int srid) const {
  pg::Result r;
  if (at) {
    r = conn.exec("areas.get_at", "SELECT wg_area_feature(a, $3::int), a.version FROM areas a WHERE a.code = $1 AND " + valid_at("a", 2),
                  {code, pg_time(*at), std::to_string(srid)});
  } else {
    r = conn.exec("areas.get", "SELECT wg_area_feature(a, $2::int), a.version FROM areas a WHERE a.code = $1 AND a.valid_to IS NULL",
                  {code, std::to_string(srid)});
  }
  if (r.rows() == 1) return AreaDocument{r.str(0, 0), area_etag(code, r.integer(0, 1)), code};
  auto last =
      conn.exec("areas.last",
                std::string("SELECT ") + kRetiredAt + ", bool_or(valid_to IS NULL), min(valid_from) FROM areas WHERE code = $1", {code});
  if (last.is_null(0, 2)) throw not_found("area_not_found", "no area has the code " + code);
  if (at) throw not_found("area_not_found", "area " + code + " did not exist at " + format_rfc3339(*at));
  gone(code, last.str(0, 0));
}

std::string AreaStore::history(pg::Connection& conn, const std::string& code, int srid) const {
  auto r = conn.exec("areas.history",
                     "SELECT count(*), coalesce(json_agg(wg_area_feature(a, $2::int) ORDER BY a.version DESC), '[]'::json) "
                     "FROM areas a WHERE a.code = $1",
                     {code, std::to_string(srid)});
  if (r.integer(0, 0) == 0) throw not_found("area_not_found", "no area has the code " + code);
  return "{\"code\":" + json(code).dump() + ",\"versions\":" + r.str(0, 1) + "}";
}

AreaStore::PreparedGeometry AreaStore::prepare_geometry(pg::Transaction& tx, const json& geometry, const WriteOptions& o) const {
  const std::string text = geom::checked_polygonal(geometry);
  pg::Result r;
  try {
    r = tx.exec("areas.parse_geometry",
                "SELECT d.valid, d.reason, ST_AsGeoJSON(d.location, 9, 0), ST_AsHEXEWKB(g.g), "
                "coalesce(wg_in_service_area(wg_try_transform(g.g, 4490)), false), "
                "ST_XMin(g.g), ST_YMin(g.g), ST_XMax(g.g), ST_YMax(g.g) "
                "FROM (SELECT ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON($1), $2::int)) AS g) g, ST_IsValidDetail(g.g) d",
                {text, std::to_string(o.srid)});
  } catch (const pg::sql_error& e) {
    if (e.is_unavailability()) throw;  // a timeout is not bad input: the ladder answers 503
    throw unprocessable("invalid_geometry", "the geometry could not be read as GeoJSON",
                        json({{"reason", "Unreadable GeoJSON geometry"}}).dump());
  }
  // Range first: every later step (repair report, metric checks) transforms the geometry.
  // PostGIS transforms projected coordinates outside the CRS's domain without complaint (Web
  // Mercator wraps around the globe), so the envelope, which bounds every coordinate, is checked
  // against the domain before anything is transformed.
  if (auto domain = geom::projected_domain(o.srid); domain && !r.is_null(0, 5)) {
    const double x0 = r.number(0, 5), y0 = r.number(0, 6), x1 = r.number(0, 7), y1 = r.number(0, 8);
    if (!domain->contains(x0, y0) || !domain->contains(x1, y1))
      throw unprocessable("invalid_geometry",
                          "coordinates lie outside the domain of EPSG:" + std::to_string(o.srid) + " (x " + std::to_string(domain->min_x) +
                              ".." + std::to_string(domain->max_x) + ", y " + std::to_string(domain->min_y) + ".." +
                              std::to_string(domain->max_y) + " m); check the crs parameter and the axis order (x = easting)",
                          json({{"reason", "Coordinates outside the CRS's domain"}}).dump());
  }
  if (!r.boolean(0, 4))
    throw unprocessable("invalid_geometry",
                        "coordinates lie outside the CRS's valid area or outside the service area (lon 70..140, lat 0..60 "
                        "in EPSG:4490); check the crs parameter and the axis order (x = longitude/easting)",
                        json({{"reason", "Coordinates out of range"}}).dump());
  PreparedGeometry out;
  std::string input = r.str(0, 3);
  if (!r.boolean(0, 0)) {
    json location = r.is_null(0, 2) ? json(nullptr) : json::parse(r.str(0, 2))["coordinates"];
    std::string reason = r.str(0, 1);
    if (!o.repair) {
      json extra = {{"reason", reason}, {"location", location}, {"hint", "send ?repair=true to apply MakeValid"}};
      throw unprocessable("invalid_geometry", "invalid geometry: " + reason + (location.is_null() ? "" : " at " + location.dump()),
                          extra.dump());
    }
    auto fixed = tx.exec("areas.repair",
                         "SELECT ST_AsHEXEWKB(f), ST_Area(wg_to_metric(g)), ST_Area(wg_to_metric(f)), ST_NumGeometries(f), "
                         "ST_NPoints(g), ST_NPoints(f), ST_IsEmpty(f) "
                         "FROM (SELECT $1::geometry AS g) s, LATERAL (SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(s.g), 3)) AS f) m",
                         {input});
    if (fixed.boolean(0, 6))
      throw unprocessable("invalid_geometry", "invalid geometry (" + reason + ") and nothing polygonal remains after repair",
                          json({{"reason", reason}, {"location", location}}).dump());
    input = fixed.str(0, 0);
    out.repair = {{"reason", reason},
                  {"location", location},
                  {"area_before_m2", fixed.number(0, 1)},
                  {"area_after_m2", fixed.number(0, 2)},
                  {"polygons_after", fixed.integer(0, 3)},
                  {"vertices_before", fixed.integer(0, 4)},
                  {"vertices_after", fixed.integer(0, 5)}};
  }
  // wg_try_transform answers NULL instead of failing the transaction for coordinates outside the
  // CRS's domain; the service area check keeps every later metric computation within reach.
  auto stored = tx.exec("areas.to_storage",
                        "SELECT ST_AsHEXEWKB(s), ST_IsEmpty(s), ST_IsValid(s), wg_in_service_area(s) "
                        "FROM (SELECT ST_Multi(wg_try_transform($1::geometry, 4490)) AS s) t",
                        {input});
  if (stored.is_null(0, 0) || !stored.boolean(0, 3))
    throw unprocessable("invalid_geometry",
                        "coordinates lie outside the CRS's valid area or outside the service area (lon 70..140, lat 0..60 "
                        "in EPSG:4490); check the crs parameter and the axis order (x = longitude/easting)",
                        json({{"reason", "Coordinates out of range"}}).dump());
  if (stored.boolean(0, 1)) throw unprocessable("invalid_geometry", "the geometry is empty", json({{"reason", "Empty"}}).dump());
  if (!stored.boolean(0, 2))
    throw unprocessable("invalid_geometry", "the geometry becomes invalid when transformed to EPSG:4490",
                        json({{"reason", "Invalid after transformation"}}).dump());
  out.ewkb = stored.str(0, 0);
  return out;
}

void AreaStore::check_topology(pg::Transaction& tx, const std::string& code, Level level, const std::string& parent,
                               const std::string& ewkb, Children children, int srid) const {
  // Geometries in problem documents come back in the CRS the client wrote in.
  const std::string out_digits = std::to_string(output_digits(srid));
  const std::string tol = std::to_string(m_config.parent_tolerance_m);
  if (!parent.empty()) {
    // Covered outright is the common case and cheap; only otherwise measure how far it pokes out.
    auto r = tx.exec("areas.check_parent",
                     "WITH c AS (SELECT $1::geometry AS g), p AS (SELECT geom FROM areas WHERE code = $2 AND valid_to IS NULL) "
                     "SELECT ST_AsGeoJSON(ST_Transform(ST_Difference(c.g, p.geom), $4::int), " +
                         out_digits +
                         ", 0), "
                         "ST_Area(wg_to_metric(ST_Difference(c.g, p.geom))) "
                         "FROM c, p WHERE NOT ST_CoveredBy(c.g, p.geom) AND NOT ST_IsEmpty(ST_Difference("
                         "  wg_to_metric(c.g), ST_Buffer(ST_Transform(p.geom, ST_SRID(wg_to_metric(c.g))), $3::float8)))",
                     {ewkb, parent, tol, std::to_string(srid)});
    if (r.rows() > 0) {
      json extra = {{"parent", parent},
                    {"outside_area_m2", r.number(0, 1)},
                    {"tolerance_m", m_config.parent_tolerance_m},
                    {"outside", json::parse(r.str(0, 0))}};
      throw unprocessable(
          "outside_parent",
          "area " + code + " extends " + std::to_string(r.number(0, 1)) + " m² outside its parent " + parent + " (tolerance " + tol + " m)",
          extra.dump());
    }
  }
  auto overlaps = tx.exec("areas.check_siblings",
                          "WITH c AS (SELECT $1::geometry AS g) "
                          "SELECT a.code, ST_Area(wg_to_metric(i.g)) AS m2, ST_AsGeoJSON(ST_Transform(i.g, $6::int), " +
                              out_digits +
                              ", 0) "
                              "FROM areas a, c, LATERAL (SELECT ST_CollectionExtract(ST_Intersection(a.geom, c.g), 3) AS g) i "
                              "WHERE a.valid_to IS NULL AND a.level = $2 AND a.parent_code IS NOT DISTINCT FROM $3 AND a.code <> $4 "
                              "  AND a.geom && c.g AND ST_Intersects(a.geom, c.g) AND NOT ST_IsEmpty(i.g) "
                              "  AND ST_Area(wg_to_metric(i.g)) > $5::float8 ORDER BY a.code",
                          {ewkb, std::string(level_name(level)), parent.empty() ? Param() : Param(parent), code,
                           std::to_string(m_config.overlap_tolerance_m2), std::to_string(srid)});
  if (overlaps.rows() > 0) {
    json codes = json::array();
    json list = json::array();
    for (int i = 0; i < overlaps.rows(); ++i) {
      codes.push_back(overlaps.str(i, 0));
      list.push_back({{"code", overlaps.str(i, 0)}, {"area_m2", overlaps.number(i, 1)}, {"overlap", json::parse(overlaps.str(i, 2))}});
    }
    throw conflict("overlaps_sibling",
                   "area " + code + " overlaps " + codes.dump() + " by more than " + std::to_string(m_config.overlap_tolerance_m2) + " m²",
                   json({{"overlapping_codes", codes}, {"overlaps", list}}).dump());
  }
  if (children == Children::must_stay_inside) {
    auto out = tx.exec("areas.check_children",
                       "WITH c AS (SELECT $1::geometry AS g) SELECT a.code FROM areas a, c "
                       "WHERE a.valid_to IS NULL AND a.parent_code = $2 AND NOT ST_CoveredBy(a.geom, c.g) AND NOT ST_IsEmpty("
                       "  ST_Difference(wg_to_metric(a.geom), ST_Buffer(ST_Transform(c.g, ST_SRID(wg_to_metric(a.geom))), $3::float8))) "
                       "ORDER BY a.code",
                       {ewkb, code, tol});
    if (out.rows() > 0) {
      json codes = json::array();
      for (int i = 0; i < out.rows(); ++i) codes.push_back(out.str(i, 0));
      throw unprocessable(
          "children_outside",
          "the new geometry of " + code + " would leave its children " + codes.dump() + " outside it; redraw or move them first",
          json({{"children_outside", codes}}).dump());
    }
  }
}

void AreaStore::check_no_gap(pg::Transaction& tx, const std::string& code, Level level, const std::string& parent,
                             const std::string& old_ewkb, const std::string& new_ewkb, int srid) const {
  // The ground inside the parent that this area gives up and no sibling covers would be nobody's:
  // a plain edit may not do that (the toolkit's adjust=neighbours hands it to the neighbours).
  const std::string out_digits = std::to_string(output_digits(srid));
  auto gaps = tx.exec("areas.check_gap",
                      "WITH p AS (SELECT geom FROM areas WHERE code = $3 AND valid_to IS NULL), "
                      "r AS (SELECT ST_Difference(ST_Intersection($1::geometry, p.geom), $2::geometry) AS g FROM p), "
                      "s AS (SELECT coalesce(ST_Union(a.geom), 'SRID=4490;GEOMETRYCOLLECTION EMPTY'::geometry) AS g FROM areas a, r "
                      "  WHERE a.valid_to IS NULL AND a.parent_code = $3 AND a.level = $4 AND a.code <> $5 AND a.geom && r.g) "
                      "SELECT ST_AsGeoJSON(ST_Transform(d.geom, $6::int), " +
                          out_digits +
                          ", 0), ST_Area(wg_to_metric(d.geom)) "
                          "FROM r, s, ST_Dump(ST_CollectionExtract(ST_Difference(r.g, s.g), 3)) d "
                          "WHERE ST_Area(wg_to_metric(d.geom)) > $7::float8 ORDER BY 2 DESC",
                      {old_ewkb, new_ewkb, parent, std::string(level_name(level)), code, std::to_string(srid),
                       std::to_string(m_config.overlap_tolerance_m2)});
  if (gaps.rows() == 0) return;
  double total = 0;
  json features = json::array();
  for (int i = 0; i < gaps.rows(); ++i) {
    total += gaps.number(i, 1);
    features.push_back({{"type", "Feature"}, {"geometry", json::parse(gaps.str(i, 0))}, {"properties", {{"area_m2", gaps.number(i, 1)}}}});
  }
  throw conflict("gap_opened",
                 "the new geometry of " + code + " leaves " + std::to_string(total) +
                     " m² of its parent covered by no area; send adjust=neighbours to give it to the neighbours",
                 json({{"gap_area_m2", total}, {"gaps", {{"type", "FeatureCollection"}, {"features", features}}}}).dump());
}

bool below_minimum_size(const Config& config, Level level, double area_m2, double width_m) {
  if (level != Level::grid && level != Level::microgrid) return false;
  return area_m2 < config.min_area_m2 || width_m < config.min_width_m;
}

std::string mean_width_sql(const std::string& geom) {
  // A strip's area over its perimeter is half its width; a polygon with no perimeter has no width.
  return "coalesce(2 * ST_Area(wg_to_metric(" + geom + ")) / nullif(ST_Perimeter(wg_to_metric(" + geom + ")), 0), 0)";
}

namespace {

struct Size {
  double area_m2, width_m;
};

Size measure(pg::Transaction& tx, const std::string& ewkb) {
  auto r =
      tx.exec("areas.measure", "SELECT ST_Area(wg_to_metric(g)), " + mean_width_sql("g") + " FROM (SELECT $1::geometry AS g) s", {ewkb});
  return {r.number(0, 0), r.number(0, 1)};
}

json size_extra(const Config& config, const Size& s) {
  return {{"area_m2", s.area_m2}, {"width_m", s.width_m}, {"min_area_m2", config.min_area_m2}, {"min_width_m", config.min_width_m}};
}

std::string size_text(const Config& config, const Size& s) {
  return std::to_string(s.area_m2) + " m² and " + std::to_string(s.width_m) + " m wide (minimum " + std::to_string(config.min_area_m2) +
         " m² and " + std::to_string(config.min_width_m) + " m)";
}

}  // namespace

void AreaStore::check_size(pg::Transaction& tx, const std::string& code, Level level, const std::string& ewkb) const {
  if (level != Level::grid && level != Level::microgrid) return;
  const Size s = measure(tx, ewkb);
  if (!below_minimum_size(m_config, level, s.area_m2, s.width_m)) return;
  json extra = size_extra(m_config, s);
  extra["code"] = code;
  throw unprocessable("area_too_small",
                      std::string("the ") + level_name(level) + " " + code + " would be " + size_text(m_config, s) +
                          "; a sliver is no area (merge it into a neighbour instead)",
                      extra.dump());
}

void AreaStore::check_neighbour_size(pg::Transaction& tx, const std::string& code, const std::string& neighbour, Level level,
                                     const std::string& ewkb) const {
  if (level != Level::grid && level != Level::microgrid) return;
  const Size s = measure(tx, ewkb);
  if (!below_minimum_size(m_config, level, s.area_m2, s.width_m)) return;
  json extra = size_extra(m_config, s);
  extra["neighbour"] = neighbour;
  throw conflict(
      "neighbour_too_small",
      "the new geometry of " + code + " would leave its neighbour " + neighbour + " " + size_text(m_config, s) + "; merge them instead",
      extra.dump());
}

WriteResult AreaStore::create(pg::Connection& conn, const Actor& actor, const json& feature, const WriteOptions& o) const {
  actor.require_edit_role();
  if (!feature.is_object() || feature.value("type", "") != "Feature")
    throw bad_request("invalid_feature", "the body must be a GeoJSON Feature");
  if (!feature.contains("properties") || !feature.contains("geometry"))
    throw bad_request("invalid_feature", "a Feature needs properties and geometry");
  AreaFields f = read_area_fields(feature["properties"]);
  if (!f.code || !f.name || !f.level) throw unprocessable("missing_property", "properties code, name and level are required");
  auto level = parse_level(*f.level);
  if (!level) throw unprocessable("invalid_level", "level must be one of province, city, county, township, village, grid, microgrid");
  const std::string parent = f.parent && *f.parent ? **f.parent : "";
  if (parent.empty() && *level > Level::county)
    throw unprocessable("missing_parent", std::string("a ") + level_name(*level) + " needs a parent");
  m_rules.validate(*f.code, *level, parent);
  actor.require_edit(*f.code);

  pg::Transaction tx(conn);
  lock_children_of(tx, parent);
  auto existing = tx.exec("areas.code_used", "SELECT bool_or(valid_to IS NULL) FROM areas WHERE code = $1", {*f.code});
  if (!existing.is_null(0, 0)) {
    if (existing.boolean(0, 0)) throw conflict("code_taken", "an area with code " + *f.code + " already exists");
    throw conflict("code_retired", "code " + *f.code + " belonged to a retired area; retired codes are never reused");
  }
  if (!parent.empty()) {
    auto p = tx.exec("areas.parent", "SELECT level FROM areas WHERE code = $1 AND valid_to IS NULL", {parent});
    if (p.rows() == 0) throw unprocessable("parent_not_found", "parent " + parent + " does not exist (or is retired)");
    if (p.str(0, 0) != level_name(*parent_level(*level)))
      throw unprocessable("parent_level_mismatch", std::string("the parent of a ") + level_name(*level) + " must be a " +
                                                       level_name(*parent_level(*level)) + ", " + parent + " is a " + p.str(0, 0));
  }
  PreparedGeometry g = prepare_geometry(tx, feature["geometry"], o);
  check_size(tx, *f.code, *level, g.ewkb);
  check_topology(tx, *f.code, *level, parent, g.ewkb, Children::unchecked, o.srid);
  auto ins = tx.exec("areas.insert",
                     "INSERT INTO areas AS a (code, version, name, level, parent_code, geom, households, population, attributes, "
                     "  valid_from, changed_by, change) "
                     "VALUES ($1, 1, $2, $3, $4, $5::geometry, $6::int, $7::int, $8::jsonb, clock_timestamp(), $9, 'create') "
                     "RETURNING wg_area_feature(a, $10::int)",
                     {*f.code, *f.name, *f.level, parent.empty() ? Param() : Param(parent), g.ewkb,
                      opt_number(f.households.value_or(std::nullopt)), opt_number(f.population.value_or(std::nullopt)),
                      f.attributes.value_or(json::object()).dump(), actor.label(), std::to_string(o.srid)});
  WriteResult out;
  if (!g.repair.is_null()) out.report["repair"] = g.repair;
  adopt_orphan_checkpoints(tx, *level, *f.code, g.ewkb, out.report);
  audit_area(tx, actor, "area.create", *f.code, std::nullopt, 1, out.report);
  tx.commit();
  out.area = AreaDocument{ins.str(0, 0), area_etag(*f.code, 1), *f.code};
  return out;
}

WriteResult AreaStore::update(pg::Connection& conn, const Actor& actor, const std::string& code, const json& body, const WriteOptions& o,
                              bool replace) const {
  actor.require_edit_role();
  if (!body.is_object()) throw bad_request("invalid_feature", "the body must be a JSON object");
  if (replace && (!body.contains("properties") || !body.contains("geometry")))
    throw bad_request("invalid_feature", "PUT takes the whole Feature: properties and geometry");
  if (!replace && !body.contains("properties") && !body.contains("geometry"))
    throw bad_request("invalid_feature", "PATCH takes {\"properties\": {...}} and/or {\"geometry\": ...}");
  AreaFields f = body.contains("properties") ? read_area_fields(body["properties"]) : AreaFields{};
  actor.require_edit(code);

  pg::Transaction tx(conn);
  const std::string parent = require_current(tx.connection(), code).value_or("");
  lock_children_of(tx, parent);
  lock_children_of(tx, code);
  auto row = tx.exec("areas.lock_current",
                     "SELECT id, version, name, level, households, population, attributes::text, ST_AsHEXEWKB(geom), "
                     "clock_timestamp()::text FROM areas WHERE code = $1 AND valid_to IS NULL FOR UPDATE",
                     {code});
  if (row.rows() == 0) require_current(tx.connection(), code);  // retired meanwhile: throws 410
  const long long version = row.integer(0, 1);
  check_if_match(o.if_match, area_etag(code, version));
  const Level level = *parse_level(row.get(0, 3));

  AreaProperties current;
  current.name = row.str(0, 2);
  if (!row.is_null(0, 4)) current.households = row.integer(0, 4);
  if (!row.is_null(0, 5)) current.population = row.integer(0, 5);
  current.attributes = json::parse(row.str(0, 6));
  const AreaProperties next = apply_area_fields(f, code, row.str(0, 3), parent, current, replace);

  std::string ewkb = row.str(0, 7);
  WriteResult out;
  if (body.contains("geometry")) {
    PreparedGeometry g = prepare_geometry(tx, body["geometry"], o);
    ewkb = g.ewkb;
    if (!g.repair.is_null()) out.report["repair"] = g.repair;
    // What is wrong with the new shape itself comes first; then what it would leave behind.
    check_size(tx, code, level, ewkb);
    check_topology(tx, code, level, parent, ewkb, Children::must_stay_inside, o.srid);
    if (!parent.empty()) check_no_gap(tx, code, level, parent, row.str(0, 7), ewkb, o.srid);
  }
  const std::string now = row.str(0, 8);
  tx.exec("areas.close_version", "UPDATE areas SET valid_to = $2::timestamptz WHERE id = $1", {row.str(0, 0), now});
  auto ins = tx.exec("areas.insert_version",
                     "INSERT INTO areas AS a (code, version, name, level, parent_code, geom, households, population, attributes, "
                     "  valid_from, changed_by, change) "
                     "VALUES ($1, $2::int, $3, $4, $5, $6::geometry, $7::int, $8::int, $9::jsonb, $10::timestamptz, $11, $12) "
                     "RETURNING wg_area_feature(a, $13::int)",
                     {code, std::to_string(version + 1), next.name, row.str(0, 3), parent.empty() ? Param() : Param(parent), ewkb,
                      opt_number(next.households), opt_number(next.population), next.attributes.dump(), now, actor.label(),
                      replace ? "replace" : "update", std::to_string(o.srid)});
  if (body.contains("geometry")) adopt_orphan_checkpoints(tx, level, code, ewkb, out.report);
  json detail = out.report;
  detail["geometry_changed"] = body.contains("geometry");
  audit_area(tx, actor, replace ? "area.replace" : "area.update", code, version, version + 1, detail);
  tx.commit();
  out.area = AreaDocument{ins.str(0, 0), area_etag(code, version + 1), code};
  return out;
}

json AreaStore::retire(pg::Connection& conn, const Actor& actor, const std::string& code, const WriteOptions& o, bool dry_run) const {
  actor.require_edit(code);
  pg::Transaction tx(conn);
  lock_children_of(tx, require_current(tx.connection(), code).value_or(""));
  lock_children_of(tx, code);
  auto row = tx.exec("areas.lock_current", "SELECT id, version FROM areas WHERE code = $1 AND valid_to IS NULL FOR UPDATE", {code});
  if (row.rows() == 0) require_current(tx.connection(), code);  // retired meanwhile: throws 410
  const long long version = row.integer(0, 1);
  const std::string etag = area_etag(code, version);
  if (!dry_run) check_if_match(o.if_match, etag);
  auto kids = tx.exec("areas.children_count", "SELECT count(*) FROM areas WHERE parent_code = $1 AND valid_to IS NULL", {code});
  if (kids.integer(0, 0) > 0)
    throw conflict("has_children", "area " + code + " still has " + kids.str(0, 0) + " current children; retire or move them first");
  tx.exec("areas.retire", "UPDATE areas SET valid_to = clock_timestamp(), retired_by = $2 WHERE id = $1", {row.str(0, 0), actor.label()});
  auto unassigned = tx.exec("areas.unassign_workers",
                            "UPDATE worker_assignments SET unassigned_at = clock_timestamp() "
                            "WHERE grid_code = $1 AND unassigned_at IS NULL RETURNING worker_id",
                            {code});
  json workers = json::array();
  for (int i = 0; i < unassigned.rows(); ++i) workers.push_back(unassigned.integer(i, 0));
  // Its checkpoints stay on the retired code until a grid covers them again (see
  // adopt_orphan_checkpoints); the audit names them.
  auto left = tx.exec("areas.checkpoints_left",
                      "SELECT coalesce(json_agg(id ORDER BY id), '[]')::text FROM checkpoints WHERE grid_code = $1", {code});
  const json checkpoints = json::parse(left.str(0, 0));
  json report = {{"operation", "retire"},
                 {"dry_run", dry_run},
                 {"code", code},
                 {"version", version},
                 {"touched", {{code, etag}}},
                 {"retired", {code}},
                 {"workers_unassigned", workers},
                 {"checkpoints_without_grid", checkpoints}};
  if (dry_run) return report;  // the transaction rolls back: a dry run writes nothing
  audit_area(tx, actor, "area.retire", code, version, std::nullopt,
             json({{"workers_unassigned", unassigned.rows()}, {"checkpoints_without_grid", checkpoints}}));
  tx.commit();
  return report;
}

}  // namespace wangge::registry
