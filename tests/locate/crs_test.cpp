// GCJ-02 / BD-09 against published vectors, round trips, the mainland outline, and PROJ axis order.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.hpp"
#include "crs/mars.hpp"
#include "crs/point_crs.hpp"

using namespace wangge::crs;

namespace {

struct Vector {
  const char* where;
  LonLat wgs, gcj;
};

// Published test vectors (WGS84 -> GCJ-02) of well-known implementations: eviltransform's test
// suite (Shanghai, Shenzhen, Beijing) and the R package and Rust geotool examples.
const Vector kVectors[] = {
    {"Shanghai", {121.5272106, 31.1774276}, {121.531541859215, 31.17530398364597}},
    {"Shenzhen", {113.912316, 22.543847}, {113.9171764808363, 22.540796131694766}},
    {"Beijing", {116.377817, 39.911954}, {116.38404722455657, 39.91334545536069}},
    {"Beijing Tiananmen", {116.39089, 39.90734}, {116.39713094, 39.90874107}},
    {"Jiaxing", {121.0917077, 30.6107779}, {121.09626935575027, 30.608604331756705}},
};

}  // namespace

TEST(Gcj02, PublishedVectors) {
  for (const auto& v : kVectors) {
    const LonLat g = wgs84_to_gcj02(v.wgs);
    // geotool's value differs by 8e-8 degrees (8 mm; other constants for pi); the rest agree to 5e-9.
    EXPECT_NEAR(g.lon, v.gcj.lon, 1e-7) << v.where;
    EXPECT_NEAR(g.lat, v.gcj.lat, 1e-7) << v.where;
  }
}

TEST(Bd09, PublishedVector) {
  // geotool: WGS84 (121.0917077, 30.6107779) -> BD-09 (121.10271732371203, 30.61484572185035).
  const LonLat b = wgs84_to_bd09({121.0917077, 30.6107779});
  EXPECT_NEAR(b.lon, 121.10271732371203, 1e-7);  // geotool's 8e-8 from its GCJ-02 step (above)
  EXPECT_NEAR(b.lat, 30.61484572185035, 1e-7);
  // The inverse reproduces the input through the forward transform.
  const LonLat bd{120.019809, 29.199786};
  const LonLat back = wgs84_to_bd09(bd09_to_wgs84(bd));
  EXPECT_NEAR(back.lon, bd.lon, 1e-7);
  EXPECT_NEAR(back.lat, bd.lat, 1e-7);
}

TEST(Gcj02, RoundTripsWithinOneMicrodegree) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> lon(118.0, 123.2), lat(27.0, 31.2);
  double worst = 0;
  int ambiguous = 0;
  for (int i = 0; i < 20000; ++i) {
    const LonLat w{lon(rng), lat(rng)};
    // Within the offset's reach of the outline (at sea here) the forward map is not one-to-one.
    if (in_mainland_china(w) != in_mainland_china(wgs84_to_gcj02(w)) || in_mainland_china(w) != in_mainland_china(wgs84_to_bd09(w))) {
      ++ambiguous;
      continue;
    }
    const LonLat back = gcj02_to_wgs84(wgs84_to_gcj02(w));
    const LonLat back_bd = bd09_to_wgs84(wgs84_to_bd09(w));
    worst = std::max(
        {worst, std::fabs(back.lon - w.lon), std::fabs(back.lat - w.lat), std::fabs(back_bd.lon - w.lon), std::fabs(back_bd.lat - w.lat)});
  }
  EXPECT_LT(worst, 1e-6);
  EXPECT_LT(ambiguous, 100);
  // A single fixed-point step is not enough: this is what the iteration is for.
  const LonLat w{120.15, 30.28};
  const LonLat g = wgs84_to_gcj02(w);
  const LonLat one_step{2 * g.lon - wgs84_to_gcj02(g).lon, 2 * g.lat - wgs84_to_gcj02(g).lat};
  EXPECT_GT(std::fabs(one_step.lon - w.lon) + std::fabs(one_step.lat - w.lat), 1e-7);
}

TEST(Gcj02, OffsetIsHundredsOfMetres) {
  const LonLat w{120.15, 30.28}, g = wgs84_to_gcj02(w);
  const double dx = (g.lon - w.lon) * 96000, dy = (g.lat - w.lat) * 111000;
  const double d = std::hypot(dx, dy);
  EXPECT_GT(d, 100);
  EXPECT_LT(d, 700);
}

TEST(MainlandChina, CoarsePolygonNotABox) {
  for (LonLat in : {LonLat{116.39, 39.91}, LonLat{121.47, 31.23}, LonLat{120.15, 30.28}, LonLat{113.26, 23.13}, LonLat{114.06, 22.62},
                    LonLat{113.57, 22.27}, LonLat{87.62, 43.82}, LonLat{91.13, 29.65}, LonLat{126.63, 45.75}, LonLat{110.35, 20.02},
                    LonLat{109.51, 18.25}, LonLat{122.2, 30.0}, LonLat{113.912316, 22.543847}})
    EXPECT_TRUE(in_mainland_china(in)) << in.lon << "," << in.lat;
  for (LonLat out : {LonLat{114.17, 22.30}, LonLat{114.26, 22.42}, LonLat{113.54, 22.19}, LonLat{121.56, 25.04}, LonLat{120.30, 22.62},
                     LonLat{119.57, 23.57}, LonLat{139.69, 35.69}, LonLat{126.98, 37.57}, LonLat{125.75, 39.02}, LonLat{106.91, 47.92},
                     LonLat{105.85, 21.03}, LonLat{0, 0}})
    EXPECT_FALSE(in_mainland_china(out)) << out.lon << "," << out.lat;
  // Outside the mainland the transforms are the identity, both ways.
  const LonLat hk{114.17, 22.30};
  EXPECT_EQ(wgs84_to_gcj02(hk).lon, hk.lon);
  EXPECT_EQ(gcj02_to_wgs84(hk).lat, hk.lat);
  EXPECT_EQ(bd09_to_wgs84(hk).lon, hk.lon);
}

TEST(PointCrs, ParsesNamesAndEpsg) {
  EXPECT_EQ(parse_point_crs("gcj02").kind, Kind::gcj02);
  EXPECT_EQ(parse_point_crs("GCJ-02").kind, Kind::gcj02);
  EXPECT_EQ(parse_point_crs("bd09").kind, Kind::bd09);
  EXPECT_EQ(parse_point_crs("").srid, 4490);
  EXPECT_EQ(parse_point_crs("EPSG:4549").srid, 4549);
  EXPECT_THROW(parse_point_crs("EPSG:2000"), wangge::bad_request);
  EXPECT_THROW(parse_point_crs("wgs"), wangge::bad_request);
}

TEST(PointCrs, ProjectedInputsInEastingNorthingOrder) {
  const LonLat hz{120.15, 30.28};
  for (int srid : {3857, 4528, 4549, 4527, 4550}) {
    const PointCrs c{Kind::epsg, srid};
    const LonLat xy = from_storage(c, hz);
    // Easting first: 3857 x is about 13.4e6; GK zone 40 without prefix about 500 km, with prefix 40.5e6.
    EXPECT_GT(xy.lon, 1e5) << srid;
    EXPECT_GT(xy.lat, 3e6) << srid;
    const LonLat back = to_storage(c, xy.lon, xy.lat);
    EXPECT_NEAR(back.lon, hz.lon, 1e-8) << srid;
    EXPECT_NEAR(back.lat, hz.lat, 1e-8) << srid;
  }
  EXPECT_NEAR(from_storage({Kind::epsg, 4528}, hz).lon, 40.5e6, 1e5);
  EXPECT_NEAR(from_storage({Kind::epsg, 4549}, hz).lon, 514000, 2000);
  // Geographic input out of range is refused, not wrapped.
  EXPECT_THROW(to_storage({}, 120, 95), wangge::bad_request);
  EXPECT_THROW(to_storage({Kind::gcj02, 4326}, 200, 30), wangge::bad_request);
}
