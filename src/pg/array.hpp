// Lists travel to SQL as one parameter: a Postgres array literal cast in the statement
// (`$n::text[]`, `$n::bigint[]`, `unnest($n::int[])`). One text parameter keeps statements fixed
// (prepared once, whatever the length) and needs no quoting of values into SQL.
//
// Geometries travel as text[] of hex EWKB and are cast one by one: geometry's array delimiter is
// ':', not ',', so a geometry[] literal would need other quoting.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace wangge::pg {

// {"a","b\"c"}: every element quoted, so empty strings and commas survive.
inline std::string array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// {1,NULL,3}
inline std::string array(const std::vector<std::optional<long long>>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += values[i] ? std::to_string(*values[i]) : "NULL";
  }
  return out + "}";
}

inline std::string array(const std::vector<long long>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out + "}";
}

}  // namespace wangge::pg
