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
                      "unsupported crs '" + std::string(text) +
                          "'; use EPSG:4490 (default), 4326, 3857, 4527-4529 or 4548-4550");
  }
  return srid;
}

}  // namespace wangge::geom
