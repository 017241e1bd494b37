#include "route/router.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <queue>
#include <unordered_map>

#include "pg/connection.hpp"

namespace wangge::route {
namespace {

constexpr double kA = 6378137.0;               // CGCS2000 semi-major axis
constexpr double kF = 1 / 298.257222101;       // CGCS2000 flattening
constexpr double kE2 = kF * (2 - kF);          // first eccentricity squared
constexpr double kDeg = 3.14159265358979323846 / 180;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kStart = kNone - 1;  // node seeded from the start position, not an arc
constexpr double kCellDeg = 0.0025;          // ~250 m: a 500 m snap looks at about 5 x 6 cells

// Metres per degree of longitude and latitude at a latitude: the radii of curvature of the ellipsoid.
std::array<double, 2> metres_per_degree(double lat) {
  const double s = std::sin(lat * kDeg);
  const double w = 1 - kE2 * s * s;
  const double n = kA / std::sqrt(w);             // prime vertical
  const double m = kA * (1 - kE2) / (w * std::sqrt(w));  // meridian
  return {n * std::cos(lat * kDeg) * kDeg, m * kDeg};
}

std::int64_t cell_key(std::int64_t ix, std::int64_t iy) { return (ix << 32) ^ (iy & 0xffffffff); }
std::int64_t cell_of(double deg) { return static_cast<std::int64_t>(std::floor(deg / kCellDeg)); }

struct PointKeyHash {
  std::size_t operator()(const LonLat& p) const noexcept {
    const auto a = std::bit_cast<std::uint64_t>(p[0]), b = std::bit_cast<std::uint64_t>(p[1]);
    return std::hash<std::uint64_t>()(a * 0x9E3779B97F4A7C15ull ^ b);
  }
};

}  // namespace

std::optional<Profile> parse_profile(std::string_view name) {
  for (Profile p : kProfiles)
    if (name == profile_name(p)) return p;
  return std::nullopt;
}

const char* profile_name(Profile p) {
  switch (p) {
    case Profile::foot: return "foot";
    case Profile::ebike: return "ebike";
    case Profile::car: return "car";
  }
  return "?";
}

double speed_kmh(Profile p, std::string_view h) {
  const bool motorway = h == "motorway" || h == "motorway_link" || h == "trunk" || h == "trunk_link";
  const bool path_only = h == "footway" || h == "pedestrian" || h == "path" || h == "steps" || h == "cycleway";
  switch (p) {
    case Profile::foot: return motorway ? 0 : 5;
    case Profile::ebike: return motorway || h == "steps" || h == "footway" || h == "pedestrian" ? 0 : 15;
    case Profile::car:
      if (path_only) return 0;
      if (motorway) return 80;
      if (h == "primary" || h == "secondary" || h == "primary_link" || h == "secondary_link") return 50;
      if (h == "tertiary" || h == "tertiary_link") return 40;  // between the two classes the issue names
      return 30;  // residential, unclassified, service, living_street, ...
  }
  return 0;
}

double distance_m(const LonLat& a, const LonLat& b) {
  const auto k = metres_per_degree((a[1] + b[1]) / 2);
  return std::hypot((b[0] - a[0]) * k[0], (b[1] - a[1]) * k[1]);
}

// Geometry and topology shared by the profiles. Vertices of all edges are stored flat: edge e owns
// points [first[e], first[e + 1]), with `cum` the distance from its first point.
class Network {
 public:
  explicit Network(const std::vector<Street>& streets) {
    std::unordered_map<LonLat, std::uint32_t, PointKeyHash> node_of;
    auto node = [&](const LonLat& p) {
      auto [it, fresh] = node_of.emplace(p, static_cast<std::uint32_t>(node_of.size()));
      (void)fresh;
      return it->second;
    };
    first.push_back(0);
    for (const auto& s : streets) {
      if (s.points.size() < 2) continue;
      const auto e = static_cast<std::uint32_t>(from.size());
      from.push_back(node(s.points.front()));
      to.push_back(node(s.points.back()));
      highway.push_back(s.highway);
      oneway.push_back(s.oneway);
      street_id.push_back(s.id);
      double c = 0;
      for (std::size_t i = 0; i < s.points.size(); ++i) {
        if (i > 0) c += distance_m(s.points[i - 1], s.points[i]);
        points.push_back(s.points[i]);
        cum.push_back(c);
        point_edge.push_back(e);
      }
      length.push_back(c);
      first.push_back(static_cast<std::uint32_t>(points.size()));
    }
    node_count = node_of.size();
    // Each segment goes into every cell its bounding box touches.
    for (std::uint32_t e = 0; e < from.size(); ++e) {
      for (std::uint32_t i = first[e]; i + 1 < first[e + 1]; ++i) {
        const auto& a = points[i];
        const auto& b = points[i + 1];
        for (auto x = cell_of(std::min(a[0], b[0])); x <= cell_of(std::max(a[0], b[0])); ++x)
          for (auto y = cell_of(std::min(a[1], b[1])); y <= cell_of(std::max(a[1], b[1])); ++y) cells[cell_key(x, y)].push_back(i);
      }
    }
  }

  std::size_t edges() const { return from.size(); }

  LonLat point_at(std::uint32_t e, double offset) const {
    const std::uint32_t lo = first[e], hi = first[e + 1];
    if (offset <= 0) return points[lo];
    if (offset >= length[e]) return points[hi - 1];
    auto it = std::upper_bound(cum.begin() + lo, cum.begin() + hi, offset);
    const auto i = static_cast<std::uint32_t>(it - cum.begin()) - 1;  // segment [i, i + 1]
    const double seg = cum[i + 1] - cum[i];
    const double t = seg > 0 ? (offset - cum[i]) / seg : 0;
    return {points[i][0] + t * (points[i + 1][0] - points[i][0]), points[i][1] + t * (points[i + 1][1] - points[i][1])};
  }

  // Appends the part of edge e between two offsets, in travel order; a point equal to the last
  // one already in `out` is not repeated.
  void append(std::uint32_t e, double a, double b, std::vector<LonLat>& out) const {
    auto push = [&out](const LonLat& p) {
      if (out.empty() || out.back() != p) out.push_back(p);
    };
    push(point_at(e, a));
    const std::uint32_t lo = first[e], hi = first[e + 1];
    if (a <= b) {
      for (std::uint32_t i = lo; i < hi; ++i)
        if (cum[i] > a && cum[i] < b) push(points[i]);
    } else {
      for (std::uint32_t i = hi; i-- > lo;)
        if (cum[i] < a && cum[i] > b) push(points[i]);
    }
    push(point_at(e, b));
  }

  std::vector<std::uint32_t> from, to;  // nodes per edge
  std::vector<double> length;
  std::vector<std::string> highway;
  std::vector<bool> oneway;
  std::vector<std::int64_t> street_id;
  std::vector<std::uint32_t> first;
  std::vector<LonLat> points;
  std::vector<double> cum;
  std::vector<std::uint32_t> point_edge;
  std::unordered_map<std::int64_t, std::vector<std::uint32_t>> cells;  // cell -> first point of segments
  std::size_t node_count = 0;
};

Graph::Graph(std::shared_ptr<const Network> net, Profile profile) : m_net(std::move(net)), m_profile(profile) {
  const Network& n = *m_net;
  const std::size_t edges = n.edges();
  m_speed_ms.resize(edges);
  m_forward.resize(edges);
  m_backward.resize(edges);
  std::vector<std::uint32_t> degree(n.node_count + 1, 0);
  for (std::size_t e = 0; e < edges; ++e) {
    m_speed_ms[e] = speed_kmh(profile, n.highway[e]) / 3.6;
    const bool ok = m_speed_ms[e] > 0;
    m_forward[e] = ok;
    // Walkers may go against one-way traffic; vehicles may not.
    m_backward[e] = ok && (profile == Profile::foot || !n.oneway[e]);
    if (m_forward[e]) ++degree[n.from[e]];
    if (m_backward[e]) ++degree[n.to[e]];
  }
  m_first.assign(n.node_count + 1, 0);
  for (std::size_t v = 0; v < n.node_count; ++v) m_first[v + 1] = m_first[v] + degree[v];
  m_arc_to.resize(m_first.back());
  m_arc_edge.resize(m_first.back());
  m_arc_forward.resize(m_first.back());
  std::vector<std::uint32_t> fill(m_first.begin(), m_first.end() - 1);
  for (std::uint32_t e = 0; e < edges; ++e) {
    if (m_forward[e]) {
      const auto a = fill[n.from[e]]++;
      m_arc_to[a] = n.to[e], m_arc_edge[a] = e, m_arc_forward[a] = true;
    }
    if (m_backward[e]) {
      const auto a = fill[n.to[e]]++;
      m_arc_to[a] = n.from[e], m_arc_edge[a] = e, m_arc_forward[a] = false;
    }
  }
}

std::size_t Graph::nodes() const { return m_net->node_count; }

std::optional<Snap> Graph::snap(const LonLat& p, double max_m) const {
  const Network& n = *m_net;
  const auto k = metres_per_degree(p[1]);
  const double dx = max_m / k[0], dy = max_m / k[1];
  std::optional<Snap> best;
  double best_d = max_m;
  for (auto x = cell_of(p[0] - dx); x <= cell_of(p[0] + dx); ++x) {
    for (auto y = cell_of(p[1] - dy); y <= cell_of(p[1] + dy); ++y) {
      auto it = n.cells.find(cell_key(x, y));
      if (it == n.cells.end()) continue;
      for (std::uint32_t i : it->second) {
        const std::uint32_t e = n.point_edge[i];
        if (!usable(e)) continue;
        // Local metric plane centred on the query point.
        const double ax = (n.points[i][0] - p[0]) * k[0], ay = (n.points[i][1] - p[1]) * k[1];
        const double bx = (n.points[i + 1][0] - p[0]) * k[0], by = (n.points[i + 1][1] - p[1]) * k[1];
        const double vx = bx - ax, vy = by - ay, len2 = vx * vx + vy * vy;
        const double t = len2 > 0 ? std::clamp(-(ax * vx + ay * vy) / len2, 0.0, 1.0) : 0.0;
        const double d = std::hypot(ax + t * vx, ay + t * vy);
        if (d > best_d || (best && d == best_d)) continue;
        best_d = d;
        const double offset = n.cum[i] + t * (n.cum[i + 1] - n.cum[i]);
        best = Snap{e, offset, d, n.point_at(e, offset)};
      }
    }
  }
  return best;
}

struct Graph::Search {
  std::vector<double> time, dist;
  std::vector<std::uint32_t> pred;  // arc that reached the node, kStart, or kNone
  // Per target: best cost found, its distance, and how: 0 direct on the start edge, 1 via the
  // target edge's first node, 2 via its last node.
  std::vector<double> best_time, best_dist;
  std::vector<int> via;
};

Graph::Search Graph::search(const Snap& s, const std::vector<const Snap*>& targets) const {
  const Network& n = *m_net;
  Search r;
  r.time.assign(n.node_count, kInf);
  r.dist.assign(n.node_count, kInf);
  r.pred.assign(n.node_count, kNone);
  r.best_time.assign(targets.size(), kInf);
  r.best_dist.assign(targets.size(), kInf);
  r.via.assign(targets.size(), -1);

  using Item = std::pair<double, std::uint32_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  auto seed = [&](std::uint32_t v, double metres) {
    const double t = metres / m_speed_ms[s.edge];
    if (t < r.time[v]) {
      r.time[v] = t, r.dist[v] = metres, r.pred[v] = kStart;
      heap.emplace(t, v);
    }
  };
  if (m_forward[s.edge]) seed(n.to[s.edge], n.length[s.edge] - s.offset_m);
  if (m_backward[s.edge]) seed(n.from[s.edge], s.offset_m);

  // Targets waiting on a node: settling the node completes one of their approaches.
  std::unordered_map<std::uint32_t, std::vector<std::pair<std::size_t, int>>> waiting;
  auto offer = [&](std::size_t i, double t, double d, int how) {
    if (t < r.best_time[i]) r.best_time[i] = t, r.best_dist[i] = d, r.via[i] = how;
  };
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!targets[i]) continue;
    const Snap& g = *targets[i];
    const double v = m_speed_ms[g.edge];
    if (g.edge == s.edge) {  // along the shared edge, when its direction allows
      const double d = std::abs(g.offset_m - s.offset_m);
      if ((g.offset_m >= s.offset_m && m_forward[g.edge]) || (g.offset_m <= s.offset_m && m_backward[g.edge]))
        offer(i, d / v, d, 0);
    }
    if (m_forward[g.edge]) waiting[n.from[g.edge]].emplace_back(i, 1);
    if (m_backward[g.edge]) waiting[n.to[g.edge]].emplace_back(i, 2);
  }
  auto worst_target = [&] {
    double w = -1;
    for (std::size_t i = 0; i < targets.size(); ++i)
      if (targets[i]) w = std::max(w, r.best_time[i]);
    return w;
  };
  double worst = worst_target();

  std::vector<bool> settled(n.node_count, false);
  while (!heap.empty()) {
    auto [t, u] = heap.top();
    heap.pop();
    if (settled[u]) continue;
    // No later node can improve a target whose best is already below this time.
    if (t >= worst) break;
    settled[u] = true;
    if (auto w = waiting.find(u); w != waiting.end()) {
      for (auto [i, how] : w->second) {
        const Snap& g = *targets[i];
        const double metres = how == 1 ? g.offset_m : n.length[g.edge] - g.offset_m;
        offer(i, t + metres / m_speed_ms[g.edge], r.dist[u] + metres, how);
      }
      worst = worst_target();
    }
    for (std::uint32_t a = m_first[u]; a < m_first[u + 1]; ++a) {
      const std::uint32_t e = m_arc_edge[a], v = m_arc_to[a];
      const double nt = t + n.length[e] / m_speed_ms[e];
      if (nt < r.time[v]) {
        r.time[v] = nt, r.dist[v] = r.dist[u] + n.length[e], r.pred[v] = a;
        heap.emplace(nt, v);
      }
    }
  }
  return r;
}

std::optional<Path> Graph::route(const Snap& from, const Snap& to) const {
  const Network& n = *m_net;
  if (!usable(from.edge) || !usable(to.edge)) return std::nullopt;
  Search r = search(from, {&to});
  if (r.via[0] < 0) return std::nullopt;
  Path path;
  path.distance_m = r.best_dist[0];
  path.duration_s = r.best_time[0];
  if (r.via[0] == 0) {
    n.append(from.edge, from.offset_m, to.offset_m, path.coordinates);
    if (path.coordinates.size() == 1) path.coordinates.push_back(path.coordinates.front());  // a LineString needs two
    return path;
  }
  const std::uint32_t end = r.via[0] == 1 ? n.from[to.edge] : n.to[to.edge];
  std::vector<std::uint32_t> arcs;
  std::uint32_t v = end;
  while (r.pred[v] != kStart) {
    const std::uint32_t a = r.pred[v];
    arcs.push_back(a);
    v = m_arc_forward[a] ? n.from[m_arc_edge[a]] : n.to[m_arc_edge[a]];
  }
  // v is the node the start position left by: the start edge's last node when travelling forward.
  n.append(from.edge, from.offset_m, v == n.to[from.edge] && m_forward[from.edge] ? n.length[from.edge] : 0, path.coordinates);
  for (auto it = arcs.rbegin(); it != arcs.rend(); ++it) {
    const std::uint32_t e = m_arc_edge[*it];
    if (m_arc_forward[*it]) n.append(e, 0, n.length[e], path.coordinates);
    else n.append(e, n.length[e], 0, path.coordinates);
  }
  n.append(to.edge, r.via[0] == 1 ? 0 : n.length[to.edge], to.offset_m, path.coordinates);
  if (path.coordinates.size() == 1) path.coordinates.push_back(path.coordinates.front());
  return path;
}

std::vector<std::optional<Cost>> Graph::costs(const Snap& from, const std::vector<std::optional<Snap>>& to) const {
  std::vector<std::optional<Cost>> out(to.size());
  if (!usable(from.edge)) return out;
  std::vector<const Snap*> targets;
  for (const auto& t : to) targets.push_back(t && usable(t->edge) ? &*t : nullptr);
  Search r = search(from, targets);
  for (std::size_t i = 0; i < to.size(); ++i)
    if (targets[i] && r.via[i] >= 0) out[i] = Cost{r.best_dist[i], r.best_time[i]};
  return out;
}

std::size_t Graph::edge_count() const { return m_net->edges(); }

Graph::EdgeView Graph::edge(std::uint32_t e) const {
  const Network& n = *m_net;
  return {n.street_id[e], n.from[e], n.to[e], n.length[e], m_speed_ms[e], m_forward[e], m_backward[e]};
}

void Graph::append_edge(std::uint32_t e, bool forward, std::vector<LonLat>& out) const {
  const double len = m_net->length[e];
  m_net->append(e, forward ? 0 : len, forward ? len : 0, out);
}

Router::Router(const std::vector<Street>& streets) : m_net(std::make_shared<const Network>(streets)) {
  for (Profile p : kProfiles) m_graphs.emplace_back(m_net, p);
}

std::size_t Router::edges() const { return m_net->edges(); }
std::size_t Router::nodes() const { return m_net->node_count; }

std::unique_ptr<Router> Router::load(pg::Connection& conn) {
  // One row per vertex; float8 text output is the shortest exact form, so shared endpoints compare equal.
  auto res = conn.exec("route.load_streets",
                       "SELECT s.id, s.highway, s.oneway, ST_X(d.geom), ST_Y(d.geom) "
                       "FROM streets s CROSS JOIN LATERAL ST_DumpPoints(s.geom) d ORDER BY s.id, d.path[1]");
  std::vector<Street> streets;
  long long current = -1;
  for (int i = 0; i < res.rows(); ++i) {
    const long long id = res.integer(i, 0);
    if (id != current) {
      current = id;
      streets.push_back(Street{{}, res.str(i, 1), res.boolean(i, 2), id});
    }
    streets.back().points.push_back({res.number(i, 3), res.number(i, 4)});
  }
  return std::make_unique<Router>(streets);
}

}  // namespace wangge::route
