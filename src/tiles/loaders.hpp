// Every query the tile layers are read with: the area layers, their worker and open-case counts,
// incidents, checkpoints and roads. Each loader reads with one statement and builds the
// in-memory layer (topology, R-tree) from the rows.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "pg/connection.hpp"
#include "tiles/tile_data.hpp"

namespace wangge::tiles {

// Counts per grid (or micro-grid) code, and their sums for any code prefix.
class CodeCounts {
 public:
  void load(pg::Connection& conn, const char* context, const std::string& sql);
  // Sum over codes that start with `prefix` (the rows come sorted by code); 0 before any load.
  std::int64_t sum(const std::string& prefix) const;

 private:
  std::vector<std::string> m_codes;
  std::vector<std::int64_t> m_sums{0};  // m_sums[i]: the sum of the first i codes' counts
};

// The current worker assignments and open cases per grid code, summed by each area feature.
struct AreaCounts {
  CodeCounts workers, open_incidents;
};
AreaCounts load_counts(pg::Connection& conn);

// The code prefix whose grids a feature's counts sum: "33" for a province (330000), "3305" for a
// city (330500), the code itself below.
std::string prefix_of(const std::string& code);

// What loading several layers shares: the connection, and the counts, read once when a layer
// first asks for them.
class LoadContext {
 public:
  explicit LoadContext(pg::Connection& conn) : m_conn(conn) {}
  pg::Connection& conn() { return m_conn; }
  const AreaCounts& counts() {
    if (!m_counts) m_counts = load_counts(m_conn);
    return *m_counts;
  }

 private:
  pg::Connection& m_conn;
  std::optional<AreaCounts> m_counts;
};

// The areas of `spec.level`, current or (`at`) as of then, all or those meeting `lonlat_box`
// (EPSG:4490), in code order, with their shared-border topology and index.
std::shared_ptr<AreaLayer> load_area_layer(pg::Connection& conn, const LayerSpec& spec, const AreaCounts& counts,
                                           std::optional<Micros> at = std::nullopt, std::optional<Box> lonlat_box = std::nullopt);
// The current versions of the areas of `codes`, whatever their level (in feature.level), in code
// order; counts are left at 0 (see count_for).
std::vector<ChangedArea> read_changed_areas(pg::Connection& conn, const std::vector<std::string>& codes);
// Worker and open-incident counts of the given features only (one statement).
void count_for(pg::Connection& conn, const std::vector<Feature*>& features);

// Open cases only: closed and cancelled ones leave the map.
void load_incidents(pg::Connection& conn, TileData& next);
void load_checkpoints(pg::Connection& conn, TileData& next);
void load_roads(pg::Connection& conn, TileData& next);

}  // namespace wangge::tiles
