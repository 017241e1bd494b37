#include "locate/index.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

namespace wangge::locate {
namespace {

constexpr const char* kMethodNames[] = {"inside", "boundary", "nearest", "fallback", "outside"};

void append_number(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

// CGCS2000 ellipsoid: metres per degree along the meridian and the parallel at latitude lat.
struct Scale {
  double mx, my;
};
Scale metres_per_degree(double lat) {
  constexpr double a = 6378137.0, f = 1.0 / 298.257222101, e2 = f * (2 - f);
  const double phi = lat * std::numbers::pi / 180, s = std::sin(phi);
  const double w = 1 - e2 * s * s;
  const double n = a / std::sqrt(w), m = a * (1 - e2) / (w * std::sqrt(w));
  return {n * std::cos(phi) * std::numbers::pi / 180, m * std::numbers::pi / 180};
}

}  // namespace

const char* method_name(Method method) { return kMethodNames[static_cast<int>(method)]; }

void WorkerDirectory::Builder::add(std::string_view area_code, long long id, std::string_view name) {
  auto it = m_by_area.find(area_code);
  if (it == m_by_area.end()) it = m_by_area.emplace(std::string(area_code), std::string()).first;
  std::string& s = it->second;
  if (!s.empty()) s += ',';
  s += "{\"id\":" + std::to_string(id) + ",\"name\":" + nlohmann::json(std::string(name)).dump() +
       ",\"area\":" + nlohmann::json(std::string(area_code)).dump() + "}";
  ++m_count;
}

WorkerDirectory WorkerDirectory::Builder::build() && {
  WorkerDirectory d;
  d.m_count = m_count;
  std::size_t slots = 16, bytes = 0;
  while (slots < 2 * m_by_area.size()) slots *= 2;
  for (const auto& [code, json] : m_by_area) bytes += code.size() + json.size();
  if (bytes >= 0xffffffffu) throw std::length_error("locate: worker directory too large");
  d.m_slots.resize(slots);
  d.m_text.reserve(bytes);
  for (const auto& [code, json] : m_by_area) {
    Slot slot;
    slot.hash = code_hash(code);
    slot.offset = static_cast<std::uint32_t>(d.m_text.size());
    slot.code_length = static_cast<std::uint32_t>(code.size());
    slot.json_length = static_cast<std::uint32_t>(json.size());
    d.m_text.insert(d.m_text.end(), code.begin(), code.end());
    d.m_text.insert(d.m_text.end(), json.begin(), json.end());
    std::size_t k = slot.hash & (slots - 1);
    while (d.m_slots[k].code_length != 0) k = (k + 1) & (slots - 1);
    d.m_slots[k] = slot;
  }
  m_by_area.clear();
  return d;
}

std::string_view WorkerDirectory::find(std::string_view area_code, std::uint32_t hash) const {
  if (m_slots.empty()) return {};
  const std::size_t mask = m_slots.size() - 1;
  for (std::size_t k = hash & mask;; k = (k + 1) & mask) {
    const Slot& s = m_slots[k];
    if (s.code_length == 0) return {};
    if (s.hash == hash && std::string_view(m_text.data() + s.offset, s.code_length) == area_code)
      return {m_text.data() + s.offset + s.code_length, s.json_length};
  }
}

Pt reach_degrees(Pt p, double metres) {
  // Twice what uncovered() searches, so rounding in either never loses a candidate.
  const Scale k = metres_per_degree(p.y);
  // Near a pole a degree of longitude shrinks to nothing: the whole circle then.
  return {std::min(metres / k.mx * 2.02, 360.0), std::min(metres / k.my * 2.02, 180.0)};
}

double distance_m(Pt p, Pt a, Pt b) {
  const Scale k = metres_per_degree(p.y);
  const double ax = (a.x - p.x) * k.mx, ay = (a.y - p.y) * k.my;
  const double bx = (b.x - p.x) * k.mx, by = (b.y - p.y) * k.my;
  const double dx = bx - ax, dy = by - ay;
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? -(ax * dx + ay * dy) / len2 : 0;
  t = std::clamp(t, 0.0, 1.0);
  const double cx = ax + t * dx, cy = ay + t * dy;
  return std::sqrt(cx * cx + cy * cy);
}

Sources apply_changes(const Sources& before, const std::vector<std::string>& codes, Sources changed) {
  std::vector<std::string> drop(codes);
  std::sort(drop.begin(), drop.end());
  auto by_code = [](const auto& x, const auto& y) { return x->code < y->code; };
  std::sort(changed.begin(), changed.end(), by_code);
  Sources out;
  out.reserve(before.size() + changed.size());
  auto c = changed.begin();
  for (const auto& s : before) {
    for (; c != changed.end() && (*c)->code < s->code; ++c) out.push_back(std::move(*c));
    if (!std::binary_search(drop.begin(), drop.end(), s->code)) out.push_back(s);
  }
  for (; c != changed.end(); ++c) out.push_back(std::move(*c));
  return out;  // sorted: both inputs are (an index keeps its sources in code order)
}

std::shared_ptr<const LocateIndex> LocateIndex::build(Sources sources, const Options& options) {
  const auto t0 = std::chrono::steady_clock::now();
  auto index = std::make_shared<LocateIndex>();
  std::sort(sources.begin(), sources.end(), [](const auto& x, const auto& y) { return x->code < y->code; });
  // A code appears once among current areas; keep the first if a caller passes duplicates.
  sources.erase(std::unique(sources.begin(), sources.end(), [](const auto& x, const auto& y) { return x->code == y->code; }),
                sources.end());
  index->m_options = options;
  index->m_areas.reserve(sources.size());
  index->m_text_at.reserve(sources.size());
  index->m_parents.reserve(sources.size());
  std::unordered_map<std::string_view, std::int32_t> by_code;
  by_code.reserve(sources.size());
  for (std::size_t i = 0; i < sources.size(); ++i) by_code.emplace(sources[i]->code, static_cast<std::int32_t>(i));
  Layer::Builder fine, admin;
  Stats& st = index->m_stats;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const SourceArea& s = *sources[i];
    Area a;
    a.code = s.code;
    a.name = s.name;
    a.level = s.level;
    auto it = by_code.find(s.parent);
    a.parent = it == by_code.end() || s.parent.empty() ? -1 : it->second;
    // Written by hand to keep the documented member order (nlohmann sorts keys).
    const std::string level = std::string("{\"level\":\"") + level_name(s.level) + "\",";
    const std::string rest = "\"code\":" + nlohmann::json(s.code).dump() + ",\"name\":" + nlohmann::json(s.name).dump() + "}";
    if (s.code.size() > 0xffff || level.size() + rest.size() > 0xffff || index->m_text.size() > 0xffff0000u)
      throw std::length_error("locate: an area's code or name is too long");
    Text t;
    t.offset = static_cast<std::uint32_t>(index->m_text.size());
    t.hash = code_hash(s.code);
    t.code_length = static_cast<std::uint16_t>(s.code.size());
    t.item_length = static_cast<std::uint16_t>(level.size() + rest.size());
    t.ref_skip = static_cast<std::uint16_t>(level.size());
    index->m_text.insert(index->m_text.end(), s.code.begin(), s.code.end());
    index->m_text.insert(index->m_text.end(), level.begin(), level.end());
    index->m_text.insert(index->m_text.end(), rest.begin(), rest.end());
    index->m_text_at.push_back(t);
    index->m_parents.push_back(a.parent);
    index->m_areas.push_back(std::move(a));
    if (s.vertices.empty()) continue;
    const auto id = static_cast<std::uint32_t>(i);
    if (s.level == Level::grid) {
      fine.add(id, 0, s.vertices, s.ring_ends);
      ++st.grids;
    } else if (s.level == Level::microgrid) {
      fine.add(id, 1, s.vertices, s.ring_ends);
      ++st.microgrids;
    } else {
      admin.add(id, 0, s.vertices, s.ring_ends);
      ++st.admin;
    }
  }
  index->m_fine = std::move(fine).build(options.cells_per_edge);
  index->m_admin = std::move(admin).build(options.cells_per_edge);
  if (options.fast) {
    const auto tf = std::chrono::steady_clock::now();
    const LocateIndex& self = *index;
    index->m_fast = FastIndex::build(
        index->m_fine, st.grids + st.microgrids, index->m_admin, options.nearest_m,
        [&self](Pt c) {
          const Location l = self.locate_general(c);
          FastIndex::Answer a;
          if (l.method == Method::inside) a.kind = FastIndex::Answer::inside, a.grid = l.grid, a.micro = l.microgrid;
          if (l.method == Method::fallback) a.kind = FastIndex::Answer::fallback, a.admin = l.admin;
          if (l.method == Method::outside) a.kind = FastIndex::Answer::outside;
          return a;
        },
        options.fast_params);
    const auto& fs = index->m_fast.stats();
    st.fast_layout = std::to_string(fs.top) + "/" + std::to_string(fs.blocks) + "/" + std::to_string(fs.direct) + "/" +
                     std::to_string(fs.leaves) + "/" + std::to_string(fs.slow) + "/" + std::to_string(fs.refs);
    st.fast_build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tf).count();
  }
  index->m_sources = std::move(sources);
  st.areas = index->m_areas.size();
  st.layout =
      std::to_string(index->m_fine.cells()) + "/" + std::to_string(index->m_fine.entries()) + "/" + std::to_string(index->m_fine.refs());
  st.memory_bytes = index->m_fine.memory_bytes() + index->m_admin.memory_bytes() + index->m_fast.stats().memory_bytes;
  for (const auto& a : index->m_areas) st.memory_bytes += sizeof(Area) + a.code.capacity() + a.name.capacity();
  st.memory_bytes += index->m_text.capacity() + index->m_text_at.capacity() * sizeof(Text);
  for (const auto& s : index->m_sources)
    st.memory_bytes += sizeof(SourceArea) + s->vertices.capacity() * sizeof(Pt) + s->ring_ends.capacity() * 4 + s->code.capacity() +
                       s->name.capacity() + s->parent.capacity();
  st.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return index;
}

namespace {

// Collects the grid-layer polygons holding a point: the smallest grid, and among the grid's own
// micro-grids the smallest.
struct Covering {
  std::int32_t grid = -1;
  bool grid_on = false;
  std::int32_t micro[8];
  int n_micro = 0;
  void operator()(std::uint32_t id, unsigned group, bool on) {
    const auto i = static_cast<std::int32_t>(id);
    if (group == 0) {
      if (grid < 0 || i < grid) grid = i, grid_on = on;
    } else if (n_micro < 8) {
      micro[n_micro++] = i;
    }
  }
  // `parents`: each area's parent index.
  Location answer(const std::vector<std::int32_t>& parents) const {
    Location loc;
    loc.method = grid_on ? Method::boundary : Method::inside;
    loc.grid = grid;
    for (int k = 0; k < n_micro; ++k)
      if (parents[static_cast<std::size_t>(micro[k])] == grid && (loc.microgrid < 0 || micro[k] < loc.microgrid)) loc.microgrid = micro[k];
    return loc;
  }
};

}  // namespace

Location LocateIndex::locate(Pt p) const {
  if (m_base) return in_dirty(p) ? locate_patched(p) : m_base->locate(p);
  FastIndex::Cell cell;
  const std::uint64_t code = m_fast.find(p, &cell);
  return locate_in(p, code, cell);
}

Location LocateIndex::locate_general(Pt p) const {
  if (m_base) return locate_patched(p);
  Covering c;
  m_fine.covering(p, c);
  if (c.grid >= 0) return c.answer(m_parents);
  return locate_uncovered(p);
}

Location LocateIndex::locate_given_admins(Pt p, const std::int32_t* admins, std::size_t n) const {
  Covering c;
  m_fine.covering(p, c);
  if (c.grid >= 0) return c.answer(m_parents);
  return uncovered(
      p,
      [&](auto&& f) {
        for (std::size_t k = 0; k < n; ++k) f(admins[k]);
      },
      [&](double rx, double ry, auto&& f) {
        m_fine.edges_near(p, rx, ry, [&](std::uint32_t id, unsigned group, Pt a, Pt b) {
          if (group == 0) f(static_cast<std::int32_t>(id), a, b);
        });
      },
      [](std::int32_t a, std::int32_t b) { return a < b; });
}

// The rules for a point that no grid holds, whatever the candidates come from (one index, or a
// patched snapshot's base and delta): `admins(f)` calls f(area) for every admin area holding p,
// `grid_edges(rx, ry, f)` calls f(grid, a, b) for the grid edges in the box p +- (rx, ry), and
// `code_less` orders areas by code. The lowest admin area decides whether p is in the
// jurisdiction (ties on one level: smallest code); then the nearest grid within the distance
// (ties: smallest code), else that admin area.
template <typename Admins, typename GridEdges, typename CodeLess>
Location LocateIndex::uncovered(Pt p, Admins&& admins, GridEdges&& grid_edges, CodeLess&& code_less) const {
  Location loc;
  std::int32_t lowest = -1;
  admins([&](std::int32_t i) {
    if (lowest < 0) {
      lowest = i;
      return;
    }
    const Level a = area(i).level, b = area(lowest).level;
    if (a > b || (a == b && code_less(i, lowest))) lowest = i;
  });
  if (lowest < 0) return loc;  // outside
  if (m_options.nearest_m > 0) {
    const Scale k = metres_per_degree(p.y);
    // A little slack in degrees: the box only selects candidates, distances decide.
    const double rx = m_options.nearest_m / k.mx * 1.01, ry = m_options.nearest_m / k.my * 1.01;
    double best = m_options.nearest_m;
    std::int32_t best_id = -1;
    grid_edges(rx, ry, [&](std::int32_t i, Pt a, Pt b) {
      const double d = distance_m(p, a, b);
      if (d < best || (d == best && (best_id < 0 || code_less(i, best_id)))) best = d, best_id = i;
    });
    if (best_id >= 0) {
      loc.method = Method::nearest;
      loc.grid = best_id;
      loc.distance_m = best;
      return loc;
    }
  }
  loc.method = Method::fallback;
  loc.admin = lowest;
  return loc;
}

// Areas are numbered in code order in a full index: the smaller index is the smaller code.
Location LocateIndex::locate_uncovered(Pt p) const {
  return uncovered(
      p, [&](auto&& f) { m_admin.covering(p, [&](std::uint32_t id, unsigned, bool) { f(static_cast<std::int32_t>(id)); }); },
      [&](double rx, double ry, auto&& f) {
        m_fine.edges_near(p, rx, ry, [&](std::uint32_t id, unsigned group, Pt a, Pt b) {
          if (group == 0) f(static_cast<std::int32_t>(id), a, b);
        });
      },
      [](std::int32_t a, std::int32_t b) { return a < b; });
}

void LocateIndex::append_json(const Location& loc, Pt point, const WorkerDirectory* workers, std::string& out) const {
  out += "{\"point\":[";
  append_number(out, point.x);
  out += ',';
  append_number(out, point.y);
  out += "],\"grid\":";
  if (loc.grid >= 0)
    append_ref_json(loc.grid, out);
  else
    out += "null";
  out += ",\"microgrid\":";
  if (loc.microgrid >= 0)
    append_ref_json(loc.microgrid, out);
  else
    out += "null";
  out += ",\"hierarchy\":[";
  const std::int32_t leaf = loc.microgrid >= 0 ? loc.microgrid : loc.grid >= 0 ? loc.grid : loc.admin;
  if (leaf >= 0) {
    std::int32_t chain[16];
    int n = 0;
    for (std::int32_t a = leaf; a >= 0 && n < 16; a = parent_of(a)) chain[n++] = a;
    for (int k = n - 1; k >= 0; --k) {
      out += item_json(chain[k]);
      if (k > 0) out += ',';
    }
  }
  out += "],\"workers\":[";
  if (workers) {
    bool first = true;
    for (std::int32_t a : {loc.microgrid, loc.grid}) {
      if (a < 0) continue;
      const TextRef r = text_of(a);
      const std::string_view w = workers->find(std::string_view(r.text, r.at.code_length), r.at.hash);
      if (!w.empty()) {
        if (!first) out += ',';
        out += w;
        first = false;
      }
    }
  }
  out += "],\"method\":\"";
  out += method_name(loc.method);
  out += "\",\"distance_m\":";
  if (loc.method == Method::nearest) {
    append_number(out, std::round(loc.distance_m * 100) / 100);
  } else {
    out += "null";
  }
  out += '}';
}

std::string_view LocateIndex::item_json(std::int32_t index) const {
  const TextRef r = text_of(index);
  return {r.text + r.at.code_length, r.at.item_length};
}

void LocateIndex::append_ref_json(std::int32_t index, std::string& out) const {
  const TextRef r = text_of(index);
  out += '{';
  out.append(r.text + r.at.code_length + r.at.ref_skip, r.at.item_length - r.at.ref_skip);
}

// ---- Patched snapshots ----

std::int32_t LocateIndex::parent_of(std::int32_t i) const {
  if (!m_base) return m_parents[static_cast<std::size_t>(i)];
  if (i >= m_base_n) return m_delta_parents[static_cast<std::size_t>(i - m_base_n)];
  const std::int32_t p = m_base->m_parents[static_cast<std::size_t>(i)];
  if (p < 0 || !m_masked[static_cast<std::size_t>(p)]) return p;
  auto it = m_remap.find(p);
  return it == m_remap.end() ? -1 : it->second;
}

bool LocateIndex::in_dirty(Pt p) const {
  if (!(p.x >= m_dirty_all.x0 && p.x <= m_dirty_all.x1 && p.y >= m_dirty_all.y0 && p.y <= m_dirty_all.y1)) return false;
  auto inside = [&](const Box& b) { return p.x >= b.x0 && p.x <= b.x1 && p.y >= b.y0 && p.y <= b.y1; };
  if (m_dirty_n == 0) {
    for (const Box& b : m_dirty)
      if (inside(b)) return true;
    return false;
  }
  const auto c = static_cast<std::size_t>(dirty_cell(p.y, m_dirty_all.y0, m_dirty_ky)) * static_cast<std::size_t>(m_dirty_n) +
                 static_cast<std::size_t>(dirty_cell(p.x, m_dirty_all.x0, m_dirty_kx));
  for (std::uint32_t k = m_dirty_start[c]; k < m_dirty_start[c + 1]; ++k)
    if (inside(m_dirty[m_dirty_boxes[k]])) return true;
  return false;
}

// The same function for box corners and points: it never decreases as v grows, so a point inside
// a box falls in one of the cells between those of the box's corners.
int LocateIndex::dirty_cell(double v, double origin, double k) const {
  const double t = std::floor((v - origin) * k);
  return t < 0 ? 0 : t >= m_dirty_n ? m_dirty_n - 1 : static_cast<int>(t);
}

void LocateIndex::index_dirty_boxes() {
  constexpr std::size_t kLinear = 16;  // up to this many boxes are simply read in turn
  if (m_dirty.size() <= kLinear) return;
  const Box& all = m_dirty_all;
  m_dirty_n = static_cast<int>(std::clamp(2.0 * std::sqrt(static_cast<double>(m_dirty.size())), 4.0, 256.0));
  const double w = all.x1 - all.x0, h = all.y1 - all.y0;
  m_dirty_kx = w > 0 ? m_dirty_n / w : 0, m_dirty_ky = h > 0 ? m_dirty_n / h : 0;
  const auto cells = static_cast<std::size_t>(m_dirty_n) * static_cast<std::size_t>(m_dirty_n);
  std::vector<std::vector<std::uint32_t>> per_cell(cells);
  for (std::size_t b = 0; b < m_dirty.size(); ++b) {
    const Box& d = m_dirty[b];
    const int i0 = dirty_cell(d.x0, all.x0, m_dirty_kx), i1 = dirty_cell(d.x1, all.x0, m_dirty_kx);
    const int j0 = dirty_cell(d.y0, all.y0, m_dirty_ky), j1 = dirty_cell(d.y1, all.y0, m_dirty_ky);
    for (int j = j0; j <= j1; ++j)
      for (int i = i0; i <= i1; ++i)
        per_cell[static_cast<std::size_t>(j) * static_cast<std::size_t>(m_dirty_n) + static_cast<std::size_t>(i)].push_back(
            static_cast<std::uint32_t>(b));
  }
  m_dirty_start.assign(cells + 1, 0);
  for (std::size_t c = 0; c < cells; ++c) m_dirty_start[c + 1] = m_dirty_start[c] + static_cast<std::uint32_t>(per_cell[c].size());
  m_dirty_boxes.reserve(m_dirty_start[cells]);
  for (const auto& list : per_cell) m_dirty_boxes.insert(m_dirty_boxes.end(), list.begin(), list.end());
}

std::shared_ptr<const LocateIndex> LocateIndex::patch(const std::shared_ptr<const LocateIndex>& before,
                                                      const std::vector<std::string>& codes, Sources sources) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::shared_ptr<const LocateIndex> base = before->m_base ? before->m_base : before;
  std::vector<std::string> patched = before->m_patched_codes;
  patched.insert(patched.end(), codes.begin(), codes.end());
  std::sort(patched.begin(), patched.end());
  patched.erase(std::unique(patched.begin(), patched.end()), patched.end());
  if (patched.size() > kMaxPatchedCodes) return nullptr;

  auto by_code = [](const std::shared_ptr<const SourceArea>& s, const std::string& code) { return s->code < code; };
  auto find = [&](const Sources& list, const std::string& code) -> std::int64_t {
    auto it = std::lower_bound(list.begin(), list.end(), code, by_code);
    return it != list.end() && (*it)->code == code ? it - list.begin() : -1;
  };
  auto index = std::make_shared<LocateIndex>();
  index->m_options = base->m_options;
  index->m_base = base;
  index->m_base_n = static_cast<std::int32_t>(base->m_areas.size());
  index->m_masked.assign(base->m_areas.size(), 0);

  // The delta: every patched code's current version (none when retired), numbered in code order.
  Sources delta_sources;
  for (const auto& code : patched)
    if (const auto k = find(sources, code); k >= 0) delta_sources.push_back(sources[static_cast<std::size_t>(k)]);
  Options delta_options = base->m_options;
  delta_options.fast = false;
  index->m_delta = build(delta_sources, delta_options);
  const LocateIndex& delta = *index->m_delta;

  // Old and new extents of every patched code, widened by the nearest-grid distance.
  auto add_box = [&](const SourceArea& s) {
    if (s.vertices.empty()) return;
    Box b{s.vertices[0].x, s.vertices[0].y, s.vertices[0].x, s.vertices[0].y};
    for (const Pt& v : s.vertices) b = {std::min(b.x0, v.x), std::min(b.y0, v.y), std::max(b.x1, v.x), std::max(b.y1, v.y)};
    const double lat = std::max(std::abs(b.y0), std::abs(b.y1));
    const Scale k = metres_per_degree(std::min(lat, 89.0));
    const double mx = index->m_options.nearest_m / k.mx * 1.01 + 1e-9, my = index->m_options.nearest_m / k.my * 1.01 + 1e-9;
    index->m_dirty.push_back({b.x0 - mx, b.y0 - my, b.x1 + mx, b.y1 + my});
  };
  std::unordered_map<std::string_view, std::int32_t> delta_by_code;
  for (std::size_t j = 0; j < delta.m_areas.size(); ++j)
    delta_by_code.emplace(delta.m_areas[j].code, index->m_base_n + static_cast<std::int32_t>(j));
  for (const auto& code : patched) {
    if (const auto k = find(base->m_sources, code); k >= 0) {
      const auto i = static_cast<std::int32_t>(k);
      index->m_masked[static_cast<std::size_t>(i)] = 1;
      auto d = delta_by_code.find(code);
      index->m_remap.emplace(i, d == delta_by_code.end() ? -1 : d->second);
      add_box(*base->m_sources[static_cast<std::size_t>(k)]);
    }
  }
  for (const auto& s : delta.m_sources) add_box(*s);
  for (const Box& b : index->m_dirty) {
    Box& all = index->m_dirty_all;
    all = all.x0 > all.x1 ? b : Box{std::min(all.x0, b.x0), std::min(all.y0, b.y0), std::max(all.x1, b.x1), std::max(all.y1, b.y1)};
  }
  index->index_dirty_boxes();
  // A delta area's parent: the parent's delta version if it has one, else its base version.
  index->m_delta_parents.reserve(delta.m_sources.size());
  for (const auto& s : delta.m_sources) {
    std::int32_t parent = -1;
    if (!s->parent.empty()) {
      if (auto d = delta_by_code.find(s->parent); d != delta_by_code.end()) {
        parent = d->second;
      } else if (const auto k = find(base->m_sources, s->parent); k >= 0) {
        parent = static_cast<std::int32_t>(k);
      }
    }
    index->m_delta_parents.push_back(parent);
  }

  index->m_patched_codes = std::move(patched);
  index->m_sources = std::move(sources);
  Stats& st = index->m_stats;
  st = base->m_stats;
  st.areas = index->m_sources.size();
  st.memory_bytes = base->m_stats.memory_bytes + delta.m_stats.memory_bytes;
  st.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return index;
}

// The general rules of locate_general and locate_uncovered over base and delta at once.
Location LocateIndex::locate_patched(Pt p) const {
  const LocateIndex& base = *m_base;
  const LocateIndex& delta = *m_delta;
  auto code_less = [&](std::int32_t a, std::int32_t b) { return area(a).code < area(b).code; };
  struct Hit {
    std::int32_t id;
    unsigned group;
    bool on;
  };
  Hit hits[32];
  int n = 0;
  auto from_base = [&](std::uint32_t id, unsigned group, bool on) {
    if (!m_masked[id] && n < 32) hits[n++] = {static_cast<std::int32_t>(id), group, on};
  };
  auto from_delta = [&](std::uint32_t id, unsigned group, bool on) {
    if (n < 32) hits[n++] = {m_base_n + static_cast<std::int32_t>(id), group, on};
  };
  // (An empty layer has no cells to look at: skip it, its origin is not a real cell.)
  if (base.m_fine.cells()) base.m_fine.covering(p, from_base);
  if (delta.m_fine.cells()) delta.m_fine.covering(p, from_delta);
  Location loc;
  bool grid_on = false;
  for (int k = 0; k < n; ++k)
    if (hits[k].group == 0 && (loc.grid < 0 || code_less(hits[k].id, loc.grid))) loc.grid = hits[k].id, grid_on = hits[k].on;
  if (loc.grid >= 0) {
    loc.method = grid_on ? Method::boundary : Method::inside;
    for (int k = 0; k < n; ++k)
      if (hits[k].group == 1 && parent_of(hits[k].id) == loc.grid && (loc.microgrid < 0 || code_less(hits[k].id, loc.microgrid)))
        loc.microgrid = hits[k].id;
    return loc;
  }

  // No grid holds p: the same rules over both indexes.
  return uncovered(
      p,
      [&](auto&& f) {
        if (base.m_admin.cells())
          base.m_admin.covering(p, [&](std::uint32_t id, unsigned, bool) {
            if (!m_masked[id]) f(static_cast<std::int32_t>(id));
          });
        if (delta.m_admin.cells())
          delta.m_admin.covering(p, [&](std::uint32_t id, unsigned, bool) { f(m_base_n + static_cast<std::int32_t>(id)); });
      },
      [&](double rx, double ry, auto&& f) {
        base.m_fine.edges_near(p, rx, ry, [&](std::uint32_t id, unsigned group, Pt a, Pt b) {
          if (group == 0 && !m_masked[id]) f(static_cast<std::int32_t>(id), a, b);
        });
        delta.m_fine.edges_near(p, rx, ry, [&](std::uint32_t id, unsigned group, Pt a, Pt b) {
          if (group == 0) f(m_base_n + static_cast<std::int32_t>(id), a, b);
        });
      },
      code_less);
}

Location LocateIndex::locate_in(Pt p, std::uint64_t code, const FastIndex::Cell& cell) const {
  switch (FastIndex::tag(code)) {
    case FastIndex::kDirect: {
      const FastIndex::Answer a = FastIndex::direct(code);
      Location loc;
      if (a.kind == FastIndex::Answer::inside) {
        loc.method = Method::inside, loc.grid = a.grid, loc.microgrid = a.micro;
      } else if (a.kind == FastIndex::Answer::fallback) {
        loc.method = Method::fallback, loc.admin = a.admin;
      }
      return loc;
    }
    case FastIndex::kLeaf: {
      Covering c;
      m_fast.leaf_covering(code, cell, p, c);
      if (c.grid >= 0) return c.answer(m_parents);
      return locate_uncovered(p);
    }
    default:
      return locate_general(p);
  }
}

void LocateIndex::locate_many(const Pt* points, std::size_t n, Location* out) const {
  if (m_base) {  // a patched snapshot: the base's answers, corrected where an edit may have changed them
    m_base->locate_many(points, n, out);
    for (std::size_t i = 0; i < n; ++i)
      if (in_dirty(points[i])) out[i] = locate_patched(points[i]);
    return;
  }
  // A software pipeline: point i starts at step i, descends one level of the fast grid at steps
  // i + kGap, i + 2 kGap, i + 3 kGap (each step reads what the previous one prefetched) and is
  // decided at step i + 4 kGap, when its leaf record has had kGap steps to arrive.
  constexpr std::size_t kGap = 3, kDepth = 4 * kGap, kRing = 16;
  static_assert(kRing > kDepth);
  FastIndex::Probe ring[kRing];
  for (std::size_t t = 0; t < n + kDepth; ++t) {
    if (t < n) m_fast.start(points[t], ring[t % kRing]);
    for (std::size_t s = 1; s < 4; ++s)
      if (t >= s * kGap && t - s * kGap < n) m_fast.step(ring[(t - s * kGap) % kRing]);
    if (t >= kDepth) {
      const std::size_t i = t - kDepth;
      const FastIndex::Probe& q = ring[i % kRing];
      out[i] = locate_in(points[i], q.code, q.cell);
    }
  }
}

}  // namespace wangge::locate
