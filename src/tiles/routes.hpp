// /tiles: vector tiles and TileJSON; the map page's static files (/style.json, /vendor) and label
// fonts (/fonts).
#pragma once

#include "registry/registry.hpp"
#include "tiles/glyphs.hpp"
#include "tiles/service.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::tiles {

struct TileServices {
  registry::Registry& registry;
  TileService* tiles;   // null: tiles are off (503)
  GlyphServer* glyphs;  // null: no system fonts for labels (404 not_installed)
};

void add_routes(http::RouteTable& routes, const TileServices& services);

}  // namespace wangge::tiles
