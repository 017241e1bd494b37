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

constexpr double kA = 6378137.0;          // CGCS2000 semi-major axis
constexpr double kF = 1 / 298.257222101;  // CGCS2000 flattening
constexpr double kE2 = kF * (2 - kF);     // first eccentricity squared
constexpr double kDeg = 3.14159265358979323846 / 180;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
constexpr double kOnNode = 1e-6;     // metres: a position this close to an edge's end stands on its node
constexpr double kCellDeg = 0.0025;  // ~250 m: a 500 m snap looks at about 5 x 6 cells

// Metres per degree of longitude and latitude at a latitude: the radii of curvature of the ellipsoid.
std::array<double, 2> metres_per_degree(double lat) {
  const double s = std::sin(lat * kDeg);
  const double w = 1 - kE2 * s * s;
  const double n = kA / std::sqrt(w);                    // prime vertical
  const double m = kA * (1 - kE2) / (w * std::sqrt(w));  // meridian
  return {n * std::cos(lat * kDeg) * kDeg, m * kDeg};
}

std::int64_t cell_key(std::int64_t ix, std::int64_t iy) { return (ix << 32) ^ (iy & 0xffffffff); }
std::int64_t cell_of(double deg) { return static_cast<std::int64_t>(std::floor(deg / kCellDeg)); }

struct PointKeyHash {
  std::size_t operator()(const LonLat& p) const noexcept {
    const auto a = std::bit_cast<std::uint64_t>(p.lon), b = std::bit_cast<std::uint64_t>(p.lat);
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
    case Profile::foot:
      return "foot";
    case Profile::ebike:
      return "ebike";
    case Profile::car:
      return "car";
  }
  return "?";
}

double travel_speed_kmh(Profile p, std::string_view h) {
  switch (p) {
    case Profile::foot:
      return 5;
    case Profile::ebike:
      return 15;
    case Profile::car:
      if (h == "motorway" || h == "motorway_link" || h == "trunk" || h == "trunk_link") return 80;
      if (h == "primary" || h == "secondary" || h == "primary_link" || h == "secondary_link") return 50;
      if (h == "tertiary" || h == "tertiary_link") return 40;  // between the two classes the issue names
      return 30;                                               // residential, unclassified, service, living_street, track, ...
  }
  return 0;
}

double speed_kmh(Profile p, std::string_view h) {
  const bool motorway = h == "motorway" || h == "motorway_link" || h == "trunk" || h == "trunk_link";
  const bool path_only =
      h == "footway" || h == "pedestrian" || h == "path" || h == "steps" || h == "cycleway" || h == "bridleway" || h == "corridor";
  switch (p) {
    case Profile::foot:
      return motorway ? 0 : travel_speed_kmh(p, h);
    case Profile::ebike:
      return motorway || h == "steps" || h == "footway" || h == "pedestrian" || h == "corridor" ? 0 : travel_speed_kmh(p, h);
    case Profile::car:
      return path_only ? 0 : travel_speed_kmh(p, h);
  }
  return 0;
}

double distance_m(const LonLat& a, const LonLat& b) {
  const auto k = metres_per_degree((a.lat + b.lat) / 2);
  return std::hypot((b.lon - a.lon) * k[0], (b.lat - a.lat) * k[1]);
}

// Geometry and topology shared by the profiles. Vertices of all edges are stored flat: edge e owns
// points [first[e], first[e + 1]), with `cum` the distance from its first point.
class Network {
 public:
  Network(const std::vector<Street>& streets, const std::vector<TurnRestriction>& restrictions) {
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
      for (std::size_t p = 0; p < 3; ++p) access.push_back(s.access ? (*s.access)[p] : kByClass);
      osm_id.push_back(s.osm_id);
      from_osm.push_back(s.from_node);
      to_osm.push_back(s.to_node);
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
    resolve(restrictions);
    // Each segment goes into every cell its bounding box touches.
    for (std::uint32_t e = 0; e < from.size(); ++e) {
      for (std::uint32_t i = first[e]; i + 1 < first[e + 1]; ++i) {
        const auto& a = points[i];
        const auto& b = points[i + 1];
        for (auto x = cell_of(std::min(a.lon, b.lon)); x <= cell_of(std::max(a.lon, b.lon)); ++x)
          for (auto y = cell_of(std::min(a.lat, b.lat)); y <= cell_of(std::max(a.lat, b.lat)); ++y) cells[cell_key(x, y)].push_back(i);
      }
    }
  }

  std::size_t edges() const { return from.size(); }

  // Turn restrictions become (via node, from edge, to edge) rules: the pieces of the from and to
  // ways that end at the via node.
  void resolve(const std::vector<TurnRestriction>& restrictions) {
    if (restrictions.empty()) return;
    std::unordered_map<long long, std::vector<std::uint32_t>> edges_of_way;
    for (std::uint32_t e = 0; e < from.size(); ++e)
      if (osm_id[e] != 0) edges_of_way[osm_id[e]].push_back(e);
    // The ends of a way's pieces at an OSM node: (edge, router node).
    auto ends_at = [&](long long way, long long node) {
      std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
      auto it = edges_of_way.find(way);
      if (it == edges_of_way.end()) return out;
      for (std::uint32_t e : it->second) {
        if (from_osm[e] == node) out.emplace_back(e, from[e]);
        if (to_osm[e] == node && to[e] != from[e]) out.emplace_back(e, to[e]);
      }
      return out;
    };
    for (const auto& r : restrictions) {
      for (auto [fe, fv] : ends_at(r.from_way, r.via_node))
        for (auto [te, tv] : ends_at(r.to_way, r.via_node))
          if (fv == tv) turns[fv].push_back(Turn{fe, te, r.only});
    }
    for (const auto& [v, list] : turns) turn_count += list.size();
  }

  LonLat point_at(std::uint32_t e, double offset) const {
    const std::uint32_t lo = first[e], hi = first[e + 1];
    if (offset <= 0) return points[lo];
    if (offset >= length[e]) return points[hi - 1];
    auto it = std::upper_bound(cum.begin() + lo, cum.begin() + hi, offset);
    const auto i = static_cast<std::uint32_t>(it - cum.begin()) - 1;  // segment [i, i + 1]
    const double seg = cum[i + 1] - cum[i];
    const double t = seg > 0 ? (offset - cum[i]) / seg : 0;
    return {points[i].lon + t * (points[i + 1].lon - points[i].lon), points[i].lat + t * (points[i + 1].lat - points[i].lat)};
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
  static constexpr std::uint8_t kByClass = 0xff;
  std::vector<std::uint8_t> access;  // 3 per edge (by Profile): kForward | kBackward, or kByClass
  std::vector<long long> osm_id, from_osm, to_osm;
  struct Turn {
    std::uint32_t from_edge, to_edge;
    bool only;
  };
  std::unordered_map<std::uint32_t, std::vector<Turn>> turns;  // by via node
  std::size_t turn_count = 0;
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
    const std::uint8_t bits = n.access[3 * e + static_cast<std::size_t>(profile)];
    if (bits == Network::kByClass) {
      m_speed_ms[e] = speed_kmh(profile, n.highway[e]) / 3.6;
      const bool ok = m_speed_ms[e] > 0;
      m_forward[e] = ok;
      // Walkers may go against one-way traffic; vehicles may not.
      m_backward[e] = ok && (profile == Profile::foot || !n.oneway[e]);
    } else {
      m_forward[e] = (bits & kForward) != 0;
      m_backward[e] = (bits & kBackward) != 0;
      m_speed_ms[e] = m_forward[e] || m_backward[e] ? travel_speed_kmh(profile, n.highway[e]) / 3.6 : 0;
    }
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
  m_turns = profile == Profile::car && n.turn_count > 0;
}

std::size_t Graph::nodes() const { return m_net->node_count; }

bool Graph::turn_allowed(std::uint32_t node, std::uint32_t in_edge, std::uint32_t out_edge) const {
  if (!m_turns || in_edge == kNone || out_edge == kNone) return true;
  auto it = m_net->turns.find(node);
  if (it == m_net->turns.end()) return true;
  bool has_only = false, only_match = false;
  for (const auto& t : it->second) {
    if (t.from_edge != in_edge) continue;
    if (t.only) {
      has_only = true;
      only_match = only_match || t.to_edge == out_edge;
    } else if (t.to_edge == out_edge) {
      return false;
    }
  }
  return !has_only || only_match;
}

std::optional<Snap> Graph::snap(const LonLat& p, double max_m) const {
  const Network& n = *m_net;
  const auto k = metres_per_degree(p.lat);
  const double dx = max_m / k[0], dy = max_m / k[1];
  std::optional<Snap> best;
  double best_d2 = max_m * max_m;  // squared: no square root per segment
  for (auto x = cell_of(p.lon - dx); x <= cell_of(p.lon + dx); ++x) {
    for (auto y = cell_of(p.lat - dy); y <= cell_of(p.lat + dy); ++y) {
      auto it = n.cells.find(cell_key(x, y));
      if (it == n.cells.end()) continue;
      for (std::uint32_t i : it->second) {
        const std::uint32_t e = n.point_edge[i];
        if (!usable(e)) continue;
        // Local metric plane centred on the query point.
        const double ax = (n.points[i].lon - p.lon) * k[0], ay = (n.points[i].lat - p.lat) * k[1];
        const double bx = (n.points[i + 1].lon - p.lon) * k[0], by = (n.points[i + 1].lat - p.lat) * k[1];
        const double vx = bx - ax, vy = by - ay, len2 = vx * vx + vy * vy;
        const double t = len2 > 0 ? std::clamp(-(ax * vx + ay * vy) / len2, 0.0, 1.0) : 0.0;
        const double ex = ax + t * vx, ey = ay + t * vy, d2 = ex * ex + ey * ey;
        if (d2 > best_d2 || (best && d2 == best_d2)) continue;
        best_d2 = d2;
        const double offset = n.cum[i] + t * (n.cum[i + 1] - n.cum[i]);
        best = Snap{e, offset, std::sqrt(d2), n.point_at(e, offset)};
      }
    }
  }
  return best;
}

// States are arcs (a node entered along an arc) plus two virtual states for the start position:
// standing at the start edge's last node (kAtTo) or first node (kAtFrom).
struct Graph::Search {
  std::vector<double> time, dist;
  std::vector<std::uint32_t> pred;  // state that reached the state; kNone for the virtual ones
  // Per target: best cost found, its distance, how (0 directly along the start edge, 1 via the
  // target edge's first node, 2 via its last node), and the state it was reached from.
  std::vector<double> best_time, best_dist;
  std::vector<int> via;
  std::vector<std::uint32_t> via_state;
};

Graph::Search Graph::search(const Snap& s, const std::vector<const Snap*>& targets) const {
  const Network& n = *m_net;
  const auto arcs = static_cast<std::uint32_t>(m_arc_to.size());
  const std::uint32_t kAtTo = arcs, kAtFrom = arcs + 1;
  Search r;
  r.time.assign(arcs + 2, kInf);
  r.dist.assign(arcs + 2, kInf);
  r.pred.assign(arcs + 2, kNone);
  r.best_time.assign(targets.size(), kInf);
  r.best_dist.assign(targets.size(), kInf);
  r.via.assign(targets.size(), -1);
  r.via_state.assign(targets.size(), kNone);

  const double len = n.length[s.edge];
  // The edge a state's node was entered along (kNone: standing on the start node itself), and
  // whether along its direction.
  std::array<std::uint32_t, 2> virtual_in{kNone, kNone};
  auto in_forward = [&](std::uint32_t st) { return st < arcs ? static_cast<bool>(m_arc_forward[st]) : st == kAtTo; };
  // Cars turn round on a node only at a dead end (one arc leaving it); walkers and riders anywhere.
  // (A U-turn never shortens a path without turn restrictions, so costs stay pgr_dijkstra's.)
  auto u_turn = [&](std::uint32_t u, std::uint32_t in, bool in_fwd, std::uint32_t out, bool out_fwd) {
    return m_profile == Profile::car && in != kNone && out == in && in_fwd != out_fwd && n.from[in] != n.to[in] &&
           m_first[u + 1] - m_first[u] > 1;
  };
  auto node_of = [&](std::uint32_t st) { return st < arcs ? m_arc_to[st] : st == kAtTo ? n.to[s.edge] : n.from[s.edge]; };
  auto in_edge = [&](std::uint32_t st) { return st < arcs ? m_arc_edge[st] : virtual_in[st - arcs]; };

  using Item = std::pair<double, std::uint32_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  auto seed = [&](std::uint32_t st, double metres) {
    const double t = metres / m_speed_ms[s.edge];
    r.time[st] = t, r.dist[st] = metres;
    virtual_in[st - arcs] = metres > kOnNode ? s.edge : kNone;
    heap.emplace(t, st);
  };
  // A position exactly on a node stands on it, whatever the edge's direction.
  if (m_forward[s.edge] || s.offset_m >= len - kOnNode) seed(kAtTo, std::max(0.0, len - s.offset_m));
  if (m_backward[s.edge] || s.offset_m <= kOnNode) seed(kAtFrom, std::max(0.0, s.offset_m));

  // Targets waiting on a node: settling a state there completes one of their approaches.
  struct Approach {
    std::size_t target;
    int how;                 // 1: forward along the target edge, 2: backward
    std::uint32_t out_edge;  // kNone: the target is the node itself
    double metres;
    std::int32_t next = -1;  // the node's next approach, in the order they were added
  };
  // Per node, a list threaded through `approaches` (flat arrays: a hash lookup per settled state
  // was most of a matrix search's time).
  std::vector<Approach> approaches;
  std::vector<std::int32_t> wait_head(n.node_count, -1), wait_tail(n.node_count, -1);
  auto wait_at = [&](std::uint32_t node, Approach ap) {
    const auto k = static_cast<std::int32_t>(approaches.size());
    approaches.push_back(ap);
    if (wait_tail[node] >= 0)
      approaches[static_cast<std::size_t>(wait_tail[node])].next = k;
    else
      wait_head[node] = k;
    wait_tail[node] = k;
  };
  std::size_t unreached = 0;  // targets without any cost yet: until none is left, the worst is infinite
  for (const Snap* g : targets) unreached += g != nullptr;
  auto offer = [&](std::size_t i, double t, double d, int how, std::uint32_t st) {
    if (r.best_time[i] == kInf) --unreached;
    if (t < r.best_time[i]) r.best_time[i] = t, r.best_dist[i] = d, r.via[i] = how, r.via_state[i] = st;
  };
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!targets[i]) continue;
    const Snap& g = *targets[i];
    const double v = m_speed_ms[g.edge];
    const double glen = n.length[g.edge];
    if (g.edge == s.edge) {  // along the shared edge, when its direction allows
      const double d = std::abs(g.offset_m - s.offset_m);
      if (d == 0 || (g.offset_m > s.offset_m && m_forward[g.edge]) || (g.offset_m < s.offset_m && m_backward[g.edge]))
        offer(i, d / v, d, 0, kNone);
    }
    if (m_forward[g.edge] || g.offset_m <= kOnNode)
      wait_at(n.from[g.edge], {i, 1, g.offset_m > kOnNode ? g.edge : kNone, std::max(0.0, g.offset_m)});
    if (m_backward[g.edge] || g.offset_m >= glen - kOnNode)
      wait_at(n.to[g.edge], {i, 2, g.offset_m < glen - kOnNode ? g.edge : kNone, std::max(0.0, glen - g.offset_m)});
  }
  auto worst_target = [&] {
    if (unreached > 0) return kInf;  // a many-to-many matrix would otherwise pay O(targets) per settled target node
    double w = -1;
    for (std::size_t i = 0; i < targets.size(); ++i)
      if (targets[i]) w = std::max(w, r.best_time[i]);
    return w;
  };
  double worst = worst_target();

  std::vector<bool> settled(arcs + 2, false);
  // Walkers and riders have no turn restrictions and may turn round anywhere, so how a node was
  // entered never matters: the first (fastest) state at a node is the only one worth expanding,
  // which makes the search node-based (half the work on a two-way street network). Cars keep the
  // arc states their restrictions and U-turn rule need.
  const bool by_node = m_profile != Profile::car;
  std::vector<bool> node_done(by_node ? n.node_count : 0, false);
  while (!heap.empty()) {
    auto [t, st] = heap.top();
    heap.pop();
    if (settled[st]) continue;
    // No later state can improve a target whose best is already below this time.
    if (t >= worst) break;
    settled[st] = true;
    if (by_node) {
      const std::uint32_t node = node_of(st);
      if (node_done[node]) continue;
      node_done[node] = true;
    }
    const std::uint32_t u = node_of(st), in = in_edge(st);
    const bool in_fwd = in_forward(st);
    if (wait_head[u] >= 0) {
      for (std::int32_t k = wait_head[u]; k >= 0; k = approaches[static_cast<std::size_t>(k)].next) {
        const Approach& ap = approaches[static_cast<std::size_t>(k)];
        if (!turn_allowed(u, in, ap.out_edge) || u_turn(u, in, in_fwd, ap.out_edge, ap.how == 1)) continue;
        const Snap& g = *targets[ap.target];
        offer(ap.target, t + ap.metres / m_speed_ms[g.edge], r.dist[st] + ap.metres, ap.how, st);
      }
      worst = worst_target();
    }
    for (std::uint32_t a = m_first[u]; a < m_first[u + 1]; ++a) {
      const std::uint32_t e = m_arc_edge[a];
      if (!turn_allowed(u, in, e) || u_turn(u, in, in_fwd, e, m_arc_forward[a])) continue;
      const double nt = t + n.length[e] / m_speed_ms[e];
      if (nt < r.time[a]) {
        r.time[a] = nt, r.dist[a] = r.dist[st] + n.length[e], r.pred[a] = st;
        heap.emplace(nt, a);
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
  const auto arcs = static_cast<std::uint32_t>(m_arc_to.size());
  std::vector<std::uint32_t> taken;
  std::uint32_t st = r.via_state[0];
  while (st < arcs) {
    taken.push_back(st);
    st = r.pred[st];
  }
  // st is the virtual start state: the start position left by the start edge's last node (arcs)
  // or its first node (arcs + 1).
  n.append(from.edge, from.offset_m, st == arcs ? n.length[from.edge] : 0, path.coordinates);
  for (auto it = taken.rbegin(); it != taken.rend(); ++it) {
    const std::uint32_t e = m_arc_edge[*it];
    if (m_arc_forward[*it])
      n.append(e, 0, n.length[e], path.coordinates);
    else
      n.append(e, n.length[e], 0, path.coordinates);
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

void Graph::append_edge(std::uint32_t e, Direction direction, std::vector<LonLat>& out) const {
  const bool forward = direction == Direction::forward;
  const double len = m_net->length[e];
  m_net->append(e, forward ? 0 : len, forward ? len : 0, out);
}

Router::Router(const std::vector<Street>& streets, const std::vector<TurnRestriction>& restrictions)
    : m_net(std::make_shared<const Network>(streets, restrictions)) {
  for (Profile p : kProfiles) m_graphs.emplace_back(m_net, p);
}

std::size_t Router::edges() const { return m_net->edges(); }
std::size_t Router::nodes() const { return m_net->node_count; }
std::size_t Router::restricted_turns() const { return m_net->turn_count; }

std::unique_ptr<Router> Router::load(pg::Connection& conn) {
  // One consistent view: the revision, the streets and the restrictions from the same snapshot.
  pg::Transaction tx(conn);
  tx.exec("route.isolation", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const long long revision = tx.exec("route.revision", "SELECT last_value FROM streets_revision").integer(0, 0);
  // One row per vertex; float8 text output is the shortest exact form, so shared endpoints compare equal.
  auto res = tx.exec("route.load_streets",
                     "SELECT s.id, s.highway, s.oneway, ST_X(d.geom), ST_Y(d.geom), coalesce(s.osm_id, 0), "
                     "coalesce(s.from_node, 0), coalesce(s.to_node, 0), "
                     "s.foot_fwd, s.foot_bwd, s.ebike_fwd, s.ebike_bwd, s.car_fwd, s.car_bwd "
                     "FROM streets s CROSS JOIN LATERAL ST_DumpPoints(s.geom) d ORDER BY s.id, d.path[1]");
  auto rr = tx.exec("route.load_restrictions", "SELECT kind = 'only', from_way, via_node, to_way FROM street_restrictions ORDER BY id");
  tx.commit();
  std::vector<Street> streets;
  long long current = -1;
  for (int i = 0; i < res.rows(); ++i) {
    const long long id = res.integer(i, 0);
    if (id != current) {
      current = id;
      Street s{{}, res.str(i, 1), res.boolean(i, 2)};
      s.id = id;
      s.osm_id = res.integer(i, 5);
      s.from_node = res.integer(i, 6);
      s.to_node = res.integer(i, 7);
      // Explicit access only when every flag is there; otherwise the class rules.
      bool all = true;
      std::array<std::uint8_t, 3> bits{};
      for (int p = 0; p < 3; ++p) {
        all = all && !res.is_null(i, 8 + 2 * p) && !res.is_null(i, 9 + 2 * p);
        if (all) bits[p] = (res.boolean(i, 8 + 2 * p) ? kForward : 0) | (res.boolean(i, 9 + 2 * p) ? kBackward : 0);
      }
      if (all) s.access = bits;
      streets.push_back(std::move(s));
    }
    streets.back().points.push_back({res.number(i, 3), res.number(i, 4)});
  }
  std::vector<TurnRestriction> restrictions;
  for (int i = 0; i < rr.rows(); ++i) restrictions.push_back({rr.boolean(i, 0), rr.integer(i, 1), rr.integer(i, 2), rr.integer(i, 3)});
  auto router = std::make_unique<Router>(streets, restrictions);
  router->m_revision = revision;
  return router;
}

}  // namespace wangge::route
