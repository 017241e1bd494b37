// Coordinates as SQL parameters: the shortest text that reads back as the same double
// (std::to_string keeps six decimals, about 0.1 m of longitude).
#pragma once

#include <charconv>
#include <string>

namespace wangge::patrol {

inline std::string exact_text(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

}  // namespace wangge::patrol
