#include "tiles/mvt.hpp"

#include <protozero/pbf_writer.hpp>

#include <cmath>

namespace wangge::tiles {
namespace {

constexpr std::uint32_t command(std::uint32_t id, std::uint32_t count) { return (id & 0x7) | (count << 3); }
constexpr std::uint32_t zigzag(std::int32_t v) {
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}

using DPoint = std::pair<double, double>;

// One edge of the clip square: keep the side where inside(p) holds.
template <typename Inside, typename Cross>
std::vector<DPoint> clip_edge(const std::vector<DPoint>& in, Inside inside, Cross cross) {
  std::vector<DPoint> out;
  if (in.empty()) return out;
  out.reserve(in.size() + 4);
  DPoint prev = in.back();
  bool prev_in = inside(prev);
  for (const DPoint& cur : in) {
    bool cur_in = inside(cur);
    if (cur_in) {
      if (!prev_in) out.push_back(cross(prev, cur));
      out.push_back(cur);
    } else if (prev_in) {
      out.push_back(cross(prev, cur));
    }
    prev = cur;
    prev_in = cur_in;
  }
  return out;
}

// MoveTo the first point, LineTo the rest (spec 4.3.2): parameters are deltas from the cursor
// (cx, cy), which moves along. Rings add their ClosePath themselves.
void append_path(std::vector<std::uint32_t>& geometry, const std::vector<IPoint>& pts, std::int32_t& cx, std::int32_t& cy) {
  geometry.push_back(command(1, 1));
  geometry.push_back(zigzag(pts[0].x - cx));
  geometry.push_back(zigzag(pts[0].y - cy));
  cx = pts[0].x;
  cy = pts[0].y;
  geometry.push_back(command(2, static_cast<std::uint32_t>(pts.size() - 1)));
  for (std::size_t i = 1; i < pts.size(); ++i) {
    geometry.push_back(zigzag(pts[i].x - cx));
    geometry.push_back(zigzag(pts[i].y - cy));
    cx = pts[i].x;
    cy = pts[i].y;
  }
}

std::int64_t area2(const std::vector<IPoint>& ring) {
  std::int64_t a = 0;
  for (std::size_t i = 0, n = ring.size(); i < n; ++i) {
    const IPoint& p = ring[i];
    const IPoint& q = ring[(i + 1) % n];
    a += static_cast<std::int64_t>(p.x) * q.y - static_cast<std::int64_t>(q.x) * p.y;
  }
  return a;
}

}  // namespace

std::vector<DPoint> clip_ring(const std::vector<DPoint>& ring, double lo, double hi) {
  // Input open or closed; output open.
  std::vector<DPoint> r = ring;
  if (r.size() > 1 && r.front() == r.back()) r.pop_back();
  auto at_x = [](double x) {
    return [x](const DPoint& a, const DPoint& b) { return DPoint{x, a.second + (b.second - a.second) * (x - a.first) / (b.first - a.first)}; };
  };
  auto at_y = [](double y) {
    return [y](const DPoint& a, const DPoint& b) { return DPoint{a.first + (b.first - a.first) * (y - a.second) / (b.second - a.second), y}; };
  };
  r = clip_edge(r, [lo](const DPoint& p) { return p.first >= lo; }, at_x(lo));
  r = clip_edge(r, [hi](const DPoint& p) { return p.first <= hi; }, at_x(hi));
  r = clip_edge(r, [lo](const DPoint& p) { return p.second >= lo; }, at_y(lo));
  r = clip_edge(r, [hi](const DPoint& p) { return p.second <= hi; }, at_y(hi));
  return r;
}

std::vector<std::uint32_t> LayerEncoder::tags_of(const Properties& props) {
  std::vector<std::uint32_t> tags;
  tags.reserve(props.size() * 2);
  for (const auto& [k, v] : props) {
    std::uint32_t key = 0;
    while (key < m_keys.size() && m_keys[key] != k) ++key;
    if (key == m_keys.size()) m_keys.emplace_back(k);
    const auto next = static_cast<std::uint32_t>(m_values.size());
    std::uint32_t value = next;
    if (const auto* s = std::get_if<std::string_view>(&v)) {
      auto it = m_string_index.find(*s);
      if (it == m_string_index.end()) m_string_index.emplace(std::string(*s), next), m_values.emplace_back(std::string(*s));
      else value = it->second;
    } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
      auto [it, fresh] = m_int_index.emplace(*i, next);
      if (fresh) m_values.emplace_back(*i);
      else value = it->second;
    } else if (const auto* d = std::get_if<double>(&v)) {
      auto [it, fresh] = m_double_index.emplace(*d, next);
      if (fresh) m_values.emplace_back(*d);
      else value = it->second;
    } else {
      std::uint32_t& slot = m_bool_index[std::get<bool>(v) ? 1 : 0];
      if (slot == UINT32_MAX) slot = next, m_values.emplace_back(std::get<bool>(v));
      value = slot;
    }
    tags.push_back(key);
    tags.push_back(value);
  }
  return tags;
}

bool LayerEncoder::add_polygon(std::uint64_t id, const MultiPolygon& mercator, const TileTransform& tf, const Properties& props) {
  const double lo = -m_buffer, hi = static_cast<double>(m_extent) + m_buffer;
  std::vector<std::uint32_t> geometry;
  std::int32_t cx = 0, cy = 0;  // the cursor: every command's parameters are relative to it
  for (const auto& polygon : mercator) {
    for (std::size_t r = 0; r < polygon.size(); ++r) {
      std::vector<DPoint> ring;
      ring.reserve(polygon[r].size());
      bool inside = true;  // most rings of a tile lie wholly within it: no clipping needed
      for (const auto& p : polygon[r]) {
        ring.emplace_back(tf.to_x(p.x), tf.to_y(p.y));
        const auto& q = ring.back();
        inside = inside && q.first >= lo && q.first <= hi && q.second >= lo && q.second <= hi;
      }
      if (inside && ring.size() > 1 && ring.front() == ring.back()) ring.pop_back();
      auto clipped = inside ? std::move(ring) : clip_ring(ring, lo, hi);
      std::vector<IPoint> pts;
      for (const auto& [x, y] : clipped) {
        IPoint ip{static_cast<std::int32_t>(std::lround(x)), static_cast<std::int32_t>(std::lround(y))};
        if (pts.empty() || !(pts.back() == ip)) pts.push_back(ip);
      }
      while (pts.size() > 1 && pts.front() == pts.back()) pts.pop_back();
      const std::int64_t a = pts.size() >= 3 ? area2(pts) : 0;
      if (a == 0) {
        if (r == 0) break;  // no exterior left in this tile: skip its holes too
        continue;
      }
      // Spec 4.3.4.4: exterior rings have positive area in tile coordinates, interior negative.
      if ((r == 0) != (a > 0)) std::reverse(pts.begin(), pts.end());
      append_path(geometry, pts, cx, cy);
      geometry.push_back(command(7, 1));
    }
  }
  if (geometry.empty()) return false;
  m_features.push_back({id, 3, tags_of(props), std::move(geometry)});
  return true;
}

bool LayerEncoder::add_point(std::uint64_t id, Point mercator, const TileTransform& tf, const Properties& props) {
  const auto x = static_cast<std::int32_t>(std::lround(tf.to_x(mercator.x)));
  const auto y = static_cast<std::int32_t>(std::lround(tf.to_y(mercator.y)));
  if (x < -m_buffer || y < -m_buffer || x > static_cast<std::int32_t>(m_extent) + m_buffer ||
      y > static_cast<std::int32_t>(m_extent) + m_buffer)
    return false;
  m_features.push_back({id, 1, tags_of(props), {command(1, 1), zigzag(x), zigzag(y)}});
  return true;
}

bool LayerEncoder::add_line(std::uint64_t id, const std::vector<Point>& mercator, const TileTransform& tf,
                            const Properties& props) {
  const double lo = -m_buffer, hi = static_cast<double>(m_extent) + m_buffer;
  std::vector<std::vector<IPoint>> parts;
  std::vector<IPoint> part;
  auto push = [&](double x, double y) {
    IPoint p{static_cast<std::int32_t>(std::lround(x)), static_cast<std::int32_t>(std::lround(y))};
    if (part.empty() || !(part.back() == p)) part.push_back(p);
  };
  auto close_part = [&] {
    if (part.size() >= 2) parts.push_back(std::move(part));
    part.clear();
  };
  for (std::size_t i = 0; i + 1 < mercator.size(); ++i) {
    // Liang-Barsky: the piece of segment i inside the square, as parameters t0..t1 along it.
    const double x0 = tf.to_x(mercator[i].x), y0 = tf.to_y(mercator[i].y);
    const double x1 = tf.to_x(mercator[i + 1].x), y1 = tf.to_y(mercator[i + 1].y);
    const double dx = x1 - x0, dy = y1 - y0;
    double t0 = 0, t1 = 1;
    bool visible = true;
    for (const auto& [p, q] : {std::pair{-dx, x0 - lo}, std::pair{dx, hi - x0}, std::pair{-dy, y0 - lo}, std::pair{dy, hi - y0}}) {
      if (p == 0) {
        if (q < 0) visible = false;
      } else {
        const double t = q / p;
        if (p < 0) t0 = std::max(t0, t);
        else t1 = std::min(t1, t);
      }
    }
    if (!visible || t0 > t1) {
      close_part();
      continue;
    }
    if (t0 > 0) close_part();  // entering the square: a new part begins
    push(x0 + t0 * dx, y0 + t0 * dy);
    push(x0 + t1 * dx, y0 + t1 * dy);
    if (t1 < 1) close_part();  // leaving it
  }
  close_part();
  if (parts.empty()) return false;
  std::vector<std::uint32_t> geometry;
  std::int32_t cx = 0, cy = 0;
  for (const auto& pts : parts) append_path(geometry, pts, cx, cy);
  m_features.push_back({id, 2, tags_of(props), std::move(geometry)});
  return true;
}

void LayerEncoder::write_to(std::string& tile) const {
  protozero::pbf_writer tile_writer(tile);
  protozero::pbf_writer layer(tile_writer, 3);
  layer.add_uint32(15, 2);  // version
  layer.add_string(1, m_name);
  for (const auto& f : m_features) {
    protozero::pbf_writer feature(layer, 2);
    feature.add_uint64(1, f.id);
    feature.add_packed_uint32(2, f.tags.begin(), f.tags.end());
    feature.add_enum(3, f.type);
    feature.add_packed_uint32(4, f.geometry.begin(), f.geometry.end());
  }
  for (const auto& k : m_keys) layer.add_string(3, k);
  for (const auto& v : m_values) {
    protozero::pbf_writer value(layer, 4);
    if (const auto* s = std::get_if<std::string>(&v)) value.add_string(1, *s);
    else if (const auto* i = std::get_if<std::int64_t>(&v)) value.add_sint64(6, *i);
    else if (const auto* d = std::get_if<double>(&v)) value.add_double(3, *d);
    else value.add_bool(7, std::get<bool>(v));
  }
  layer.add_uint32(5, m_extent);
}

}  // namespace wangge::tiles
