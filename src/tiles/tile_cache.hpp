// Encoded tiles and the cache that keeps them: least recently used first out, by the bytes they
// take compressed. A change drops exactly the cached tiles (buffer included) that its boxes touch,
// and a tile drawn before a change is not cached after it (the generation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tiles/tile_math.hpp"

namespace wangge::tiles {

struct EncodedTile {
  std::string gzip;  // the MVT, gzip-compressed once; empty when it was not asked for (see TileService::tile)
  std::string raw;   // the MVT uncompressed, kept only when no gzip was made
  std::string etag;  // of the uncompressed content
  std::size_t raw_bytes = 0;
  std::size_t features = 0;
  bool empty() const { return raw_bytes == 0; }
};

// The ETag of a tile's uncompressed bytes: the same in every process, so any replica answers 304.
std::string etag_of(std::string_view mvt);

struct TileCacheStats {
  std::size_t entries = 0, bytes = 0, hits = 0, misses = 0, invalidated = 0;
};

class TileCache {
 public:
  // `budget_bytes` 0: nothing is cached.
  TileCache(std::size_t budget_bytes, std::int32_t buffer, std::uint32_t extent)
      : m_budget(budget_bytes), m_buffer(buffer), m_extent(extent) {}
  bool enabled() const { return m_budget > 0; }

  struct Lookup {
    std::shared_ptr<const EncodedTile> tile;  // null: a miss
    std::uint64_t generation = 0;             // hand it back to insert()
  };
  // Counts a hit or a miss.
  Lookup find(const std::string& key);
  // A tile drawn without looking here (cache off) still counts as a miss.
  void count_miss();
  // Keeps the tile unless the cache was invalidated since `generation` or holds the key already;
  // then drops the least recently used tiles until the budget holds.
  void insert(const std::string& key, const TileId& id, std::shared_ptr<const EncodedTile> tile, std::uint64_t generation);
  // Drops every cached tile whose square grown by the buffer meets one of `changed` (mercator).
  void invalidate(const std::vector<Box>& changed);
  TileCacheStats stats() const;

 private:
  struct Entry {
    std::string key;
    TileId id;
    std::shared_ptr<const EncodedTile> tile;
  };
  const std::size_t m_budget;
  const std::int32_t m_buffer;
  const std::uint32_t m_extent;
  mutable std::mutex m_mutex;
  std::list<Entry> m_lru;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> m_by_key;
  std::size_t m_bytes = 0;
  std::uint64_t m_generation = 0;  // bumped by every invalidation
  TileCacheStats m_stats;
};

}  // namespace wangge::tiles
