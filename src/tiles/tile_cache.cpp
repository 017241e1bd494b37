#include "tiles/tile_cache.hpp"

#include <algorithm>
#include <cstdio>

#include "tiles/mvt.hpp"

namespace wangge::tiles {

std::string etag_of(std::string_view mvt) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(content_hash(mvt)));
  return buf;
}

TileCache::Lookup TileCache::find(const std::string& key) {
  std::lock_guard lock(m_mutex);
  auto it = m_by_key.find(key);
  if (it != m_by_key.end()) {
    m_lru.splice(m_lru.begin(), m_lru, it->second);
    ++m_stats.hits;
    return {it->second->tile, m_generation};
  }
  ++m_stats.misses;
  return {nullptr, m_generation};
}

void TileCache::count_miss() {
  std::lock_guard lock(m_mutex);
  ++m_stats.misses;
}

void TileCache::insert(const std::string& key, const TileId& id, std::shared_ptr<const EncodedTile> tile, std::uint64_t generation) {
  std::lock_guard lock(m_mutex);
  if (generation != m_generation || m_by_key.count(key)) return;
  m_bytes += tile->gzip.size();
  m_lru.push_front({key, id, std::move(tile)});
  m_by_key[key] = m_lru.begin();
  while (m_bytes > m_budget && !m_lru.empty()) {
    m_bytes -= m_lru.back().tile->gzip.size();
    m_by_key.erase(m_lru.back().key);
    m_lru.pop_back();
  }
}

void TileCache::invalidate(const std::vector<Box>& changed) {
  std::lock_guard lock(m_mutex);
  ++m_generation;
  for (auto it = m_lru.begin(); it != m_lru.end();) {
    Box b = bounds(it->id);
    const double margin = b.width() * m_buffer / m_extent;
    Box grown{b.minx - margin, b.miny - margin, b.maxx + margin, b.maxy + margin};
    bool hit = std::any_of(changed.begin(), changed.end(), [&](const Box& c) { return grown.intersects(c); });
    if (hit) {
      m_bytes -= it->tile->gzip.size();
      m_by_key.erase(it->key);
      it = m_lru.erase(it);
      ++m_stats.invalidated;
    } else {
      ++it;
    }
  }
}

TileCacheStats TileCache::stats() const {
  std::lock_guard lock(m_mutex);
  TileCacheStats s = m_stats;
  s.entries = m_lru.size();
  s.bytes = m_bytes;
  return s;
}

}  // namespace wangge::tiles
