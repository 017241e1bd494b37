// The toolkit's operations. Geometry work happens in PostGIS inside the operation's transaction;
// C++ decides, orders and reports.
//
// Every geometry the toolkit computes is snap-rounded to 1e-9° (about 0.1 mm: ST_ReducePrecision,
// overlays with gridSize 1e-9): floating-point overlay output can hold a vertex a hair away from a
// segment, valid in degrees but self-intersecting once projected to metres for the checks.
#include "registry/toolkit.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <functional>
#include <set>

#include "core/error.hpp"
#include "geom/crs.hpp"
#include "geom/geojson.hpp"
#include "pg/array.hpp"
#include "registry/areas.hpp"
#include "registry/operation.hpp"
#include "registry/redistrict.hpp"

namespace wangge::toolkit {
namespace {

using nlohmann::json;
using pg::Param;
using redistricting::Located;
using redistricting::numbering_order;
using registry::Level;
using Children = registry::AreaStore::Children;
using Estimate = Operation::Estimate;

// Levels below the county carry a parent code plus a 3-digit sequence, which the allocator extends.
void require_sequenced_level(const AreaRow& a) {
  auto level = registry::parse_level(a.level);
  if (!level || *level < Level::township || a.parent.empty())
    throw unprocessable("level_not_supported",
                        "area " + a.code + " is a " + a.level + "; the toolkit reshapes townships, villages, grids and micro-grids");
}

std::string digits_for(int srid) { return std::to_string(registry::output_digits(srid)); }

registry::WriteOptions write_options(const OperationOptions& o) {
  registry::WriteOptions w;
  w.srid = o.srid;
  w.repair = o.repair;
  return w;
}

json feature_collection(const pg::Result& r, int geometry_col, int area_col) {
  json features = json::array();
  for (int i = 0; i < r.rows(); ++i)
    features.push_back(
        {{"type", "Feature"}, {"geometry", json::parse(r.get(i, geometry_col))}, {"properties", {{"area_m2", r.number(i, area_col)}}}});
  return {{"type", "FeatureCollection"}, {"features", features}};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Redraw

OperationResult Toolkit::redraw(pg::Connection& conn, const registry::Actor& actor, const std::string& code, const json& body,
                                const OperationOptions& o, bool adjust_neighbours) const {
  actor.require_edit_role();
  if (!body.is_object() || !body.contains("geometry"))
    throw bad_request("invalid_feature", "a redraw takes {\"geometry\": <Polygon or MultiPolygon>}");
  // Properties sent with the geometry go into the same new version: one request, one version, and
  // a refused property refuses the whole redraw. They merge as a PATCH's do (registry/areas.hpp).
  const bool with_properties = body.contains("properties") && !body["properties"].is_null();
  const registry::AreaFields fields = with_properties ? registry::read_area_fields(body["properties"]) : registry::AreaFields{};
  const std::string parent = current_parent(conn, code, o);
  Operation op(*this, conn, actor, "redraw", code, o);
  auto& tx = op.tx();
  op.lock({parent, code});
  AreaRow t = op.current(code);
  op.set_level(t.level);
  op.touch(t);
  const registry::AreaProperties props =
      registry::apply_area_fields(fields, code, t.level, parent, {t.name, t.households, t.population, json::parse(t.attributes)}, false);
  const std::string attributes = props.attributes.dump();
  const Level level = *registry::parse_level(t.level);
  const std::string n = tx.exec("toolkit.clean",
                                "SELECT ST_AsHEXEWKB(ST_Multi(ST_CollectionExtract(ST_ReducePrecision($1::geometry, 1e-9), 3))), "
                                "ST_IsEmpty(ST_Multi(ST_CollectionExtract(ST_ReducePrecision($1::geometry, 1e-9), 3)))",
                                {m_areas.prepare_geometry(tx, body["geometry"], write_options(o)).ewkb})
                            .str(0, 0);
  const std::string tol = std::to_string(m_config.overlap_tolerance_m2);
  const std::string srid = std::to_string(o.srid);
  m_areas.check_size(tx, code, level, n);

  if (!adjust_neighbours || parent.empty()) {
    op.check_preconditions();
    if (!parent.empty()) {
      // The ground the grid gives up and no sibling covers: a gap in the parent (the plain edit's rule).
      m_areas.check_no_gap(tx, code, level, parent, t.ewkb, n, o.srid);
    }
    m_areas.check_topology(tx, code, level, parent, n, Children::must_stay_inside, o.srid);  // overlaps → 409 with the geometry
    op.supersede(t);
    op.insert(code, t.version + 1, props.name, t.level, parent, n, props.households, props.population, attributes, "redraw", Estimate::no);
    return op.finish(2.0, {{"adjust", "none"}});
  }

  // Released pieces go to the neighbour sharing the longest boundary with each.
  auto released = tx.exec("toolkit.released",
                          "SELECT ST_AsHEXEWKB(d.geom), ST_Area(wg_to_metric(d.geom)) "
                          "FROM ST_Dump(ST_CollectionExtract(ST_Difference($1::geometry, $2::geometry, 1e-9), 3)) d",
                          {t.ewkb, n});
  std::map<std::string, std::vector<std::string>> received;
  json orphans = json::array();
  for (int i = 0; i < released.rows(); ++i) {
    const std::string piece = released.str(i, 0);
    auto best =
        tx.exec("toolkit.best_neighbour",
                "WITH m AS (SELECT wg_to_metric($1::geometry) AS g) "
                "SELECT a.code, ST_Length(ST_Intersection(ST_Boundary(m.g), ST_Buffer(ST_Transform(a.geom, ST_SRID(m.g)), 0.05))) AS len "
                "FROM areas a, m WHERE a.valid_to IS NULL AND a.parent_code = $2 AND a.level = $3 AND a.code <> $4 "
                "  AND a.geom && ST_Expand($1::geometry, 0.00001) ORDER BY len DESC, a.code LIMIT 1",
                {piece, parent, t.level, code});
    if (best.rows() == 1 && best.number(0, 1) > 0.5) {
      received[best.str(0, 0)].push_back(piece);
    } else if (released.number(i, 1) > m_config.overlap_tolerance_m2) {
      auto g = tx.exec("toolkit.geojson", "SELECT ST_AsGeoJSON(ST_Transform($1::geometry, $2::int), " + digits_for(o.srid) + ", 0)",
                       {piece, srid});
      orphans.push_back(
          {{"type", "Feature"}, {"geometry", json::parse(g.str(0, 0))}, {"properties", {{"area_m2", released.number(i, 1)}}}});
    }
  }
  if (!orphans.empty())
    throw conflict("gap_opened",
                   "the new geometry of " + code +
                       " releases ground that borders no sibling (at the parent's edge); "
                       "no neighbour can take it",
                   json({{"gaps", {{"type", "FeatureCollection"}, {"features", orphans}}}}).dump());

  // Neighbours that lose ground to the new geometry, and those that gain the released pieces.
  auto taking = tx.exec("toolkit.overlapped",
                        "SELECT a.code FROM areas a WHERE a.valid_to IS NULL AND a.parent_code = $2 AND a.level = $3 "
                        "  AND a.code <> $4 AND a.geom && $1::geometry AND ST_Relate(a.geom, $1::geometry, '2********') "
                        "ORDER BY a.code",
                        {n, parent, t.level, code});
  std::set<std::string> neighbours;
  for (int i = 0; i < taking.rows(); ++i) neighbours.insert(taking.str(i, 0));
  for (const auto& [c, pieces] : received) neighbours.insert(c);
  op.lock(std::vector<std::string>(neighbours.begin(), neighbours.end()));
  struct Change {
    AreaRow row;
    std::string ewkb;
  };
  std::vector<Change> changes;
  for (const auto& c : neighbours) {
    AreaRow s = op.current(c);
    op.touch(s);
    auto g = tx.exec(
        "toolkit.adjusted",
        "SELECT ST_AsHEXEWKB(g), ST_IsEmpty(g), ST_Area(wg_to_metric(g)) FROM (SELECT ST_Multi(ST_CollectionExtract(ST_ReducePrecision("
        "  ST_UnaryUnion(ST_Collect(ARRAY[ST_Difference($1::geometry, $2::geometry, 1e-9)] || "
        "  ARRAY(SELECT t::geometry FROM unnest($3::text[]) AS t)), 1e-9), 1e-9), 3)) AS g) s",
        {s.ewkb, n, pg::array(received[c])});
    if (g.boolean(0, 1) || g.number(0, 2) <= m_config.overlap_tolerance_m2)
      throw unprocessable("neighbour_would_vanish",
                          "the new geometry of " + code + " would swallow its neighbour " + c + "; merge them instead",
                          json({{"neighbour", c}}).dump());
    m_areas.check_neighbour_size(tx, code, c, level, g.str(0, 0));
    changes.push_back({s, g.str(0, 0)});
  }
  op.check_preconditions();
  op.supersede(t);
  const std::string id = op.insert(code, t.version + 1, props.name, t.level, parent, n, props.households, props.population, attributes,
                                   "redraw", Estimate::from_predecessors);
  // Figures the request sets are the client's; those it leaves out follow the ground by area share.
  op.keep_figures(id, fields.households.has_value(), fields.population.has_value());
  for (const auto& ch : changes) {
    op.supersede(ch.row);
    op.insert(ch.row.code, ch.row.version + 1, ch.row.name, ch.row.level, parent, ch.ewkb, ch.row.households, ch.row.population,
              ch.row.attributes, "adjust", Estimate::from_predecessors);
  }
  // The written state must still be a partition: inside the parent, no overlaps, children kept.
  m_areas.check_topology(tx, code, level, parent, n, Children::must_stay_inside, o.srid);
  for (const auto& ch : changes) m_areas.check_topology(tx, ch.row.code, level, parent, ch.ewkb, Children::must_stay_inside, o.srid);
  json adjusted = json::array();
  for (const auto& ch : changes) adjusted.push_back(ch.row.code);
  return op.finish(2.0, {{"adjust", "neighbours"}, {"adjusted", adjusted}});
}

// ---------------------------------------------------------------------------------------------
// Split

OperationResult Toolkit::split(pg::Connection& conn, const registry::Actor& actor, const std::string& code, const json& body,
                               const OperationOptions& o) const {
  actor.require_edit_role();
  if (!body.is_object() || !body.contains("line") || !body["line"].is_object())
    throw bad_request("invalid_body", "a split takes {\"line\": <GeoJSON LineString or MultiLineString>}");
  const json& line = body["line"];
  const std::string type = line.value("type", "");
  if (type != "LineString" && type != "MultiLineString")
    throw unprocessable("invalid_line", "the split line must be a GeoJSON LineString or MultiLineString, not '" + type + "'");
  std::vector<std::string> names;
  if (body.contains("names")) {
    if (!body["names"].is_array()) throw unprocessable("invalid_property", "names must be an array of strings");
    for (const auto& v : body["names"]) {
      if (!v.is_string() || !registry::valid_area_name(v.get<std::string>()))
        throw unprocessable("invalid_property", "names must be non-empty strings of at most 300 bytes");
      names.push_back(v.get<std::string>());
    }
  }
  const std::string parent = current_parent(conn, code, o);
  Operation op(*this, conn, actor, "split", code, o);
  auto& tx = op.tx();
  op.lock({parent, code});
  AreaRow g = op.current(code);
  require_sequenced_level(g);
  op.set_level(g.level);
  op.touch(g);
  op.check_preconditions();
  op.require_no_children(g);
  const Level level = *registry::parse_level(g.level);

  pg::Result l;
  try {
    l = tx.exec("toolkit.line",
                "SELECT ST_AsHEXEWKB(l), ST_IsValid(l) AND NOT ST_IsEmpty(l) FROM (SELECT ST_Transform(ST_SetSRID("
                "  ST_Force2D(ST_GeomFromGeoJSON($1)), $2::int), 4490) AS l) s",
                {line.dump(), std::to_string(o.srid)});
  } catch (const pg::sql_error& e) {
    if (e.is_unavailability()) throw;  // a timeout is not bad input: the ladder answers 503
    throw unprocessable("invalid_line", "the split line could not be read as GeoJSON in EPSG:" + std::to_string(o.srid));
  }
  if (!l.boolean(0, 1)) throw unprocessable("invalid_line", "the split line is empty or invalid");
  const std::string blade = l.str(0, 0);

  // The pieces are the faces of the grid's boundary noded with the line (snap-rounded, so the faces
  // tile the grid exactly; ST_Split loses hairline slivers where a line grazes a vertex). A piece is
  // "cut" when its original polygon fell into several pieces; polygons of an island grid the line
  // does not cross join the nearest cut piece.
  auto pieces =
      tx.exec("toolkit.split",
              "WITH o AS (SELECT (d).path[1] AS k, (d).geom AS g FROM (SELECT ST_Dump($1::geometry) AS d) s), "
              "f AS (SELECT (ST_Dump(ST_Polygonize(n))).geom AS g FROM (SELECT ST_UnaryUnion(ST_Collect(ST_Boundary($1::geometry), "
              "  $2::geometry), 1e-9) AS n) s), "
              "p AS (SELECT g FROM f WHERE ST_Covers($1::geometry, ST_PointOnSurface(g))), "
              "pk AS (SELECT p.g, (SELECT o.k FROM o WHERE ST_Covers(o.g, ST_PointOnSurface(p.g)) ORDER BY o.k LIMIT 1) AS k FROM p) "
              "SELECT ST_AsHEXEWKB(ST_Multi(ST_CollectionExtract(ST_ReducePrecision(g, 1e-9), 3))), count(*) OVER (PARTITION BY k) > 1, "
              "ST_Area(wg_to_metric(g)), "
              "  ST_X(ST_Centroid(g)) * cos(radians(ST_Y(ST_Centroid(g)))), ST_Y(ST_Centroid(g)), ST_YMax(g) - ST_YMin(g), "
              "  ST_IsValid(g) AND NOT ST_IsEmpty(ST_Multi(ST_CollectionExtract(ST_ReducePrecision(g, 1e-9), 3))), " +
                  registry::mean_width_sql("g") + " FROM pk",
              {g.ewkb, blade});
  std::vector<std::string> cut, uncut;
  std::vector<Located> located;
  json slivers = json::array();
  for (int i = 0; i < pieces.rows(); ++i) {
    if (!pieces.boolean(i, 6)) throw unprocessable("invalid_line", "the line produced an invalid piece; simplify the line");
    if (!pieces.boolean(i, 1)) {
      uncut.push_back(pieces.str(i, 0));
      continue;
    }
    if (pieces.number(i, 2) <= m_config.overlap_tolerance_m2 ||
        registry::below_minimum_size(m_config, level, pieces.number(i, 2), pieces.number(i, 7)))
      slivers.push_back(pieces.number(i, 2));
    located.push_back({cut.size(), pieces.number(i, 3), pieces.number(i, 4), pieces.number(i, 5)});
    cut.push_back(pieces.str(i, 0));
  }
  if (cut.size() < 2)
    throw unprocessable("line_does_not_cut",
                        "the line does not cut " + code + " into pieces: it must cross the grid from boundary to boundary");
  if (!slivers.empty())
    throw unprocessable("split_piece_too_small",
                        "the line cuts off pieces of at most " + std::to_string(m_config.overlap_tolerance_m2) +
                            " m², or grids below the minimum size (" + std::to_string(m_config.min_area_m2) + " m², " +
                            std::to_string(m_config.min_width_m) + " m wide); move the line",
                        json({{"piece_areas_m2", slivers}}).dump());
  std::vector<std::vector<std::string>> groups(cut.size());
  for (std::size_t i = 0; i < cut.size(); ++i) groups[i].push_back(cut[i]);
  for (const auto& u : uncut) {
    auto d =
        tx.exec("toolkit.nearest_piece",
                "SELECT i FROM unnest($2::text[]) WITH ORDINALITY AS p(t, i) ORDER BY ST_Distance($1::geometry, t::geometry), i LIMIT 1",
                {u, pg::array(cut)});
    groups[static_cast<std::size_t>(d.integer(0, 0) - 1)].push_back(u);
  }
  std::vector<std::size_t> order = numbering_order(located);
  if (!names.empty() && names.size() != order.size())
    throw unprocessable("invalid_property", "names has " + std::to_string(names.size()) + " entries; the line makes " +
                                                std::to_string(order.size()) + " pieces");
  // ST_Split can lose a hairline sliver where the line grazes a vertex (its pieces then miss part
  // of the grid); whatever the pieces do not cover goes to the nearest piece, so nothing is lost.
  {
    auto rest = tx.exec("toolkit.split_rest",
                        "WITH p AS (SELECT i, t::geometry AS g FROM unnest($2::text[]) WITH ORDINALITY AS u(t, i)), "
                        "r AS (SELECT (ST_Dump(ST_CollectionExtract(ST_Difference($1::geometry, "
                        "  (SELECT ST_Union(g, 1e-9) FROM p), 1e-9), 3))).geom AS g) "
                        "SELECT ST_AsHEXEWKB(r.g), (SELECT p.i FROM p ORDER BY ST_Distance(p.g, r.g), p.i LIMIT 1) FROM r",
                        {g.ewkb, pg::array(cut)});
    for (int i = 0; i < rest.rows(); ++i) groups[static_cast<std::size_t>(rest.integer(i, 1) - 1)].push_back(rest.str(i, 0));
  }
  std::vector<std::string> codes = op.allocate_codes(g.parent, g.level, order.size());
  op.retire(g);
  json pieces_out = json::array();
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& group = groups[order[k]];
    std::string ewkb = group[0];
    if (group.size() > 1)
      ewkb = tx.exec("toolkit.join_pieces",
                     "SELECT ST_AsHEXEWKB(ST_Multi(ST_CollectionExtract(ST_ReducePrecision(ST_UnaryUnion(ST_Collect(t::geometry), 1e-9), "
                     "1e-9), 3))) "
                     "FROM unnest($1::text[]) AS t",
                     {pg::array(group)})
                 .str(0, 0);
    const std::string name = names.empty() ? g.name + "-" + std::to_string(k + 1) : names[k];
    op.insert(codes[k], 1, name, g.level, g.parent, ewkb, std::nullopt, std::nullopt, g.attributes, "split", Estimate::from_predecessors);
    pieces_out.push_back(codes[k]);
  }
  return op.finish(0.0, {{"pieces", pieces_out}});
}

// ---------------------------------------------------------------------------------------------
// Merge

OperationResult Toolkit::merge(pg::Connection& conn, const registry::Actor& actor, const json& body, const OperationOptions& o) const {
  actor.require_edit_role();
  if (!body.is_object() || !body.contains("codes") || !body["codes"].is_array())
    throw bad_request("invalid_body", "a merge takes {\"codes\": [code, code, ...], \"name\"?: text}");
  std::vector<std::string> codes;
  for (const auto& v : body["codes"]) {
    if (!v.is_string()) throw unprocessable("invalid_property", "codes must be area codes (strings)");
    codes.push_back(v.get<std::string>());
  }
  std::sort(codes.begin(), codes.end());
  if (std::adjacent_find(codes.begin(), codes.end()) != codes.end()) throw unprocessable("invalid_property", "codes lists an area twice");
  if (codes.size() < 2) throw unprocessable("invalid_property", "a merge needs at least two codes");
  std::optional<std::string> name;
  if (body.contains("name")) {
    if (!body["name"].is_string() || !registry::valid_area_name(body["name"].get<std::string>()))
      throw unprocessable("invalid_property", "name must be 1 to 300 bytes");
    name = body["name"].get<std::string>();
  }
  std::set<std::string> parents;
  for (const auto& c : codes) parents.insert(current_parent(conn, c, o));
  if (parents.size() != 1)
    throw unprocessable("not_siblings", "the areas to merge must have the same parent; they have " +
                                            json(std::vector<std::string>(parents.begin(), parents.end())).dump());
  const std::string parent = *parents.begin();
  Operation op(*this, conn, actor, "merge", parent, o);
  auto& tx = op.tx();
  std::vector<std::string> locks = codes;
  locks.push_back(parent);
  op.lock(locks);
  std::vector<AreaRow> rows;
  std::vector<std::string> ids;
  for (const auto& c : codes) {
    rows.push_back(op.current(c));
    if (rows.back().parent != parent) throw unprocessable("not_siblings", "area " + c + " moved to another parent meanwhile");
    if (rows.back().level != rows.front().level) throw unprocessable("not_siblings", "the areas to merge must have the same level");
    op.touch(rows.back());
    ids.push_back(rows.back().id);
  }
  require_sequenced_level(rows.front());
  op.set_level(rows.front().level);
  op.check_preconditions();
  for (const auto& r : rows) op.require_no_children(r);

  // Touching = sharing a boundary of some length (a common corner is not enough), within 5 cm.
  auto edges = tx.exec("toolkit.touching",
                       "SELECT x.code, y.code FROM areas x JOIN areas y ON x.code < y.code AND x.geom && ST_Expand(y.geom, 0.00001) "
                       "WHERE x.id = ANY($1::bigint[]) AND y.id = ANY($1::bigint[]) AND ST_Length(ST_Intersection("
                       "  ST_Boundary(wg_to_metric(x.geom)), ST_Buffer(ST_Transform(y.geom, ST_SRID(wg_to_metric(x.geom))), 0.05))) > 0.5",
                       {pg::array(ids)});
  std::map<std::string, std::string> root;
  for (const auto& c : codes) root[c] = c;
  std::function<std::string(const std::string&)> find = [&](const std::string& c) { return root[c] == c ? c : root[c] = find(root[c]); };
  for (int i = 0; i < edges.rows(); ++i) root[find(edges.str(i, 0))] = find(edges.str(i, 1));
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& c : codes) groups[find(c)].push_back(c);
  if (groups.size() > 1) {
    json parts = json::array();
    for (const auto& [r, members] : groups) parts.push_back(members);
    throw unprocessable("areas_not_touching", "the areas do not form one connected piece: " + parts.dump(),
                        json({{"groups", parts}}).dump());
  }
  auto u =
      tx.exec("toolkit.union",
              "SELECT ST_AsHEXEWKB(ST_Multi(ST_CollectionExtract(ST_ReducePrecision(ST_UnaryUnion(ST_Collect(geom), 1e-9), 1e-9), 3))) "
              "FROM areas WHERE id = ANY($1::bigint[])",
              {pg::array(ids)});
  const std::string code = op.allocate_codes(parent, rows.front().level, 1).front();
  m_areas.check_size(tx, code, *registry::parse_level(rows.front().level), u.str(0, 0));  // slivers merged together
  for (const auto& r : rows) op.retire(r);
  op.insert(code, 1, name.value_or(rows.front().name), rows.front().level, parent, u.str(0, 0), std::nullopt, std::nullopt,
            rows.front().attributes, "merge", Estimate::from_predecessors);
  return op.finish(0.0, {{"merged", codes}, {"code", code}});
}

// ---------------------------------------------------------------------------------------------
// Re-parent

OperationResult Toolkit::reparent(pg::Connection& conn, const registry::Actor& actor, const std::string& code, const json& body,
                                  const OperationOptions& o) const {
  actor.require_edit_role();
  if (!body.is_object() || !body.contains("parent") || !body["parent"].is_string())
    throw bad_request("invalid_body", "a re-parent takes {\"parent\": code, \"adjust_parents\"?: boolean}");
  const std::string to = body["parent"].get<std::string>();
  bool adjust = false;
  if (body.contains("adjust_parents")) {
    if (!body["adjust_parents"].is_boolean()) throw unprocessable("invalid_property", "adjust_parents must be a boolean");
    adjust = body["adjust_parents"].get<bool>();
  }
  const std::string from = current_parent(conn, code, o);
  const std::string grand = current_parent(conn, to, o);
  Operation op(*this, conn, actor, "reparent", code, o);
  auto& tx = op.tx();
  op.lock({from, to, code, grand});
  AreaRow g = op.current(code);
  require_sequenced_level(g);
  op.set_level(g.level);
  AreaRow np = op.current(to);
  const Level level = *registry::parse_level(g.level);
  if (np.level != registry::level_name(*registry::parent_level(level)))
    throw unprocessable("parent_level_mismatch", "the parent of a " + g.level + " must be a " +
                                                     registry::level_name(*registry::parent_level(level)) + ", " + to + " is a " +
                                                     np.level);
  if (to == g.parent) throw unprocessable("same_parent", "area " + code + " already belongs to " + to);
  op.touch(g);
  op.require_no_children(g);
  std::optional<AreaRow> oldp;
  std::string np_geom = np.ewkb, oldp_geom;
  if (adjust) {
    oldp = op.current(g.parent);
    if (oldp->parent != np.parent)
      throw unprocessable("parents_not_siblings",
                          "adjust_parents moves ground between sibling areas; " + g.parent + " and " + to + " have different parents");
    op.touch(*oldp);
    op.touch(np);
    auto r = tx.exec(
        "toolkit.reparent_adjust",
        "WITH m AS (SELECT wg_to_metric($1::geometry) AS g) "
        "SELECT ST_Length(ST_Intersection(ST_Boundary(m.g), ST_Buffer(ST_Transform($2::geometry, ST_SRID(m.g)), 0.05))), "
        "  ST_AsHEXEWKB(ST_Multi(ST_CollectionExtract(ST_ReducePrecision(ST_UnaryUnion(ST_Collect($2::geometry, $1::geometry), 1e-9), "
        "1e-9), 3))), "
        "  ST_AsHEXEWKB(ST_Multi(ST_CollectionExtract(ST_ReducePrecision(ST_Difference($3::geometry, $1::geometry, 1e-9), 1e-9), 3))), "
        "  ST_Area(wg_to_metric(ST_Difference($3::geometry, $1::geometry))) FROM m",
        {g.ewkb, np.ewkb, oldp->ewkb});
    if (r.number(0, 0) <= 0.5)
      throw unprocessable("not_adjacent", "area " + code + " does not border " + to +
                                              "; adjust_parents can only move "
                                              "a boundary between neighbours");
    if (r.number(0, 3) <= m_config.overlap_tolerance_m2)
      throw unprocessable("parent_would_vanish", "moving " + code + " would leave " + g.parent + " empty");
    m_areas.check_neighbour_size(tx, code, oldp->code, *registry::parse_level(oldp->level), r.str(0, 2));
    np_geom = r.str(0, 1);
    oldp_geom = r.str(0, 2);
  }
  op.check_preconditions();
  const std::string new_code = op.allocate_codes(to, g.level, 1).front();
  op.retire(g);
  if (adjust) {
    op.supersede(np);
    op.insert(np.code, np.version + 1, np.name, np.level, np.parent, np_geom, np.households, np.population, np.attributes, "adjust",
              Estimate::no);
    op.supersede(*oldp);
    op.insert(oldp->code, oldp->version + 1, oldp->name, oldp->level, oldp->parent, oldp_geom, oldp->households, oldp->population,
              oldp->attributes, "adjust", Estimate::no);
  }
  // Inside the new parent, no overlap with its children (the new code is not there yet).
  m_areas.check_topology(tx, new_code, level, to, g.ewkb, Children::unchecked, o.srid);
  if (adjust) m_areas.check_topology(tx, np.code, *registry::parse_level(np.level), np.parent, np_geom, Children::must_stay_inside, o.srid);
  op.insert(new_code, 1, g.name, g.level, to, g.ewkb, g.households, g.population, g.attributes, "reparent", Estimate::no);
  return op.finish(0.0, {{"code", new_code}, {"from_parent", g.parent}, {"to_parent", to}, {"adjust_parents", adjust}});
}

// ---------------------------------------------------------------------------------------------
// Redistrict

namespace redistricting {

std::vector<PlannedChild> parse_plan(const json& body, const std::string& parent) {
  if (!body.is_object() || body.value("type", "") != "FeatureCollection" || !body.contains("features") || !body["features"].is_array() ||
      body["features"].empty())
    throw bad_request("invalid_feature", "the body must be a GeoJSON FeatureCollection of the parent's new children");
  const auto& features = body["features"];
  if (features.size() > 20000) throw unprocessable("plan_too_large", "a plan holds at most 20000 areas");
  std::vector<PlannedChild> plan;
  for (std::size_t i = 0; i < features.size(); ++i) {
    const json& f = features[i];
    const std::string where = "feature " + std::to_string(i);
    if (!f.is_object() || f.value("type", "") != "Feature" || !f.contains("geometry"))
      throw bad_request("invalid_feature", where + " is not a GeoJSON Feature with a geometry");
    PlannedChild p;
    p.geometry = geom::checked_polygonal(f["geometry"]);
    const json props = f.value("properties", json::object());
    if (!props.is_object() && !props.is_null()) throw bad_request("invalid_feature", where + ": properties must be an object");
    for (auto it = props.begin(); props.is_object() && it != props.end(); ++it) {
      const std::string& k = it.key();
      const json& v = it.value();
      if (k == "code") {
        if (!v.is_null() && !v.is_string()) throw unprocessable("invalid_property", where + ": code must be a string");
        if (v.is_string()) p.code = v.get<std::string>();
      } else if (k == "name") {
        if (!v.is_string() || !registry::valid_area_name(v.get<std::string>()))
          throw unprocessable("invalid_property", where + ": name must be 1 to 300 bytes");
        p.name = v.get<std::string>();
      } else if (k == "households" || k == "population") {
        if (!v.is_null() && (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 100000000))
          throw unprocessable("invalid_property", where + ": " + k + " must be a non-negative integer or null");
        (k == "households" ? p.households : p.population) = v.is_null() ? std::nullopt : std::optional(v.get<long long>());
        p.has_counts = true;
      } else if (k == "attributes") {
        if (!v.is_object()) throw unprocessable("invalid_property", where + ": attributes must be an object");
        p.attributes = v;
      } else if (k == "parent") {
        if (!v.is_null() && v != json(parent))
          throw unprocessable("invalid_property", where + ": parent must be " + parent + " (or left out)");
      } else if (k != "level" && !registry::is_server_property(k)) {
        throw unprocessable("unknown_property",
                            where + ": unknown property '" + k + "'; allowed: code, name, households, population, attributes");
      }
    }
    plan.push_back(std::move(p));
  }

  return plan;
}

std::vector<std::size_t> numbering_order(std::vector<Located> items) {
  if (items.empty()) return {};
  double mean_h = 0;
  for (const auto& it : items) mean_h += it.height;
  mean_h /= static_cast<double>(items.size());
  std::sort(items.begin(), items.end(), [](const Located& a, const Located& b) { return a.y > b.y; });
  std::vector<std::size_t> order;
  std::size_t i = 0;
  while (i < items.size()) {
    std::size_t j = i + 1;
    while (j < items.size() && items[i].y - items[j].y < mean_h / 2) ++j;
    std::sort(items.begin() + static_cast<long>(i), items.begin() + static_cast<long>(j),
              [](const Located& a, const Located& b) { return a.x < b.x; });
    for (std::size_t k = i; k < j; ++k) order.push_back(items[k].index);
    i = j;
  }
  return order;
}

void assign_codes(std::vector<PlannedChild>& plan, const std::vector<std::size_t>& order, const std::vector<std::string>& fresh,
                  const std::set<std::string>& given) {
  std::size_t k = 0;
  for (const auto& c : fresh) {
    if (k == order.size()) break;
    if (given.count(c)) continue;
    plan[order[k++]].code = c;
  }
}

}  // namespace redistricting

namespace {

using redistricting::PlannedChild;

// The parent and its current children, locked and checked against If-Match.
struct Family {
  AreaRow parent;
  Level child_level = Level::grid;
  std::string child_level_name;
  std::vector<AreaRow> old;                        // current children, in code order
  std::map<std::string, std::size_t> old_by_code;  // index into old
};

Family lock_family(Operation& op, const std::string& parent) {
  Family f;
  f.parent = op.current(parent);
  const Level plevel = *registry::parse_level(f.parent.level);
  if (plevel == Level::microgrid) throw unprocessable("level_not_supported", "micro-grids have no children");
  f.child_level = static_cast<Level>(static_cast<int>(plevel) + 1);
  f.child_level_name = registry::level_name(f.child_level);
  op.set_level(f.child_level_name);
  op.lock({parent});
  f.old = op.children(parent);
  std::vector<std::string> locks, old_codes;
  for (std::size_t i = 0; i < f.old.size(); ++i) {
    locks.push_back(f.old[i].code);
    f.old_by_code[f.old[i].code] = i;
    old_codes.push_back(f.old[i].code);
  }
  op.lock(locks);
  for (const auto& a : f.old) op.touch(a);
  op.check_preconditions();
  auto grand = op.tx().exec("toolkit.grandchildren",
                            "SELECT parent_code FROM areas WHERE parent_code = ANY($1::text[]) AND valid_to IS NULL "
                            "GROUP BY 1 ORDER BY 1",
                            {pg::array(old_codes)});
  if (grand.rows() > 0)
    throw conflict("has_children",
                   "children of " + parent + " have children of their own (" + grand.str(0, 0) + "…); redistrict those first");
  return f;
}

// Codes the plan gives must fit the rule and be free (or belong to a current child); returns them.
std::set<std::string> check_given_codes(Operation& op, const registry::CodeRules& rules, const Family& f, const std::string& parent,
                                        const std::vector<PlannedChild>& plan) {
  std::set<std::string> plan_codes;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (!plan[i].code) continue;
    const std::string& c = *plan[i].code;
    rules.validate(c, f.child_level, parent);
    if (!plan_codes.insert(c).second)
      throw unprocessable("duplicate_code", "code " + c + " appears twice in the plan", json({{"code", c}}).dump());
    if (f.old_by_code.count(c)) continue;
    auto used = op.tx().exec("toolkit.code_state", "SELECT bool_or(valid_to IS NULL) FROM areas WHERE code = $1", {c});
    if (!used.is_null(0, 0)) {
      if (used.boolean(0, 0)) throw conflict("code_taken", "code " + c + " belongs to another current area");
      throw conflict("code_retired", "code " + c + " belonged to a retired area; retired codes are never reused");
    }
  }
  return plan_codes;
}

// Geometries in bulk: validity (with reasons), storage CRS, a temporary table wg_plan with an index.
void stage_geometries(Operation& op, const std::vector<PlannedChild>& plan, const std::string& srid) {
  std::vector<std::string> texts;
  for (const auto& pl : plan) texts.push_back(pl.geometry);
  pg::Result checked;
  try {
    checked =
        op.tx().exec("toolkit.plan_parse",
                     "SELECT u.i, d.valid, d.reason, ST_AsGeoJSON(d.location, 9, 0) FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i), "
                     "LATERAL (SELECT ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(u.t), $2::int)) AS g) s, LATERAL ST_IsValidDetail(s.g) d "
                     "WHERE NOT d.valid ORDER BY u.i LIMIT 1",
                     {pg::array(texts), srid});
  } catch (const pg::sql_error& e) {
    if (e.is_unavailability()) throw;  // a timeout is not bad input: the ladder answers 503
    throw unprocessable("invalid_geometry", "a geometry of the plan could not be read as GeoJSON",
                        json({{"reason", "Unreadable GeoJSON geometry"}}).dump());
  }
  if (checked.rows() > 0 && !op.options().repair) {
    const long long i = checked.integer(0, 0) - 1;
    json location = checked.is_null(0, 3) ? json(nullptr) : json::parse(checked.str(0, 3))["coordinates"];
    throw unprocessable(
        "invalid_geometry", "feature " + std::to_string(i) + ": invalid geometry: " + checked.str(0, 2),
        json({{"index", i}, {"reason", checked.str(0, 2)}, {"location", location}, {"hint", "send ?repair=true to apply MakeValid"}})
            .dump());
  }
  // PostGIS would transform coordinates outside a projected CRS's domain without complaint (Web
  // Mercator wraps around the globe, possibly onto the parent): each envelope is checked first.
  if (auto domain = geom::projected_domain(op.options().srid)) {
    auto out = op.tx().exec(
        "toolkit.plan_domain",
        "SELECT u.i FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i), LATERAL (SELECT ST_GeomFromGeoJSON(u.t) AS g) s "
        "WHERE ST_XMin(s.g) < $2::float8 OR ST_YMin(s.g) < $3::float8 OR ST_XMax(s.g) > $4::float8 OR ST_YMax(s.g) > $5::float8 "
        "ORDER BY u.i LIMIT 1",
        {pg::array(texts), std::to_string(domain->min_x), std::to_string(domain->min_y), std::to_string(domain->max_x),
         std::to_string(domain->max_y)});
    if (out.rows() > 0) {
      const long long i = out.integer(0, 0) - 1;
      throw unprocessable("invalid_geometry",
                          "feature " + std::to_string(i) + ": coordinates lie outside the domain of EPSG:" + srid +
                              "; check the crs parameter and the axis order (x = easting)",
                          json({{"index", i}, {"reason", "Coordinates outside the CRS's domain"}}).dump());
    }
  }
  op.tx().exec("toolkit.plan_table",
               "CREATE TEMP TABLE wg_plan (i int PRIMARY KEY, code text, g geometry(MultiPolygon, 4490)) ON COMMIT DROP");
  op.tx().exec("toolkit.plan_fill",
               "INSERT INTO wg_plan (i, g) SELECT u.i, ST_Multi(ST_CollectionExtract(ST_ReducePrecision(ST_Transform(ST_MakeValid("
               "  ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(u.t), $2::int))), 4490), 1e-9), 3)) "
               "FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i)",
               {pg::array(texts), srid});
  op.tx().exec("toolkit.plan_index", "CREATE INDEX ON wg_plan USING gist (g)");
  op.tx().exec("toolkit.plan_analyze", "ANALYZE wg_plan");
  auto empty = op.tx().exec("toolkit.plan_empty", "SELECT i FROM wg_plan WHERE ST_IsEmpty(g) OR NOT ST_IsValid(g) ORDER BY i LIMIT 1");
  if (empty.rows() > 0)
    throw unprocessable("invalid_geometry",
                        "feature " + std::to_string(empty.integer(0, 0) - 1) + " has no valid polygonal area in EPSG:4490",
                        json({{"index", empty.integer(0, 0) - 1}, {"reason", "Empty"}}).dump());
}

// Grids and micro-grids of the plan below the minimum size (docs/domain.md): the first one is refused.
void check_plan_sizes(Operation& op, const Config& config, const Family& f) {
  if (f.child_level != Level::grid && f.child_level != Level::microgrid) return;
  auto small = op.tx().exec("toolkit.plan_sizes",
                            "SELECT i, a, w FROM (SELECT i, ST_Area(wg_to_metric(g)) AS a, " + registry::mean_width_sql("g") +
                                " AS w FROM wg_plan) s WHERE a < $1::float8 OR w < $2::float8 ORDER BY i LIMIT 1",
                            {std::to_string(config.min_area_m2), std::to_string(config.min_width_m)});
  if (small.rows() == 0) return;
  const long long i = small.integer(0, 0) - 1;
  throw unprocessable("area_too_small",
                      "feature " + std::to_string(i) + " would be a " + f.child_level_name + " of " + small.str(0, 1) + " m², " +
                          small.str(0, 2) + " m wide (minimum " + std::to_string(config.min_area_m2) + " m² and " +
                          std::to_string(config.min_width_m) + " m)",
                      json({{"index", i},
                            {"area_m2", small.number(0, 1)},
                            {"width_m", small.number(0, 2)},
                            {"min_area_m2", config.min_area_m2},
                            {"min_width_m", config.min_width_m}})
                          .dump());
}

// Phase 2, the partition: every child inside the parent, no overlaps among them, no gap.
void check_partition(Operation& op, const Config& config, const Family& f, const std::string& parent, const std::string& srid) {
  const std::string tol = std::to_string(config.overlap_tolerance_m2);
  const std::string digits = digits_for(op.options().srid);
  const std::string ptol = std::to_string(config.parent_tolerance_m);
  auto outside =
      op.tx().exec("toolkit.plan_outside",
                   "SELECT w.i, ST_Area(wg_to_metric(ST_Difference(w.g, $1::geometry))), "
                   "  ST_AsGeoJSON(ST_Transform(ST_Difference(w.g, $1::geometry), $3::int), " +
                       digits +
                       ", 0) "
                       "FROM wg_plan w WHERE NOT ST_CoveredBy(w.g, $1::geometry) AND NOT ST_IsEmpty(ST_Difference(wg_to_metric(w.g), "
                       "  ST_Buffer(ST_Transform($1::geometry, ST_SRID(wg_to_metric(w.g))), $2::float8))) ORDER BY w.i LIMIT 1",
                   {f.parent.ewkb, ptol, srid});
  if (outside.rows() > 0) {
    const long long i = outside.integer(0, 0) - 1;
    throw unprocessable("outside_parent",
                        "feature " + std::to_string(i) + " extends " + outside.str(0, 1) + " m² outside the parent " + parent,
                        json({{"index", i},
                              {"parent", parent},
                              {"outside_area_m2", outside.number(0, 1)},
                              {"tolerance_m", config.parent_tolerance_m},
                              {"outside", json::parse(outside.str(0, 2))}})
                            .dump());
  }
  auto overlaps =
      op.tx().exec("toolkit.plan_overlaps",
                   "SELECT a.i, b.i, ST_Area(wg_to_metric(x.g)), ST_AsGeoJSON(ST_Transform(x.g, $2::int), " + digits +
                       ", 0) "
                       "FROM wg_plan a JOIN wg_plan b ON a.i < b.i AND a.g && b.g, "
                       "LATERAL (SELECT ST_CollectionExtract(ST_Intersection(a.g, b.g), 3) AS g) x "
                       "WHERE ST_Relate(a.g, b.g, '2********') AND ST_Area(wg_to_metric(x.g)) > $1::float8 ORDER BY 1, 2 LIMIT 100",
                   {tol, srid});
  if (overlaps.rows() > 0) {
    json list = json::array();
    for (int i = 0; i < overlaps.rows(); ++i)
      list.push_back(
          {{"type", "Feature"},
           {"geometry", json::parse(overlaps.get(i, 3))},
           {"properties", {{"features", {overlaps.integer(i, 0) - 1, overlaps.integer(i, 1) - 1}}, {"area_m2", overlaps.number(i, 2)}}}});
    throw conflict("plan_overlaps", "features of the plan overlap (" + std::to_string(overlaps.rows()) + " pairs above " + tol + " m²)",
                   json({{"overlaps", {{"type", "FeatureCollection"}, {"features", list}}}}).dump());
  }
  auto gaps = op.tx().exec("toolkit.plan_gaps",
                           "SELECT ST_AsGeoJSON(ST_Transform(d.geom, $3::int), " + digits +
                               ", 0), ST_Area(wg_to_metric(d.geom)) "
                               "FROM ST_Dump(ST_CollectionExtract(ST_Difference($1::geometry, (SELECT ST_Union(g) FROM wg_plan)), 3)) d "
                               "WHERE ST_Area(wg_to_metric(d.geom)) > $2::float8 ORDER BY 2 DESC",
                           {f.parent.ewkb, tol, srid});
  if (gaps.rows() > 0) {
    double total = 0;
    for (int i = 0; i < gaps.rows(); ++i) total += gaps.number(i, 1);
    throw conflict(
        "plan_gap",
        "the plan leaves " + std::to_string(total) + " m² of " + parent + " uncovered in " + std::to_string(gaps.rows()) + " places",
        json({{"gap_area_m2", total}, {"gaps", feature_collection(gaps, 0, 1)}}).dump());
  }
}

// Phase 3: codes for the children without one, in numbering order.
void number_children(Operation& op, std::vector<PlannedChild>& plan, const std::set<std::string>& given, const std::string& parent,
                     const Family& f) {
  auto pos = op.tx().exec("toolkit.plan_positions",
                          "SELECT i, ST_X(c) * cos(radians(ST_Y(c))), ST_Y(c), ST_YMax(g) - ST_YMin(g) "
                          "FROM (SELECT i, g, ST_Centroid(g) AS c FROM wg_plan) s ORDER BY i");
  std::vector<Located> unnamed;
  for (int r = 0; r < pos.rows(); ++r) {
    const std::size_t i = static_cast<std::size_t>(pos.integer(r, 0) - 1);
    if (!plan[i].code) unnamed.push_back({i, pos.number(r, 1), pos.number(r, 2), pos.number(r, 3)});
  }
  auto order = numbering_order(unnamed);
  if (order.empty()) return;
  redistricting::assign_codes(plan, order, op.allocate_codes(parent, f.child_level_name, order.size() + given.size()), given);
}

// Phase 4, the swap: old children end (retired, or superseded when the plan keeps their code), new
// versions begin at the same instant. Returns the plan's summary for the answer.
json swap(Operation& op, const registry::Actor& actor, const std::vector<PlannedChild>& plan, const std::set<std::string>& plan_codes,
          const Family& f, const std::string& parent) {
  std::vector<std::string> kept, created;
  for (const auto& a : f.old) {
    if (plan_codes.count(a.code)) {
      op.supersede(a);
      kept.push_back(a.code);
    } else {
      op.retire(a);
    }
  }
  std::vector<std::string> codes, versions, names, hh, pop, attrs, estimate;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const std::string& c = *plan[i].code;
    auto it = f.old_by_code.find(c);
    const AreaRow* was = it == f.old_by_code.end() ? nullptr : &f.old[it->second];
    codes.push_back(c);
    versions.push_back(std::to_string(was ? was->version + 1 : 1));
    names.push_back(plan[i].name.value_or(was ? was->name : f.parent.name + "-" + c.substr(parent.size())));
    hh.push_back(plan[i].households ? std::to_string(*plan[i].households) : "");
    pop.push_back(plan[i].population ? std::to_string(*plan[i].population) : "");
    attrs.push_back(plan[i].attributes.dump());
    estimate.push_back(plan[i].has_counts ? "f" : "t");
    if (!was) created.push_back(c);
  }
  auto ins = op.tx().exec(
      "toolkit.plan_insert",
      "INSERT INTO areas (code, version, name, level, parent_code, geom, households, population, attributes, valid_from, "
      "  changed_by, change) "
      "SELECT u.c, u.v, u.n, $7, $8, w.g, nullif(u.h, '')::int, nullif(u.p, '')::int, u.a::jsonb, $9::timestamptz, $10, "
      "  'redistrict' "
      "FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u(c, v, n, h, p, a, i) "
      "JOIN wg_plan w ON w.i = u.i ORDER BY u.i RETURNING id, code",
      {pg::array(codes), pg::array(versions), pg::array(names), pg::array(hh), pg::array(pop), pg::array(attrs), f.child_level_name, parent,
       op.now(), actor.label()});
  std::map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < codes.size(); ++i) index_of[codes[i]] = i;
  for (int r = 0; r < ins.rows(); ++r)
    op.record_inserted(ins.str(r, 0), estimate[index_of[ins.str(r, 1)]] == "t" ? Estimate::from_predecessors : Estimate::no);
  std::sort(created.begin(), created.end());
  return {{"children", plan.size()}, {"kept", kept}, {"created", created}};
}

}  // namespace

OperationResult Toolkit::redistrict(pg::Connection& conn, const registry::Actor& actor, const std::string& parent, const json& body,
                                    const OperationOptions& o) const {
  actor.require_edit_role();
  // A body that is no plan at all is refused before the parent is looked up; what is wrong inside
  // the features, after (the order clients have always seen).
  if (!body.is_object() || body.value("type", "") != "FeatureCollection" || !body.contains("features") || !body["features"].is_array() ||
      body["features"].empty())
    throw bad_request("invalid_feature", "the body must be a GeoJSON FeatureCollection of the parent's new children");
  if (body["features"].size() > 20000) throw unprocessable("plan_too_large", "a plan holds at most 20000 areas");
  current_parent(conn, parent, o);
  Operation op(*this, conn, actor, "redistrict", parent, o);
  auto plan = redistricting::parse_plan(body, parent);
  const Family family = lock_family(op, parent);
  const auto given = check_given_codes(op, m_rules, family, parent, plan);
  const std::string srid = std::to_string(o.srid);
  stage_geometries(op, plan, srid);
  check_plan_sizes(op, m_config, family);
  check_partition(op, m_config, family, parent, srid);
  number_children(op, plan, given, parent, family);
  return op.finish(0.5, {{"plan", swap(op, actor, plan, given, family, parent)}});
}

// ---------------------------------------------------------------------------------------------
// Reports

json Toolkit::coverage(pg::Connection& conn, const std::string& code, int srid) const {
  registry::require_current(conn, code);
  // The overlays below leave slivers far thinner than any coordinate a client reads (children whose
  // borders follow the parent's within floating-point noise): attached to a gap, such a sliver is a
  // spike that, once written with 9 decimals, makes the ring cross itself and a map draws wedges
  // across the neighbours. Snapping the result to 1e-9 degree (0.1 mm, the precision written out)
  // drops what collapses and keeps the rest valid.
  const std::string snap = "1e-9";
  const std::string tol = std::to_string(m_config.overlap_tolerance_m2);
  const std::string out = std::to_string(srid);
  const std::string digits = digits_for(srid);
  auto totals = conn.exec("toolkit.coverage",
                          "WITH p AS (SELECT geom FROM areas WHERE code = $1 AND valid_to IS NULL), "
                          "u AS (SELECT ST_Union(geom) AS g, count(*) AS n FROM areas WHERE parent_code = $1 AND valid_to IS NULL) "
                          "SELECT ST_Area(wg_to_metric(p.geom)), coalesce(ST_Area(wg_to_metric(ST_Intersection(p.geom, u.g))), 0), u.n "
                          "FROM p, u",
                          {code});
  auto gaps = conn.exec("toolkit.coverage_gaps",
                        "WITH p AS (SELECT geom FROM areas WHERE code = $1 AND valid_to IS NULL), "
                        "u AS (SELECT coalesce(ST_Union(geom), 'SRID=4490;GEOMETRYCOLLECTION EMPTY'::geometry) AS g FROM areas "
                        "  WHERE parent_code = $1 AND valid_to IS NULL) "
                        "SELECT ST_AsGeoJSON(ST_Transform(d.geom, $3::int), " +
                            digits +
                            ", 0), ST_Area(wg_to_metric(d.geom)) "
                            "FROM p, u, ST_Dump(ST_CollectionExtract(ST_ReducePrecision(ST_Difference(p.geom, u.g), " +
                            snap +
                            "), 3)) d "
                            "WHERE ST_Area(wg_to_metric(d.geom)) > $2::float8 ORDER BY 2 DESC",
                        {code, tol, out});
  auto overlaps = conn.exec("toolkit.coverage_overlaps",
                            "SELECT a.code, b.code, ST_Area(wg_to_metric(x.g)), ST_AsGeoJSON(ST_Transform(x.g, $3::int), " + digits +
                                ", 0) "
                                "FROM areas a JOIN areas b ON a.code < b.code AND a.geom && b.geom "
                                "  AND b.parent_code = $1 AND b.valid_to IS NULL, "
                                "LATERAL (SELECT ST_CollectionExtract(ST_ReducePrecision(ST_Intersection(a.geom, b.geom), " +
                                snap +
                                "), 3) AS g) x "
                                "WHERE a.parent_code = $1 AND a.valid_to IS NULL AND ST_Relate(a.geom, b.geom, '2********') "
                                "  AND ST_Area(wg_to_metric(x.g)) > $2::float8 ORDER BY 1, 2",
                            {code, tol, out});
  auto outside = conn.exec("toolkit.coverage_outside",
                           "WITH p AS (SELECT geom FROM areas WHERE code = $1 AND valid_to IS NULL) "
                           "SELECT a.code, ST_Area(wg_to_metric(x.g)), ST_AsGeoJSON(ST_Transform(x.g, $3::int), " +
                               digits +
                               ", 0) "
                               "FROM areas a, p, LATERAL (SELECT ST_CollectionExtract(ST_ReducePrecision(ST_Difference(a.geom, p.geom), " +
                               snap +
                               "), 3) AS g) x "
                               "WHERE a.parent_code = $1 AND a.valid_to IS NULL AND NOT ST_CoveredBy(a.geom, p.geom) "
                               "  AND ST_Area(wg_to_metric(x.g)) > $2::float8 ORDER BY 1",
                           {code, tol, out});
  const double area = totals.number(0, 0);
  const double covered = totals.number(0, 1);
  double gap_total = 0, overlap_total = 0;
  for (int i = 0; i < gaps.rows(); ++i) gap_total += gaps.number(i, 1);
  json ov = json::array();
  for (int i = 0; i < overlaps.rows(); ++i) {
    overlap_total += overlaps.number(i, 2);
    ov.push_back({{"type", "Feature"},
                  {"geometry", json::parse(overlaps.get(i, 3))},
                  {"properties", {{"codes", {overlaps.str(i, 0), overlaps.str(i, 1)}}, {"area_m2", overlaps.number(i, 2)}}}});
  }
  json outs = json::array();
  for (int i = 0; i < outside.rows(); ++i)
    outs.push_back({{"type", "Feature"},
                    {"geometry", json::parse(outside.get(i, 2))},
                    {"properties", {{"code", outside.str(i, 0)}, {"area_m2", outside.number(i, 1)}}}});
  return {{"code", code},
          {"children", totals.integer(0, 2)},
          {"area_m2", area},
          {"covered_m2", covered},
          {"share_covered", area > 0 ? covered / area : 0.0},
          {"tolerance_m2", m_config.overlap_tolerance_m2},
          {"partition", gaps.rows() == 0 && overlaps.rows() == 0 && outside.rows() == 0},
          {"gap_area_m2", gap_total},
          {"overlap_area_m2", overlap_total},
          {"gaps", feature_collection(gaps, 0, 1)},
          {"overlaps", {{"type", "FeatureCollection"}, {"features", ov}}},
          {"outside", {{"type", "FeatureCollection"}, {"features", outs}}}};
}

json Toolkit::lineage(pg::Connection& conn, const std::string& code) const {
  auto exists = conn.exec("toolkit.lineage_exists", "SELECT count(*) FROM areas WHERE code = $1", {code});
  if (exists.integer(0, 0) == 0) throw not_found("area_not_found", "no area has the code " + code);
  // Walk both directions; codes are never reused, and UNION stops at rows already seen.
  auto walk = [&](const char* context, const std::string& join_on, const std::string& start) {
    auto r = conn.exec(context,
                       "WITH RECURSIVE w AS ("
                       "  SELECT l.id, 1 AS depth FROM area_lineage l WHERE l." +
                           start +
                           " = $1 "
                           "  UNION "
                           "  SELECT l.id, w.depth + 1 FROM w JOIN area_lineage prev ON prev.id = w.id "
                           "    JOIN area_lineage l ON " +
                           join_on +
                           " WHERE w.depth < 100) "
                           "SELECT l.predecessor, l.predecessor_version, l.successor, l.successor_version, l.kind, "
                           "  to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), l.share, min(w.depth), l.operation_id "
                           "FROM w JOIN area_lineage l ON l.id = w.id "
                           "GROUP BY l.id ORDER BY l.at, l.id",
                       {code});
    json out = json::array();
    for (int i = 0; i < r.rows(); ++i)
      out.push_back({{"predecessor", r.str(i, 0)},
                     {"predecessor_version", r.integer(i, 1)},
                     {"successor", r.str(i, 2)},
                     {"successor_version", r.integer(i, 3)},
                     {"operation", r.str(i, 4)},
                     {"operation_id", r.integer(i, 8)},
                     {"at", r.str(i, 5)},
                     {"share", r.number(i, 6)},
                     {"depth", r.integer(i, 7)}});
    return out;
  };
  json preds = walk("toolkit.lineage_up", "l.successor = prev.predecessor AND l.at <= prev.at", "successor");
  json succs = walk("toolkit.lineage_down", "l.predecessor = prev.successor AND l.at >= prev.at", "predecessor");
  auto current = conn.exec("toolkit.lineage_current", "SELECT bool_or(valid_to IS NULL) FROM areas WHERE code = $1", {code});
  return {{"code", code}, {"current", current.boolean(0, 0)}, {"predecessors", preds}, {"successors", succs}};
}

}  // namespace wangge::toolkit
