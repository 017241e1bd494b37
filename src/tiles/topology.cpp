#include "tiles/topology.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <unordered_map>

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

}  // namespace

Topology Topology::build(const std::vector<MultiPolygon>& features) {
  Topology topo;
  // 1. Vertex degree in the undirected edge graph of the whole layer: a vertex where other than
  //    two distinct neighbours meet is a junction, where arcs start and end.
  std::vector<std::pair<Point, Point>> edges;
  for (const auto& mp : features)
    for (const auto& poly : mp)
      for (const auto& ring : poly)
        for (std::size_t i = 0; i + 1 < ring.size(); ++i) {
          if (ring[i] == ring[i + 1]) continue;
          edges.emplace_back(less(ring[i], ring[i + 1]) ? std::make_pair(ring[i], ring[i + 1]) : std::make_pair(ring[i + 1], ring[i]));
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
  std::unordered_map<const std::vector<Point>*, std::uint32_t, ChainHash, ChainEq> index;
  std::vector<std::unique_ptr<std::vector<Point>>> keys;  // stable storage for the index's keys
  auto intern = [&](std::vector<Point> chain, bool loop) -> ArcRef {
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
    auto it = index.find(&chain);
    if (it != index.end()) return {it->second, reversed};
    const auto id = static_cast<std::uint32_t>(topo.m_arcs.size());
    Arc arc;
    arc.points = chain;
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
    topo.m_arcs.push_back(std::move(arc));
    keys.push_back(std::make_unique<std::vector<Point>>(std::move(chain)));
    index.emplace(keys.back().get(), id);
    return {id, reversed};
  };

  topo.m_features.reserve(features.size());
  for (const auto& mp : features) {
    TopoFeature f;
    f.bbox = {std::numeric_limits<double>::max(), std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
              -std::numeric_limits<double>::max()};
    for (const auto& poly : mp) {
      std::vector<TopoRing> rings;
      for (const auto& in : poly) {
        Ring ring;
        ring.reserve(in.size());
        for (const auto& p : in)
          if (ring.empty() || !(ring.back() == p)) ring.push_back(p);
        if (ring.size() < 4 || !(ring.front() == ring.back())) continue;
        for (const auto& p : ring) {
          f.bbox.minx = std::min(f.bbox.minx, p.x);
          f.bbox.miny = std::min(f.bbox.miny, p.y);
          f.bbox.maxx = std::max(f.bbox.maxx, p.x);
          f.bbox.maxy = std::max(f.bbox.maxy, p.y);
        }
        ring.pop_back();  // open: n distinct positions
        const std::size_t n = ring.size();
        std::size_t start = n;
        for (std::size_t i = 0; i < n; ++i)
          if (degree[ring[i]] != 2) {
            start = i;
            break;
          }
        TopoRing tr;
        if (start == n) {
          Ring loop = ring;
          loop.push_back(ring.front());
          tr.arcs.push_back(intern(std::move(loop), true));
        } else {
          std::vector<Point> chain{ring[start]};
          for (std::size_t k = 1; k <= n; ++k) {
            const Point& p = ring[(start + k) % n];
            chain.push_back(p);
            if (k == n || degree[p] != 2) {
              tr.arcs.push_back(intern(std::move(chain), false));
              chain = {p};
            }
          }
        }
        rings.push_back(std::move(tr));
      }
      if (!rings.empty()) f.polygons.push_back(std::move(rings));
    }
    topo.m_features.push_back(std::move(f));
  }
  return topo;
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
  for (const auto& a : m_arcs) n += a.points.size();
  return n;
}

}  // namespace wangge::tiles
