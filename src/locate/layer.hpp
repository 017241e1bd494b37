// A point-in-polygon index over a set of polygons (each a multipolygon given as rings, read with
// the even-odd rule, so holes and islands need no special case).
//
// The plane is cut into a uniform grid of cells whose boundaries are exactly representable doubles
// (integer multiples of 2^-30 degrees), so every predicate below is exact. For each cell and each
// polygon that touches it the index stores one entry:
//   - a cell wholly inside a polygon (no edge of it touches the closed cell): a "full" entry, the
//     answer without any arithmetic (most points land in such cells);
//   - a cell crossed by the polygon's boundary: the edges that touch it ("local" edges, enough to
//     decide whether the point is on the boundary) and the parity of a horizontal ray started at
//     the right side of a run of cells [c..k], where k is the first cell whose right side no edge
//     of the polygon touches. That side is then wholly inside or outside, so the parity there is
//     one precomputed bit; the point's own parity is that bit flipped by the crossings of the
//     edges in cells c..k ("run" edges), which are the only edges its ray can cross before there.
// Crossings use the half-open rule and the exact orientation predicate, so a point gets the same
// answer as an exact point-in-polygon test (and as PostGIS ST_Covers) wherever it lies.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "core/huge_pages.hpp"
#include "locate/predicates.hpp"

namespace wangge::locate {

class Layer {
 public:
  struct Entry {
    std::uint32_t tag;    // polygon id << 2 | group << 1 | parity
    std::uint32_t begin;  // first edge in m_refs
    std::uint16_t n_local;
    std::uint16_t n_run;
    std::uint32_t poly() const { return tag >> 2; }
    unsigned group() const { return (tag >> 1) & 1u; }
    bool parity() const { return tag & 1u; }
  };

  class Builder {
   public:
    // `ring_ends[i]` is one past the last vertex of ring i in `vertices`; a ring may or may not
    // repeat its first vertex at the end. `id` < 2^30; `group` is 0 or 1 (e.g. grid/micro-grid).
    void add(std::uint32_t id, unsigned group, std::span<const Pt> vertices, std::span<const std::uint32_t> ring_ends);
    // About `cells_per_edge` cells per polygon edge over the extent of all polygons.
    Layer build(double cells_per_edge) &&;

   private:
    struct Poly {
      std::uint32_t id;
      unsigned group;
      std::uint32_t begin, end;  // closed rings in m_vertices; an edge is (v, v+1) within a ring
      std::uint32_t ring_begin, ring_end;
    };
    HugeVector<Pt> m_vertices;  // becomes the layer's
    std::vector<std::uint32_t> m_ring_ends;
    std::vector<Poly> m_polys;
    std::size_t m_edges = 0;
  };

  // Calls f(id, group, on_boundary) for every polygon whose closure contains p, in the order the
  // polygons were added (several only on shared boundaries or where polygons overlap).
  template <typename F>
  void covering(Pt p, F&& f) const;
  // Calls f(id, group, a, b) for the edges of the polygons near p: every edge that has a point in
  // the box p +- (rx, ry) is reported at least once.
  template <typename F>
  void edges_near(Pt p, double rx, double ry, F&& f) const;

  // Calls f(id, group, v) for the local edges (v, v+1) listed in the cells that overlap the box
  // [x0,x1]x[y0,y1] (an edge may come several times; every edge touching the box comes at least
  // once).
  template <typename F>
  void edges_in_box(double x0, double y0, double x1, double y1, F&& f) const;
  const Pt* vertex_data() const { return m_vertices.data(); }
  // The extent of the cells (the polygons with a margin); false when the layer is empty.
  bool extent(double& x0, double& y0, double& x1, double& y1) const {
    if (m_nx == 0) return false;
    x0 = m_fx0, y0 = m_fy0, x1 = bx(m_nx), y1 = by(m_ny);
    return true;
  }

  std::size_t memory_bytes() const;
  std::size_t cells() const { return static_cast<std::size_t>(m_nx) * static_cast<std::size_t>(m_ny); }
  std::size_t entries() const { return m_entries.size(); }
  std::size_t refs() const { return m_refs.size(); }

 private:
  static constexpr int kShift = 30;  // cell boundaries are integers times 2^-30 degrees
  double bx(std::int64_t i) const { return std::ldexp(static_cast<double>(m_x0 + i * m_cx), -kShift); }
  double by(std::int64_t j) const { return std::ldexp(static_cast<double>(m_y0 + j * m_cy), -kShift); }
  // The column whose closed span holds x, or -1 outside the grid.
  std::int64_t col_of(double x) const;
  std::int64_t row_of(double y) const;

  std::int64_t m_x0 = 0, m_y0 = 0, m_cx = 1, m_cy = 1;
  std::int64_t m_nx = 0, m_ny = 0;
  double m_inv_wx = 0, m_inv_wy = 0, m_fx0 = 0, m_fy0 = 0;
  // Huge pages (see core/huge_pages.hpp): lookups read these at random.
  HugeVector<Pt> m_vertices;
  HugeVector<std::uint32_t> m_offsets;  // per cell, into m_entries (CSR)
  HugeVector<Entry> m_entries;
  HugeVector<std::uint32_t> m_refs;  // edge = index of its first vertex

  friend class Builder;
};

inline std::int64_t Layer::col_of(double x) const {
  if (!(x >= m_fx0) || x > bx(m_nx)) return -1;
  auto i = static_cast<std::int64_t>((x - m_fx0) * m_inv_wx);
  if (i >= m_nx) i = m_nx - 1;
  // The division may round across a boundary; the boundaries themselves are exact.
  while (i > 0 && x < bx(i)) --i;
  while (i + 1 < m_nx && x > bx(i + 1)) ++i;
  return i;
}

inline std::int64_t Layer::row_of(double y) const {
  if (!(y >= m_fy0) || y > by(m_ny)) return -1;
  auto j = static_cast<std::int64_t>((y - m_fy0) * m_inv_wy);
  if (j >= m_ny) j = m_ny - 1;
  while (j > 0 && y < by(j)) --j;
  while (j + 1 < m_ny && y > by(j + 1)) ++j;
  return j;
}

template <typename F>
void Layer::covering(Pt p, F&& f) const {
  const std::int64_t i = col_of(p.x), j = row_of(p.y);
  if (i < 0 || j < 0) return;
  const std::size_t cell = static_cast<std::size_t>(j * m_nx + i);
  const Entry* e = m_entries.data() + m_offsets[cell];
  const Entry* end = m_entries.data() + m_offsets[cell + 1];
  const Pt* v = m_vertices.data();
  for (; e != end; ++e) {
    if (e->n_local == 0) {  // a full cell
      f(e->poly(), e->group(), false);
      continue;
    }
    const std::uint32_t* r = m_refs.data() + e->begin;
    bool parity = e->parity();
    bool on = false;
    for (unsigned k = 0; k < e->n_local; ++k) {
      const Pt a = v[r[k]], b = v[r[k] + 1];
      if ((a.y > p.y) != (b.y > p.y)) {
        const int s = orient(a, b, p);
        if (s == 0) {
          on = true;
          break;
        }
        if ((b.y > a.y) == (s > 0)) parity = !parity;
      } else if ((a.y == p.y || b.y == p.y) && on_segment(a, b, p)) {
        on = true;
        break;
      }
    }
    if (on) {
      f(e->poly(), e->group(), true);
      continue;
    }
    const std::uint32_t* rr = r + e->n_local;
    for (unsigned k = 0; k < e->n_run; ++k) {
      const Pt a = v[rr[k]], b = v[rr[k] + 1];
      if ((a.y > p.y) != (b.y > p.y) && (b.y > a.y) == (orient(a, b, p) > 0)) parity = !parity;
    }
    if (parity) f(e->poly(), e->group(), false);
  }
}

template <typename F>
void Layer::edges_near(Pt p, double rx, double ry, F&& f) const {
  edges_in_box(p.x - rx, p.y - ry, p.x + rx, p.y + ry,
               [&](std::uint32_t id, unsigned group, std::uint32_t v) { f(id, group, m_vertices[v], m_vertices[v + 1]); });
}

template <typename F>
void Layer::edges_in_box(double x0, double y0, double x1, double y1, F&& f) const {
  if (m_nx == 0 || x1 < m_fx0 || x0 > bx(m_nx) || y1 < m_fy0 || y0 > by(m_ny)) return;
  const std::int64_t i0 = x0 <= m_fx0 ? 0 : col_of(x0), i1 = x1 >= bx(m_nx) ? m_nx - 1 : col_of(x1);
  const std::int64_t j0 = y0 <= m_fy0 ? 0 : row_of(y0), j1 = y1 >= by(m_ny) ? m_ny - 1 : row_of(y1);
  for (std::int64_t j = j0; j <= j1; ++j) {
    for (std::int64_t i = i0; i <= i1; ++i) {
      const std::size_t cell = static_cast<std::size_t>(j * m_nx + i);
      for (std::uint32_t k = m_offsets[cell]; k < m_offsets[cell + 1]; ++k) {
        const Entry& e = m_entries[k];
        const std::uint32_t* r = m_refs.data() + e.begin;
        for (unsigned n = 0; n < e.n_local; ++n) f(e.poly(), e.group(), r[n]);
      }
    }
  }
}

}  // namespace wangge::locate
