#include "geom/crs.hpp"

#include <array>
#include <charconv>
#include <string>

#include "core/error.hpp"

namespace wangge::geom {

int parse_crs(std::string_view text) {
  if (text.empty()) return kStorageSrid;
  if (text == "http://www.opengis.net/def/crs/OGC/1.3/CRS84" || text == "CRS84" || text == "OGC:CRS84") return 4326;
  std::string_view digits = text;
  for (std::string_view prefix : {"urn:ogc:def:crs:EPSG::", "http://www.opengis.net/def/crs/EPSG/0/", "EPSG:", "epsg:"}) {
    if (text.substr(0, prefix.size()) == prefix) {
      digits = text.substr(prefix.size());
      break;
    }
  }
  int srid = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), srid);
  constexpr std::array<int, 9> supported = {4490, 4326, 3857, 4527, 4528, 4529, 4548, 4549, 4550};
  bool ok = ec == std::errc() && end == digits.data() + digits.size();
  if (ok) {
    ok = false;
    for (int s : supported) ok = ok || s == srid;
  }
  if (!ok) {
    throw bad_request("unsupported_crs",
                      "unsupported crs '" + std::string(text) + "'; use EPSG:4490 (default), 4326, 3857, 4527-4529 or 4548-4550");
  }
  return srid;
}

std::optional<CrsDomain> projected_domain(int srid) {
  constexpr double kMercator = 20037508.342789244;  // π × 6,378,137 m
  constexpr double kReach = 1'000'000, kPole = 10'000'000;
  auto gauss_kruger = [&](double false_easting) { return CrsDomain{false_easting - kReach, 0, false_easting + kReach, kPole}; };
  switch (srid) {
    case 3857:
      return CrsDomain{-kMercator, -kMercator, kMercator, kMercator};
    case 4527:
      return gauss_kruger(39'500'000);  // zone 39, central meridian 117°E
    case 4528:
      return gauss_kruger(40'500'000);  // zone 40, 120°E
    case 4529:
      return gauss_kruger(41'500'000);  // zone 41, 123°E
    case 4548:
    case 4549:
    case 4550:
      return gauss_kruger(500'000);  // 117°E, 120°E, 123°E without zone prefix
    default:
      return std::nullopt;
  }
}

}  // namespace wangge::geom
