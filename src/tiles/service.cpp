#include "tiles/service.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string_view>

#include "core/log.hpp"
#include "core/snapshot.hpp"
#include "tiles/layers.hpp"
#include "tiles/loaders.hpp"
#include "tiles/patch.hpp"
#include "tiles/tile_data.hpp"

namespace wangge::tiles {
namespace {

thread_local DrawScratch t_scratch;

const Box kWholeWorld{-kHalfWorld, -kHalfWorld, kHalfWorld, kHalfWorld};

double seconds_since(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

// The tile square grown by the buffer, in mercator metres.
Box buffered(const Box& box, const TileConfig& config) {
  const double m = box.width() * config.buffer / config.extent;
  return {box.minx - m, box.miny - m, box.maxx + m, box.maxy + m};
}

std::string cache_key(const std::vector<std::string>& layers, const std::string& scope_prefix, const TileId& id) {
  std::string key;
  for (const auto& l : layers) key += l + ",";
  key += "|" + scope_prefix + "|" + std::to_string(id.z) + "/" + std::to_string(id.x) + "/" + std::to_string(id.y);
  return key;
}

}  // namespace

struct TileService::Impl {
  Impl(const TileConfig& config, std::size_t cache_bytes)
      : kinds(make_layer_kinds(config.layers)), cache(cache_bytes, config.buffer, config.extent) {}

  const std::vector<std::unique_ptr<const LayerKind>> kinds;  // in drawing order of a full map
  Snapshot<TileData> snapshot{std::make_shared<const TileData>()};
  std::mutex rebuild_mutex;  // one rebuild at a time; readers never wait for it
  TileCache cache;
  std::atomic<bool> loaded{false};

  std::shared_ptr<const TileData> current() const { return snapshot.load(); }
  void swap(std::shared_ptr<const TileData> next) { snapshot.store(std::move(next)); }

  // A few kinds: a scan is as fast as any map.
  const LayerKind* kind(std::string_view name) const {
    for (const auto& k : kinds)
      if (k->name() == name) return k.get();
    return nullptr;
  }

  // Reloads the named layers into a copy of the current snapshot (sharing the rest) and publishes it.
  // @pre rebuild_mutex is held.
  void reload(pg::Connection& conn, std::initializer_list<std::string_view> names) {
    auto next = std::make_shared<TileData>(*current());
    LoadContext ctx(conn);
    for (std::string_view name : names) kind(name)->load(ctx, *next);
    swap(std::move(next));
  }
};

TileService::TileService(TileConfig config, std::size_t cache_bytes)
    : m_config(std::move(config)), m_impl(std::make_unique<Impl>(m_config, cache_bytes)) {}
TileService::~TileService() = default;

void TileService::refresh_roads(pg::Connection& conn) {
  std::lock_guard lock(m_impl->rebuild_mutex);
  m_impl->reload(conn, {kRoadsLayer});
  // Roads may have changed anywhere (an import replaces a whole source): every cached tile goes.
  m_impl->cache.invalidate({kWholeWorld});
}

void TileService::refresh_checkpoints(pg::Connection& conn, const std::vector<LonLat>& changed_lonlat) {
  std::lock_guard lock(m_impl->rebuild_mutex);
  m_impl->reload(conn, {kCheckpointsLayer});
  std::vector<Box> boxes;
  for (const auto& p : changed_lonlat) {
    const Point m = to_mercator(p.lon, p.lat);
    boxes.push_back(Box{m.x, m.y, m.x, m.y});
  }
  if (!boxes.empty()) m_impl->cache.invalidate(boxes);
}

void TileService::refresh_points(pg::Connection& conn, PointLayers layers, const std::vector<Box>& lonlat_boxes) {
  const bool incidents = layers.incidents, checkpoints = layers.checkpoints;
  if (!incidents && !checkpoints) return;
  std::lock_guard lock(m_impl->rebuild_mutex);
  if (incidents && checkpoints)
    m_impl->reload(conn, {kIncidentsLayer, kCheckpointsLayer});
  else
    m_impl->reload(conn, {incidents ? kIncidentsLayer : kCheckpointsLayer});
  std::vector<Box> boxes;
  for (const Box& b : lonlat_boxes) {
    const Point lo = to_mercator(b.minx, b.miny), hi = to_mercator(b.maxx, b.maxy);
    boxes.push_back(Box{lo.x, lo.y, hi.x, hi.y});
  }
  if (!boxes.empty()) m_impl->cache.invalidate(boxes);
}

void TileService::load(pg::Connection& conn) {
  std::lock_guard lock(m_impl->rebuild_mutex);
  const auto started = std::chrono::steady_clock::now();
  auto next = std::make_shared<TileData>();
  LoadContext ctx(conn);
  for (const auto& kind : m_impl->kinds) kind->load(ctx, *next);
  m_impl->swap(std::move(next));
  m_impl->cache.invalidate({kWholeWorld});
  m_impl->loaded = true;
  std::size_t features = 0, vertices = 0;
  for (const auto& [name, layer] : m_impl->current()->areas) features += layer->features.size(), vertices += layer->topo.vertex_count();
  char msg[200];
  std::snprintf(msg, sizeof msg, "tile layers built: %zu areas, %zu shared-arc vertices in %.3f s", features, vertices,
                seconds_since(started));
  log::info(msg);
}

void TileService::apply_changes(pg::Connection& conn, const std::vector<std::string>& codes) {
  if (codes.empty()) return load(conn);
  std::lock_guard lock(m_impl->rebuild_mutex);
  const auto started = std::chrono::steady_clock::now();
  // Only the changed rows: their current versions, whatever level they are at now.
  std::map<std::string, std::vector<ChangedArea>> by_level;
  std::set<std::pair<std::string, std::string>> current;  // (level, code)
  for (auto& area : read_changed_areas(conn, codes)) {
    current.emplace(area.feature.level, area.feature.code);
    by_level[area.feature.level].push_back(std::move(area));
  }
  auto old = m_impl->current();
  auto next = std::make_shared<TileData>(*old);
  std::vector<Box> boxes;
  LoadContext reload(conn);  // reads the counts of every area once, for a whole-layer reload only
  for (const auto& spec : m_config.layers) {
    auto prev = old->areas.count(spec.name) ? old->areas.at(spec.name) : nullptr;
    auto& changed = by_level[spec.level];
    std::vector<std::uint32_t> retire;
    if (prev)
      for (const auto& code : codes)
        if (auto slot = prev->find(code); slot && prev->features[*slot].live && !current.count({spec.level, code})) retire.push_back(*slot);
    if (changed.empty() && retire.empty()) continue;
    char msg[200];
    if (!prev || changed.size() + retire.size() > m_config.patch_limit) {
      auto fresh = load_area_layer(conn, spec, reload.counts());
      for (const auto& code : codes) {
        if (auto slot = prev ? prev->find(code) : std::nullopt; slot && prev->features[*slot].live) boxes.push_back(prev->topo.bbox(*slot));
        if (auto slot = fresh->find(code)) boxes.push_back(fresh->topo.bbox(*slot));
      }
      next->areas[spec.name] = std::move(fresh);
      std::snprintf(msg, sizeof msg, "tile layer %s reloaded: %zu areas changed in %.3f s", spec.name.c_str(),
                    changed.size() + retire.size(), seconds_since(started));
    } else {
      std::vector<Feature*> features;
      for (auto& area : changed) features.push_back(&area.feature);
      count_for(conn, features);
      std::size_t recut = 0;
      next->areas[spec.name] = patch_layer(*prev, changed, retire, boxes, recut);
      std::snprintf(msg, sizeof msg, "tile layer %s patched: %zu areas changed, %zu neighbours re-cut in %.3f s", spec.name.c_str(),
                    changed.size() + retire.size(), recut, seconds_since(started));
    }
    log::info(msg);
  }
  m_impl->swap(std::move(next));
  if (!boxes.empty()) m_impl->cache.invalidate(boxes);
}

void TileService::refresh_counts(pg::Connection& conn, const std::optional<std::vector<std::string>>& grid_codes) {
  std::lock_guard lock(m_impl->rebuild_mutex);
  auto old = m_impl->current();
  auto next = std::make_shared<TileData>(*old);
  std::vector<Box> boxes;
  std::optional<AreaCounts> all;
  if (!grid_codes) all = load_counts(conn);
  std::size_t changed = 0;
  for (auto& [name, layer] : next->areas) {
    // The features to look at and their fresh counts.
    std::vector<std::uint32_t> slots;
    std::vector<Feature> fresh;
    if (grid_codes) {
      std::set<std::uint32_t> found;
      for (const auto& g : *grid_codes)
        for (const auto& c : counting_codes(g))
          if (auto slot = layer->find(c); slot && layer->features[*slot].live) found.insert(*slot);
      slots.assign(found.begin(), found.end());
      for (auto slot : slots) fresh.push_back(layer->features[slot]);
      std::vector<Feature*> ptrs;
      for (auto& f : fresh) ptrs.push_back(&f);
      count_for(conn, ptrs);
    } else {
      for (std::uint32_t slot = 0; slot < layer->features.size(); ++slot) {
        const Feature& f = layer->features[slot];
        if (!f.live) continue;
        const std::string prefix = prefix_of(f.code);
        const auto w = all->workers.sum(prefix), n = all->open_incidents.sum(prefix);
        if (w == f.workers && n == f.open_incidents) continue;
        slots.push_back(slot);
        fresh.push_back(f);
        fresh.back().workers = w, fresh.back().open_incidents = n;
      }
    }
    std::shared_ptr<AreaLayer> copy;  // the layer is copied (sharing its chunks) on its first change
    for (std::size_t k = 0; k < slots.size(); ++k) {
      const Feature& f = layer->features[slots[k]];
      if (fresh[k].workers == f.workers && fresh[k].open_incidents == f.open_incidents) continue;
      if (!copy) copy = std::make_shared<AreaLayer>(*layer);
      Feature& target = copy->features.mutable_at(slots[k]);
      target.workers = fresh[k].workers;
      target.open_incidents = fresh[k].open_incidents;
      boxes.push_back(copy->topo.bbox(slots[k]));
      ++changed;
    }
    if (copy) layer = std::move(copy);
  }
  if (!changed) return;
  m_impl->swap(std::move(next));
  m_impl->cache.invalidate(boxes);
}

std::vector<std::string> TileService::layer_names() const {
  std::vector<std::string> names;
  for (const auto& kind : m_impl->kinds) names.push_back(kind->name());
  return names;
}

bool TileService::has_layer(const std::string& name) const { return m_impl->kind(name) != nullptr; }

int TileService::minzoom(const std::vector<std::string>& layers) const {
  int z = 22;
  for (const auto& name : layers)
    if (const LayerKind* kind = m_impl->kind(name)) z = std::min(z, kind->zooms().min);
  return z;
}

int TileService::maxzoom(const std::vector<std::string>& layers) const {
  int z = 0;
  for (const auto& name : layers)
    if (const LayerKind* kind = m_impl->kind(name)) z = std::max(z, kind->zooms().max);
  return z;
}

Box TileService::bounds_lonlat() const {
  auto snap = m_impl->current();
  Box b{kHalfWorld, kHalfWorld, -kHalfWorld, -kHalfWorld};
  for (const auto& [name, layer] : snap->areas) {
    if (layer->features.empty()) continue;
    auto bb = layer->index.bounds();
    b.minx = std::min(b.minx, bb.min_corner().get<0>());
    b.miny = std::min(b.miny, bb.min_corner().get<1>());
    b.maxx = std::max(b.maxx, bb.max_corner().get<0>());
    b.maxy = std::max(b.maxy, bb.max_corner().get<1>());
  }
  if (b.minx > b.maxx) return {73, 18, 135, 54};  // empty registry: China
  const LonLat lo = to_lonlat({b.minx, b.miny}), hi = to_lonlat({b.maxx, b.maxy});
  return {lo.lon, lo.lat, hi.lon, hi.lat};
}

std::vector<std::pair<std::string, std::string>> TileService::fields(const std::string& layer) const {
  const LayerKind* kind = m_impl->kind(layer);
  return kind ? kind->fields() : Fields{};
}

// The phases of a tile: the cache; the data (now, or as of `at`); drawing, coarser until it fits;
// the ETag and compression; the cache again.
std::shared_ptr<const EncodedTile> TileService::tile(const std::vector<std::string>& layers, const TileId& id,
                                                     const std::string& scope_prefix, pg::Connection* conn_for_at, std::optional<Micros> at,
                                                     ClientGzip client_gzip) {
  const bool cacheable = !at && m_impl->cache.enabled();
  std::string key;
  std::uint64_t generation = 0;
  if (cacheable) {
    key = cache_key(layers, scope_prefix, id);
    auto found = m_impl->cache.find(key);
    if (found.tile) return found.tile;
    generation = found.generation;
  } else if (!at) {
    m_impl->cache.count_miss();
  }

  std::shared_ptr<const TileData> snap;
  if (at) {
    if (!conn_for_at) throw std::logic_error("tiles at a time need a database connection");
    snap = past_areas(*conn_for_at, *at, id);
  } else {
    snap = m_impl->current();
  }

  auto out = std::make_shared<EncodedTile>();
  const std::string& data = draw(*snap, layers, id, scope_prefix, out->features);
  out->raw_bytes = data.size();
  out->etag = etag_of(data);
  if (!data.empty() && (client_gzip == ClientGzip::accepted || cacheable))
    out->gzip = gzip(data);
  else
    out->raw = data;

  if (cacheable) m_impl->cache.insert(key, id, out, generation);
  return out;
}

std::shared_ptr<const TileData> TileService::past_areas(pg::Connection& conn, Micros at, const TileId& id) const {
  // Only the area layers, only around this tile; counts are of now, so a past tile carries none.
  auto past = std::make_shared<TileData>();
  const AreaCounts none;
  const Box around = buffered(bounds(id), m_config);
  const LonLat lo = to_lonlat({around.minx, around.miny}), hi = to_lonlat({around.maxx, around.maxy});
  for (const auto& spec : m_config.layers)
    if (visible(spec, id.z)) past->areas[spec.name] = load_area_layer(conn, spec, none, at, Box{lo.lon, lo.lat, hi.lon, hi.lat});
  return past;
}

const std::string& TileService::draw(const TileData& snap, const std::vector<std::string>& layers, const TileId& id,
                                     const std::string& scope_prefix, std::size_t& features) const {
  const Box box = bounds(id);
  const Box around = buffered(box, m_config);
  DrawContext ctx{snap, id, TileTransform{box, m_config.extent},
                  BgBox(BgPoint(around.minx, around.miny), BgPoint(around.maxx, around.maxy)),
                  // Half a screen pixel of a 512-px tile: invisible, and it removes most vertices at low zoom.
                  2 * kHalfWorld / tiles_per_side(id.z) / 512.0 * 0.5, scope_prefix, m_config.extent, t_scratch};
  std::string& data = t_scratch.tile;  // the tile's own bytes are copied out once, at their size
  LayerEncoder& enc = t_scratch.encoder;
  // Too big a tile is drawn again, coarser (at most 6 times).
  for (int attempt = 0; attempt < 6; ++attempt, ctx.tolerance *= 2) {
    data.clear();
    features = 0;
    for (const auto& name : layers) {
      enc.reset(name, m_config.extent, m_config.buffer);
      if (const LayerKind* kind = m_impl->kind(name)) kind->draw(ctx, enc);
      features += enc.size();
      if (!enc.empty()) enc.write_to(data);
    }
    if (data.size() <= m_config.max_tile_bytes) break;
  }
  return data;
}

bool TileService::ready() const { return m_impl->loaded.load(); }

TileService::CacheStats TileService::cache_stats() const { return m_impl->cache.stats(); }

}  // namespace wangge::tiles
