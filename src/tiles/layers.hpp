// The kinds of tile layer. Each kind is defined once, with everything about it: its name, the
// zooms it is drawn at (TileJSON announces the same), the fields of its features, how its data is
// loaded and how one tile of it is drawn. The area layers come from the configuration (one per
// level); labels, incidents, checkpoints and roads are built in.
//
// The service calls a kind once per layer per tile; the loop over features stays inside draw(),
// so a tile's hot path makes no virtual call per feature.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pg/connection.hpp"
#include "tiles/config.hpp"
#include "tiles/loaders.hpp"
#include "tiles/mvt.hpp"
#include "tiles/rtree.hpp"
#include "tiles/tile_data.hpp"

namespace wangge::tiles {

struct ZoomRange {
  int min = 0, max = 16;
};

// A feature property and its TileJSON type ("String", "Number", "Boolean").
using Fields = std::vector<std::pair<std::string, std::string>>;

// Buffers drawing reuses, one set per thread: once grown, an uncached tile allocates almost
// nothing but its own bytes.
struct DrawScratch {
  LayerEncoder encoder{""};
  FlatRings rings;
  std::vector<std::uint32_t> hits;
  std::string tile;
};

// One tile to draw, at one generalisation tolerance.
struct DrawContext {
  const TileData& data;
  TileId id;
  TileTransform transform;
  BgBox query;             // the tile grown by its buffer
  double tolerance;        // metres a simplification may move a vertex
  std::string_view scope;  // only features whose (grid) code starts with it
  std::uint32_t extent;
  DrawScratch& scratch;
};

class LayerKind {
 public:
  explicit LayerKind(std::string name) : m_name(std::move(name)) {}
  virtual ~LayerKind() = default;
  const std::string& name() const { return m_name; }
  // The zooms TileJSON announces: drawn from `min` (and on beyond `max`, where clients overzoom).
  virtual ZoomRange zooms() const = 0;
  virtual Fields fields() const = 0;
  // Reads this layer's data into `next`, the snapshot being built.
  virtual void load(LoadContext& ctx, TileData& next) const = 0;
  // Adds the layer's features in the tile to `out` (nothing below the layer's zooms).
  virtual void draw(const DrawContext& ctx, LayerEncoder& out) const = 0;

 private:
  std::string m_name;
};

// Every layer kind, in drawing order of a full map: the configured area layers, then labels,
// incidents, checkpoints, roads.
std::vector<std::unique_ptr<const LayerKind>> make_layer_kinds(const std::vector<LayerSpec>& areas);
// The names the built-in kinds take (a configured layer may not).
bool is_builtin_layer(std::string_view name);
inline constexpr std::string_view kIncidentsLayer = "incidents";
inline constexpr std::string_view kCheckpointsLayer = "checkpoints";
inline constexpr std::string_view kRoadsLayer = "roads";
inline constexpr std::string_view kLabelsLayer = "labels";

// An area layer is drawn from its minzoom on.
inline bool visible(const LayerSpec& spec, int z) { return z >= spec.minzoom; }

}  // namespace wangge::tiles
