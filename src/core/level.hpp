// The administrative levels of docs/domain.md, top down, and their names as stored in the
// `areas.level` column and shown to clients. The one definition: the registry checks codes and
// parents with it, the locator keeps it per area (one byte each, hence the underlying type) and the
// sample generator builds its hierarchy with it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace wangge {

// Declared top down: a parent is always exactly one level up (`parent_level`), and code that
// compares levels ("deeper than") relies on that order.
enum class Level : std::uint8_t { province, city, county, township, village, grid, microgrid };

inline constexpr std::array<const char*, 7> kLevelNames = {"province", "city", "county", "township", "village", "grid", "microgrid"};

// std::nullopt for a name that is not a level (names are exact, lower case).
constexpr std::optional<Level> parse_level(std::string_view name) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i)
    if (name == kLevelNames[i]) return static_cast<Level>(i);
  return std::nullopt;
}

constexpr const char* level_name(Level level) { return kLevelNames[static_cast<std::size_t>(level)]; }

// The level an area's parent must have; std::nullopt for a province.
constexpr std::optional<Level> parent_level(Level level) {
  if (level == Level::province) return std::nullopt;
  return static_cast<Level>(static_cast<int>(level) - 1);
}

}  // namespace wangge
