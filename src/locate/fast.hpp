// The locator's fast path: an adaptive grid over the jurisdiction that answers most points with
// one or two table reads and decides the rest with a handful of exact orientation tests.
//
// The plane (EPSG:4490 degrees) is cut into square top cells of 2^k units of 2^-30 degree; a cell
// that needs it is split into 8 x 8 children, and a child into 4 x 4 again. Every cell edge is an
// integer number of units, so cell boundaries are exact doubles and a point's cell is found
// exactly. Each (closed) cell holds one 64-bit code:
//   direct  no polygon edge of the grid layer touches the closed cell, so every point of it has
//           the same covering grids and micro-grids: the answer (grid, micro-grid) is stored. The
//           same for "outside everything" and for 属地兜底 cells (no admin edge in the cell and no
//           grid edge within the nearest-grid distance of it);
//   leaf    a few polygons' edges touch the cell: the cell keeps a reference point c that lies on
//           no boundary, each candidate polygon's status at c, and the candidate's edges that
//           touch the cell. A point p's status is c's flipped once per edge crossing the segment
//           p-c (half-open on the line p-c, so an edge through a vertex counts once); every edge
//           that can cross p-c touches the cell, because both ends are in it. An edge through p
//           makes p a boundary point, as in ST_Covers. The record holds copies of the edges'
//           vertices (the same doubles, so the tests are the same), so a leaf is read from one
//           place instead of one cache miss per edge in the layer's vertex array;
//   block   the children's codes;
//   slow    anything else (a gap near grids, a leaf whose reference point could not be placed):
//           the caller asks the general index.
// The result is exactly what the general index answers, only faster: the tests compare both.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>
#include <functional>
#include <vector>

#include "core/huge_pages.hpp"
#include "locate/layer.hpp"

namespace wangge::locate {

class FastIndex {
 public:
  // What the build needs to know about a point that no grid edge comes near: the general answer.
  struct Answer {
    enum Kind : std::uint8_t { inside, fallback, outside, other } kind = other;
    std::int32_t grid = -1, micro = -1, admin = -1;
  };
  struct Params {
    double top_cells_per_polygon = 0.125;  // top cells ~ grid-layer polygons x this
    unsigned leaf_edges = 8;               // a cell with more edge references than this is split
  };
  struct Stats {
    std::size_t top = 0, blocks = 0, direct = 0, leaves = 0, slow = 0, refs = 0;
    std::size_t memory_bytes = 0;
  };

  enum Tag : std::uint64_t { kSlow = 0, kDirect = 1, kBlock = 2, kLeaf = 3 };

  // `fine`: grids (group 0) and micro-grids (group 1), `fine_polygons` of them; `admin`: the admin
  // levels; `answer_at`: the general index's answer.
  static FastIndex build(const Layer& fine, std::size_t fine_polygons, const Layer& admin, double nearest_m,
                         const std::function<Answer(Pt)>& answer_at, const Params& params);

  // A cell: origin and side, in units of 2^-30 degree.
  struct Cell {
    std::int64_t x = 0, y = 0, side = 0;
  };
  // The code of the finest cell holding p (kSlow when p is outside the grid), and that cell.
  std::uint64_t find(Pt p, Cell* where = nullptr) const;

  // find() in steps, for many points at once: start() locates the top cell and prefetches its code;
  // each step() reads the code prefetched before and, for a block, prefetches the child's code,
  // for a leaf its record. After three steps `code` and `cell` are what find() gives. Interleaving
  // the steps of a few points hides the memory latency that one point at a time waits for.
  struct Probe {
    double ux = 0, uy = 0;                // the point in units
    const std::uint64_t* slot = nullptr;  // the code to read next; null once `code` is final
    std::uint64_t code = kSlow;
    Cell cell;
    int level = 0;
  };
  void start(Pt p, Probe& q) const;
  void step(Probe& q) const;
  static Tag tag(std::uint64_t code) { return static_cast<Tag>(code >> 62); }
  // A direct code's answer.
  static Answer direct(std::uint64_t code);
  // For a leaf code and its cell: calls f(id, group, on_boundary) for every candidate polygon
  // whose closure holds p, in id order (as Layer::covering does).
  template <typename F>
  void leaf_covering(std::uint64_t code, const Cell& cell, Pt p, F&& f) const;

  const Stats& stats() const { return m_stats; }

  // Reference points of a leaf: the first of these (in eighths of the cell's side) that lies on
  // no boundary; a leaf code says which (bits 56-59), its record's size in words (bits 44-55,
  // saturated; for prefetching) and where its record starts (bits 0-43, in words).
  static constexpr int kTry[11][2] = {{4, 4}, {3, 3}, {5, 5}, {3, 5}, {5, 3}, {2, 4}, {6, 4}, {4, 2}, {4, 6}, {1, 7}, {7, 1}};
  static Pt reference(const Cell& c, unsigned t) {
    return {static_cast<double>(c.x + c.side / 8 * kTry[t][0]) * kUnit, static_cast<double>(c.y + c.side / 8 * kTry[t][1]) * kUnit};
  }

 private:
  static constexpr double kUnit = 1.0 / 1073741824.0;  // 2^-30
  static constexpr double kScale = 1073741824.0;
  static constexpr int kFan1 = 8, kFan2 = 4;
  static constexpr std::uint64_t kPayload = 0x3fffffffffffffffULL;
  // A leaf record: a header word (vertex count, entry count), the vertices (Pt), then per entry
  // its tag (id << 2 | group << 1 | status at the reference point, as two 16-bit halves, low
  // first), a count k and k 16-bit items: a vertex index starts a chain or, after one, ends the
  // edge from the previous vertex, with kReversed set when the reference point lies right of that
  // edge as stored; kBreak ends a chain. Shared vertices are stored once per leaf.
  static constexpr unsigned kMaxLeafVertices = 255;
  static constexpr std::uint16_t kBreak = 0x7fff, kReversed = 0x8000;

  // Index of the child of a cell at origin o (units), child size s, fan-out n, that holds u.
  static int child(double u, std::int64_t o, std::int64_t s, int n) {
    auto t = static_cast<std::int64_t>((u - static_cast<double>(o)) / static_cast<double>(s));
    t = t < 0 ? 0 : t >= n ? n - 1 : t;
    // The division may round across a boundary; the boundaries themselves are exact.
    if (t > 0 && u < static_cast<double>(o + t * s))
      --t;
    else if (t + 1 < n && u > static_cast<double>(o + (t + 1) * s))
      ++t;
    return static_cast<int>(t);
  }

  std::int64_t m_x0 = 0, m_y0 = 0;  // origin, units
  int m_shift = 0;                  // top cell size 2^m_shift units
  std::int64_t m_nx = 0, m_ny = 0;
  // Huge pages: a point reads one top code, up to two child codes and one leaf record, each
  // anywhere in hundreds of megabytes.
  HugeVector<std::uint64_t> m_top;
  HugeVector<std::uint64_t> m_codes;  // children of blocks, kFan^2 consecutive codes each
  HugeVector<std::uint64_t> m_leaf;   // leaf records, see leaf_covering()
  Stats m_stats;

  friend class FastBuilder;
};

inline std::uint64_t FastIndex::find(Pt p, Cell* where) const {
  const double ux = p.x * kScale, uy = p.y * kScale;
  const std::int64_t s0 = std::int64_t{1} << m_shift;
  if (!(ux >= static_cast<double>(m_x0) && ux <= static_cast<double>(m_x0 + m_nx * s0) && uy >= static_cast<double>(m_y0) &&
        uy <= static_cast<double>(m_y0 + m_ny * s0)))
    return kSlow;
  const int i = child(ux, m_x0, s0, static_cast<int>(m_nx));
  const int j = child(uy, m_y0, s0, static_cast<int>(m_ny));
  std::uint64_t code = m_top[static_cast<std::size_t>(j) * static_cast<std::size_t>(m_nx) + static_cast<std::size_t>(i)];
  std::int64_t ox = m_x0 + i * s0, oy = m_y0 + j * s0, s = s0;
  if (tag(code) == kBlock) {
    s = s0 / kFan1;
    const int i1 = child(ux, ox, s, kFan1), j1 = child(uy, oy, s, kFan1);
    ox += i1 * s, oy += j1 * s;
    code = m_codes[(code & kPayload) + static_cast<std::size_t>(j1 * kFan1 + i1)];
    if (tag(code) == kBlock) {
      s /= kFan2;
      const int i2 = child(ux, ox, s, kFan2), j2 = child(uy, oy, s, kFan2);
      ox += i2 * s, oy += j2 * s;
      code = m_codes[(code & kPayload) + static_cast<std::size_t>(j2 * kFan2 + i2)];
    }
  }
  if (where) *where = {ox, oy, s};
  return code;
}

inline FastIndex::Answer FastIndex::direct(std::uint64_t code) {
  Answer a;
  a.kind = static_cast<Answer::Kind>((code >> 60) & 3u);
  const auto lo = static_cast<std::int32_t>(code & 0x3fffffffu), hi = static_cast<std::int32_t>((code >> 30) & 0x3fffffffu);
  if (a.kind == Answer::inside) a.grid = lo, a.micro = hi - 1;
  if (a.kind == Answer::fallback) a.admin = lo;
  return a;
}

inline void FastIndex::start(Pt p, Probe& q) const {
  q.ux = p.x * kScale, q.uy = p.y * kScale;
  q.slot = nullptr, q.code = kSlow, q.level = 0;
  const std::int64_t s0 = std::int64_t{1} << m_shift;
  if (!(q.ux >= static_cast<double>(m_x0) && q.ux <= static_cast<double>(m_x0 + m_nx * s0) && q.uy >= static_cast<double>(m_y0) &&
        q.uy <= static_cast<double>(m_y0 + m_ny * s0)))
    return;
  const int i = child(q.ux, m_x0, s0, static_cast<int>(m_nx));
  const int j = child(q.uy, m_y0, s0, static_cast<int>(m_ny));
  q.slot = m_top.data() + static_cast<std::size_t>(j) * static_cast<std::size_t>(m_nx) + static_cast<std::size_t>(i);
  q.cell = {m_x0 + i * s0, m_y0 + j * s0, s0};
  __builtin_prefetch(q.slot);
}

inline void FastIndex::step(Probe& q) const {
  if (!q.slot) return;
  q.code = *q.slot;
  q.slot = nullptr;
  if (tag(q.code) == kBlock && q.level < 2) {
    const int fan = q.level == 0 ? kFan1 : kFan2;
    const std::int64_t s = q.cell.side / fan;
    const int i = child(q.ux, q.cell.x, s, fan), j = child(q.uy, q.cell.y, s, fan);
    q.cell = {q.cell.x + i * s, q.cell.y + j * s, s};
    q.slot = m_codes.data() + (q.code & kPayload) + static_cast<std::size_t>(j * fan + i);
    ++q.level;
    __builtin_prefetch(q.slot);
  } else if (tag(q.code) == kLeaf) {
    const char* r = reinterpret_cast<const char*>(m_leaf.data() + (q.code & 0xfffffffffffULL));
    const std::size_t bytes = ((q.code >> 44) & 0xfffu) * 8;
    for (std::size_t k = 0; k < bytes && k < 512; k += 64) __builtin_prefetch(r + k);
    __builtin_prefetch(r + bytes - 1);
  }
}

template <typename F>
void FastIndex::leaf_covering(std::uint64_t code, const Cell& cell, Pt p, F&& f) const {
  const std::uint64_t* rec = m_leaf.data() + (code & 0xfffffffffffULL);
  const Pt c = reference(cell, static_cast<unsigned>((code >> 56) & 15u));
  std::uint16_t head[2];
  std::memcpy(head, rec, sizeof head);
  const unsigned nv = head[0], ne = head[1];
  double xy[2 * kMaxLeafVertices];  // not Pt[]: its default initialisation would cost more than the copy
  bool left[kMaxLeafVertices];      // each vertex's side of the line p-c, shared by its edges
  std::memcpy(xy, rec + 1, nv * 2 * sizeof(double));
  for (unsigned k = 0; k < nv; ++k) left[k] = orient(p, c, {xy[2 * k], xy[2 * k + 1]}) > 0;
  const auto* w = reinterpret_cast<const std::uint16_t*>(rec + 1 + 2 * nv);
  for (unsigned e = 0; e < ne; ++e) {
    const std::uint32_t tag = w[0] | (std::uint32_t{w[1]} << 16);
    const unsigned k = w[2];
    const std::uint16_t* items = w + 3;
    w = items + k;
    bool inside = tag & 1u, on = false;
    unsigned prev = kBreak;
    for (unsigned q = 0; q < k; ++q) {
      const unsigned item = items[q], at = item & 0x7fffu;
      if (item == kBreak || prev == kBreak) {
        prev = at;
        continue;
      }
      Pt a{xy[2 * prev], xy[2 * prev + 1]}, b{xy[2 * at], xy[2 * at + 1]};
      bool sa = left[prev], sb = left[at];
      prev = at;
      if (item & kReversed) std::swap(a, b), std::swap(sa, sb);
      if (sa != sb) {
        const int o = orient(a, b, p);
        if (o == 0) {  // on the line of a-b and between its sides of p-c: on the edge
          on = true;
          break;
        }
        if (o < 0) inside = !inside;  // c is left of a-b, p right of it: a-b separates them
      } else if (p.x >= std::fmin(a.x, b.x) && p.x <= std::fmax(a.x, b.x) && p.y >= std::fmin(a.y, b.y) && p.y <= std::fmax(a.y, b.y) &&
                 orient(a, b, p) == 0) {
        on = true;
        break;
      }
    }
    if (on || inside) f(tag >> 2, (tag >> 1) & 1u, on);
  }
}

}  // namespace wangge::locate
