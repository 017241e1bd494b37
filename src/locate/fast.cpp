#include "locate/fast.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <stdexcept>

namespace wangge::locate {
namespace {

struct EdgeRef {
  std::uint32_t poly;  // id << 1 | group
  std::uint32_t v;
  bool operator<(const EdgeRef& o) const { return poly != o.poly ? poly < o.poly : v < o.v; }
  bool operator==(const EdgeRef& o) const { return poly == o.poly && v == o.v; }
};

// Metres per degree of longitude and latitude at latitude lat (CGCS2000 ellipsoid).
void metres_per_degree(double lat, double& mx, double& my) {
  constexpr double a = 6378137.0, f = 1.0 / 298.257222101, e2 = f * (2 - f);
  const double phi = lat * std::numbers::pi / 180, s = std::sin(phi);
  const double w = 1 - e2 * s * s;
  mx = a / std::sqrt(w) * std::cos(phi) * std::numbers::pi / 180;
  my = a * (1 - e2) / (w * std::sqrt(w)) * std::numbers::pi / 180;
}

}  // namespace

class FastBuilder {
 public:
  FastBuilder(FastIndex& out, const Layer& fine, const Layer& admin, double nearest_m,
              const std::function<FastIndex::Answer(Pt)>& answer_at, const FastIndex::Params& params)
      : m_out(out), m_fine(fine), m_admin(admin), m_nearest_m(nearest_m), m_answer_at(answer_at), m_params(params) {}

  void run(std::size_t fine_polygons) {
    double fx0, fy0, fx1, fy1, ax0, ay0, ax1, ay1;
    const bool has_fine = m_fine.extent(fx0, fy0, fx1, fy1), has_admin = m_admin.extent(ax0, ay0, ax1, ay1);
    if (!has_fine && !has_admin) return;
    if (!has_fine) fx0 = ax0, fy0 = ay0, fx1 = ax1, fy1 = ay1;
    if (!has_admin) ax0 = fx0, ay0 = fy0, ax1 = fx1, ay1 = fy1;
    const double x0 = std::min(fx0, ax0), y0 = std::min(fy0, ay0), x1 = std::max(fx1, ax1), y1 = std::max(fy1, ay1);
    // Top cells: about params.top_cells_per_polygon per grid-layer polygon, a power of two units
    // wide, at least 2^8 units so that both levels of children have integer sizes.
    const double target = std::max(1.0, static_cast<double>(fine_polygons) * m_params.top_cells_per_polygon);
    const double side = std::sqrt((x1 - x0) * (y1 - y0) / target) * FastIndex::kScale;
    int shift = std::max(8, static_cast<int>(std::floor(std::log2(std::max(side, 1.0)))));
    while (shift < 40) {
      const double cells = std::ceil((x1 - x0) * FastIndex::kScale / std::ldexp(1.0, shift) + 1) *
                           std::ceil((y1 - y0) * FastIndex::kScale / std::ldexp(1.0, shift) + 1);
      if (cells <= 16.0e6) break;
      ++shift;
    }
    FastIndex& o = m_out;
    o.m_shift = shift;
    const std::int64_t s0 = std::int64_t{1} << shift;
    o.m_x0 = static_cast<std::int64_t>(std::floor(x0 * FastIndex::kScale / static_cast<double>(s0))) * s0;
    o.m_y0 = static_cast<std::int64_t>(std::floor(y0 * FastIndex::kScale / static_cast<double>(s0))) * s0;
    o.m_nx = static_cast<std::int64_t>(std::ceil(x1 * FastIndex::kScale / static_cast<double>(s0))) - o.m_x0 / s0 + 1;
    o.m_ny = static_cast<std::int64_t>(std::ceil(y1 * FastIndex::kScale / static_cast<double>(s0))) - o.m_y0 / s0 + 1;
    if (o.m_nx * o.m_ny > std::numeric_limits<int>::max()) throw std::length_error("locate: fast grid too large");
    o.m_top.assign(static_cast<std::size_t>(o.m_nx * o.m_ny), FastIndex::kSlow);
    std::vector<EdgeRef> edges;
    for (std::int64_t j = 0; j < o.m_ny; ++j) {
      for (std::int64_t i = 0; i < o.m_nx; ++i) {
        const std::int64_t cx = o.m_x0 + i * s0, cy = o.m_y0 + j * s0;
        gather(m_fine, cx, cy, s0, edges);
        o.m_top[static_cast<std::size_t>(j * o.m_nx + i)] = cell(cx, cy, s0, 0, edges);
      }
    }
    o.m_stats.top = o.m_top.size();
    o.m_stats.memory_bytes = o.m_top.capacity() * 8 + o.m_codes.capacity() * 8 + o.m_leaf.capacity() * 8;
  }

 private:
  static double u2d(std::int64_t u) { return static_cast<double>(u) * FastIndex::kUnit; }

  // The edges of `layer` that touch the closed cell (exact), sorted by polygon, no repeats.
  static void gather(const Layer& layer, std::int64_t cx, std::int64_t cy, std::int64_t s, std::vector<EdgeRef>& out) {
    out.clear();
    const double x0 = u2d(cx), y0 = u2d(cy), x1 = u2d(cx + s), y1 = u2d(cy + s);
    const Pt* v = layer.vertex_data();
    layer.edges_in_box(x0, y0, x1, y1, [&](std::uint32_t id, unsigned group, std::uint32_t e) {
      if (segment_touches_box(v[e], v[e + 1], x0, y0, x1, y1)) out.push_back({id << 1 | group, e});
    });
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }

  // A subset of `parent` that touches the cell.
  void filter(const std::vector<EdgeRef>& parent, std::int64_t cx, std::int64_t cy, std::int64_t s, std::vector<EdgeRef>& out) const {
    out.clear();
    const double x0 = u2d(cx), y0 = u2d(cy), x1 = u2d(cx + s), y1 = u2d(cy + s);
    const Pt* v = m_fine.vertex_data();
    for (const EdgeRef& e : parent)
      if (segment_touches_box(v[e.v], v[e.v + 1], x0, y0, x1, y1)) out.push_back(e);
  }

  std::uint64_t direct_code(const FastIndex::Answer& a) const {
    using A = FastIndex::Answer;
    const std::uint64_t head = (std::uint64_t{FastIndex::kDirect} << 62) | (std::uint64_t{a.kind} << 60);
    if (a.kind == A::inside) return head | static_cast<std::uint64_t>(a.grid) | (static_cast<std::uint64_t>(a.micro + 1) << 30);
    if (a.kind == A::fallback) return head | static_cast<std::uint64_t>(a.admin);
    return head;
  }

  // True when no admin edge touches the cell and, for 属地兜底, no grid edge is within the
  // nearest-grid distance of any point of it: then the general answer is the same everywhere in it.
  bool uniform_outside_grids(std::int64_t cx, std::int64_t cy, std::int64_t s, bool fallback) const {
    const double x0 = u2d(cx), y0 = u2d(cy), x1 = u2d(cx + s), y1 = u2d(cy + s);
    const Pt* av = m_admin.vertex_data();
    bool touched = false;
    m_admin.edges_in_box(x0, y0, x1, y1, [&](std::uint32_t, unsigned, std::uint32_t e) {
      touched = touched || segment_touches_box(av[e], av[e + 1], x0, y0, x1, y1);
    });
    if (touched) return false;
    if (!fallback || m_nearest_m <= 0) return true;
    double mx, my;
    metres_per_degree(std::max(std::fabs(y0), std::fabs(y1)), mx, my);  // the narrowest degree in the cell
    if (!(mx > 1)) return false;
    const double rx = (x1 - x0) / 2 + m_nearest_m / mx * 1.05, ry = (y1 - y0) / 2 + m_nearest_m / my * 1.05;
    bool near = false;
    m_fine.edges_near({(x0 + x1) / 2, (y0 + y1) / 2}, rx, ry, [&](std::uint32_t, unsigned, Pt, Pt) { near = true; });
    return !near;
  }

  // `known`: an inside answer already established for this edge-free cell, else null.
  std::uint64_t cell(std::int64_t cx, std::int64_t cy, std::int64_t s, int level, const std::vector<EdgeRef>& edges,
                     FastIndex::Answer* known = nullptr) {
    FastIndex::Stats& st = m_out.m_stats;
    if (edges.empty()) {
      FastIndex::Answer a;
      if (known && known->kind == FastIndex::Answer::inside) {
        a = *known;
      } else {
        a = m_answer_at({u2d(cx + s / 2), u2d(cy + s / 2)});
        if (known) *known = a;
      }
      if (a.kind == FastIndex::Answer::inside || ((a.kind == FastIndex::Answer::outside || a.kind == FastIndex::Answer::fallback) &&
                                                  uniform_outside_grids(cx, cy, s, a.kind == FastIndex::Answer::fallback))) {
        ++st.direct;
        return direct_code(a);
      }
      // Near grids (a gap, the jurisdiction's edge): only the top level splits, to find the
      // children far enough from every grid; the rest is the general index's work.
      if (level >= 1) {
        ++st.slow;
        return FastIndex::kSlow;
      }
    } else if (edges.size() <= m_params.leaf_edges || level == 2) {
      return leaf(cx, cy, s, edges);
    }
    // Split.
    const int fan = level == 0 ? FastIndex::kFan1 : FastIndex::kFan2;
    const int n = fan * fan;
    const std::int64_t cs = s / fan;
    const std::size_t base = m_out.m_codes.size();
    if (base + static_cast<std::size_t>(n) >= (std::uint64_t{1} << 62)) throw std::length_error("locate: fast grid");
    m_out.m_codes.resize(base + static_cast<std::size_t>(n));
    ++st.blocks;
    std::vector<std::vector<EdgeRef>> sub(static_cast<std::size_t>(n));
    for (int k = 0; k < n; ++k) filter(edges, cx + (k % fan) * cs, cy + (k / fan) * cs, cs, sub[static_cast<std::size_t>(k)]);
    // Neighbouring children that no grid-layer edge touches lie in the same grids (the segment
    // between their centres crosses no edge), so each connected group of them asks the general
    // index once: most of the build's time otherwise.
    std::vector<int> group(static_cast<std::size_t>(n), -1);
    int groups = 0;
    for (int k = 0; k < n; ++k) {
      if (group[static_cast<std::size_t>(k)] >= 0 || !sub[static_cast<std::size_t>(k)].empty()) continue;
      int stack[64], top = 0;
      stack[top++] = k;
      group[static_cast<std::size_t>(k)] = groups;
      while (top > 0) {
        const int q = stack[--top];
        const int qi = q % fan, qj = q / fan;
        const int next[4][2] = {{qi - 1, qj}, {qi + 1, qj}, {qi, qj - 1}, {qi, qj + 1}};
        for (const auto& nb : next) {
          if (nb[0] < 0 || nb[0] >= fan || nb[1] < 0 || nb[1] >= fan) continue;
          const int r = nb[1] * fan + nb[0];
          if (group[static_cast<std::size_t>(r)] >= 0 || !sub[static_cast<std::size_t>(r)].empty()) continue;
          group[static_cast<std::size_t>(r)] = groups;
          stack[top++] = r;
        }
      }
      ++groups;
    }
    std::vector<FastIndex::Answer> answers(static_cast<std::size_t>(groups));
    for (int k = 0; k < n; ++k) {
      const int g = group[static_cast<std::size_t>(k)];
      const std::uint64_t code = cell(cx + (k % fan) * cs, cy + (k / fan) * cs, cs, level + 1, sub[static_cast<std::size_t>(k)],
                                      g >= 0 ? &answers[static_cast<std::size_t>(g)] : nullptr);
      m_out.m_codes[base + static_cast<std::size_t>(k)] = code;
    }
    return (std::uint64_t{FastIndex::kBlock} << 62) | base;
  }

  std::uint64_t leaf(std::int64_t cx, std::int64_t cy, std::int64_t s, const std::vector<EdgeRef>& edges) {
    FastIndex::Stats& st = m_out.m_stats;
    const Pt* v = m_fine.vertex_data();
    // A reference point inside the cell on no boundary of the grid layer: the centre, else a few
    // other lattice points of the cell.
    const FastIndex::Cell cell{cx, cy, s};
    unsigned used = 0;
    bool found = false;
    for (unsigned t = 0; t < 11 && !found; ++t) {
      const Pt c = FastIndex::reference(cell, t);
      bool on = false;
      m_covering.clear();
      m_fine.covering(c, [&](std::uint32_t id, unsigned group, bool b) {
        on = on || b;
        m_covering.push_back(id << 1 | group);
      });
      if (!on) found = true, used = t;
    }
    if (!found) {
      ++st.slow;
      return FastIndex::kSlow;
    }
    const Pt c = FastIndex::reference(cell, used);
    std::sort(m_covering.begin(), m_covering.end());
    // The leaf's vertices, each distinct point once (equal doubles are the same point).
    m_points.clear();
    auto vertex = [&](Pt q) {
      for (std::size_t k = 0; k < m_points.size(); ++k)
        if (m_points[k] == q) return static_cast<std::uint16_t>(k);
      m_points.push_back(q);
      return static_cast<std::uint16_t>(m_points.size() - 1);
    };
    m_items.clear();
    std::uint32_t n = 0;
    std::size_t refs = 0;
    // Entries in polygon order: those with edges here, merged with those covering the whole cell.
    std::size_t k = 0, m = 0;
    while (k < edges.size() || m < m_covering.size()) {
      const std::uint32_t poly =
          k < edges.size() && (m == m_covering.size() || edges[k].poly <= m_covering[m]) ? edges[k].poly : m_covering[m];
      const bool in = m < m_covering.size() && m_covering[m] == poly;
      if (in) ++m;
      const std::uint32_t tag = poly << 1 | (in ? 1u : 0u);
      m_items.push_back(static_cast<std::uint16_t>(tag & 0xffffu));
      m_items.push_back(static_cast<std::uint16_t>(tag >> 16));
      const std::size_t count_at = m_items.size();
      m_items.push_back(0);
      // An edge that starts where the previous one ended continues its chain of vertices.
      std::uint16_t last = FastIndex::kBreak;
      for (; k < edges.size() && edges[k].poly == poly; ++k) {
        const std::uint32_t e = edges[k].v;
        const std::uint16_t a = vertex(v[e]), b = vertex(v[e + 1]);
        if (a != last) {
          if (last != FastIndex::kBreak) m_items.push_back(FastIndex::kBreak);
          m_items.push_back(a);
        }
        m_items.push_back(static_cast<std::uint16_t>(b | (orient(v[e], v[e + 1], c) < 0 ? FastIndex::kReversed : 0)));
        last = b;
        ++refs;
      }
      const std::size_t count = m_items.size() - count_at - 1;
      if (count > 0xffff) throw std::length_error("locate: fast grid leaf too large");
      m_items[count_at] = static_cast<std::uint16_t>(count);
      ++n;
    }
    // Too many vertices for a leaf's scratch space (only where level 2 stops splitting): the
    // general index answers there.
    if (m_points.size() > FastIndex::kMaxLeafVertices || n > 0xffff) {
      ++st.slow;
      return FastIndex::kSlow;
    }
    auto& w = m_out.m_leaf;
    const std::size_t at = w.size();
    const std::size_t words = 1 + 2 * m_points.size() + (m_items.size() * 2 + 7) / 8;
    w.resize(at + words, 0);
    const std::uint16_t head[2] = {static_cast<std::uint16_t>(m_points.size()), static_cast<std::uint16_t>(n)};
    std::memcpy(w.data() + at, head, sizeof head);
    for (std::size_t q = 0; q < m_points.size(); ++q) std::memcpy(w.data() + at + 1 + 2 * q, &m_points[q], sizeof(Pt));
    std::memcpy(w.data() + at + 1 + 2 * m_points.size(), m_items.data(), m_items.size() * 2);
    if (at >= (std::uint64_t{1} << 44)) throw std::length_error("locate: fast grid leaves too large");
    ++st.leaves;
    st.refs += refs;
    return (std::uint64_t{FastIndex::kLeaf} << 62) | (std::uint64_t{used} << 56) |
           (std::uint64_t{std::min<std::size_t>(words, 0xfff)} << 44) | at;
  }

  FastIndex& m_out;
  const Layer& m_fine;
  const Layer& m_admin;
  double m_nearest_m;
  const std::function<FastIndex::Answer(Pt)>& m_answer_at;
  FastIndex::Params m_params;
  std::vector<std::uint32_t> m_covering;
  std::vector<Pt> m_points;
  std::vector<std::uint16_t> m_items;
};

FastIndex FastIndex::build(const Layer& fine, std::size_t fine_polygons, const Layer& admin, double nearest_m,
                           const std::function<Answer(Pt)>& answer_at, const Params& params) {
  FastIndex out;
  FastBuilder(out, fine, admin, nearest_m, answer_at, params).run(fine_polygons);
  return out;
}

}  // namespace wangge::locate
