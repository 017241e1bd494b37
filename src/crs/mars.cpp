#include "crs/mars.hpp"

#include <cmath>
#include <cstddef>
#include <numbers>

namespace wangge::crs {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kKrasovskyA = 6378245.0;                // semi-major axis used by GCJ-02
constexpr double kKrasovskyEe = 0.00669342162296594323;  // first eccentricity squared
constexpr double kBdXPi = kPi * 3000.0 / 180.0;

// Coarse outline of mainland China (lon, lat), clockwise from the Pamirs. Drawn by hand from the
// land borders and a line off the coast; Hainan is inside. Notches keep Hong Kong and Macau out,
// and the coastal line passes west of Penghu and Taiwan.
// (Kept six points a row, as the outline was drawn.)
// clang-format off
constexpr LonLat kMainland[] = {
    {73.4, 39.4},   {76.5, 40.4},   {80.2, 42.1},   {80.2, 44.9},   {82.5, 45.2},   {85.5, 47.0},
    {87.8, 49.2},   {90.8, 47.9},   {91.0, 45.5},   {95.5, 44.3},   {96.4, 42.8},   {100.0, 42.6},
    {105.0, 41.6},  {107.0, 42.3},  {111.9, 43.6},  {113.6, 44.8},  {119.9, 46.7},  {116.0, 47.9},
    {117.4, 49.6},  {119.5, 50.0},  {120.0, 52.5},  {123.0, 53.6},  {125.5, 53.2},  {127.5, 50.0},
    {130.5, 48.9},  {132.5, 47.7},  {134.8, 48.3},  {133.0, 45.0},  {131.3, 44.9},  {131.3, 43.0},
    {130.6, 42.4},  {128.3, 41.5},  {126.0, 41.2},  {124.4, 39.8},  {123.5, 39.6},  {121.5, 38.7},
    {120.6, 38.2},  {121.5, 37.9},  {122.8, 37.2},  {120.5, 36.0},  {119.5, 35.0},  {120.8, 33.8},
    {121.0, 32.5},  {121.9, 31.7},  {122.6, 30.8},  {122.3, 29.8},  {121.0, 27.8},  {120.0, 26.6},
    {119.8, 25.6},  {119.3, 25.0},  {118.5, 24.3},  {117.5, 23.4},  {116.8, 23.0},  {115.5, 22.5},
    // Hong Kong (north border along the Shenzhen River, about 22.50-22.56 N) stays outside.
    {114.6, 22.4},  {114.45, 22.56}, {114.22, 22.55}, {114.05, 22.51}, {113.90, 22.50}, {113.82, 22.40},
    // Macau (113.53-113.60 E, 22.11-22.22 N) stays outside.
    {113.61, 22.05}, {113.61, 22.225}, {113.52, 22.225}, {113.52, 22.0},
    {113.3, 21.8},  {112.5, 21.6},  {111.0, 21.3},  {111.3, 19.6},  {110.6, 18.0},  {109.4, 18.0},
    {108.4, 19.0},  {108.0, 21.4},  {108.0, 21.5},  {106.7, 22.8},  {105.5, 23.3},  {103.5, 22.6},
    {102.0, 22.4},  {101.0, 21.2},  {99.5, 22.0},   {97.5, 24.0},   {98.5, 25.0},   {97.5, 28.2},
    {96.0, 29.0},   {92.0, 27.8},   {89.0, 27.3},   {88.0, 27.9},   {85.0, 28.3},   {81.0, 30.0},
    {78.7, 31.0},   {79.0, 32.5},   {78.0, 35.5},   {75.0, 37.0},
};
// clang-format on

double offset_lat(double x, double y) {
  double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * std::sqrt(std::fabs(x));
  r += (20.0 * std::sin(6.0 * x * kPi) + 20.0 * std::sin(2.0 * x * kPi)) * 2.0 / 3.0;
  r += (20.0 * std::sin(y * kPi) + 40.0 * std::sin(y / 3.0 * kPi)) * 2.0 / 3.0;
  r += (160.0 * std::sin(y / 12.0 * kPi) + 320.0 * std::sin(y * kPi / 30.0)) * 2.0 / 3.0;
  return r;
}

double offset_lon(double x, double y) {
  double r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * std::sqrt(std::fabs(x));
  r += (20.0 * std::sin(6.0 * x * kPi) + 20.0 * std::sin(2.0 * x * kPi)) * 2.0 / 3.0;
  r += (20.0 * std::sin(x * kPi) + 40.0 * std::sin(x / 3.0 * kPi)) * 2.0 / 3.0;
  r += (150.0 * std::sin(x / 12.0 * kPi) + 300.0 * std::sin(x / 30.0 * kPi)) * 2.0 / 3.0;
  return r;
}

// The published GCJ-02 forward formula, applied unconditionally.
LonLat gcj_forward(LonLat p) {
  double dlat = offset_lat(p.lon - 105.0, p.lat - 35.0);
  double dlon = offset_lon(p.lon - 105.0, p.lat - 35.0);
  const double radlat = p.lat / 180.0 * kPi;
  double magic = std::sin(radlat);
  magic = 1 - kKrasovskyEe * magic * magic;
  const double sqrtmagic = std::sqrt(magic);
  dlat = (dlat * 180.0) / ((kKrasovskyA * (1 - kKrasovskyEe)) / (magic * sqrtmagic) * kPi);
  dlon = (dlon * 180.0) / (kKrasovskyA / sqrtmagic * std::cos(radlat) * kPi);
  return {p.lon + dlon, p.lat + dlat};
}

LonLat bd_forward(LonLat g) {
  const double z = std::sqrt(g.lon * g.lon + g.lat * g.lat) + 0.00002 * std::sin(g.lat * kBdXPi);
  const double theta = std::atan2(g.lat, g.lon) + 0.000003 * std::cos(g.lon * kBdXPi);
  return {z * std::cos(theta) + 0.0065, z * std::sin(theta) + 0.006};
}

// Solves forward(x) = target for x. The offset varies slowly (its derivative is ~1e-5), so the
// fixed-point step x <- x + (target - forward(x)) contracts fast: 3-5 steps reach 1e-9 degrees.
template <typename Forward>
LonLat invert(LonLat target, double tolerance, Forward forward) {
  LonLat x = target;
  for (int i = 0; i < 50; ++i) {
    const LonLat f = forward(x);
    const double dlon = target.lon - f.lon;
    const double dlat = target.lat - f.lat;
    if (std::fabs(dlon) <= tolerance && std::fabs(dlat) <= tolerance) break;
    x.lon += dlon;
    x.lat += dlat;
  }
  return x;
}

}  // namespace

bool in_mainland_china(LonLat p) {
  if (!(p.lon >= 73.0 && p.lon <= 135.5 && p.lat >= 17.5 && p.lat <= 54.0)) return false;
  // Even-odd crossing test; the outline is coarse, so boundary cases need no special care.
  bool inside = false;
  constexpr std::size_t n = sizeof kMainland / sizeof kMainland[0];
  for (std::size_t i = 0, j = n - 1; i < n; j = i++) {
    const LonLat a = kMainland[i], b = kMainland[j];
    if ((a.lat > p.lat) != (b.lat > p.lat)) {
      const double x = a.lon + (p.lat - a.lat) * (b.lon - a.lon) / (b.lat - a.lat);
      if (p.lon < x) inside = !inside;
    }
  }
  return inside;
}

LonLat wgs84_to_gcj02(LonLat wgs) { return in_mainland_china(wgs) ? gcj_forward(wgs) : wgs; }

LonLat gcj02_to_bd09(LonLat gcj) { return in_mainland_china(gcj) ? bd_forward(gcj) : gcj; }

LonLat wgs84_to_bd09(LonLat wgs) {
  if (!in_mainland_china(wgs)) return wgs;
  return bd_forward(gcj_forward(wgs));
}

LonLat bd09_to_gcj02(LonLat bd) {
  const LonLat g = invert(bd, 1e-9, bd_forward);
  return in_mainland_china(g) ? g : bd;
}

namespace {

// The inverse of "offset inside the mainland, identity outside": the offset's preimage when both
// the point and the preimage lie inside, else the point itself. Within the offset's reach (< 1 km)
// of the coarse outline the forward map is not one-to-one; there the point is taken as WGS84.
template <typename Forward>
LonLat invert_in_mainland(LonLat target, double tolerance, Forward forward) {
  if (!in_mainland_china(target)) return target;
  const LonLat w = invert(target, tolerance, forward);
  return in_mainland_china(w) ? w : target;
}

}  // namespace

LonLat gcj02_to_wgs84(LonLat gcj, double tolerance_deg) { return invert_in_mainland(gcj, tolerance_deg, gcj_forward); }

LonLat bd09_to_wgs84(LonLat bd, double tolerance_deg) {
  return invert_in_mainland(bd, tolerance_deg, [](LonLat w) { return bd_forward(gcj_forward(w)); });
}

}  // namespace wangge::crs
