#include "tiles/config.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tiles/layers.hpp"

namespace wangge::tiles {

TileConfig TileConfig::parse(const std::string& text) {
  auto j = nlohmann::json::parse(text);
  TileConfig c;
  c.extent = j.value("extent", 4096u);
  c.buffer = j.value("buffer", 64);
  c.max_tile_bytes = j.value("max_tile_bytes", static_cast<std::size_t>(512000));
  c.max_layers_per_request = j.value("max_layers_per_request", 10);
  c.patch_limit = j.value("patch_limit", c.patch_limit);
  for (const auto& l : j.at("layers")) {
    LayerSpec s{l.at("name").get<std::string>(), l.at("level").get<std::string>(), l.at("minzoom").get<int>(), l.at("maxzoom").get<int>()};
    if (is_builtin_layer(s.name)) throw std::runtime_error("layer name " + s.name + " is reserved for a built-in layer");
    if (s.minzoom < 0 || s.maxzoom > 22 || s.minzoom > s.maxzoom) throw std::runtime_error("bad zoom range for layer " + s.name);
    c.layers.push_back(s);
  }
  return c;
}

}  // namespace wangge::tiles
