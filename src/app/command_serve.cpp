#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "core/log.hpp"
#include "http/resources.hpp"
#include "http/server.hpp"
#include "registry/auth.hpp"
#include "registry/migrate.hpp"
#include "tiles/feed.hpp"

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
                 "  WANGGE_DATABASE_URL  PostGIS connection (libpq URI), required\n"
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
  http::App app(config);
  app.locator.attach(app.cache);  // before the first load, so the locator sees it
  app.locator.start_worker_watch(config.database_url, config.statement_timeout_ms);
  app.incidents = std::make_unique<incidents::IncidentStore>(incidents::CaseRules::parse(
      resource_or_file("WANGGE_CALENDAR", "geodata/calendar.json"), resource_or_file("WANGGE_CASE_CATEGORIES", "geodata/case_categories.json")));
  // After the locator (subscribed by attach): open cases follow the new boundaries.
  app.cache.subscribe([&app](pg::Connection& conn, const std::vector<std::string>& codes) {
    if (int moved = app.incidents->reassign(conn, codes, app.locator); moved > 0)
      log::info("re-assigned " + std::to_string(moved) + " open incidents after a registry change");
  });
  app.tiles = std::make_unique<tiles::TileService>(tile_config(), config.tile_cache_bytes);
  try {
    app.glyphs = std::make_unique<tiles::GlyphServer>(tiles::GlyphServer::default_fonts());
  } catch (const std::exception& e) {
    log::warn(std::string("map labels are off: ") + e.what() + " (apt install fonts-dejavu-core fonts-droid-fallback)");
  }
  app.cache.subscribe([&app](pg::Connection& conn, const std::vector<std::string>& codes) { app.tiles->apply_changes(conn, codes); });
  // The tile layer `roads` follows the street graph (only that layer: the area layers take
  // seconds at province scale, and the area cache's first load builds everything anyway).
  app.router.subscribe([&app](pg::Connection& conn) { app.tiles->refresh_roads(conn); });
  // The street graphs: loaded by their listener thread after it LISTENs, rebuilt on every road change.
  app.router.start_listening(config.database_url, config.statement_timeout_ms);
  if (!app.router.wait_ready(std::chrono::seconds(120))) throw std::runtime_error("the street graph did not load within 120 s");
  // Incidents and checkpoints written by any process (or by hand) reach the tiles through NOTIFY.
  tiles::TileFeed tile_feed(*app.tiles);
  tile_feed.start(config.database_url, config.statement_timeout_ms);
  app.cache.start_listening(config.database_url, config.statement_timeout_ms);
  http::Server server(app);
  server.run();
  tile_feed.stop();
  app.router.stop();
  app.cache.stop();  // no more change notifications into the subscribers while they are destroyed
  return 0;
}

}  // namespace wangge::app
