#include "tiles/layers.hpp"

#include <algorithm>
#include <boost/iterator/function_output_iterator.hpp>
#include <cmath>
#include <map>

#include "tiles/simplify.hpp"

namespace wangge::tiles {
namespace {

const Fields kAreaFields{{"code", "String"},   {"name", "String"},    {"level", "String"},
                         {"parent", "String"}, {"workers", "Number"}, {"open_incidents", "Number"}};

bool in_scope(const std::string& code, std::string_view scope) { return code.compare(0, scope.size(), scope) == 0; }

// The areas of one level (polygons with shared borders, tiles/layers.json).
class AreaKind final : public LayerKind {
 public:
  explicit AreaKind(LayerSpec spec) : LayerKind(spec.name), m_spec(std::move(spec)) {}
  ZoomRange zooms() const override { return {m_spec.minzoom, m_spec.maxzoom}; }
  Fields fields() const override { return kAreaFields; }
  void load(LoadContext& ctx, TileData& next) const override {
    next.areas[m_spec.name] = load_area_layer(ctx.conn(), m_spec, ctx.counts());
  }

  void draw(const DrawContext& ctx, LayerEncoder& enc) const override {
    auto found = ctx.data.areas.find(m_spec.name);
    if (found == ctx.data.areas.end()) return;
    const AreaLayer& layer = *found->second;
    if (!visible(layer.spec, ctx.id.z)) return;
    auto& hits = ctx.scratch.hits;
    hits.clear();
    layer.index.query(bgi::intersects(ctx.query),
                      boost::make_function_output_iterator([&hits](const Entry& e) { hits.push_back(e.second); }));
    // By code: the same tile encodes byte for byte the same, in every process.
    std::sort(hits.begin(), hits.end(), [&layer](std::uint32_t a, std::uint32_t b) { return layer.before(a, b); });
    // Batches of features whose memory is asked for ahead (render and the properties chase
    // pointers, and at z10 a tile has 1,000 features: their cache misses must overlap).
    constexpr std::size_t kBatch = 32;
    for (std::size_t k = 0; k < hits.size(); ++k) {
      if (k % kBatch == 0) {
        const std::size_t n = std::min(kBatch, hits.size() - k);
        for (std::size_t j = k; j < k + n; ++j) {
          const Feature& f = layer.features[hits[j]];
          for (const char* p = reinterpret_cast<const char*>(&f); p < reinterpret_cast<const char*>(&f + 1); p += 64) __builtin_prefetch(p);
        }
        for (std::size_t j = k; j < k + n; ++j) __builtin_prefetch(layer.features[hits[j]].name.data());
        layer.topo.prefetch(hits.data() + k, n);
      }
      const std::uint32_t i = hits[k];
      const Feature& f = layer.features[i];
      if (!in_scope(f.code, ctx.scope)) continue;
      const Box& fb = layer.topo.bbox(i);
      // The documented drop rule: an area smaller than one screen pixel both ways is left out.
      if (fb.width() < 2 * ctx.tolerance && fb.height() < 2 * ctx.tolerance) continue;
      layer.topo.render(i, ctx.tolerance, ctx.scratch.rings);
      enc.add_polygon(f.id, ctx.scratch.rings, ctx.transform,
                      {{"code", std::string_view(f.code)},
                       {"name", std::string_view(f.name)},
                       {"level", std::string_view(f.level)},
                       {"parent", std::string_view(f.parent)},
                       {"workers", f.workers},
                       {"open_incidents", f.open_incidents}});
    }
  }

 private:
  LayerSpec m_spec;
};

// A point per area, where its name goes, for every area layer visible at the zoom.
class LabelsKind final : public LayerKind {
 public:
  explicit LabelsKind(std::vector<LayerSpec> areas) : LayerKind(std::string(kLabelsLayer)), m_areas(std::move(areas)) {}
  // The zooms of the area layers together (none configured: an empty range, min above max).
  ZoomRange zooms() const override {
    ZoomRange z{22, 0};
    for (const auto& spec : m_areas) z = {std::min(z.min, spec.minzoom), std::max(z.max, spec.maxzoom)};
    return z;
  }
  // TileJSON has always announced the area layers' fields here, though a label carries only code,
  // name and level; clients may rely on it.
  Fields fields() const override { return kAreaFields; }
  void load(LoadContext&, TileData&) const override {}  // drawn from the area layers

  void draw(const DrawContext& ctx, LayerEncoder& enc) const override {
    for (const auto& spec : m_areas) {
      if (!visible(spec, ctx.id.z) || !ctx.data.areas.count(spec.name)) continue;
      const auto& layer = *ctx.data.areas.at(spec.name);
      // In code order, not the index's (which depends on the order of patches).
      std::vector<std::uint32_t> hits;
      for (auto it = layer.index.qbegin(bgi::intersects(ctx.query)); it != layer.index.qend(); ++it) hits.push_back(it->second);
      std::sort(hits.begin(), hits.end(), [&layer](std::uint32_t a, std::uint32_t b) { return layer.before(a, b); });
      for (std::uint32_t i : hits) {
        const Feature& f = layer.features[i];
        if (!in_scope(f.code, ctx.scope)) continue;
        const Box& fb = layer.topo.bbox(i);
        if (fb.width() < 8 * ctx.tolerance && fb.height() < 8 * ctx.tolerance) continue;  // too small to carry a label
        enc.add_point(f.id, f.label, ctx.transform,
                      {{"code", std::string_view(f.code)}, {"name", std::string_view(f.name)}, {"level", std::string_view(f.level)}});
      }
    }
  }

 private:
  std::vector<LayerSpec> m_areas;
};

// Open cases; below kUnclustered points are clustered on a 16×16 grid per tile, each cluster
// carrying its count.
class IncidentsKind final : public LayerKind {
 public:
  static constexpr ZoomRange kZooms{10, 16};
  static constexpr int kUnclustered = 15;
  static constexpr double kClusterCells = 16;  // per tile side

  IncidentsKind() : LayerKind(std::string(kIncidentsLayer)) {}
  ZoomRange zooms() const override { return kZooms; }
  Fields fields() const override {
    return {{"id", "Number"},   {"category", "String"}, {"status", "String"},
            {"grid", "String"}, {"count", "Number"},    {"cluster", "Boolean"}};
  }
  void load(LoadContext& ctx, TileData& next) const override { load_incidents(ctx.conn(), next); }

  void draw(const DrawContext& ctx, LayerEncoder& enc) const override {
    if (ctx.id.z < kZooms.min) return;
    const TileTransform& tf = ctx.transform;
    std::map<std::pair<int, int>, std::pair<int, Point>> clusters;
    for (auto it = ctx.data.incident_index.qbegin(bgi::intersects(ctx.query)); it != ctx.data.incident_index.qend(); ++it) {
      const Incident& inc = ctx.data.incidents[it->second];
      if (!in_scope(inc.grid, ctx.scope)) continue;
      if (ctx.id.z >= kUnclustered) {
        enc.add_point(inc.id, inc.at, tf,
                      {{"id", static_cast<std::int64_t>(inc.id)},
                       {"category", std::string_view(inc.category)},
                       {"status", std::string_view(inc.status)},
                       {"grid", std::string_view(inc.grid)}});
      } else {
        int cx = static_cast<int>(std::floor(tf.to_x(inc.at.x) / (ctx.extent / kClusterCells)));
        int cy = static_cast<int>(std::floor(tf.to_y(inc.at.y) / (ctx.extent / kClusterCells)));
        auto& c = clusters[{cx, cy}];
        c.second.x = (c.second.x * c.first + inc.at.x) / (c.first + 1);
        c.second.y = (c.second.y * c.first + inc.at.y) / (c.first + 1);
        ++c.first;
      }
    }
    std::uint64_t n = 0;
    for (const auto& [cell, c] : clusters) enc.add_point(++n, c.second, tf, {{"count", std::int64_t{c.first}}, {"cluster", true}});
  }
};

class CheckpointsKind final : public LayerKind {
 public:
  static constexpr ZoomRange kZooms{14, 16};

  CheckpointsKind() : LayerKind(std::string(kCheckpointsLayer)) {}
  ZoomRange zooms() const override { return kZooms; }
  Fields fields() const override {
    return {{"id", "Number"}, {"name", "String"}, {"kind", "String"}, {"frequency", "String"}, {"grid", "String"}};
  }
  void load(LoadContext& ctx, TileData& next) const override { load_checkpoints(ctx.conn(), next); }

  void draw(const DrawContext& ctx, LayerEncoder& enc) const override {
    if (ctx.id.z < kZooms.min) return;
    for (auto it = ctx.data.checkpoint_index.qbegin(bgi::intersects(ctx.query)); it != ctx.data.checkpoint_index.qend(); ++it) {
      const Checkpoint& c = ctx.data.checkpoints[it->second];
      if (!in_scope(c.grid, ctx.scope)) continue;
      enc.add_point(c.id, c.at, ctx.transform,
                    {{"id", static_cast<std::int64_t>(c.id)},
                     {"name", std::string_view(c.name)},
                     {"kind", std::string_view(c.kind)},
                     {"frequency", std::string_view(c.frequency)},
                     {"grid", std::string_view(c.grid)}});
    }
  }
};

// Streets, simplified per tile: major roads from kZooms.min, every street from kAllStreets.
class RoadsKind final : public LayerKind {
 public:
  static constexpr ZoomRange kZooms{12, 16};
  static constexpr int kAllStreets = 14;

  RoadsKind() : LayerKind(std::string(kRoadsLayer)) {}
  ZoomRange zooms() const override { return kZooms; }
  Fields fields() const override { return {{"name", "String"}, {"highway", "String"}, {"oneway", "Boolean"}}; }
  void load(LoadContext& ctx, TileData& next) const override { load_roads(ctx.conn(), next); }

  void draw(const DrawContext& ctx, LayerEncoder& enc) const override {
    if (ctx.id.z < kZooms.min) return;
    std::vector<Point> line;
    for (auto it = ctx.data.road_index.qbegin(bgi::intersects(ctx.query)); it != ctx.data.road_index.qend(); ++it) {
      const Road& road = ctx.data.roads[it->second];
      if (!visible(road, ctx.id.z)) continue;
      simplify_line(road.line, ctx.tolerance, line);
      enc.add_line(road.id, line, ctx.transform,
                   {{"name", std::string_view(road.name)}, {"highway", std::string_view(road.highway)}, {"oneway", road.oneway}});
    }
  }

 private:
  static bool visible(const Road& r, int z) {
    if (z >= kAllStreets) return true;
    return z >= kZooms.min && (r.highway == "primary" || r.highway == "secondary" || r.highway == "tertiary" || r.highway == "trunk" ||
                               r.highway == "motorway");
  }
};

}  // namespace

std::vector<std::unique_ptr<const LayerKind>> make_layer_kinds(const std::vector<LayerSpec>& areas) {
  std::vector<std::unique_ptr<const LayerKind>> kinds;
  for (const auto& spec : areas) kinds.push_back(std::make_unique<AreaKind>(spec));
  kinds.push_back(std::make_unique<LabelsKind>(areas));
  kinds.push_back(std::make_unique<IncidentsKind>());
  kinds.push_back(std::make_unique<CheckpointsKind>());
  kinds.push_back(std::make_unique<RoadsKind>());
  return kinds;
}

bool is_builtin_layer(std::string_view name) {
  return name == kLabelsLayer || name == kIncidentsLayer || name == kCheckpointsLayer || name == kRoadsLayer;
}

}  // namespace wangge::tiles
