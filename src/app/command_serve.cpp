#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "app/routes_site.hpp"
#include "core/log.hpp"
#include "exchange/routes.hpp"
#include "http/resources.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "incidents/routes.hpp"
#include "locate/routes.hpp"
#include "patrol/routes.hpp"
#include "registry/auth.hpp"
#include "registry/migrate.hpp"
#include "registry/registry.hpp"
#include "registry/routes_toolkit.hpp"
#include "route/routes.hpp"
#include "tiles/feed.hpp"
#include "tiles/routes.hpp"

namespace wangge::app {
namespace {

// A configuration document: the file named by the environment variable, else the built-in one.
std::string resource_or_file(const char* variable, const char* resource) {
  if (const char* path = std::getenv(variable); path && *path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(std::string("cannot read the ") + variable + " file " + path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  return std::string(*http::resource(resource));
}

// The tile layers: tiles/layers.json as built in, or the file named by WANGGE_TILE_LAYERS.
tiles::TileConfig tile_config() { return tiles::TileConfig::parse(resource_or_file("WANGGE_TILE_LAYERS", "tiles/layers.json")); }

}  // namespace

int command_serve(const Args& args) {
  if (print_help(args,
                 "usage: wangge serve\n\n"
                 "Migrates the database, then serves the HTTP API. Settings come from the environment:\n"
                 "  WANGGE_DATABASE_URL  PostGIS connection (libpq URI); default: the embedded cluster under $WANGGE_VAR_DIR/pg\n"
                 "  WANGGE_PORT          port (default 8080); WANGGE_LISTEN address (default 127.0.0.1)\n"
                 "  WANGGE_VAR_DIR       local state, e.g. the first admin token (default ./var)\n"
                 "  WANGGE_MAX_BODY_MB   largest request body (default 32)\n"
                 "  WANGGE_PARENT_TOLERANCE_M, WANGGE_OVERLAP_TOLERANCE_M2, WANGGE_GRID_CODE_PATTERN: rules\n"
                 "On first start with no tokens an admin token is written to $WANGGE_VAR_DIR/admin-token.\n"))
    return 0;
  auto config = Config::from_environment();
  {
    auto conn = connect_with_retry(config, 60);
    for (const auto& name : registry::migrate(conn)) log::info("applied migration " + name);
    ensure_admin_token(conn, config);
  }
  // The listeners' loads (the whole registry, the street graph, the tile layers at start-up and
  // after changes) run on their own connections with the load timeout, not a client request's.
  // The services, in the order they depend on each other; they are destroyed in reverse, so a
  // listener thread never outlives what it feeds.
  registry::Registry registry(config);
  const toolkit::Toolkit toolkit(registry.config, registry.rules, registry.areas);
  locate::Locator locator{locate::Locator::options_from_environment()};
  locator.attach(registry.cache);  // before the first load, so the locator sees it
  locator.start_worker_watch(config.database_url, config.load_statement_timeout_ms);
  incidents::IncidentStore cases(incidents::CaseRules::parse(resource_or_file("WANGGE_CALENDAR", "geodata/calendar.json"),
                                                             resource_or_file("WANGGE_CASE_CATEGORIES", "geodata/case_categories.json")));
  // After the locator (subscribed by attach): open cases follow the new boundaries.
  registry.cache.subscribe([&cases, &locator](pg::Connection& conn, const std::vector<std::string>& codes) {
    if (int moved = cases.reassign(conn, codes, locator); moved > 0)
      log::info("re-assigned " + std::to_string(moved) + " open incidents after a registry change");
  });
  tiles::TileService tile_service(tile_config(), config.tile_cache_bytes);
  std::unique_ptr<tiles::GlyphServer> glyphs;
  try {
    glyphs = std::make_unique<tiles::GlyphServer>(tiles::GlyphServer::default_fonts());
  } catch (const std::exception& e) {
    log::warn(std::string("map labels are off: ") + e.what() + " (apt install fonts-dejavu-core fonts-droid-fallback)");
  }
  registry.cache.subscribe(
      [&tile_service](pg::Connection& conn, const std::vector<std::string>& codes) { tile_service.apply_changes(conn, codes); });
  // Street graphs per profile: router.current() per request; follows road changes. Its listener
  // rebuilds the `roads` tile layer (only that layer: the area layers take seconds at province
  // scale, and the area cache's first load builds everything anyway).
  route::RouterCache router;
  router.subscribe([&tile_service](pg::Connection& conn) { tile_service.refresh_roads(conn); });
  router.start_listening(config.database_url, config.load_statement_timeout_ms);
  if (!router.wait_ready(std::chrono::seconds(120))) throw std::runtime_error("the street graph did not load within 120 s");
  // Incidents and checkpoints written by any process (or by hand) reach the tiles through NOTIFY.
  tiles::TileFeed tile_feed(tile_service);
  tile_feed.start(config.database_url, config.load_statement_timeout_ms);
  registry.cache.start_listening(config.database_url, config.load_statement_timeout_ms);

  // Each capability adds its own routes; the route table picks the most specific pattern, so the
  // order here does not matter.
  http::RouteTable routes;
  add_site_routes(routes, registry.pool, [&registry, &locator, &tile_service] {
    return registry.cache.ready() && locator.current().index && tile_service.ready();
  });
  registry::add_routes(routes, registry);
  registry::add_session_routes(routes, registry);
  toolkit::add_routes(routes, registry, toolkit);
  locate::add_routes(routes, registry, locator);
  incidents::add_routes(routes, registry, locator, cases);
  tiles::add_routes(routes, tiles::TileServices{registry, &tile_service, glyphs.get()});
  exchange::add_routes(routes, exchange::ExchangeServices{registry, toolkit});
  route::add_routes(routes, registry, router);
  const patrol::PatrolServices patrol_services{registry, router,
                                               [&tile_service](pg::Connection& conn, const patrol::CheckpointChange& change) {
                                                 if (tile_service.ready()) tile_service.refresh_checkpoints(conn, change.locations);
                                               }};
  patrol::add_routes(routes, patrol_services);

  http::ServerOptions options;
  options.listen_address = config.listen_address;
  options.port = config.port;
  options.base_url = config.base_url();
  options.http_threads = config.http_threads;
  options.workers = config.db_workers;
  options.max_body_bytes = config.max_body_bytes;
  options.max_head_bytes = config.max_head_bytes;
  options.max_headers = config.max_headers;
  options.max_json_depth = config.max_json_depth;
  options.request_timeout_s = config.request_timeout_s;
  http::Server server(routes, options);
  server.run();
  tile_feed.stop();
  router.stop();
  registry.cache.stop();  // no more change notifications into the subscribers while they are destroyed
  return 0;
}

}  // namespace wangge::app
