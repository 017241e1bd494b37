// Vector tiles of the registry, encoded in-process from memory. Each area level is a layer whose
// polygons share their borders through a Topology, so neighbours stay matched at every zoom. Tiles
// are cached gzip-compressed under an ETag of their content; a registry change invalidates exactly
// the cached tiles that its old or new extent touches, at every zoom.
//
// The parts: config.hpp (tiles/layers.json), layers.hpp (the layer kinds: zooms, fields, load,
// draw), loaders.hpp (every query), patch.hpp (incremental area updates), tile_cache.hpp (the LRU
// cache and ETags), compression.hpp (gzip).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/lonlat.hpp"
#include "core/time.hpp"
#include "pg/connection.hpp"
#include "tiles/compression.hpp"
#include "tiles/config.hpp"
#include "tiles/tile_cache.hpp"
#include "tiles/tile_math.hpp"

namespace wangge::tiles {

struct TileData;

class TileService {
 public:
  TileService(TileConfig config, std::size_t cache_bytes);
  ~TileService();

  // Reads every current area (and incidents) and builds all layers.
  void load(pg::Connection& conn);
  // After registry changes (codes from the area cache listener): patches the affected layers with
  // the changed rows only (see Topology::patch), or reloads a layer changed in more than
  // `patch_limit` areas, and drops the cached tiles that the changed areas' old or new extents
  // (and those of neighbours whose shared arcs were re-cut) touch.
  void apply_changes(pg::Connection& conn, const std::vector<std::string>& codes);
  // After checkpoint writes: reloads the checkpoints layer (one SELECT) and drops the cached tiles
  // around the changed locations (EPSG:4490 lon/lat, before and after). This process only.
  void refresh_checkpoints(pg::Connection& conn, const std::vector<LonLat>& changed_lonlat);
  // After incident or checkpoint writes by any process (TileFeed hears them through NOTIFY
  // wangge_tiles): reloads the incidents and/or checkpoints layers (one SELECT each) and drops the
  // cached tiles that touch `lonlat_boxes` (EPSG:4490, the written rows' old and new locations).
  struct PointLayers {
    bool incidents = false;
    bool checkpoints = false;
  };
  void refresh_points(pg::Connection& conn, PointLayers layers, const std::vector<Box>& lonlat_boxes);
  // After worker assignments or cases changed (TileFeed): the worker and open-case counts of the
  // features of those grids and their ancestors (`grid_codes`; nullopt: recount every feature),
  // and the cached tiles of the features whose counts changed are dropped.
  void refresh_counts(pg::Connection& conn, const std::optional<std::vector<std::string>>& grid_codes);
  // After a road change (the street graph's listener): reloads the roads layer only (one SELECT;
  // the area layers are left as they are) and drops every cached tile.
  void refresh_roads(pg::Connection& conn);

  // All layer names a request may use, in drawing order.
  std::vector<std::string> layer_names() const;
  bool has_layer(const std::string& name) const;
  const TileConfig& config() const { return m_config; }
  int minzoom(const std::vector<std::string>& layers) const;
  int maxzoom(const std::vector<std::string>& layers) const;
  // Bounds of the data, lon/lat.
  Box bounds_lonlat() const;
  // The fields of each layer, for TileJSON's vector_layers (none for a name that is no layer).
  std::vector<std::pair<std::string, std::string>> fields(const std::string& layer) const;

  // `scope_prefix`: only areas whose codes start with it ("" for all); part of the cache key.
  // `at`: the registry as of then (read from the database, not cached).
  // `client_gzip`: refused when the client cannot take gzip. A tile that will not be cached (cache off,
  // or `at`) is then left uncompressed (`raw`), since compressing ~400 KB at z10 only to inflate it
  // again costs more than drawing it; a cached tile is always kept compressed.
  enum class ClientGzip { accepted, refused };
  std::shared_ptr<const EncodedTile> tile(const std::vector<std::string>& layers, const TileId& id, const std::string& scope_prefix,
                                          pg::Connection* conn_for_at = nullptr, std::optional<Micros> at = std::nullopt,
                                          ClientGzip client_gzip = ClientGzip::accepted);

  using CacheStats = TileCacheStats;
  CacheStats cache_stats() const;
  // False until the first load has finished: until then a tile would be wrongly empty.
  bool ready() const;

 private:
  struct Impl;
  // The area layers as of `at`, around one tile only.
  std::shared_ptr<const TileData> past_areas(pg::Connection& conn, Micros at, const TileId& id) const;
  // Draws the layers of one tile into a per-thread buffer (valid until this thread draws again),
  // coarser until it fits max_tile_bytes; `features` gets their number.
  const std::string& draw(const TileData& data, const std::vector<std::string>& layers, const TileId& id, const std::string& scope_prefix,
                          std::size_t& features) const;
  TileConfig m_config;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace wangge::tiles
