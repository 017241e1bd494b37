#include "tiles/service.hpp"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <atomic>
#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>
#include <boost/iterator/function_output_iterator.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/snapshot.hpp"

namespace wangge::tiles {
namespace {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;
using BgPoint = bg::model::point<double, 2, bg::cs::cartesian>;
using BgBox = bg::model::box<BgPoint>;
using Entry = std::pair<BgBox, std::uint32_t>;
using Rtree = bgi::rtree<Entry, bgi::rstar<16>>;

// An R-tree that snapshot copies share (copying the tree of 1.3 million streets would take longer
// than the whole incremental update of a layer). mutable_tree() copies it first unless this one
// alone holds it.
class SharedRtree {
 public:
  SharedRtree() : m_tree(std::make_shared<Rtree>()) {}
  template <class It>
  SharedRtree(It first, It last) : m_tree(std::make_shared<Rtree>(first, last)) {}
  template <class Predicate>
  auto qbegin(const Predicate& p) const {
    return static_cast<const Rtree&>(*m_tree).qbegin(p);
  }
  auto qend() const { return static_cast<const Rtree&>(*m_tree).qend(); }
  template <class Predicate, class Out>
  auto query(const Predicate& p, Out out) const {
    return static_cast<const Rtree&>(*m_tree).query(p, out);
  }
  auto bounds() const { return m_tree->bounds(); }
  Rtree& mutable_tree() {
    if (m_tree.use_count() > 1) m_tree = std::make_shared<Rtree>(*m_tree);
    return *m_tree;
  }

 private:
  std::shared_ptr<Rtree> m_tree;
};

BgBox to_bg(const Box& b) { return BgBox(BgPoint(b.minx, b.miny), BgPoint(b.maxx, b.maxy)); }

// ---- WKB (little or big endian) of Polygon / MultiPolygon in lon/lat → mercator ----
class WkbReader {
 public:
  explicit WkbReader(const std::string& bytes) : m_p(reinterpret_cast<const unsigned char*>(bytes.data())), m_end(m_p + bytes.size()) {}
  std::vector<Point> linestring() {
    bool le = byte_order();
    if (u32(le) % 1000 != 2) throw std::runtime_error("WKB: not a LineString");
    std::uint32_t n = u32(le);
    std::vector<Point> out;
    out.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      double x = f64(le), y = f64(le);
      out.push_back(to_mercator(x, y));
    }
    return out;
  }

  MultiPolygon multipolygon() {
    MultiPolygon out;
    bool le = byte_order();
    std::uint32_t type = u32(le) % 1000;
    if (type == 3) {
      out.push_back(polygon(le));
    } else if (type == 6) {
      std::uint32_t n = u32(le);
      for (std::uint32_t i = 0; i < n; ++i) {
        bool ple = byte_order();
        if (u32(ple) % 1000 != 3) throw std::runtime_error("WKB: MultiPolygon member is not a Polygon");
        out.push_back(polygon(ple));
      }
    } else {
      throw std::runtime_error("WKB: not a polygonal geometry");
    }
    return out;
  }

 private:
  Polygon polygon(bool le) {
    Polygon p;
    std::uint32_t rings = u32(le);
    for (std::uint32_t r = 0; r < rings; ++r) {
      std::uint32_t n = u32(le);
      Ring ring;
      ring.reserve(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        double x = f64(le), y = f64(le);
        ring.push_back(to_mercator(x, y));
      }
      p.push_back(std::move(ring));
    }
    return p;
  }
  bool byte_order() { return need(1), *m_p++ == 1; }
  std::uint32_t u32(bool le) {
    need(4);
    std::uint32_t v = le ? (m_p[0] | m_p[1] << 8 | m_p[2] << 16 | static_cast<std::uint32_t>(m_p[3]) << 24)
                         : (static_cast<std::uint32_t>(m_p[0]) << 24 | m_p[1] << 16 | m_p[2] << 8 | m_p[3]);
    m_p += 4;
    return v;
  }
  double f64(bool le) {
    need(8);
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = le ? m_p[i] : m_p[7 - i];
    m_p += 8;
    double d;
    std::memcpy(&d, b, 8);
    return d;
  }
  void need(std::size_t n) const {
    if (static_cast<std::size_t>(m_end - m_p) < n) throw std::runtime_error("WKB: truncated");
  }
  const unsigned char* m_p;
  const unsigned char* m_end;
};

std::string unhex(std::string_view hex) {
  std::string out(hex.size() / 2, '\0');
  auto v = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(v(hex[2 * i]) << 4 | v(hex[2 * i + 1]));
  return out;
}

std::string etag_of(const std::string& data) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(content_hash(data)));
  return buf;
}

struct Feature {
  bool live = true;  // false: retired since the layer was loaded (its slot keeps the code, see Layer)
  std::uint64_t id = 0;
  std::string code, name, level, parent;
  std::int64_t workers = 0, open_incidents = 0;
  Point label;
};

// Features sit in slots shared by `features`, `topo` and `index`. A load puts them in code order;
// a patch keeps every code in its slot (a retired one stays as a dead slot, out of the index) and
// gives a new code the next free slot, so the unchanged part is shared with the layer before.
struct Layer {
  LayerSpec spec;
  Chunked<Feature> features;
  std::size_t sorted = 0;  // slots [0, sorted) are in code order: those of the last full load
  std::shared_ptr<const std::map<std::string, std::uint32_t>> added = std::make_shared<const std::map<std::string, std::uint32_t>>();
  Topology topo;
  SharedRtree index;

  std::optional<std::uint32_t> find(const std::string& code) const {
    std::size_t lo = 0, hi = sorted;
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (features[mid].code < code) lo = mid + 1;
      else hi = mid;
    }
    if (lo < sorted && features[lo].code == code) return static_cast<std::uint32_t>(lo);
    if (auto it = added->find(code); it != added->end()) return it->second;
    return std::nullopt;
  }
  // Code order of two slots, which tiles draw in (the same bytes in every process, patched or not).
  bool before(std::uint32_t a, std::uint32_t b) const {
    return a < sorted && b < sorted ? a < b : features[a].code < features[b].code;
  }
};

struct Incident {
  std::uint64_t id;
  Point at;
  std::string category, status, grid;
};

struct Checkpoint {
  std::uint64_t id;
  Point at;
  std::string name, kind, frequency, grid;
};

struct Road {
  std::uint64_t id;
  std::string name, highway;
  bool oneway;
  std::vector<Point> line;
};

struct Snapshot {
  std::map<std::string, std::shared_ptr<const Layer>> layers;  // by layer name
  std::vector<Incident> incidents;
  SharedRtree incident_index;
  std::vector<Checkpoint> checkpoints;
  SharedRtree checkpoint_index;
  Chunked<Road> roads;
  SharedRtree road_index;
};

// Major roads are drawn from z12, every street from z14.
bool road_visible(const Road& r, int z) {
  if (z >= 14) return true;
  return z >= 12 && (r.highway == "primary" || r.highway == "secondary" || r.highway == "tertiary" || r.highway == "trunk" ||
                     r.highway == "motorway");
}

// Douglas-Peucker of one polyline at a tolerance (roads are simplified per tile; they share no borders).
void simplify(const std::vector<Point>& in, double tolerance, std::vector<Point>& out) {
  out.clear();
  if (in.size() <= 2) {
    out = in;
    return;
  }
  std::vector<char> keep(in.size(), 0);
  keep.front() = keep.back() = 1;
  std::vector<std::pair<std::size_t, std::size_t>> stack{{0, in.size() - 1}};
  while (!stack.empty()) {
    auto [a, b] = stack.back();
    stack.pop_back();
    double best = -1;
    std::size_t at = a;
    const double dx = in[b].x - in[a].x, dy = in[b].y - in[a].y, len = std::hypot(dx, dy);
    for (std::size_t i = a + 1; i < b; ++i) {
      const double d = len > 0 ? std::abs(dy * (in[i].x - in[a].x) - dx * (in[i].y - in[a].y)) / len
                               : std::hypot(in[i].x - in[a].x, in[i].y - in[a].y);
      if (d > best) best = d, at = i;
    }
    if (best > tolerance) {
      keep[at] = 1;
      stack.push_back({a, at});
      stack.push_back({at, b});
    }
  }
  for (std::size_t i = 0; i < in.size(); ++i)
    if (keep[i]) out.push_back(in[i]);
}

// Counts per grid (or micro-grid) code, and their sums for any code prefix.
class CodeCounts {
 public:
  void load(pg::Connection& conn, const char* context, const std::string& sql) {
    auto r = conn.exec(context, sql);
    m_codes.clear();
    m_sums.assign(1, 0);
    for (int i = 0; i < r.rows(); ++i) {
      m_codes.push_back(r.str(i, 0));
      m_sums.push_back(m_sums.back() + r.integer(i, 1));
    }
  }
  // Sum over codes that start with `prefix` (the rows come sorted by code).
  std::int64_t sum(const std::string& prefix) const {
    auto lo = std::lower_bound(m_codes.begin(), m_codes.end(), prefix);
    auto hi = lo;
    while (hi != m_codes.end() && hi->compare(0, prefix.size(), prefix) == 0) ++hi;
    return m_sums[hi - m_codes.begin()] - m_sums[lo - m_codes.begin()];
  }

 private:
  std::vector<std::string> m_codes;
  std::vector<std::int64_t> m_sums;
};

std::string prefix_of(const std::string& code) {
  if (code.size() == 6 && code.compare(2, 4, "0000") == 0) return code.substr(0, 2);
  if (code.size() == 6 && code.compare(4, 2, "00") == 0) return code.substr(0, 4);
  return code;
}

const char* kValidNow = "a.valid_to IS NULL";

std::shared_ptr<Layer> load_layer(pg::Connection& conn, const LayerSpec& spec, const CodeCounts& workers,
                                  const CodeCounts& incidents, std::optional<Micros> at = std::nullopt,
                                  std::optional<Box> lonlat_box = std::nullopt) {
  std::vector<pg::Param> params{spec.level};
  std::string where = kValidNow;
  if (at) {
    params.push_back(format_rfc3339(*at));
    where = "a.valid_from <= $2::timestamptz AND (a.valid_to IS NULL OR a.valid_to > $2::timestamptz)";
  }
  if (lonlat_box) {
    for (double v : {lonlat_box->minx, lonlat_box->miny, lonlat_box->maxx, lonlat_box->maxy}) params.push_back(std::to_string(v));
    const auto n = params.size();
    where += " AND a.geom && ST_MakeEnvelope($" + std::to_string(n - 3) + "::float8, $" + std::to_string(n - 2) + "::float8, $" +
             std::to_string(n - 1) + "::float8, $" + std::to_string(n) + "::float8, 4490)";
  }
  auto r = conn.exec("tiles.layer",
                     "SELECT a.id, a.code, a.name, coalesce(a.parent_code, ''), encode(ST_AsBinary(a.geom), 'hex'), "
                     "ST_X(p.p), ST_Y(p.p) FROM areas a, LATERAL (SELECT ST_PointOnSurface(a.geom) AS p) p "
                     "WHERE a.level = $1 AND " + where + " ORDER BY a.code",
                     params);
  auto layer = std::make_shared<Layer>();
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
    shapes.push_back(WkbReader(unhex(r.get(i, 4))).multipolygon());
    f.label = to_mercator(r.number(i, 5), r.number(i, 6));
    const std::string prefix = prefix_of(f.code);
    f.workers = workers.sum(prefix);
    f.open_incidents = incidents.sum(prefix);
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

void load_counts(pg::Connection& conn, CodeCounts& workers, CodeCounts& incidents) {
  workers.load(conn, "tiles.workers",
               "SELECT grid_code, count(*) FROM worker_assignments WHERE unassigned_at IS NULL GROUP BY 1 ORDER BY 1");
  incidents.load(conn, "tiles.incident_counts",
                 "SELECT grid_code, count(*) FROM incidents WHERE grid_code IS NOT NULL AND status NOT IN ('closed', 'cancelled') "
                 "GROUP BY 1 ORDER BY 1");
}

Properties area_properties(const Feature& f) {
  return {{"code", std::string_view(f.code)},
          {"name", std::string_view(f.name)},
          {"level", std::string_view(f.level)},
          {"parent", std::string_view(f.parent)},
          {"workers", f.workers},
          {"open_incidents", f.open_incidents}};
}

bool visible(const LayerSpec& s, int z) { return z >= s.minzoom; }

// What drawing a tile needs besides the data, one per thread: once grown, these buffers make an
// uncached tile allocate almost nothing but its own bytes.
struct Scratch {
  LayerEncoder encoder{""};
  FlatRings rings;
  std::vector<std::uint32_t> hits;
  std::string tile;
};
thread_local Scratch t_scratch;

}  // namespace

TileConfig TileConfig::parse(const std::string& text) {
  auto j = nlohmann::json::parse(text);
  TileConfig c;
  c.extent = j.value("extent", 4096u);
  c.buffer = j.value("buffer", 64);
  c.max_tile_bytes = j.value("max_tile_bytes", static_cast<std::size_t>(512000));
  c.max_layers_per_request = j.value("max_layers_per_request", 10);
  c.patch_limit = j.value("patch_limit", c.patch_limit);
  for (const auto& l : j.at("layers")) {
    LayerSpec s{l.at("name").get<std::string>(), l.at("level").get<std::string>(), l.at("minzoom").get<int>(),
                l.at("maxzoom").get<int>()};
    if (s.name == "labels" || s.name == "incidents" || s.name == "roads" || s.name == "checkpoints")
      throw std::runtime_error("layer names labels, incidents, roads and checkpoints are reserved");
    if (s.minzoom < 0 || s.maxzoom > 22 || s.minzoom > s.maxzoom) throw std::runtime_error("bad zoom range for layer " + s.name);
    c.layers.push_back(s);
  }
  return c;
}

struct TileService::Impl {
  wangge::Snapshot<Snapshot> snapshot{std::make_shared<const Snapshot>()};
  std::mutex rebuild_mutex;

  struct CacheEntry {
    std::string key;
    TileId id;
    std::shared_ptr<const EncodedTile> tile;
  };
  mutable std::mutex cache_mutex;
  std::list<CacheEntry> lru;
  std::unordered_map<std::string, std::list<CacheEntry>::iterator> by_key;
  std::size_t bytes = 0, budget = 0;
  std::uint64_t generation = 0;  // bumped by every invalidation: a tile encoded before it is not cached
  std::atomic<bool> loaded{false};
  CacheStats stats;

  std::shared_ptr<const Snapshot> current() const { return snapshot.load(); }
  void swap(std::shared_ptr<const Snapshot> next) { snapshot.store(std::move(next)); }

  void invalidate(const std::vector<Box>& changed, std::int32_t buffer, std::uint32_t extent) {
    std::lock_guard lock(cache_mutex);
    ++generation;
    for (auto it = lru.begin(); it != lru.end();) {
      Box b = bounds(it->id);
      const double margin = b.width() * buffer / extent;
      Box grown{b.minx - margin, b.miny - margin, b.maxx + margin, b.maxy + margin};
      bool hit = std::any_of(changed.begin(), changed.end(), [&](const Box& c) { return grown.intersects(c); });
      if (hit) {
        bytes -= it->tile->gzip.size();
        by_key.erase(it->key);
        it = lru.erase(it);
        ++stats.invalidated;
      } else {
        ++it;
      }
    }
  }
};

TileService::TileService(TileConfig config, std::size_t cache_bytes) : m_config(std::move(config)), m_impl(std::make_unique<Impl>()) {
  m_impl->budget = cache_bytes;
}
TileService::~TileService() = default;

namespace {
void load_checkpoints(pg::Connection& conn, Snapshot& next) {
  auto cp = conn.exec("tiles.checkpoints",
                      "SELECT id, ST_X(location), ST_Y(location), name, kind, frequency, grid_code FROM checkpoints ORDER BY id");
  std::vector<Entry> entries;
  next.checkpoints.clear();
  for (int i = 0; i < cp.rows(); ++i) {
    Checkpoint c{static_cast<std::uint64_t>(cp.integer(i, 0)), to_mercator(cp.number(i, 1), cp.number(i, 2)), cp.str(i, 3),
                 cp.str(i, 4), cp.str(i, 5), cp.str(i, 6)};
    entries.emplace_back(BgBox(BgPoint(c.at.x, c.at.y), BgPoint(c.at.x, c.at.y)), static_cast<std::uint32_t>(i));
    next.checkpoints.push_back(std::move(c));
  }
  next.checkpoint_index = SharedRtree(entries.begin(), entries.end());
}

// Open cases only: closed and cancelled ones leave the map.
void load_incidents(pg::Connection& conn, Snapshot& next) {
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

void load_roads(pg::Connection& conn, Snapshot& next) {
  auto st = conn.exec("tiles.roads",
                      "SELECT id, coalesce(name, ''), highway, oneway, encode(ST_AsBinary(geom), 'hex') FROM streets ORDER BY id");
  std::vector<Entry> entries;
  next.roads = {};
  for (int i = 0; i < st.rows(); ++i) {
    Road road{static_cast<std::uint64_t>(st.integer(i, 0)), st.str(i, 1), st.str(i, 2), st.boolean(i, 3),
              WkbReader(unhex(st.get(i, 4))).linestring()};
    Box b{std::numeric_limits<double>::max(), std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
          -std::numeric_limits<double>::max()};
    for (const auto& p : road.line) b = {std::min(b.minx, p.x), std::min(b.miny, p.y), std::max(b.maxx, p.x), std::max(b.maxy, p.y)};
    entries.emplace_back(to_bg(b), static_cast<std::uint32_t>(i));
    next.roads.push_back(std::move(road));
  }
  next.road_index = SharedRtree(entries.begin(), entries.end());
}
}  // namespace

void TileService::refresh_roads(pg::Connection& conn) {
  std::lock_guard lock(m_impl->rebuild_mutex);
  auto next = std::make_shared<Snapshot>(*m_impl->current());
  load_roads(conn, *next);
  m_impl->swap(std::move(next));
  // Roads may have changed anywhere (an import replaces a whole source): every cached tile goes.
  m_impl->invalidate({Box{-kHalfWorld, -kHalfWorld, kHalfWorld, kHalfWorld}}, m_config.buffer, m_config.extent);
}

void TileService::refresh_checkpoints(pg::Connection& conn, const std::vector<std::array<double, 2>>& changed_lonlat) {
  std::lock_guard lock(m_impl->rebuild_mutex);
  auto next = std::make_shared<Snapshot>(*m_impl->current());
  load_checkpoints(conn, *next);
  m_impl->swap(std::move(next));
  std::vector<Box> boxes;
  for (const auto& p : changed_lonlat) {
    const Point m = to_mercator(p[0], p[1]);
    boxes.push_back(Box{m.x, m.y, m.x, m.y});
  }
  if (!boxes.empty()) m_impl->invalidate(boxes, m_config.buffer, m_config.extent);
}

void TileService::refresh_points(pg::Connection& conn, bool incidents, bool checkpoints, const std::vector<Box>& lonlat_boxes) {
  if (!incidents && !checkpoints) return;
  std::lock_guard lock(m_impl->rebuild_mutex);
  auto next = std::make_shared<Snapshot>(*m_impl->current());
  if (incidents) load_incidents(conn, *next);
  if (checkpoints) load_checkpoints(conn, *next);
  m_impl->swap(std::move(next));
  std::vector<Box> boxes;
  for (const Box& b : lonlat_boxes) {
    const Point lo = to_mercator(b.minx, b.miny), hi = to_mercator(b.maxx, b.maxy);
    boxes.push_back(Box{lo.x, lo.y, hi.x, hi.y});
  }
  if (!boxes.empty()) m_impl->invalidate(boxes, m_config.buffer, m_config.extent);
}

void TileService::load(pg::Connection& conn) {
  std::lock_guard lock(m_impl->rebuild_mutex);
  const auto started = std::chrono::steady_clock::now();
  CodeCounts workers, incidents;
  load_counts(conn, workers, incidents);
  auto next = std::make_shared<Snapshot>();
  for (const auto& spec : m_config.layers) next->layers[spec.name] = load_layer(conn, spec, workers, incidents);
  load_incidents(conn, *next);
  load_checkpoints(conn, *next);
  load_roads(conn, *next);
  m_impl->swap(std::move(next));
  m_impl->invalidate({Box{-kHalfWorld, -kHalfWorld, kHalfWorld, kHalfWorld}}, m_config.buffer, m_config.extent);
  m_impl->loaded = true;
  std::size_t features = 0, vertices = 0;
  for (const auto& [name, layer] : m_impl->current()->layers) features += layer->features.size(), vertices += layer->topo.vertex_count();
  char msg[200];
  std::snprintf(msg, sizeof msg, "tile layers built: %zu areas, %zu shared-arc vertices in %.3f s", features, vertices,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  log::info(msg);
}

namespace {

struct ChangedArea {
  Feature feature;
  MultiPolygon shape;
};

// Worker and open-incident counts of the given features only (one statement): the sums over their
// code prefixes that CodeCounts gives for a whole layer. The range lets the grid_code index find
// the prefix (codes compare bytewise, as in CodeCounts); starts_with keeps the count exact.
void count_for(pg::Connection& conn, std::vector<Feature*>& features) {
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

// The next layer from `prev` and the changed areas of its level (`retire`: live slots whose code
// is no longer current here). Shares every unchanged chunk, arc and index node with `prev`.
// `boxes` gets what tiles must be dropped: old and new extents of the changed features, and the
// extents of unchanged neighbours whose arcs were re-cut.
std::shared_ptr<Layer> patch_layer(const Layer& prev, std::vector<ChangedArea>& changed, const std::vector<std::uint32_t>& retire,
                                   std::vector<Box>& boxes, std::size_t& recut_count) {
  auto next = std::make_shared<Layer>(prev);
  std::vector<Topology::Change> changes;
  std::vector<std::pair<std::uint32_t, Feature>> put;
  std::shared_ptr<std::map<std::string, std::uint32_t>> added;
  std::size_t slots = prev.features.size();
  for (auto& area : changed) {
    std::uint32_t slot;
    if (auto found = prev.find(area.feature.code)) {
      slot = *found;
    } else {
      if (!added) added = std::make_shared<std::map<std::string, std::uint32_t>>(*prev.added);
      slot = static_cast<std::uint32_t>(slots++);
      added->emplace(area.feature.code, slot);
    }
    changes.push_back({slot, std::move(area.shape)});
    put.emplace_back(slot, std::move(area.feature));
  }
  for (std::uint32_t slot : retire) {
    changes.push_back({slot, {}});
    Feature dead = prev.features[slot];
    dead.live = false;
    put.emplace_back(slot, std::move(dead));
  }
  std::vector<std::size_t> recut;
  next->topo = prev.topo.patch(
      changes,
      [&prev](const Box& b, std::vector<std::size_t>& out) {
        for (auto it = prev.index.qbegin(bgi::intersects(to_bg(b))); it != prev.index.qend(); ++it) out.push_back(it->second);
      },
      recut);
  Rtree& tree = next->index.mutable_tree();
  for (const auto& c : changes) {
    const auto slot = static_cast<std::uint32_t>(c.feature);
    if (slot < prev.features.size() && prev.features[slot].live) {
      boxes.push_back(prev.topo.bbox(slot));
      tree.remove(Entry(to_bg(prev.topo.bbox(slot)), slot));
    }
    if (!next->topo.empty(slot)) {
      boxes.push_back(next->topo.bbox(slot));
      tree.insert(Entry(to_bg(next->topo.bbox(slot)), slot));
    }
  }
  for (std::size_t f : recut) boxes.push_back(next->topo.bbox(f));
  recut_count = recut.size();
  std::sort(put.begin(), put.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [slot, feature] : put) {
    if (slot < next->features.size())
      next->features.mutable_at(slot) = std::move(feature);
    else
      next->features.push_back(std::move(feature));  // new slots are consecutive from size()
  }
  if (added) next->added = std::move(added);
  return next;
}

}  // namespace

void TileService::apply_changes(pg::Connection& conn, const std::vector<std::string>& codes) {
  if (codes.empty()) return load(conn);
  std::lock_guard lock(m_impl->rebuild_mutex);
  const auto started = std::chrono::steady_clock::now();
  // Only the changed rows: their current versions, whatever level they are at now.
  nlohmann::json list = codes;
  auto r = conn.exec("tiles.changed_areas",
                     "SELECT a.id, a.code, a.name, coalesce(a.parent_code, ''), encode(ST_AsBinary(a.geom), 'hex'), "
                     "ST_X(p.p), ST_Y(p.p), a.level FROM areas a, LATERAL (SELECT ST_PointOnSurface(a.geom) AS p) p "
                     "WHERE a.code IN (SELECT json_array_elements_text($1::json)) AND a.valid_to IS NULL ORDER BY a.code",
                     {list.dump()});
  std::map<std::string, std::vector<ChangedArea>> by_level;
  std::set<std::pair<std::string, std::string>> current;  // (level, code)
  for (int i = 0; i < r.rows(); ++i) {
    ChangedArea area;
    Feature& f = area.feature;
    f.id = static_cast<std::uint64_t>(r.integer(i, 0));
    f.code = r.str(i, 1);
    f.name = r.str(i, 2);
    f.level = r.str(i, 7);
    f.parent = r.str(i, 3);
    area.shape = WkbReader(unhex(r.get(i, 4))).multipolygon();
    f.label = to_mercator(r.number(i, 5), r.number(i, 6));
    current.emplace(f.level, f.code);
    by_level[f.level].push_back(std::move(area));
  }
  auto old = m_impl->current();
  auto next = std::make_shared<Snapshot>(*old);
  std::vector<Box> boxes;
  std::optional<std::pair<CodeCounts, CodeCounts>> all_counts;  // for a whole-layer reload only
  for (const auto& spec : m_config.layers) {
    auto prev = old->layers.count(spec.name) ? old->layers.at(spec.name) : nullptr;
    auto& changed = by_level[spec.level];
    std::vector<std::uint32_t> retire;
    if (prev)
      for (const auto& code : codes)
        if (auto slot = prev->find(code); slot && prev->features[*slot].live && !current.count({spec.level, code})) retire.push_back(*slot);
    if (changed.empty() && retire.empty()) continue;
    char msg[200];
    if (!prev || changed.size() + retire.size() > m_config.patch_limit) {
      if (!all_counts) {
        all_counts.emplace();
        load_counts(conn, all_counts->first, all_counts->second);
      }
      auto fresh = load_layer(conn, spec, all_counts->first, all_counts->second);
      for (const auto& code : codes) {
        if (auto slot = prev ? prev->find(code) : std::nullopt; slot && prev->features[*slot].live) boxes.push_back(prev->topo.bbox(*slot));
        if (auto slot = fresh->find(code)) boxes.push_back(fresh->topo.bbox(*slot));
      }
      next->layers[spec.name] = std::move(fresh);
      std::snprintf(msg, sizeof msg, "tile layer %s reloaded: %zu areas changed in %.3f s", spec.name.c_str(), changed.size() + retire.size(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    } else {
      std::vector<Feature*> features;
      for (auto& area : changed) features.push_back(&area.feature);
      count_for(conn, features);
      std::size_t recut = 0;
      next->layers[spec.name] = patch_layer(*prev, changed, retire, boxes, recut);
      std::snprintf(msg, sizeof msg, "tile layer %s patched: %zu areas changed, %zu neighbours re-cut in %.3f s", spec.name.c_str(),
                    changed.size() + retire.size(), recut,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    log::info(msg);
  }
  m_impl->swap(std::move(next));
  if (!boxes.empty()) m_impl->invalidate(boxes, m_config.buffer, m_config.extent);
}

// The codes whose features count a grid's workers and cases: the grid's own and its ancestors'
// (county codes pad with zeros above the county: 330000 province, 330500 city), plus any longer
// code given (a micro-grid).
std::vector<std::string> counting_codes(const std::string& grid) {
  std::vector<std::string> out;
  if (grid.size() >= 2) out.push_back(grid.substr(0, 2) + "0000");
  if (grid.size() >= 4) out.push_back(grid.substr(0, 4) + "00");
  for (std::size_t n : {6, 9, 12, 15})
    if (grid.size() >= n) out.push_back(grid.substr(0, n));
  out.push_back(grid);
  return out;
}

void TileService::refresh_counts(pg::Connection& conn, const std::optional<std::vector<std::string>>& grid_codes) {
  std::lock_guard lock(m_impl->rebuild_mutex);
  auto old = m_impl->current();
  auto next = std::make_shared<Snapshot>(*old);
  std::vector<Box> boxes;
  std::optional<std::pair<CodeCounts, CodeCounts>> all;
  if (!grid_codes) {
    all.emplace();
    load_counts(conn, all->first, all->second);
  }
  std::size_t changed = 0;
  for (auto& [name, layer] : next->layers) {
    // The features to look at and their fresh counts.
    std::vector<std::uint32_t> slots;
    std::vector<Feature> fresh;
    if (grid_codes) {
      std::set<std::uint32_t> found;
      for (const auto& g : *grid_codes)
        for (const auto& c : counting_codes(g))
          if (auto slot = layer->find(c); slot && layer->features[*slot].live) found.insert(*slot);
      slots.assign(found.begin(), found.end());
      for (auto slot : slots) fresh.push_back(layer->features[slot]);
      std::vector<Feature*> ptrs;
      for (auto& f : fresh) ptrs.push_back(&f);
      count_for(conn, ptrs);
    } else {
      for (std::uint32_t slot = 0; slot < layer->features.size(); ++slot) {
        const Feature& f = layer->features[slot];
        if (!f.live) continue;
        const std::string prefix = prefix_of(f.code);
        const auto w = all->first.sum(prefix), n = all->second.sum(prefix);
        if (w == f.workers && n == f.open_incidents) continue;
        slots.push_back(slot);
        fresh.push_back(f);
        fresh.back().workers = w, fresh.back().open_incidents = n;
      }
    }
    std::shared_ptr<Layer> copy;  // the layer is copied (sharing its chunks) on its first change
    for (std::size_t k = 0; k < slots.size(); ++k) {
      const Feature& f = layer->features[slots[k]];
      if (fresh[k].workers == f.workers && fresh[k].open_incidents == f.open_incidents) continue;
      if (!copy) copy = std::make_shared<Layer>(*layer);
      Feature& target = copy->features.mutable_at(slots[k]);
      target.workers = fresh[k].workers;
      target.open_incidents = fresh[k].open_incidents;
      boxes.push_back(copy->topo.bbox(slots[k]));
      ++changed;
    }
    if (copy) layer = std::move(copy);
  }
  if (!changed) return;
  m_impl->swap(std::move(next));
  m_impl->invalidate(boxes, m_config.buffer, m_config.extent);
}

std::vector<std::string> TileService::layer_names() const {
  std::vector<std::string> names;
  for (const auto& l : m_config.layers) names.push_back(l.name);
  names.push_back("labels");
  names.push_back("incidents");
  names.push_back("checkpoints");
  names.push_back("roads");
  return names;
}

bool TileService::has_layer(const std::string& name) const {
  auto names = layer_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

int TileService::minzoom(const std::vector<std::string>& layers) const {
  int z = 22;
  for (const auto& name : layers) {
    if (name == "incidents") z = std::min(z, 10);
    if (name == "roads") z = std::min(z, 12);
    if (name == "checkpoints") z = std::min(z, 14);
    for (const auto& l : m_config.layers)
      if (name == "labels" || l.name == name) z = std::min(z, l.minzoom);
  }
  return z;
}

int TileService::maxzoom(const std::vector<std::string>& layers) const {
  int z = 0;
  for (const auto& name : layers) {
    if (name == "incidents" || name == "roads" || name == "checkpoints") z = std::max(z, 16);
    for (const auto& l : m_config.layers)
      if (name == "labels" || l.name == name) z = std::max(z, l.maxzoom);
  }
  return z;
}

Box TileService::bounds_lonlat() const {
  auto snap = m_impl->current();
  Box b{kHalfWorld, kHalfWorld, -kHalfWorld, -kHalfWorld};
  for (const auto& [name, layer] : snap->layers) {
    if (layer->features.empty()) continue;
    auto bb = layer->index.bounds();
    b.minx = std::min(b.minx, bb.min_corner().get<0>());
    b.miny = std::min(b.miny, bb.min_corner().get<1>());
    b.maxx = std::max(b.maxx, bb.max_corner().get<0>());
    b.maxy = std::max(b.maxy, bb.max_corner().get<1>());
  }
  if (b.minx > b.maxx) return {73, 18, 135, 54};  // empty registry: China
  Point lo = to_lonlat({b.minx, b.miny}), hi = to_lonlat({b.maxx, b.maxy});
  return {lo.x, lo.y, hi.x, hi.y};
}

std::vector<std::pair<std::string, std::string>> TileService::fields(const std::string& layer) const {
  if (layer == "roads") return {{"name", "String"}, {"highway", "String"}, {"oneway", "Boolean"}};
  if (layer == "checkpoints")
    return {{"id", "Number"}, {"name", "String"}, {"kind", "String"}, {"frequency", "String"}, {"grid", "String"}};
  if (layer == "incidents")
    return {{"id", "Number"}, {"category", "String"}, {"status", "String"}, {"grid", "String"}, {"count", "Number"}, {"cluster", "Boolean"}};
  return {{"code", "String"}, {"name", "String"}, {"level", "String"}, {"parent", "String"}, {"workers", "Number"}, {"open_incidents", "Number"}};
}

std::shared_ptr<const EncodedTile> TileService::tile(const std::vector<std::string>& layers, const TileId& id,
                                                     const std::string& scope_prefix, pg::Connection* conn_for_at,
                                                     std::optional<Micros> at, bool gzip_wanted) {
  const bool cacheable = !at && m_impl->budget > 0;
  std::string key;
  std::uint64_t generation = 0;
  if (cacheable) {
    for (const auto& l : layers) key += l + ",";
    key += "|" + scope_prefix + "|" + std::to_string(id.z) + "/" + std::to_string(id.x) + "/" + std::to_string(id.y);
    std::lock_guard lock(m_impl->cache_mutex);
    auto it = m_impl->by_key.find(key);
    if (it != m_impl->by_key.end()) {
      m_impl->lru.splice(m_impl->lru.begin(), m_impl->lru, it->second);
      ++m_impl->stats.hits;
      return it->second->tile;
    }
    ++m_impl->stats.misses;
    generation = m_impl->generation;
  } else if (!at) {
    std::lock_guard lock(m_impl->cache_mutex);
    ++m_impl->stats.misses;
  }

  // The data to draw: the current snapshot, or, for `at`, the layers as of then around this tile.
  auto snap = m_impl->current();
  const Box box = bounds(id);
  if (at) {
    if (!conn_for_at) throw std::logic_error("tiles at a time need a database connection");
    auto past = std::make_shared<Snapshot>();
    CodeCounts none;
    const double m = box.width() * m_config.buffer / m_config.extent;
    Point lo = to_lonlat({box.minx - m, box.miny - m}), hi = to_lonlat({box.maxx + m, box.maxy + m});
    for (const auto& spec : m_config.layers)
      if (visible(spec, id.z)) past->layers[spec.name] = load_layer(*conn_for_at, spec, none, none, at, Box{lo.x, lo.y, hi.x, hi.y});
    snap = past;
  }

  const TileTransform tf{box, m_config.extent};
  const double margin = box.width() * m_config.buffer / m_config.extent;
  const BgBox query(BgPoint(box.minx - margin, box.miny - margin), BgPoint(box.maxx + margin, box.maxy + margin));
  // Half a screen pixel of a 512-px tile: invisible, and it removes most vertices at low zoom.
  double tolerance = 2 * kHalfWorld / tiles_per_side(id.z) / 512.0 * 0.5;

  auto out = std::make_shared<EncodedTile>();
  std::string& data = t_scratch.tile;  // the tile's own bytes are copied out once, at their size
  for (int attempt = 0; attempt < 6; ++attempt, tolerance *= 2) {
    data.clear();
    out->features = 0;
    for (const auto& name : layers) {
      LayerEncoder& enc = t_scratch.encoder;
      enc.reset(name, m_config.extent, m_config.buffer);
      if (name == "labels") {
        for (const auto& spec : m_config.layers) {
          if (!visible(spec, id.z) || !snap->layers.count(spec.name)) continue;
          const auto& layer = *snap->layers.at(spec.name);
          // In code order, not the index's (which depends on the order of patches).
          std::vector<std::uint32_t> hits;
          for (auto it = layer.index.qbegin(bgi::intersects(query)); it != layer.index.qend(); ++it) hits.push_back(it->second);
          std::sort(hits.begin(), hits.end(), [&layer](std::uint32_t a, std::uint32_t b) { return layer.before(a, b); });
          for (std::uint32_t i : hits) {
            const Feature& f = layer.features[i];
            if (f.code.compare(0, scope_prefix.size(), scope_prefix) != 0) continue;
            const Box& fb = layer.topo.bbox(i);
            if (fb.width() < 8 * tolerance && fb.height() < 8 * tolerance) continue;  // too small to carry a label
            enc.add_point(f.id, f.label, tf, {{"code", std::string_view(f.code)}, {"name", std::string_view(f.name)}, {"level", std::string_view(f.level)}});
          }
        }
      } else if (name == "roads") {
        if (id.z < 12) continue;
        std::vector<Point> line;
        for (auto it = snap->road_index.qbegin(bgi::intersects(query)); it != snap->road_index.qend(); ++it) {
          const Road& road = snap->roads[it->second];
          if (!road_visible(road, id.z)) continue;
          simplify(road.line, tolerance, line);
          enc.add_line(road.id, line, tf, {{"name", std::string_view(road.name)}, {"highway", std::string_view(road.highway)}, {"oneway", road.oneway}});
        }
      } else if (name == "checkpoints") {
        if (id.z < 14) continue;
        for (auto it = snap->checkpoint_index.qbegin(bgi::intersects(query)); it != snap->checkpoint_index.qend(); ++it) {
          const Checkpoint& c = snap->checkpoints[it->second];
          if (c.grid.compare(0, scope_prefix.size(), scope_prefix) != 0) continue;
          enc.add_point(c.id, c.at, tf, {{"id", static_cast<std::int64_t>(c.id)}, {"name", std::string_view(c.name)}, {"kind", std::string_view(c.kind)},
                                         {"frequency", std::string_view(c.frequency)}, {"grid", std::string_view(c.grid)}});
        }
      } else if (name == "incidents") {
        if (id.z < 10) continue;
        // Below z15 points are clustered on a 16×16 grid per tile, each cluster carrying its count.
        std::map<std::pair<int, int>, std::pair<int, Point>> clusters;
        for (auto it = snap->incident_index.qbegin(bgi::intersects(query)); it != snap->incident_index.qend(); ++it) {
          const Incident& inc = snap->incidents[it->second];
          if (inc.grid.compare(0, scope_prefix.size(), scope_prefix) != 0) continue;
          if (id.z >= 15) {
            enc.add_point(inc.id, inc.at, tf, {{"id", static_cast<std::int64_t>(inc.id)}, {"category", std::string_view(inc.category)}, {"status", std::string_view(inc.status)}, {"grid", std::string_view(inc.grid)}});
          } else {
            int cx = static_cast<int>(std::floor(tf.to_x(inc.at.x) / (m_config.extent / 16.0)));
            int cy = static_cast<int>(std::floor(tf.to_y(inc.at.y) / (m_config.extent / 16.0)));
            auto& c = clusters[{cx, cy}];
            c.second.x = (c.second.x * c.first + inc.at.x) / (c.first + 1);
            c.second.y = (c.second.y * c.first + inc.at.y) / (c.first + 1);
            ++c.first;
          }
        }
        std::uint64_t n = 0;
        for (const auto& [cell, c] : clusters)
          enc.add_point(++n, c.second, tf, {{"count", std::int64_t{c.first}}, {"cluster", true}});
      } else {
        auto found = snap->layers.find(name);
        if (found == snap->layers.end()) continue;
        const Layer& layer = *found->second;
        if (!visible(layer.spec, id.z)) continue;
        auto& hits = t_scratch.hits;
        hits.clear();
        layer.index.query(bgi::intersects(query), boost::make_function_output_iterator([&hits](const Entry& e) { hits.push_back(e.second); }));
        // By code: the same tile encodes byte for byte the same, in every process.
        std::sort(hits.begin(), hits.end(), [&layer](std::uint32_t a, std::uint32_t b) { return layer.before(a, b); });
        // Batches of features whose memory is asked for ahead (render and the properties chase
        // pointers, and at z10 a tile has 1,000 features: their cache misses must overlap).
        constexpr std::size_t kBatch = 32;
        for (std::size_t k = 0; k < hits.size(); ++k) {
          if (k % kBatch == 0) {
            const std::size_t n = std::min(kBatch, hits.size() - k);
            for (std::size_t j = k; j < k + n; ++j) {
              const Feature& f = layer.features[hits[j]];
              for (const char* p = reinterpret_cast<const char*>(&f); p < reinterpret_cast<const char*>(&f + 1); p += 64) __builtin_prefetch(p);
            }
            for (std::size_t j = k; j < k + n; ++j) __builtin_prefetch(layer.features[hits[j]].name.data());
            layer.topo.prefetch(hits.data() + k, n);
          }
          const std::uint32_t i = hits[k];
          const Feature& f = layer.features[i];
          if (f.code.compare(0, scope_prefix.size(), scope_prefix) != 0) continue;
          const Box& fb = layer.topo.bbox(i);
          // The documented drop rule: an area smaller than one screen pixel both ways is left out.
          if (fb.width() < 2 * tolerance && fb.height() < 2 * tolerance) continue;
          layer.topo.render(i, tolerance, t_scratch.rings);
          enc.add_polygon(f.id, t_scratch.rings, tf, area_properties(f));
        }
      }
      out->features += enc.size();
      if (!enc.empty()) enc.write_to(data);
    }
    if (data.size() <= m_config.max_tile_bytes) break;
  }
  out->raw_bytes = data.size();
  out->etag = etag_of(data);
  if (!data.empty() && (gzip_wanted || cacheable)) out->gzip = gzip(data);
  else out->raw = data;
  std::shared_ptr<const EncodedTile> result = out;
  if (cacheable) {
    std::lock_guard lock(m_impl->cache_mutex);
    if (generation == m_impl->generation && !m_impl->by_key.count(key)) {
      m_impl->lru.push_front({key, id, result});
      m_impl->by_key[key] = m_impl->lru.begin();
      m_impl->bytes += result->gzip.size();
      while (m_impl->bytes > m_impl->budget && !m_impl->lru.empty()) {
        m_impl->bytes -= m_impl->lru.back().tile->gzip.size();
        m_impl->by_key.erase(m_impl->lru.back().key);
        m_impl->lru.pop_back();
      }
    }
  }
  return result;
}

bool TileService::ready() const { return m_impl->loaded.load(); }

TileService::CacheStats TileService::cache_stats() const {
  std::lock_guard lock(m_impl->cache_mutex);
  CacheStats s = m_impl->stats;
  s.entries = m_impl->lru.size();
  s.bytes = m_impl->bytes;
  return s;
}

std::string gzip(const std::string& data) {
  // libdeflate compresses whole buffers two to three times as fast as zlib at the same level and
  // ratio; at z10 an uncached tile is ~400 KB and its compression costs as much as drawing it.
  struct Free {
    void operator()(libdeflate_compressor* c) const noexcept { libdeflate_free_compressor(c); }
  };
  thread_local std::unique_ptr<libdeflate_compressor, Free> compressor(libdeflate_alloc_compressor(1));
  if (!compressor) throw std::runtime_error("libdeflate_alloc_compressor");
  std::string out(libdeflate_gzip_compress_bound(compressor.get(), data.size()), '\0');
  const std::size_t n = libdeflate_gzip_compress(compressor.get(), data.data(), data.size(), out.data(), out.size());
  if (n == 0) throw std::runtime_error("libdeflate_gzip_compress");
  out.resize(n);
  return out;
}

std::string gunzip(const std::string& data) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");
  std::string out;
  char buf[65536];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("inflate");
    }
    out.append(buf, sizeof buf - zs.avail_out);
  } while (rc != Z_STREAM_END);
  inflateEnd(&zs);
  return out;
}

}  // namespace wangge::tiles
