// The tile service's configuration (tiles/layers.json): the area layers and the tile limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wangge::tiles {

// One area layer: the areas of `level`, drawn from `minzoom` (and beyond `maxzoom`, overzoomed).
struct LayerSpec {
  std::string name;
  std::string level;
  int minzoom = 0;
  int maxzoom = 16;
};

struct TileConfig {
  std::uint32_t extent = 4096;
  std::int32_t buffer = 64;
  std::size_t max_tile_bytes = 512000;
  int max_layers_per_request = 10;
  // A registry change of more areas than this in one layer reloads the layer instead of patching it
  // (0: always reload, the behaviour before incremental updates; benchmarks compare the two).
  std::size_t patch_limit = 5000;
  std::vector<LayerSpec> layers;  // area layers; the built-in layers (see layers.hpp) are added by the service
  // Parses tiles/layers.json; throws std::runtime_error naming what is wrong.
  static TileConfig parse(const std::string& json);
};

}  // namespace wangge::tiles
