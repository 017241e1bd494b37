// Request fields shared by the patrol resources, and coordinates as SQL parameters.
#pragma once

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/time.hpp"

namespace wangge::patrol {

// The shortest text that reads back as the same double (std::to_string keeps six decimals, about
// 0.1 m of longitude).
inline std::string exact_text(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

// A GeoJSON Point's first two coordinates; 422 invalid_location naming `what` otherwise.
inline std::array<double, 2> geojson_point(const nlohmann::json& v, const std::string& what) {
  if (!v.is_object() || v.value("type", "") != "Point" || !v.contains("coordinates") || !v["coordinates"].is_array() ||
      v["coordinates"].size() < 2 || !v["coordinates"][0].is_number() || !v["coordinates"][1].is_number())
    throw unprocessable("invalid_location", what + " must be a GeoJSON Point");
  return {v["coordinates"][0].get<double>(), v["coordinates"][1].get<double>()};
}

// An optional RFC 3339 instant in the body, as RFC 3339 UTC text; now when absent. More than five
// minutes ahead of the server's clock is refused (422 invalid_property).
inline std::string past_instant(const nlohmann::json& body, const char* name) {
  if (!body.contains(name) || body[name].is_null()) return format_rfc3339(now_utc());
  std::optional<Micros> t;
  if (body[name].is_string()) t = parse_rfc3339(body[name].get<std::string>());
  if (!t) throw unprocessable("invalid_property", std::string(name) + " must be an RFC 3339 date-time");
  if (*t > now_utc() + 300'000'000LL) throw unprocessable("invalid_property", std::string(name) + " lies in the future");
  return format_rfc3339(*t);
}

}  // namespace wangge::patrol
