#include "tiles/mvt.hpp"

#include <protozero/pbf_writer.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace wangge::tiles {
namespace {

constexpr std::uint32_t command(std::uint32_t id, std::uint32_t count) { return (id & 0x7) | (count << 3); }
constexpr std::uint32_t zigzag(std::int32_t v) { return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31); }

using DPoint = std::pair<double, double>;

// One edge of the clip square: keep the side where inside(p) holds. `out` is overwritten.
template <typename Inside, typename Cross>
void clip_edge(const std::vector<DPoint>& in, std::vector<DPoint>& out, Inside inside, Cross cross) {
  out.clear();
  if (in.empty()) return;
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
}

// Sutherland-Hodgman against the square [lo, hi]²: `ring` (open or closed) becomes the clipped,
// open ring; `scratch` is a second buffer for the passes.
void clip_in_place(std::vector<DPoint>& ring, std::vector<DPoint>& scratch, double lo, double hi) {
  if (ring.size() > 1 && ring.front() == ring.back()) ring.pop_back();
  auto at_x = [](double x) {
    return [x](const DPoint& a, const DPoint& b) {
      return DPoint{x, a.second + (b.second - a.second) * (x - a.first) / (b.first - a.first)};
    };
  };
  auto at_y = [](double y) {
    return [y](const DPoint& a, const DPoint& b) {
      return DPoint{a.first + (b.first - a.first) * (y - a.second) / (b.second - a.second), y};
    };
  };
  clip_edge(
      ring, scratch, [lo](const DPoint& p) { return p.first >= lo; }, at_x(lo));
  clip_edge(
      scratch, ring, [hi](const DPoint& p) { return p.first <= hi; }, at_x(hi));
  clip_edge(
      ring, scratch, [lo](const DPoint& p) { return p.second >= lo; }, at_y(lo));
  clip_edge(
      scratch, ring, [hi](const DPoint& p) { return p.second <= hi; }, at_y(hi));
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

std::uint64_t rotl(std::uint64_t v, int r) { return v << r | v >> (64 - r); }

std::uint64_t load64(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) v >>= 7, ++n;
  return n;
}

char* put_varint(char* out, std::uint64_t v) {
  while (v >= 0x80) *out++ = static_cast<char>((v & 0x7f) | 0x80), v >>= 7;
  *out++ = static_cast<char>(v);
  return out;
}

// A packed repeated uint32 field (protobuf wire type 2): what protozero's add_packed_uint32 writes,
// sized first and then written in one go rather than byte by byte.
void append_packed(std::string& out, std::uint32_t field, const std::vector<std::uint32_t>& values) {
  if (values.empty()) return;
  std::size_t length = 0;
  for (std::uint32_t v : values) length += varint_size(v);
  const std::size_t at = out.size();
  out.resize(at + 2 * 10 + length);
  char* p = put_varint(out.data() + at, field << 3 | 2);
  p = put_varint(p, length);
  for (std::uint32_t v : values) p = put_varint(p, v);
  out.resize(static_cast<std::size_t>(p - out.data()));
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

std::uint64_t content_hash(std::string_view bytes) {
  // Four independent multiply-rotate lanes over 8-byte words keep the multiplier busy; a final
  // avalanche (MurmurHash3's fmix64) spreads every input bit over the result.
  constexpr std::uint64_t k1 = 0x9E3779B97F4A7C15ULL, k2 = 0xC2B2AE3D27D4EB4FULL;
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  std::uint64_t a = k1, b = k2, c = k1 ^ k2, d = ~k1;
  for (; n >= 32; p += 32, n -= 32) {
    a = rotl((a ^ load64(p)) * k2, 31);
    b = rotl((b ^ load64(p + 8)) * k2, 31);
    c = rotl((c ^ load64(p + 16)) * k2, 31);
    d = rotl((d ^ load64(p + 24)) * k2, 31);
  }
  std::uint64_t h = bytes.size() * k1 ^ rotl(a, 1) ^ rotl(b, 7) ^ rotl(c, 12) ^ rotl(d, 18);
  for (; n > 8; p += 8, n -= 8) h = rotl((h ^ load64(p)) * k2, 31) * k1;
  // The last 1..8 bytes in whole loads (overlapping what came before when there is enough): byte
  // by byte they would cost a store-forwarding stall on every short string of the value table.
  if (n > 0) {
    std::uint64_t w;
    if (bytes.size() >= 8) {
      w = load64(p + n - 8);
    } else if (n >= 4) {
      std::uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      w = static_cast<std::uint64_t>(hi) << 32 | lo;
    } else {
      w = static_cast<unsigned char>(p[0]) | static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 |
          static_cast<std::uint64_t>(static_cast<unsigned char>(p[n - 1])) << 16;
    }
    h = rotl((h ^ w) * k2, 31) * k1;
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

std::vector<DPoint> clip_ring(const std::vector<DPoint>& ring, double lo, double hi) {
  // Input open or closed; output open.
  std::vector<DPoint> r = ring, scratch;
  clip_in_place(r, scratch, lo, hi);
  return r;
}

void LayerEncoder::reset(std::string_view name, std::uint32_t extent, std::int32_t buffer) {
  m_name = name;
  m_extent = extent;
  m_buffer = buffer;
  m_features.clear();
  m_feature_ends.clear();
  m_keys.clear();
  m_last_value.clear();
  m_values.clear();
  m_strings = 0;
  if (++m_generation == 0) {  // after 2^32 layers: the old marks could look current again
    std::fill(m_string_slots.begin(), m_string_slots.end(), 0);
    m_generation = 1;
  }
  m_int_index.clear();
  m_double_index.clear();
  m_bool_index[0] = m_bool_index[1] = UINT32_MAX;
}

std::uint32_t LayerEncoder::string_value(std::string_view s) {
  if (2 * (m_strings + 1) > m_string_slots.size()) {
    // Grow (or first use): re-enter the strings of this layer into twice the slots.
    std::vector<std::uint64_t> slots(std::max<std::size_t>(1024, 2 * m_string_slots.size()), 0);
    const std::size_t mask = slots.size() - 1;
    for (std::uint32_t i = 0; i < m_values.size(); ++i) {
      const auto* v = std::get_if<std::string_view>(&m_values[i]);
      if (!v) continue;
      std::size_t at = content_hash(*v) & mask;
      while (slots[at] != 0) at = (at + 1) & mask;
      slots[at] = static_cast<std::uint64_t>(m_generation) << 32 | (i + 1);
    }
    m_string_slots = std::move(slots);
  }
  const std::size_t mask = m_string_slots.size() - 1;
  for (std::size_t at = content_hash(s) & mask;; at = (at + 1) & mask) {
    const std::uint64_t slot = m_string_slots[at];
    if (slot >> 32 != m_generation) {
      const auto index = static_cast<std::uint32_t>(m_values.size());
      m_string_slots[at] = static_cast<std::uint64_t>(m_generation) << 32 | (index + 1);
      m_values.emplace_back(s);
      ++m_strings;
      return index;
    }
    const auto index = static_cast<std::uint32_t>(slot) - 1;
    if (std::get<std::string_view>(m_values[index]) == s) return index;
  }
}

void LayerEncoder::commit(std::uint64_t id, int type, const Properties& props) {
  m_tags.clear();
  std::uint32_t position = 0;
  for (const auto& [k, v] : props) {
    // Features of a layer list their properties in the same order, with the same literal keys:
    // the key at this position, compared by address first, is nearly always the one.
    auto same = [&k](std::string_view known) { return (known.data() == k.data() && known.size() == k.size()) || known == k; };
    std::uint32_t key = position++;
    if (key >= m_keys.size() || !same(m_keys[key]))
      for (key = 0; key < m_keys.size() && !same(m_keys[key]);) ++key;
    if (key == m_keys.size()) m_keys.push_back(k), m_last_value.push_back(UINT32_MAX);
    const auto next = static_cast<std::uint32_t>(m_values.size());
    std::uint32_t value = next;
    std::uint32_t& last = m_last_value[key];
    if (last != UINT32_MAX && m_values[last] == v) {
      // Neighbouring features mostly share a level, a parent, counts: no table lookup for those.
      value = last;
    } else if (const auto* s = std::get_if<std::string_view>(&v)) {
      value = string_value(*s);
    } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
      auto [it, fresh] = m_int_index.emplace(*i, next);
      if (fresh)
        m_values.emplace_back(*i);
      else
        value = it->second;
    } else if (const auto* d = std::get_if<double>(&v)) {
      auto [it, fresh] = m_double_index.emplace(*d, next);
      if (fresh)
        m_values.emplace_back(*d);
      else
        value = it->second;
    } else {
      std::uint32_t& slot = m_bool_index[std::get<bool>(v) ? 1 : 0];
      if (slot == UINT32_MAX) slot = next, m_values.emplace_back(std::get<bool>(v));
      value = slot;
    }
    last = value;
    m_tags.push_back(key);
    m_tags.push_back(value);
  }
  // Feature (spec 4.2): id = 1, tags = 2 (packed), type = 3, geometry = 4 (packed).
  char head[24];
  char* p = put_varint(head, 1 << 3 | 0);
  p = put_varint(p, id);
  m_features.append(head, static_cast<std::size_t>(p - head));
  append_packed(m_features, 2, m_tags);
  p = put_varint(head, 3 << 3 | 0);
  p = put_varint(p, static_cast<std::uint64_t>(type));
  m_features.append(head, static_cast<std::size_t>(p - head));
  append_packed(m_features, 4, m_geometry);
  m_feature_ends.push_back(m_features.size());
}

bool LayerEncoder::append_ring(bool exterior, std::int32_t& cx, std::int32_t& cy) {
  m_pts.clear();
  for (const auto& [x, y] : m_ring) {
    IPoint ip{static_cast<std::int32_t>(std::lround(x)), static_cast<std::int32_t>(std::lround(y))};
    if (m_pts.empty() || !(m_pts.back() == ip)) m_pts.push_back(ip);
  }
  while (m_pts.size() > 1 && m_pts.front() == m_pts.back()) m_pts.pop_back();
  const std::int64_t a = m_pts.size() >= 3 ? area2(m_pts) : 0;
  if (a == 0) return false;
  // Spec 4.3.4.4: exterior rings have positive area in tile coordinates, interior negative.
  if (exterior != (a > 0)) std::reverse(m_pts.begin(), m_pts.end());
  append_path(m_geometry, m_pts, cx, cy);
  m_geometry.push_back(command(7, 1));
  return true;
}

bool LayerEncoder::add_polygon(std::uint64_t id, const MultiPolygon& mercator, const TileTransform& tf, const Properties& props) {
  FlatRings flat;
  for (const auto& polygon : mercator)
    for (std::size_t r = 0; r < polygon.size(); ++r) {
      flat.points.insert(flat.points.end(), polygon[r].begin(), polygon[r].end());
      flat.rings.push_back({static_cast<std::uint32_t>(flat.points.size()), r == 0});
    }
  return add_polygon(id, flat, tf, props);
}

bool LayerEncoder::add_polygon(std::uint64_t id, const FlatRings& mercator, const TileTransform& tf, const Properties& props) {
  const double lo = -m_buffer, hi = static_cast<double>(m_extent) + m_buffer;
  m_geometry.clear();
  std::int32_t cx = 0, cy = 0;  // the cursor: every command's parameters are relative to it
  bool exterior_left = false;
  std::uint32_t begin = 0;
  for (const auto& ring : mercator.rings) {
    const Point* p = mercator.points.data() + begin;
    const Point* end = mercator.points.data() + ring.end;
    begin = ring.end;
    if (!ring.exterior && !exterior_left) continue;  // no exterior left in this tile: skip its holes too
    m_ring.clear();
    bool inside = true;  // most rings of a tile lie wholly within it: no clipping needed
    for (; p != end; ++p) {
      const DPoint q{tf.to_x(p->x), tf.to_y(p->y)};
      m_ring.push_back(q);
      inside = inside && q.first >= lo && q.first <= hi && q.second >= lo && q.second <= hi;
    }
    if (!inside)
      clip_in_place(m_ring, m_clip, lo, hi);
    else if (m_ring.size() > 1 && m_ring.front() == m_ring.back())
      m_ring.pop_back();
    const bool drawn = append_ring(ring.exterior, cx, cy);
    if (ring.exterior) exterior_left = drawn;
  }
  if (m_geometry.empty()) return false;
  commit(id, 3, props);
  return true;
}

bool LayerEncoder::add_point(std::uint64_t id, Point mercator, const TileTransform& tf, const Properties& props) {
  const auto x = static_cast<std::int32_t>(std::lround(tf.to_x(mercator.x)));
  const auto y = static_cast<std::int32_t>(std::lround(tf.to_y(mercator.y)));
  if (x < -m_buffer || y < -m_buffer || x > static_cast<std::int32_t>(m_extent) + m_buffer ||
      y > static_cast<std::int32_t>(m_extent) + m_buffer)
    return false;
  m_geometry.assign({command(1, 1), zigzag(x), zigzag(y)});
  commit(id, 1, props);
  return true;
}

bool LayerEncoder::add_line(std::uint64_t id, const std::vector<Point>& mercator, const TileTransform& tf, const Properties& props) {
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
        if (p < 0)
          t0 = std::max(t0, t);
        else
          t1 = std::min(t1, t);
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
  m_geometry.clear();
  std::int32_t cx = 0, cy = 0;
  for (const auto& pts : parts) append_path(m_geometry, pts, cx, cy);
  commit(id, 2, props);
  return true;
}

void LayerEncoder::write_to(std::string& tile) const {
  // The layer's length, worked out first, goes in front of it directly: no room reserved for the
  // length and moved up afterwards (a whole z10 layer, ~400 KB), and one allocation for the tile.
  auto field = [](std::size_t length) { return 1 + varint_size(length) + length; };  // fields 1..15
  std::size_t length = 2 + field(m_name.size()) + 1 + varint_size(m_extent);         // version, name, extent
  std::size_t begin = 0;
  for (std::size_t end : m_feature_ends) length += field(end - begin), begin = end;
  for (const auto& k : m_keys) length += field(k.size());
  auto value_length = [&field](const TableValue& v) -> std::size_t {
    if (const auto* s = std::get_if<std::string_view>(&v)) return field(s->size());
    if (const auto* i = std::get_if<std::int64_t>(&v)) return 1 + varint_size(protozero::encode_zigzag64(*i));
    return std::holds_alternative<double>(v) ? 1 + 8 : 1 + 1;
  };
  for (const auto& v : m_values) length += field(value_length(v));
  tile.reserve(tile.size() + 1 + varint_size(length) + length);
  protozero::pbf_writer tile_writer(tile);
  protozero::pbf_writer layer(tile_writer, 3, length);
  const std::size_t start = tile.size();
  layer.add_uint32(15, 2);  // version
  layer.add_string(1, m_name);
  begin = 0;
  for (std::size_t end : m_feature_ends) {
    layer.add_message(2, m_features.data() + begin, end - begin);
    begin = end;
  }
  for (const auto& k : m_keys) layer.add_string(3, k.data(), k.size());
  for (const auto& v : m_values) {
    protozero::pbf_writer value(layer, 4, value_length(v));
    if (const auto* s = std::get_if<std::string_view>(&v))
      value.add_string(1, s->data(), s->size());
    else if (const auto* i = std::get_if<std::int64_t>(&v))
      value.add_sint64(6, *i);
    else if (const auto* d = std::get_if<double>(&v))
      value.add_double(3, *d);
    else
      value.add_bool(7, std::get<bool>(v));
  }
  layer.add_uint32(5, m_extent);
  if (tile.size() - start != length) throw std::logic_error("MVT layer length miscounted");
}

}  // namespace wangge::tiles
