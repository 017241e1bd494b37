#include "tiles/loaders.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "geom/wkb.hpp"
#include "registry/queries.hpp"

namespace wangge::tiles {
namespace {

// Polygonal WKB in lon/lat to mercator rings.
MultiPolygon read_shape(std::string_view hex) {
  struct Shape {
    MultiPolygon out;
    void polygon(std::uint32_t) { out.emplace_back(); }
    void ring(const geom::WkbPoints& points) {
      Ring ring;
      ring.reserve(points.size());
      for (std::uint32_t i = 0; i < points.size(); ++i) {
        const geom::XY p = points[i];
        ring.push_back(to_mercator(p.x, p.y));
      }
      out.back().push_back(std::move(ring));
    }
  } shape;
  geom::read_polygonal(geom::wkb_from_hex(hex), shape);
  return std::move(shape.out);
}

std::vector<Point> read_line(std::string_view hex) {
  const std::string wkb = geom::wkb_from_hex(hex);
  const geom::WkbPoints points = geom::read_linestring(wkb);
  std::vector<Point> out;
  out.reserve(points.size());
  for (std::uint32_t i = 0; i < points.size(); ++i) {
    const geom::XY p = points[i];
    out.push_back(to_mercator(p.x, p.y));
  }
  return out;
}

}  // namespace

void CodeCounts::load(pg::Connection& conn, const char* context, const std::string& sql) {
  auto r = conn.exec(context, sql);
  m_codes.clear();
  m_sums.assign(1, 0);
  for (int i = 0; i < r.rows(); ++i) {
    m_codes.push_back(r.str(i, 0));
    m_sums.push_back(m_sums.back() + r.integer(i, 1));
  }
}

std::int64_t CodeCounts::sum(const std::string& prefix) const {
  auto lo = std::lower_bound(m_codes.begin(), m_codes.end(), prefix);
  auto hi = lo;
  while (hi != m_codes.end() && hi->compare(0, prefix.size(), prefix) == 0) ++hi;
  return m_sums[hi - m_codes.begin()] - m_sums[lo - m_codes.begin()];
}

AreaCounts load_counts(pg::Connection& conn) {
  AreaCounts c;
  c.workers.load(conn, "tiles.workers",
                 "SELECT grid_code, count(*) FROM worker_assignments WHERE unassigned_at IS NULL GROUP BY 1 ORDER BY 1");
  c.open_incidents.load(conn, "tiles.incident_counts",
                        "SELECT grid_code, count(*) FROM incidents WHERE grid_code IS NOT NULL AND status NOT IN ('closed', 'cancelled') "
                        "GROUP BY 1 ORDER BY 1");
  return c;
}

std::string prefix_of(const std::string& code) {
  if (code.size() == 6 && code.compare(2, 4, "0000") == 0) return code.substr(0, 2);
  if (code.size() == 6 && code.compare(4, 2, "00") == 0) return code.substr(0, 4);
  return code;
}

std::shared_ptr<AreaLayer> load_area_layer(pg::Connection& conn, const LayerSpec& spec, const AreaCounts& counts, std::optional<Micros> at,
                                           std::optional<Box> lonlat_box) {
  std::optional<std::array<double, 4>> box;
  if (lonlat_box) box = std::array<double, 4>{lonlat_box->minx, lonlat_box->miny, lonlat_box->maxx, lonlat_box->maxy};
  auto r = registry::map_shapes(conn, spec.level, at, box);
  auto layer = std::make_shared<AreaLayer>();
  layer->spec = spec;
  std::vector<MultiPolygon> shapes;
  shapes.reserve(static_cast<std::size_t>(r.rows()));
  layer->features.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    Feature f;
    f.id = static_cast<std::uint64_t>(r.integer(i, 0));
    f.code = r.str(i, 1);
    f.name = r.str(i, 2);
    f.level = spec.level;
    f.parent = r.str(i, 3);
    shapes.push_back(read_shape(r.get(i, 4)));
    f.label = to_mercator(r.number(i, 5), r.number(i, 6));
    const std::string prefix = prefix_of(f.code);
    f.workers = counts.workers.sum(prefix);
    f.open_incidents = counts.open_incidents.sum(prefix);
    layer->features.push_back(std::move(f));
  }
  layer->topo = Topology::build(shapes);
  std::vector<Entry> entries;
  entries.reserve(layer->features.size());
  for (std::uint32_t i = 0; i < layer->features.size(); ++i) entries.emplace_back(to_bg(layer->topo.bbox(i)), i);
  layer->index = SharedRtree(entries.begin(), entries.end());
  layer->sorted = layer->features.size();
  return layer;
}

std::vector<ChangedArea> read_changed_areas(pg::Connection& conn, const std::vector<std::string>& codes) {
  auto r = registry::map_shapes_of(conn, codes);
  std::vector<ChangedArea> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    ChangedArea area;
    Feature& f = area.feature;
    f.id = static_cast<std::uint64_t>(r.integer(i, 0));
    f.code = r.str(i, 1);
    f.name = r.str(i, 2);
    f.level = r.str(i, 7);
    f.parent = r.str(i, 3);
    area.shape = read_shape(r.get(i, 4));
    f.label = to_mercator(r.number(i, 5), r.number(i, 6));
    out.push_back(std::move(area));
  }
  return out;
}

// The range lets the grid_code index find the prefix (codes compare bytewise, as in CodeCounts);
// starts_with keeps the count exact.
void count_for(pg::Connection& conn, const std::vector<Feature*>& features) {
  if (features.empty()) return;
  nlohmann::json prefixes = nlohmann::json::array();
  for (const Feature* f : features) prefixes.push_back(prefix_of(f->code));
  auto r = conn.exec("tiles.changed_counts",
                     "SELECT (SELECT count(*) FROM worker_assignments w WHERE w.unassigned_at IS NULL AND w.grid_code >= p.p "
                     "AND w.grid_code < p.p || chr(1114111) AND starts_with(w.grid_code, p.p)), "
                     "(SELECT count(*) FROM incidents i WHERE i.grid_code >= p.p AND i.grid_code < p.p || chr(1114111) "
                     "AND starts_with(i.grid_code, p.p) AND i.status NOT IN ('closed', 'cancelled')) "
                     "FROM json_array_elements_text($1::json) WITH ORDINALITY AS p(p, n) ORDER BY p.n",
                     {prefixes.dump()});
  for (int i = 0; i < r.rows(); ++i) {
    features[static_cast<std::size_t>(i)]->workers = r.integer(i, 0);
    features[static_cast<std::size_t>(i)]->open_incidents = r.integer(i, 1);
  }
}

void load_checkpoints(pg::Connection& conn, TileData& next) {
  auto cp = conn.exec("tiles.checkpoints",
                      "SELECT id, ST_X(location), ST_Y(location), name, kind, frequency, grid_code FROM checkpoints ORDER BY id");
  std::vector<Entry> entries;
  next.checkpoints.clear();
  for (int i = 0; i < cp.rows(); ++i) {
    Checkpoint c{static_cast<std::uint64_t>(cp.integer(i, 0)),
                 to_mercator(cp.number(i, 1), cp.number(i, 2)),
                 cp.str(i, 3),
                 cp.str(i, 4),
                 cp.str(i, 5),
                 cp.str(i, 6)};
    entries.emplace_back(BgBox(BgPoint(c.at.x, c.at.y), BgPoint(c.at.x, c.at.y)), static_cast<std::uint32_t>(i));
    next.checkpoints.push_back(std::move(c));
  }
  next.checkpoint_index = SharedRtree(entries.begin(), entries.end());
}

void load_incidents(pg::Connection& conn, TileData& next) {
  auto r = conn.exec("tiles.incidents",
                     "SELECT id, ST_X(location), ST_Y(location), category, status, coalesce(grid_code, '') FROM incidents "
                     "WHERE status NOT IN ('closed', 'cancelled') ORDER BY id");
  std::vector<Entry> entries;
  next.incidents.clear();
  for (int i = 0; i < r.rows(); ++i) {
    Incident inc{static_cast<std::uint64_t>(r.integer(i, 0)), to_mercator(r.number(i, 1), r.number(i, 2)), r.str(i, 3), r.str(i, 4),
                 r.str(i, 5)};
    entries.emplace_back(BgBox(BgPoint(inc.at.x, inc.at.y), BgPoint(inc.at.x, inc.at.y)), static_cast<std::uint32_t>(i));
    next.incidents.push_back(std::move(inc));
  }
  next.incident_index = SharedRtree(entries.begin(), entries.end());
}

void load_roads(pg::Connection& conn, TileData& next) {
  auto st =
      conn.exec("tiles.roads", "SELECT id, coalesce(name, ''), highway, oneway, encode(ST_AsBinary(geom), 'hex') FROM streets ORDER BY id");
  std::vector<Entry> entries;
  next.roads = {};
  for (int i = 0; i < st.rows(); ++i) {
    Road road{static_cast<std::uint64_t>(st.integer(i, 0)), st.str(i, 1), st.str(i, 2), st.boolean(i, 3), read_line(st.get(i, 4))};
    Box b{std::numeric_limits<double>::max(), std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
          -std::numeric_limits<double>::max()};
    for (const auto& p : road.line) b = {std::min(b.minx, p.x), std::min(b.miny, p.y), std::max(b.maxx, p.x), std::max(b.maxy, p.y)};
    entries.emplace_back(to_bg(b), static_cast<std::uint32_t>(i));
    next.roads.push_back(std::move(road));
  }
  next.road_index = SharedRtree(entries.begin(), entries.end());
}

}  // namespace wangge::tiles
