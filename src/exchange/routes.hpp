// The exchange routes: GET /v1/export and POST /v1/import (routes_export.cpp), OGC API - Features
// under /ogc (routes_ogc.cpp), its Part 4 edits of the area collections (routes_ogc_edit.cpp).
#pragma once

#include "registry/registry.hpp"
#include "registry/toolkit.hpp"

namespace wangge::http {
class RouteTable;
}

namespace wangge::exchange {

struct ExchangeServices {
  registry::Registry& registry;
  const toolkit::Toolkit& toolkit;  // imports that replace a village's grids go through its rules
};

void add_exchange_routes(http::RouteTable& routes, const ExchangeServices& services);
void add_ogc_routes(http::RouteTable& routes, const ExchangeServices& services);
void add_ogc_edit_routes(http::RouteTable& routes, const ExchangeServices& services);
inline void add_routes(http::RouteTable& routes, const ExchangeServices& services) {
  add_exchange_routes(routes, services);
  add_ogc_routes(routes, services);
  add_ogc_edit_routes(routes, services);
}

}  // namespace wangge::exchange
