#include "tiles/topology.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace wangge::tiles {
namespace {

constexpr float kKeep = std::numeric_limits<float>::infinity();

bool less(const Point& a, const Point& b) { return a.x < b.x || (a.x == b.x && a.y < b.y); }

struct PointHash {
  std::size_t operator()(const Point& p) const noexcept {
    std::size_t h = std::hash<double>()(p.x);
    return h ^ (std::hash<double>()(p.y) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

struct ChainHash {
  std::size_t operator()(const std::vector<Point>* c) const noexcept {
    std::size_t h = c->size();
    PointHash ph;
    for (const auto& p : *c) h = h * 1000003u ^ ph(p);
    return h;
  }
};
struct ChainEq {
  bool operator()(const std::vector<Point>* a, const std::vector<Point>* b) const { return *a == *b; }
};

double segment_distance(const Point& p, const Point& a, const Point& b) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2 : 0;
  t = std::clamp(t, 0.0, 1.0);
  const double ex = a.x + t * dx - p.x, ey = a.y + t * dy - p.y;
  return std::sqrt(ex * ex + ey * ey);
}

// Douglas-Peucker importance: the tolerance below which a vertex survives. A vertex never
// outranks the one that split its segment, so filtering by a threshold gives exactly the
// Douglas-Peucker result at that tolerance.
void rank(const std::vector<Point>& pts, std::vector<float>& imp, std::size_t lo, std::size_t hi, float cap) {
  // An explicit stack: arcs can have many thousands of vertices.
  struct Span {
    std::size_t lo, hi;
    float cap;
  };
  std::vector<Span> stack{{lo, hi, cap}};
  while (!stack.empty()) {
    Span s = stack.back();
    stack.pop_back();
    if (s.hi <= s.lo + 1) continue;
    double best = -1;
    std::size_t at = s.lo + 1;
    for (std::size_t i = s.lo + 1; i < s.hi; ++i) {
      double d = segment_distance(pts[i], pts[s.lo], pts[s.hi]);
      if (d > best) {
        best = d;
        at = i;
      }
    }
    float v = std::min(static_cast<float>(best), s.cap);
    imp[at] = v;
    stack.push_back({s.lo, at, v});
    stack.push_back({at, s.hi, v});
  }
}

// A feature's rings as the topology sees them: consecutive duplicates dropped, rings that are not
// closed or have fewer than 4 points left out, each ring open (n distinct positions, no closing
// point); polygons left without rings are dropped.
using OpenPolygons = std::vector<std::vector<Ring>>;

OpenPolygons normalise(const MultiPolygon& mp) {
  OpenPolygons out;
  for (const auto& poly : mp) {
    std::vector<Ring> rings;
    for (const auto& in : poly) {
      Ring ring;
      ring.reserve(in.size());
      for (const auto& p : in)
        if (ring.empty() || !(ring.back() == p)) ring.push_back(p);
      if (ring.size() < 4 || !(ring.front() == ring.back())) continue;
      ring.pop_back();
      rings.push_back(std::move(ring));
    }
    if (!rings.empty()) out.push_back(std::move(rings));
  }
  return out;
}

void extend(Box& b, const Point& p) {
  b.minx = std::min(b.minx, p.x);
  b.miny = std::min(b.miny, p.y);
  b.maxx = std::max(b.maxx, p.x);
  b.maxy = std::max(b.maxy, p.y);
}

Box empty_box() {
  return {std::numeric_limits<double>::max(), std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
          -std::numeric_limits<double>::max()};
}

}  // namespace

// Cuts rings into chains and interns them: identical chains (either direction) become one arc.
class Topology::Builder {
 public:
  explicit Builder(Topology& topo) : m_topo(topo) {}

  // Makes an existing arc findable, so that new chains equal to it use it.
  void seed(std::uint32_t id, const std::vector<Point>& points) { m_index.emplace(&points, id); }

  // `junction(i)`: whether ring[i] is a junction. The ring is cut starting at its smallest junction,
  // so the arcs and their order depend on the ring's positions and direction, not its first point.
  template <class Junction>
  TopoRing cut(const Ring& ring, Junction junction) {
    const std::size_t n = ring.size();
    std::size_t start = n;
    for (std::size_t i = 0; i < n; ++i)
      if (junction(i) && (start == n || less(ring[i], ring[start]))) start = i;
    TopoRing tr;
    if (start == n) {
      Ring loop = ring;
      loop.push_back(ring.front());
      tr.arcs.push_back(intern(std::move(loop), true));
      return tr;
    }
    std::vector<Point> chain{ring[start]};
    for (std::size_t k = 1; k <= n; ++k) {
      const std::size_t i = (start + k) % n;
      chain.push_back(ring[i]);
      if (k == n || junction(i)) {
        tr.arcs.push_back(intern(std::move(chain), false));
        chain = {ring[i]};
      }
    }
    return tr;
  }

 private:
  ArcRef intern(std::vector<Point> chain, bool loop) {
    bool reversed = false;
    if (loop) {
      // A ring without junctions: start at its smallest vertex, go the way of the smaller neighbour.
      chain.pop_back();
      auto m = std::min_element(chain.begin(), chain.end(), less) - chain.begin();
      std::rotate(chain.begin(), chain.begin() + m, chain.end());
      if (chain.size() > 2 && less(chain.back(), chain[1])) {
        std::reverse(chain.begin() + 1, chain.end());
        reversed = true;
      }
      chain.push_back(chain.front());
    } else if (less(chain.back(), chain.front()) ||
               (chain.front() == chain.back() && chain.size() > 2 && less(chain[chain.size() - 2], chain[1]))) {
      std::reverse(chain.begin(), chain.end());
      reversed = true;
    }
    auto it = m_index.find(&chain);
    if (it != m_index.end()) return {it->second, reversed};
    const auto id = static_cast<std::uint32_t>(m_topo.m_arcs.size());
    Arc arc;
    arc.points = chain;
    arc.loop = loop;
    arc.importance.assign(chain.size(), 0.f);
    arc.importance.front() = arc.importance.back() = kKeep;
    if (loop && chain.size() > 3) {
      // Anchor a loop at two more far-apart vertices so it keeps a triangle's shape.
      std::size_t far = 1;
      double best = -1;
      for (std::size_t i = 1; i + 1 < chain.size(); ++i) {
        double d = std::hypot(chain[i].x - chain[0].x, chain[i].y - chain[0].y);
        if (d > best) best = d, far = i;
      }
      std::size_t third = far > 1 ? 1 : 2;
      best = -1;
      for (std::size_t i = 1; i + 1 < chain.size(); ++i) {
        if (i == far) continue;
        double d = segment_distance(chain[i], chain[0], chain[far]);
        if (d > best) best = d, third = i;
      }
      std::size_t a = std::min(far, third), b = std::max(far, third);
      arc.importance[a] = arc.importance[b] = kKeep;
      rank(arc.points, arc.importance, 0, a, kKeep);
      rank(arc.points, arc.importance, a, b, kKeep);
      rank(arc.points, arc.importance, b, chain.size() - 1, kKeep);
    } else {
      rank(arc.points, arc.importance, 0, chain.size() - 1, kKeep);
    }
    m_topo.m_arcs.push_back(std::move(arc));
    m_keys.push_back(std::make_unique<std::vector<Point>>(std::move(chain)));
    m_index.emplace(m_keys.back().get(), id);
    return {id, reversed};
  }

  Topology& m_topo;
  std::unordered_map<const std::vector<Point>*, std::uint32_t, ChainHash, ChainEq> m_index;
  std::vector<std::unique_ptr<std::vector<Point>>> m_keys;  // stable storage for new arcs' keys
};

Topology Topology::build(const std::vector<MultiPolygon>& features) {
  Topology topo;
  std::vector<OpenPolygons> shapes;
  shapes.reserve(features.size());
  for (const auto& mp : features) shapes.push_back(normalise(mp));
  // 1. Vertex degree in the undirected edge graph of the whole layer: a vertex where other than
  //    two distinct neighbours meet is a junction, where arcs start and end.
  std::vector<std::pair<Point, Point>> edges;
  for (const auto& shape : shapes)
    for (const auto& rings : shape)
      for (const auto& ring : rings)
        for (std::size_t i = 0; i < ring.size(); ++i) {
          const Point& a = ring[i];
          const Point& b = ring[(i + 1) % ring.size()];
          edges.emplace_back(less(a, b) ? std::make_pair(a, b) : std::make_pair(b, a));
        }
  auto edge_less = [](const std::pair<Point, Point>& a, const std::pair<Point, Point>& b) {
    return less(a.first, b.first) || (a.first == b.first && less(a.second, b.second));
  };
  std::sort(edges.begin(), edges.end(), edge_less);
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  std::unordered_map<Point, std::uint32_t, PointHash> degree;
  degree.reserve(edges.size());
  for (const auto& e : edges) {
    ++degree[e.first];
    ++degree[e.second];
  }
  edges.clear();
  edges.shrink_to_fit();

  // 2. Cut every ring into chains at junctions; identical chains (either direction) become one arc.
  Builder builder(topo);
  topo.m_features.reserve(features.size());
  for (const auto& shape : shapes) {
    TopoFeature f;
    for (const auto& rings : shape) {
      std::vector<TopoRing> out;
      for (const auto& ring : rings) {
        for (const auto& p : ring) extend(f.bbox, p);
        out.push_back(builder.cut(ring, [&](std::size_t i) { return degree[ring[i]] != 2; }));
      }
      f.polygons.push_back(std::move(out));
    }
    topo.m_features.push_back(std::move(f));
  }
  return topo;
}

void Topology::unfold(const TopoRing& tr, Ring& points, std::vector<char>& starts) const {
  points.clear();
  starts.clear();
  for (const auto& ref : tr.arcs) {
    const Arc& arc = m_arcs[ref.arc];
    const std::size_t n = arc.points.size();
    for (std::size_t k = 0; k + 1 < n; ++k) {
      points.push_back(arc.points[ref.reversed ? n - 1 - k : k]);
      starts.push_back(k == 0 && !arc.loop);
    }
  }
}

Topology Topology::patch(const std::vector<Change>& changes, const Nearby& nearby, std::vector<std::size_t>& recut) const {
  Topology next = *this;  // shares every chunk until one is changed
  recut.clear();
  // 1. The changed features' old and new rings, and their vertices V with the distinct neighbours
  //    each will have.
  std::unordered_map<Point, std::vector<Point>, PointHash> neighbours;  // V → its new neighbours
  std::vector<OpenPolygons> fresh;
  fresh.reserve(changes.size());
  std::vector<Box> boxes;
  std::unordered_set<std::size_t> changed;
  Ring ring;
  std::vector<char> starts;
  for (const auto& c : changes) {
    changed.insert(c.feature);
    fresh.push_back(normalise(c.shape));
    Box b = empty_box();
    for (const auto& rings : fresh.back())
      for (const auto& r : rings)
        for (const auto& p : r) neighbours.try_emplace(p), extend(b, p);
    if (b.minx <= b.maxx) boxes.push_back(b);
    if (c.feature < size() && !empty(c.feature)) {
      boxes.push_back(bbox(c.feature));
      for (const auto& poly : m_features[c.feature].polygons)
        for (const auto& tr : poly) {
          unfold(tr, ring, starts);
          for (const auto& p : ring) neighbours.try_emplace(p);
        }
    }
  }
  // 2. The unchanged features near the change, at full resolution with where their arcs start.
  struct Near {
    std::size_t feature;
    std::vector<std::vector<Ring>> rings;
    std::vector<std::vector<std::vector<char>>> starts;
  };
  std::vector<std::size_t> ids;
  for (const auto& b : boxes) nearby(b, ids);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<Near> near;
  for (std::size_t id : ids) {
    if (id >= size() || changed.count(id) || empty(id)) continue;
    Near n{id, {}, {}};
    for (const auto& poly : m_features[id].polygons) {
      n.rings.emplace_back();
      n.starts.emplace_back();
      for (const auto& tr : poly) {
        unfold(tr, ring, starts);
        n.rings.back().push_back(ring);
        n.starts.back().push_back(starts);
      }
    }
    near.push_back(std::move(n));
  }
  // 3. New degrees of V: every edge at a V vertex, of the new rings and the unchanged ones.
  auto add_edges = [&](const Ring& r) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      const Point& a = r[i];
      const Point& b = r[(i + 1) % r.size()];
      if (auto it = neighbours.find(a); it != neighbours.end()) it->second.push_back(b);
      if (auto it = neighbours.find(b); it != neighbours.end()) it->second.push_back(a);
    }
  };
  for (const auto& shape : fresh)
    for (const auto& rings : shape)
      for (const auto& r : rings) add_edges(r);
  for (const auto& n : near)
    for (const auto& rings : n.rings)
      for (const auto& r : rings) add_edges(r);
  std::unordered_map<Point, bool, PointHash> junction;  // V → whether it is a junction now
  junction.reserve(neighbours.size());
  for (auto& [p, list] : neighbours) {
    std::sort(list.begin(), list.end(), less);
    list.erase(std::unique(list.begin(), list.end()), list.end());
    junction.emplace(p, list.size() != 2);
  }
  neighbours.clear();

  // 4. Unchanged features where a V vertex flips are cut anew; the others keep their arcs.
  Builder builder(next);
  std::unordered_set<std::uint32_t> seeded;
  auto seed_feature = [&](std::size_t id) {
    for (const auto& poly : m_features[id].polygons)
      for (const auto& tr : poly)
        for (const auto& ref : tr.arcs)
          if (seeded.insert(ref.arc).second) builder.seed(ref.arc, m_arcs[ref.arc].points);
  };
  for (const auto& n : near) seed_feature(n.feature);
  for (const auto& c : changes)
    if (c.feature < size()) seed_feature(c.feature);

  for (const auto& n : near) {
    bool flips = false;
    for (std::size_t p = 0; p < n.rings.size() && !flips; ++p)
      for (std::size_t r = 0; r < n.rings[p].size() && !flips; ++r)
        for (std::size_t i = 0; i < n.rings[p][r].size(); ++i)
          if (auto it = junction.find(n.rings[p][r][i]); it != junction.end() && it->second != static_cast<bool>(n.starts[p][r][i])) {
            flips = true;
            break;
          }
    if (!flips) continue;
    recut.push_back(n.feature);
    TopoFeature& f = next.m_features.mutable_at(n.feature);
    for (std::size_t p = 0; p < n.rings.size(); ++p)
      for (std::size_t r = 0; r < n.rings[p].size(); ++r) {
        const Ring& rr = n.rings[p][r];
        const auto& st = n.starts[p][r];
        f.polygons[p][r] = builder.cut(rr, [&](std::size_t i) {
          auto it = junction.find(rr[i]);
          return it != junction.end() ? it->second : static_cast<bool>(st[i]);
        });
      }
  }

  // 5. The changed features from their new rings (every vertex is in V).
  std::vector<std::size_t> order(changes.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return changes[a].feature < changes[b].feature; });
  for (std::size_t k : order) {
    TopoFeature f;
    for (const auto& rings : fresh[k]) {
      std::vector<TopoRing> out;
      for (const auto& r : rings) {
        for (const auto& p : r) extend(f.bbox, p);
        out.push_back(builder.cut(r, [&](std::size_t i) { return junction.at(r[i]); }));
      }
      f.polygons.push_back(std::move(out));
    }
    const std::size_t id = changes[k].feature;
    while (next.m_features.size() < id) next.m_features.push_back(TopoFeature{});
    if (id == next.m_features.size())
      next.m_features.push_back(std::move(f));
    else
      next.m_features.mutable_at(id) = std::move(f);
  }
  return next;
}

MultiPolygon Topology::render(std::size_t feature, double tolerance) const {
  MultiPolygon out;
  const float t = static_cast<float>(tolerance);
  for (const auto& poly : m_features[feature].polygons) {
    Polygon p;
    for (const auto& tr : poly) {
      Ring ring;
      for (const auto& ref : tr.arcs) {
        const Arc& arc = m_arcs[ref.arc];
        const std::size_t n = arc.points.size();
        for (std::size_t k = 0; k < n; ++k) {
          const std::size_t i = ref.reversed ? n - 1 - k : k;
          if (arc.importance[i] < t) continue;
          if (!ring.empty() && ring.back() == arc.points[i]) continue;  // the junction shared with the previous arc
          ring.push_back(arc.points[i]);
        }
      }
      if (!ring.empty() && !(ring.front() == ring.back())) ring.push_back(ring.front());
      if (ring.size() < 4) {
        if (p.empty()) break;  // the exterior collapsed: so does the polygon
        continue;
      }
      p.push_back(std::move(ring));
    }
    if (!p.empty()) out.push_back(std::move(p));
  }
  return out;
}

void Topology::render(std::size_t feature, double tolerance, FlatRings& out) const {
  out.clear();
  const float t = static_cast<float>(tolerance);
  auto& pts = out.points;
  for (const auto& poly : m_features[feature].polygons) {
    bool first = true;
    for (const auto& tr : poly) {
      const std::size_t begin = pts.size();
      for (const auto& ref : tr.arcs) {
        const Arc& arc = m_arcs[ref.arc];
        const float* imp = arc.importance.data();
        const Point* p = arc.points.data();
        const std::size_t n = arc.points.size();
        for (std::size_t k = 0; k < n; ++k) {
          const std::size_t i = ref.reversed ? n - 1 - k : k;
          if (imp[i] < t) continue;
          if (pts.size() > begin && pts.back() == p[i]) continue;  // the junction shared with the previous arc
          pts.push_back(p[i]);
        }
      }
      if (pts.size() > begin && !(pts[begin] == pts.back())) pts.push_back(pts[begin]);
      const bool exterior = first;
      first = false;
      if (pts.size() - begin < 4) {
        pts.resize(begin);
        if (exterior) break;  // the exterior collapsed: so does the polygon
        continue;
      }
      out.rings.push_back({static_cast<std::uint32_t>(pts.size()), exterior});
    }
  }
}

void Topology::prefetch(const std::uint32_t* features, std::size_t count) const {
  const std::uint32_t* end = features + count;
  for (const std::uint32_t* f = features; f != end; ++f) __builtin_prefetch(&m_features[*f]);
  for (const std::uint32_t* f = features; f != end; ++f) __builtin_prefetch(m_features[*f].polygons.data());
  for (const std::uint32_t* f = features; f != end; ++f)
    for (const auto& poly : m_features[*f].polygons) __builtin_prefetch(poly.data());
  for (const std::uint32_t* f = features; f != end; ++f)
    for (const auto& poly : m_features[*f].polygons)
      for (const auto& ring : poly) __builtin_prefetch(ring.arcs.data());
  for (const std::uint32_t* f = features; f != end; ++f)
    for (const auto& poly : m_features[*f].polygons)
      for (const auto& ring : poly)
        for (const auto& ref : ring.arcs) __builtin_prefetch(&m_arcs[ref.arc]);
  for (const std::uint32_t* f = features; f != end; ++f)
    for (const auto& poly : m_features[*f].polygons)
      for (const auto& ring : poly)
        for (const auto& ref : ring.arcs) {
          const Arc& arc = m_arcs[ref.arc];
          __builtin_prefetch(arc.importance.data() + (ref.reversed ? arc.importance.size() - 1 : 0));
          __builtin_prefetch(arc.points.data() + (ref.reversed ? arc.points.size() - 1 : 0));
        }
}

std::size_t Topology::vertex_count() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < m_arcs.size(); ++i) n += m_arcs[i].points.size();
  return n;
}

std::size_t Topology::used_arc_count() const {
  std::unordered_set<std::uint32_t> used;
  for (std::size_t f = 0; f < m_features.size(); ++f)
    for (const auto& poly : m_features[f].polygons)
      for (const auto& tr : poly)
        for (const auto& ref : tr.arcs) used.insert(ref.arc);
  return used.size();
}

}  // namespace wangge::tiles
