// The WKB reader shared by the tiles and the locator: well-formed polygons, multipolygons and lines
// in both byte orders, and malformed input that must throw wkb_error, never read past the end.
#include "geom/wkb.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

using wangge::geom::read_linestring;
using wangge::geom::read_polygonal;
using wangge::geom::wkb_error;
using wangge::geom::wkb_from_hex;
using wangge::geom::WkbPoints;
using wangge::geom::XY;

using Rings = std::vector<std::vector<XY>>;

// Writes WKB by hand, in either byte order, so the tests do not trust the code under test.
class Writer {
 public:
  explicit Writer(bool little) : m_little(little) {}
  Writer& header(std::uint32_t type) {
    m_out.push_back(m_little ? '\1' : '\0');
    return u32(type);
  }
  Writer& u32(std::uint32_t v) { return raw(&v, 4); }
  Writer& f64(double v) { return raw(&v, 8); }
  Writer& points(const std::vector<XY>& pts) {
    u32(static_cast<std::uint32_t>(pts.size()));
    for (const XY& p : pts) f64(p.x), f64(p.y);
    return *this;
  }
  Writer& polygon_body(const Rings& rings) {
    u32(static_cast<std::uint32_t>(rings.size()));
    for (const auto& r : rings) points(r);
    return *this;
  }
  Writer& append(const std::string& bytes) {
    m_out += bytes;
    return *this;
  }
  const std::string& bytes() const { return m_out; }

 private:
  Writer& raw(const void* v, std::size_t n) {
    char b[8];
    std::memcpy(b, v, n);
    if (m_little != (std::endian::native == std::endian::little))
      for (std::size_t i = 0; i < n / 2; ++i) std::swap(b[i], b[n - 1 - i]);
    m_out.append(b, n);
    return *this;
  }
  bool m_little;
  std::string m_out;
};

const Rings kSquareWithHole{{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}}, {{2, 2}, {2, 4}, {4, 4}, {2, 2}}};
const Rings kTriangle{{{20.5, -1.25}, {30, 5}, {25, 9}, {20.5, -1.25}}};

std::string polygon(bool little, const Rings& rings) { return Writer(little).header(3).polygon_body(rings).bytes(); }

std::string multipolygon(bool little, const std::vector<std::string>& members) {
  Writer w(little);
  w.header(6).u32(static_cast<std::uint32_t>(members.size()));
  for (const auto& m : members) w.append(m);
  return w.bytes();
}

// What read_polygonal hands over, polygon by polygon.
std::vector<Rings> read(const std::string& wkb) {
  struct Collect {
    std::vector<Rings> out;
    void polygon(std::uint32_t rings) {
      out.emplace_back();
      out.back().reserve(rings);
    }
    void ring(const WkbPoints& points) {
      std::vector<XY> r;
      for (std::uint32_t i = 0; i < points.size(); ++i) r.push_back(points[i]);
      out.back().push_back(std::move(r));
    }
  } c;
  read_polygonal(wkb, c);
  return std::move(c.out);
}

void expect_rings(const Rings& want, const Rings& got) {
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t r = 0; r < want.size(); ++r) {
    ASSERT_EQ(want[r].size(), got[r].size()) << "ring " << r;
    for (std::size_t i = 0; i < want[r].size(); ++i) {
      EXPECT_EQ(want[r][i].x, got[r][i].x) << "ring " << r << " point " << i;
      EXPECT_EQ(want[r][i].y, got[r][i].y) << "ring " << r << " point " << i;
    }
  }
}

TEST(Wkb, PolygonWithAHoleInBothByteOrders) {
  for (bool little : {true, false}) {
    auto got = read(polygon(little, kSquareWithHole));
    ASSERT_EQ(1u, got.size());
    expect_rings(kSquareWithHole, got[0]);
  }
}

TEST(Wkb, MultiPolygonWhoseMembersHaveTheirOwnByteOrder) {
  auto got = read(multipolygon(false, {polygon(true, kSquareWithHole), polygon(false, kTriangle)}));
  ASSERT_EQ(2u, got.size());
  expect_rings(kSquareWithHole, got[0]);
  expect_rings(kTriangle, got[1]);
}

TEST(Wkb, EmptyPolygonsAndRingsAreHandedOverAsSuch) {
  auto got = read(multipolygon(true, {polygon(true, {}), polygon(true, {{}})}));
  ASSERT_EQ(2u, got.size());
  EXPECT_TRUE(got[0].empty());
  ASSERT_EQ(1u, got[1].size());
  EXPECT_TRUE(got[1][0].empty());
  EXPECT_TRUE(read(multipolygon(true, {})).empty());
}

TEST(Wkb, LineString) {
  const std::vector<XY> line{{120.1, 30.2}, {120.3, 30.4}, {-1e-300, 1e300}};
  for (bool little : {true, false}) {
    const std::string wkb = Writer(little).header(2).points(line).bytes();
    WkbPoints got = read_linestring(wkb);
    ASSERT_EQ(line.size(), got.size());
    for (std::uint32_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(line[i].x, got[i].x);
      EXPECT_EQ(line[i].y, got[i].y);
    }
  }
}

TEST(Wkb, HexAsByteaOrAsEncodeGivesIt) {
  const std::string wkb = polygon(true, kTriangle);
  std::string hex;
  for (unsigned char c : wkb) hex += "0123456789abcdef"[c >> 4], hex += "0123456789abcdef"[c & 15];
  EXPECT_EQ(wkb, wkb_from_hex(hex));
  EXPECT_EQ(wkb, wkb_from_hex("\\x" + hex));
  EXPECT_EQ(std::string("\xAB\x01", 2), wkb_from_hex("aB01"));
  EXPECT_EQ("", wkb_from_hex(""));
  EXPECT_THROW(wkb_from_hex("abc"), wkb_error);
  EXPECT_THROW(wkb_from_hex("0g"), wkb_error);
  EXPECT_THROW(wkb_from_hex("\\x0"), wkb_error);
}

// Every proper prefix of a valid geometry is truncated somewhere: each must throw, none may read
// beyond its end (the prefix is copied into a buffer of exactly its size, so a sanitizer or a
// guard page would see an overread).
TEST(Wkb, EveryTruncationThrows) {
  const std::string whole = multipolygon(true, {polygon(false, kSquareWithHole), polygon(true, kTriangle)});
  ASSERT_NO_THROW(read(whole));
  for (std::size_t n = 0; n < whole.size(); ++n) {
    const std::string prefix = whole.substr(0, n);
    EXPECT_THROW(read(prefix), wkb_error) << "prefix of " << n << " bytes";
  }
  const std::string line = Writer(true).header(2).points({{1, 2}, {3, 4}}).bytes();
  for (std::size_t n = 0; n < line.size(); ++n) EXPECT_THROW(read_linestring(line.substr(0, n)), wkb_error) << n;
}

TEST(Wkb, HugeCountsThrowBeforeAnythingIsReservedOrRead) {
  EXPECT_THROW(read(Writer(true).header(3).u32(0xFFFFFFFF).bytes()), wkb_error);         // rings
  EXPECT_THROW(read(Writer(true).header(3).u32(1).u32(0xFFFFFFFF).bytes()), wkb_error);  // points
  EXPECT_THROW(read(Writer(false).header(6).u32(0x7FFFFFFF).bytes()), wkb_error);        // polygons
  EXPECT_THROW(read_linestring(Writer(true).header(2).u32(0x10000000).f64(1).f64(2).bytes()), wkb_error);
  try {
    read(Writer(true).header(3).u32(1).u32(1000).bytes());
    FAIL() << "no exception";
  } catch (const wkb_error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST(Wkb, WrongTypesAndByteOrdersThrow) {
  EXPECT_THROW(read(Writer(true).header(2).points({{0, 0}, {1, 1}}).bytes()), wkb_error);  // a line is not polygonal
  EXPECT_THROW(read_linestring(polygon(true, kTriangle)), wkb_error);
  EXPECT_THROW(read(Writer(true).header(1003).polygon_body(kTriangle).bytes()), wkb_error);                  // ISO PolygonZ
  EXPECT_THROW(read(Writer(true).header(0x20000003).u32(4490).polygon_body(kTriangle).bytes()), wkb_error);  // EWKB with SRID
  EXPECT_THROW(read(multipolygon(true, {Writer(true).header(2).points({{0, 0}, {1, 1}}).bytes()})), wkb_error);
  std::string bad_order = polygon(true, kTriangle);
  bad_order[0] = 2;
  EXPECT_THROW(read(bad_order), wkb_error);
  try {
    read(Writer(true).header(7).u32(0).bytes());
    FAIL() << "no exception";
  } catch (const wkb_error& e) {
    EXPECT_NE(std::string(e.what()).find("type 7"), std::string::npos) << e.what();
  }
}

TEST(Wkb, TrailingBytesThrow) {
  EXPECT_THROW(read(polygon(true, kTriangle) + '\0'), wkb_error);
  EXPECT_THROW(read_linestring(Writer(true).header(2).points({{0, 0}, {1, 1}}).bytes() + "x"), wkb_error);
}

}  // namespace
