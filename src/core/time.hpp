// Instants as microseconds since the Unix epoch (UTC), the resolution PostgreSQL's timestamptz keeps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wangge {

using Micros = std::int64_t;

Micros now_utc();
// "2026-11-29T08:00:00.123456Z"; fractional digits only when non-zero.
std::string format_rfc3339(Micros t);
// Accepts RFC 3339 date-times ("2026-01-01T00:00:00Z", "2026-01-01T08:00:00+08:00", fractions);
// std::nullopt when the text is not one.
std::optional<Micros> parse_rfc3339(std::string_view text);

}  // namespace wangge
