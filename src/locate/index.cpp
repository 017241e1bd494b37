#include "locate/index.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

namespace wangge::locate {
namespace {

constexpr const char* kLevelNames[] = {"province", "city", "county", "township", "village", "grid", "microgrid"};
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

std::optional<Level> level_of(std::string_view name) {
  for (int i = 0; i < 7; ++i)
    if (name == kLevelNames[i]) return static_cast<Level>(i);
  return std::nullopt;
}
const char* level_name(Level level) { return kLevelNames[static_cast<int>(level)]; }
const char* method_name(Method method) { return kMethodNames[static_cast<int>(method)]; }

void WorkerDirectory::add(const std::string& area_code, long long id, std::string_view name) {
  std::string& s = m_by_area[area_code];
  if (!s.empty()) s += ',';
  s += "{\"id\":" + std::to_string(id) + ",\"name\":" + nlohmann::json(std::string(name)).dump() +
       ",\"area\":" + nlohmann::json(area_code).dump() + "}";
  ++m_count;
}

const std::string* WorkerDirectory::find(const std::string& area_code) const {
  auto it = m_by_area.find(area_code);
  return it == m_by_area.end() ? nullptr : &it->second;
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
  Sources out;
  out.reserve(before.size() + changed.size());
  for (const auto& s : before)
    if (!std::binary_search(drop.begin(), drop.end(), s->code)) out.push_back(s);
  for (auto& s : changed) out.push_back(std::move(s));
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x->code < y->code; });
  return out;
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
    const std::string code = nlohmann::json(s.code).dump(), name = nlohmann::json(s.name).dump();
    a.ref_json = "{\"code\":" + code + ",\"name\":" + name + "}";
    a.item_json = std::string("{\"level\":\"") + level_name(s.level) + "\",\"code\":" + code + ",\"name\":" + name + "}";
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
  st.layout = std::to_string(index->m_fine.cells()) + "/" + std::to_string(index->m_fine.entries()) + "/" +
              std::to_string(index->m_fine.refs());
  st.memory_bytes = index->m_fine.memory_bytes() + index->m_admin.memory_bytes() + index->m_fast.stats().memory_bytes;
  for (const auto& a : index->m_areas) st.memory_bytes += sizeof(Area) + a.code.capacity() + a.name.capacity() +
                                                         a.ref_json.capacity() + a.item_json.capacity();
  for (const auto& s : index->m_sources)
    st.memory_bytes += sizeof(SourceArea) + s->vertices.capacity() * sizeof(Pt) + s->ring_ends.capacity() * 4 +
                       s->code.capacity() + s->name.capacity() + s->parent.capacity();
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
      if (parents[static_cast<std::size_t>(micro[k])] == grid && (loc.microgrid < 0 || micro[k] < loc.microgrid))
        loc.microgrid = micro[k];
    return loc;
  }
};

}  // namespace

Location LocateIndex::locate(Pt p) const {
  FastIndex::Cell cell;
  const std::uint64_t code = m_fast.find(p, &cell);
  return locate_in(p, code, cell);
}

Location LocateIndex::locate_general(Pt p) const {
  Covering c;
  m_fine.covering(p, c);
  if (c.grid >= 0) return c.answer(m_parents);
  return locate_uncovered(p);
}

Location LocateIndex::locate_uncovered(Pt p) const {
  Location loc;
  std::int32_t lowest = -1;
  m_admin.covering(p, [&](std::uint32_t id, unsigned, bool) {
    const auto i = static_cast<std::int32_t>(id);
    if (lowest < 0) {
      lowest = i;
      return;
    }
    const Level a = m_areas[static_cast<std::size_t>(i)].level, b = m_areas[static_cast<std::size_t>(lowest)].level;
    if (a > b || (a == b && i < lowest)) lowest = i;
  });
  if (lowest < 0) return loc;  // outside
  if (m_options.nearest_m > 0) {
    const Scale k = metres_per_degree(p.y);
    // A little slack in degrees: the box only selects candidates, distances decide.
    const double rx = m_options.nearest_m / k.mx * 1.01, ry = m_options.nearest_m / k.my * 1.01;
    double best = m_options.nearest_m;
    std::int32_t best_id = -1;
    m_fine.edges_near(p, rx, ry, [&](std::uint32_t id, unsigned group, Pt a, Pt b) {
      if (group != 0) return;
      const double d = distance_m(p, a, b);
      const auto i = static_cast<std::int32_t>(id);
      if (d < best || (d == best && (best_id < 0 || i < best_id))) best = d, best_id = i;
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

void LocateIndex::append_json(const Location& loc, Pt point, const WorkerDirectory* workers, std::string& out) const {
  out += "{\"point\":[";
  append_number(out, point.x);
  out += ',';
  append_number(out, point.y);
  out += "],\"grid\":";
  out += loc.grid >= 0 ? area(loc.grid).ref_json : std::string_view("null");
  out += ",\"microgrid\":";
  out += loc.microgrid >= 0 ? area(loc.microgrid).ref_json : std::string_view("null");
  out += ",\"hierarchy\":[";
  const std::int32_t leaf = loc.microgrid >= 0 ? loc.microgrid : loc.grid >= 0 ? loc.grid : loc.admin;
  if (leaf >= 0) {
    std::int32_t chain[16];
    int n = 0;
    for (std::int32_t a = leaf; a >= 0 && n < 16; a = area(a).parent) chain[n++] = a;
    for (int k = n - 1; k >= 0; --k) {
      out += area(chain[k]).item_json;
      if (k > 0) out += ',';
    }
  }
  out += "],\"workers\":[";
  if (workers) {
    bool first = true;
    for (std::int32_t a : {loc.microgrid, loc.grid}) {
      if (a < 0) continue;
      if (const std::string* w = workers->find(area(a).code)) {
        if (!first) out += ',';
        out += *w;
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
