// Reading well-known binary (OGC WKB, 2D, either byte order) as PostGIS's ST_AsBinary writes it:
// Polygon, MultiPolygon and LineString. The reader builds nothing itself: it hands each ring's
// points, still in the WKB bytes, to the caller, who builds its own structure (the tiles' mercator
// rings, the locator's flat vertex list) without an intermediate copy.
//
// Every count is checked against the bytes left before anything is read or reserved, so malformed
// or truncated input throws wkb_error, never reads out of bounds and never allocates by a bogus
// count. Types with Z or M (ISO 1000+ codes, EWKB flags) are refused rather than misread.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace wangge::geom {

// Malformed WKB. The bytes come from the database, so this is an internal error, never the client's.
class wkb_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct XY {
  double x = 0, y = 0;
};

// The points of one ring or line string, in place in the WKB bytes (valid while they are): the
// count was checked against the bytes left when the view was made; a point is decoded when asked.
class WkbPoints {
 public:
  std::uint32_t size() const { return m_size; }
  bool empty() const { return m_size == 0; }
  // @pre i < size()
  XY operator[](std::uint32_t i) const {
    const unsigned char* p = m_data + 16 * static_cast<std::size_t>(i);
    return {decode(p), decode(p + 8)};
  }

 private:
  friend class WkbCursor;
  WkbPoints(const unsigned char* data, std::uint32_t size, bool swap) : m_data(data), m_size(size), m_swap(swap) {}
  double decode(const unsigned char* p) const {
    std::uint64_t bits;
    std::memcpy(&bits, p, 8);
    if (m_swap) bits = __builtin_bswap64(bits);
    return std::bit_cast<double>(bits);
  }
  const unsigned char* m_data;
  std::uint32_t m_size;
  bool m_swap;
};

// A bounds-checked position in WKB bytes. Each geometry header sets the byte order of what follows.
class WkbCursor {
 public:
  explicit WkbCursor(std::string_view wkb) : m_p(reinterpret_cast<const unsigned char*>(wkb.data())), m_end(m_p + wkb.size()) {}

  // Byte order and type of the next geometry; throws unless the byte order is 0 or 1.
  std::uint32_t header();
  // A count of items each at least `min_item_bytes` long: more than the bytes left is malformed.
  std::uint32_t count(std::size_t min_item_bytes, const char* what);
  // The points of a ring or line string (count and coordinates).
  WkbPoints points(const char* what) {
    const std::uint32_t n = count(16, what);
    WkbPoints out(m_p, n, m_swap);
    m_p += 16 * static_cast<std::size_t>(n);
    return out;
  }
  // Throws unless every byte was read: trailing bytes mean the geometry was not what we took it for.
  void finish() const;

 private:
  std::uint32_t u32();
  const unsigned char* m_p;
  const unsigned char* m_end;
  bool m_swap = false;
};

// WKB as text, as libpq hands it over: PostgreSQL's bytea output ("\x" then hex) or encode(…, 'hex').
std::string wkb_from_hex(std::string_view text);

// Reads a Polygon or MultiPolygon. For each polygon, calls handler.polygon(rings), then
// handler.ring(points) for each of its rings (exterior first, then holes).
// Throws wkb_error when the bytes are not exactly one 2D Polygon or MultiPolygon.
template <class Handler>
void read_polygonal(std::string_view wkb, Handler&& handler) {
  WkbCursor in(wkb);
  auto polygon = [&in, &handler] {
    const std::uint32_t rings = in.count(4, "rings");
    handler.polygon(rings);
    for (std::uint32_t r = 0; r < rings; ++r) handler.ring(in.points("ring points"));
  };
  const std::uint32_t type = in.header();
  if (type == 3) {
    polygon();
  } else if (type == 6) {
    const std::uint32_t n = in.count(9, "polygons");
    for (std::uint32_t i = 0; i < n; ++i) {
      if (const std::uint32_t member = in.header(); member != 3)
        throw wkb_error("WKB: a MultiPolygon member has type " + std::to_string(member) + ", not Polygon (3)");
      polygon();
    }
  } else {
    throw wkb_error("WKB: type " + std::to_string(type) + " is not a 2D Polygon (3) or MultiPolygon (6)");
  }
  in.finish();
}

// Reads a LineString; the points are views into `wkb`. Throws wkb_error unless it is exactly one.
WkbPoints read_linestring(std::string_view wkb);

}  // namespace wangge::geom
