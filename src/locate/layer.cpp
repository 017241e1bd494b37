#include "locate/layer.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace wangge::locate {
namespace {

// The half-open crossing rule: does the ray from q towards +x cross edge a-b?
inline bool crosses(Pt a, Pt b, Pt q) { return (a.y > q.y) != (b.y > q.y) && (b.y > a.y) == (orient(a, b, q) > 0); }

struct CellEdge {
  std::uint32_t col;
  std::uint32_t edge;
};

}  // namespace

void Layer::Builder::add(std::uint32_t id, unsigned group, std::span<const Pt> vertices, std::span<const std::uint32_t> ring_ends) {
  if (id >= (1u << 30)) throw std::invalid_argument("locate: polygon id too large");
  Poly poly{id, group & 1u, static_cast<std::uint32_t>(m_vertices.size()), 0, static_cast<std::uint32_t>(m_ring_ends.size()), 0};
  std::uint32_t start = 0;
  for (std::uint32_t end : ring_ends) {
    if (end <= start || end > vertices.size()) throw std::invalid_argument("locate: bad ring bounds");
    const std::size_t before = m_vertices.size();
    for (std::uint32_t k = start; k < end; ++k) {
      if (!std::isfinite(vertices[k].x) || !std::isfinite(vertices[k].y)) throw std::invalid_argument("locate: non-finite vertex");
      m_vertices.push_back(vertices[k]);
    }
    if (!(vertices[start] == vertices[end - 1])) m_vertices.push_back(vertices[start]);
    m_edges += m_vertices.size() - before - 1;
    m_ring_ends.push_back(static_cast<std::uint32_t>(m_vertices.size()));
    start = end;
  }
  poly.end = static_cast<std::uint32_t>(m_vertices.size());
  poly.ring_end = static_cast<std::uint32_t>(m_ring_ends.size());
  if (m_vertices.size() >= std::numeric_limits<std::uint32_t>::max() - 1) throw std::length_error("locate: too many vertices in one layer");
  m_polys.push_back(poly);
}

Layer Layer::Builder::build(double cells_per_edge) && {
  Layer L;
  L.m_vertices = std::move(m_vertices);
  const auto& V = L.m_vertices;
  if (V.empty()) {
    L.m_offsets.assign(1, 0);
    return L;
  }
  double minx = V[0].x, maxx = V[0].x, miny = V[0].y, maxy = V[0].y;
  for (const Pt& p : V) {
    minx = std::min(minx, p.x), maxx = std::max(maxx, p.x);
    miny = std::min(miny, p.y), maxy = std::max(maxy, p.y);
  }
  // Cells roughly square on the ground; their count follows the number of edges.
  const double scale = std::ldexp(1.0, kShift);
  const double target = std::clamp(static_cast<double>(m_edges) * cells_per_edge, 1.0, 64.0e6);
  const double r = 1.0 / std::max(0.1, std::cos((miny + maxy) / 2 * 3.141592653589793 / 180));
  const double w = std::max(maxx - minx, 1e-6), h = std::max(maxy - miny, 1e-6);
  const double wy = std::sqrt(w * h / (r * target));
  L.m_cx = std::max<std::int64_t>(1, std::llround(wy * r * scale));
  L.m_cy = std::max<std::int64_t>(1, std::llround(wy * scale));
  // One unit of margin on each side: no vertex lies on the grid's outer boundary.
  L.m_x0 = static_cast<std::int64_t>(std::floor(minx * scale)) - 1;
  L.m_y0 = static_cast<std::int64_t>(std::floor(miny * scale)) - 1;
  L.m_nx = (static_cast<std::int64_t>(std::ceil(maxx * scale)) + 1 - L.m_x0) / L.m_cx + 1;
  L.m_ny = (static_cast<std::int64_t>(std::ceil(maxy * scale)) + 1 - L.m_y0) / L.m_cy + 1;
  L.m_fx0 = L.bx(0), L.m_fy0 = L.by(0);
  L.m_inv_wx = scale / static_cast<double>(L.m_cx);
  L.m_inv_wy = scale / static_cast<double>(L.m_cy);
  const std::int64_t nx = L.m_nx;

  struct Pending {
    std::uint32_t cell;
    Entry entry;
  };
  std::vector<Pending> pending;
  auto& refs = L.m_refs;
  std::vector<std::uint32_t> stamp(V.size(), 0);  // dedups edges within one entry's run
  std::uint32_t stamp_now = 0;
  std::vector<std::vector<CellEdge>> rows;  // per row of the polygon: (col, edge)
  std::vector<std::uint32_t> run;

  auto push_entry = [&](std::int64_t row, std::int64_t col, std::uint32_t tag, std::uint32_t begin, std::size_t n_local,
                        std::size_t n_run) {
    if (n_local > 0xffff || n_run > 0xffff) throw std::length_error("locate: too many edges in one cell; use more cells per edge");
    pending.push_back({static_cast<std::uint32_t>(row * nx + col),
                       Entry{tag, begin, static_cast<std::uint16_t>(n_local), static_cast<std::uint16_t>(n_run)}});
  };

  for (const Poly& poly : m_polys) {
    // Which cells each edge touches, row by row (exact test; the floating-point range is padded).
    double pminy = V[poly.begin].y, pmaxy = pminy;
    for (std::uint32_t v = poly.begin; v < poly.end; ++v) pminy = std::min(pminy, V[v].y), pmaxy = std::max(pmaxy, V[v].y);
    // One row of margin: an edge on a row boundary also touches the row beyond it.
    const std::int64_t row0 = std::max<std::int64_t>(0, L.row_of(pminy) - 1);
    const std::int64_t row1 = std::min(L.m_ny - 1, L.row_of(pmaxy) + 1);
    rows.assign(static_cast<std::size_t>(row1 - row0 + 1), {});
    std::uint32_t ring_start = poly.begin;
    for (std::uint32_t ri = poly.ring_begin; ri < poly.ring_end; ++ri) {
      const std::uint32_t ring_end = m_ring_ends[ri];
      for (std::uint32_t v = ring_start; v + 1 < ring_end; ++v) {
        const Pt a = V[v], b = V[v + 1];
        if (a == b) continue;
        const std::int64_t j0 = L.row_of(std::min(a.y, b.y)), j1 = L.row_of(std::max(a.y, b.y));
        for (std::int64_t j = std::max(row0, j0 - 1); j <= std::min(row1, j1 + 1); ++j) {
          const double ylo = L.by(j), yhi = L.by(j + 1);
          if (std::max(a.y, b.y) < ylo || std::min(a.y, b.y) > yhi) continue;
          double xa = std::min(a.x, b.x), xb = std::max(a.x, b.x);
          if (a.y != b.y) {
            double t0 = (ylo - a.y) / (b.y - a.y), t1 = (yhi - a.y) / (b.y - a.y);
            if (t0 > t1) std::swap(t0, t1);
            t0 = std::clamp(t0, 0.0, 1.0), t1 = std::clamp(t1, 0.0, 1.0);
            const double x0 = a.x + t0 * (b.x - a.x), x1 = a.x + t1 * (b.x - a.x);
            xa = std::max(xa, std::min(x0, x1)), xb = std::min(xb, std::max(x0, x1));
          }
          const std::int64_t i0 = std::max<std::int64_t>(0, L.col_of(std::max(xa, L.m_fx0)) - 1);
          std::int64_t i1 = L.col_of(std::min(xb, L.bx(nx)));
          i1 = std::min(nx - 1, (i1 < 0 ? nx - 1 : i1) + 1);
          for (std::int64_t i = i0; i <= i1; ++i) {
            if (segment_touches_box(a, b, L.bx(i), ylo, L.bx(i + 1), yhi))
              rows[static_cast<std::size_t>(j - row0)].push_back({static_cast<std::uint32_t>(i), v});
          }
        }
      }
      ring_start = ring_end;
    }

    const std::uint32_t tag_base = (poly.id << 2) | (poly.group << 1);
    for (std::size_t rj = 0; rj < rows.size(); ++rj) {
      auto& cells = rows[rj];
      if (cells.empty()) continue;  // a row the boundary does not reach is outside the polygon
      std::sort(cells.begin(), cells.end(),
                [](const CellEdge& x, const CellEdge& y) { return x.col != y.col ? x.col < y.col : x.edge < y.edge; });
      cells.erase(
          std::unique(cells.begin(), cells.end(), [](const CellEdge& x, const CellEdge& y) { return x.col == y.col && x.edge == y.edge; }),
          cells.end());
      const std::int64_t j = row0 + static_cast<std::int64_t>(rj);
      const double ylo = L.by(j), yhi = L.by(j + 1);
      const double ymid = std::ldexp(static_cast<double>(2 * L.m_y0 + (2 * j + 1) * L.m_cy), -kShift - 1);
      // Spans of `cells` per touched column.
      std::vector<std::pair<std::uint32_t, std::pair<std::size_t, std::size_t>>> touched;
      for (std::size_t k = 0; k < cells.size();) {
        std::size_t e = k;
        while (e < cells.size() && cells[e].col == cells[k].col) ++e;
        touched.push_back({cells[k].col, {k, e}});
        k = e;
      }
      bool parity = false;  // left of the first touched cell the row is outside
      std::int64_t last_end = -1;
      for (std::size_t g = 0; g < touched.size();) {
        // A group of consecutive touched columns [g, h).
        std::size_t h = g + 1;
        while (h < touched.size() && touched[h].first == touched[h - 1].first + 1) ++h;
        if (parity) {
          for (std::int64_t c = last_end + 1; c < static_cast<std::int64_t>(touched[g].first); ++c)
            push_entry(j, c, tag_base | 1u, 0, 0, 0);
        }
        std::size_t s = g;  // first cell of the current sub-run; its left side is clean
        for (std::size_t c = g; c < h; ++c) {
          const std::int64_t col = touched[c].first;
          bool clean = c + 1 == h;
          if (!clean) {
            clean = true;
            const Pt top{L.bx(col + 1), yhi}, bottom{L.bx(col + 1), ylo};
            for (std::size_t k = touched[c].second.first; k < touched[c].second.second && clean; ++k) {
              const std::uint32_t v = cells[k].edge;
              if (segments_touch(V[v], V[v + 1], bottom, top)) clean = false;
            }
          }
          if (!clean) continue;
          // Sub-run [s, c]: the parity at its right side, from the parity at its left side.
          const Pt q_left{L.bx(touched[s].first), ymid}, q_right{L.bx(col + 1), ymid};
          ++stamp_now;
          for (std::size_t cc = s; cc <= c; ++cc) {
            for (std::size_t k = touched[cc].second.first; k < touched[cc].second.second; ++k) {
              const std::uint32_t v = cells[k].edge;
              if (stamp[v] == stamp_now) continue;
              stamp[v] = stamp_now;
              if (crosses(V[v], V[v + 1], q_left) != crosses(V[v], V[v + 1], q_right)) parity = !parity;
            }
          }
          // One entry per cell of the sub-run: its own edges, then the rest of the run's edges.
          for (std::size_t cc = s; cc <= c; ++cc) {
            ++stamp_now;
            const auto begin = static_cast<std::uint32_t>(refs.size());
            for (std::size_t k = touched[cc].second.first; k < touched[cc].second.second; ++k) {
              stamp[cells[k].edge] = stamp_now;
              refs.push_back(cells[k].edge);
            }
            const std::size_t n_local = refs.size() - begin;
            for (std::size_t c2 = cc + 1; c2 <= c; ++c2) {
              for (std::size_t k = touched[c2].second.first; k < touched[c2].second.second; ++k) {
                const std::uint32_t v = cells[k].edge;
                if (stamp[v] == stamp_now) continue;
                stamp[v] = stamp_now;
                refs.push_back(v);
              }
            }
            push_entry(j, touched[cc].first, tag_base | (parity ? 1u : 0u), begin, n_local, refs.size() - begin - n_local);
          }
          s = c + 1;
        }
        last_end = touched[h - 1].first;
        g = h;
      }
      if (refs.size() >= std::numeric_limits<std::uint32_t>::max() - 0x20000)
        throw std::length_error("locate: too many edge references in one layer");
    }
  }

  // Group the entries by cell; within a cell they stay in the order the polygons were added.
  std::stable_sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) { return a.cell < b.cell; });
  const std::size_t ncell = static_cast<std::size_t>(L.m_nx * L.m_ny);
  if (pending.size() >= std::numeric_limits<std::uint32_t>::max()) throw std::length_error("locate: too many entries");
  L.m_offsets.assign(ncell + 1, 0);
  L.m_entries.reserve(pending.size());
  for (const Pending& p : pending) {
    ++L.m_offsets[p.cell + 1];
    L.m_entries.push_back(p.entry);
  }
  for (std::size_t c = 0; c < ncell; ++c) L.m_offsets[c + 1] += L.m_offsets[c];
  // Lay the edge references out in cell order: a query then reads one contiguous block instead of
  // one block per polygon (memory latency, not arithmetic, bounds the query).
  HugeVector<std::uint32_t> packed;
  packed.reserve(refs.size());
  for (Entry& e : L.m_entries) {
    const std::uint32_t begin = static_cast<std::uint32_t>(packed.size());
    packed.insert(packed.end(), refs.begin() + e.begin, refs.begin() + e.begin + e.n_local + e.n_run);
    e.begin = begin;
  }
  L.m_refs = std::move(packed);
  return L;
}

std::size_t Layer::memory_bytes() const {
  return m_vertices.capacity() * sizeof(Pt) + m_offsets.capacity() * sizeof(std::uint32_t) + m_entries.capacity() * sizeof(Entry) +
         m_refs.capacity() * sizeof(std::uint32_t);
}

}  // namespace wangge::locate
