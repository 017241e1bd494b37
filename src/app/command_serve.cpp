#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <cstdlib>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "app/routes_site.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "exchange/routes.hpp"
#include "http/metrics.hpp"
#include "http/proxies.hpp"
#include "pg/bulk.hpp"
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
#include "stats/routes.hpp"
#include "tiles/feed.hpp"
#include "tiles/routes.hpp"

namespace wangge::app {
namespace {

// The tile layers: tiles/layers.json as built in, or the file named by WANGGE_TILE_LAYERS.
tiles::TileConfig tile_config() { return tiles::TileConfig::parse(resource_or_file("WANGGE_TILE_LAYERS", "tiles/layers.json")); }

// The gauges and histograms of the services (read at each scrape); unregistered when the returned
// registrations go, before the services do.
std::vector<metrics::Registration> register_metrics(pg::Pool& pool, const tiles::TileService& tile_service, const locate::Locator& locator,
                                                    const metrics::Histogram& tile_builds, const metrics::Histogram& tile_patches) {
  using metrics::Family;
  using metrics::Type;
  std::vector<metrics::Registration> r;
  r.push_back(
      metrics::add("wangge_db_pool_connections", Type::kGauge, "Database connections of the request pool, by state", [&pool](Family& f) {
        const auto st = pool.stats();
        f.value(metrics::label("state", "idle"), st.idle);
        f.value(metrics::label("state", "in_use"), st.open - st.idle);
      }));
  r.push_back(metrics::add("wangge_db_pool_max_connections", Type::kGauge, "The request pool's limit (WANGGE_DB_POOL)",
                           [&pool](Family& f) { f.value("", pool.stats().max); }));
  r.push_back(metrics::add("wangge_db_pool_waits_total", Type::kCounter, "Requests that found every pooled connection in use and waited",
                           [&pool](Family& f) { f.value("", static_cast<double>(pool.stats().waited)); }));
  r.push_back(metrics::add("wangge_db_pool_timeouts_total", Type::kCounter,
                           "Requests that waited in vain for a connection (503 database_busy)",
                           [&pool](Family& f) { f.value("", static_cast<double>(pool.stats().timed_out)); }));
  r.push_back(
      metrics::add("wangge_tile_cache_requests_total", Type::kCounter, "Tile cache look-ups, by result", [&tile_service](Family& f) {
        const auto st = tile_service.cache_stats();
        f.value(metrics::label("result", "hit"), static_cast<double>(st.hits));
        f.value(metrics::label("result", "miss"), static_cast<double>(st.misses));
      }));
  r.push_back(metrics::add("wangge_tile_cache_invalidated_total", Type::kCounter, "Cached tiles dropped because their data changed",
                           [&tile_service](Family& f) { f.value("", static_cast<double>(tile_service.cache_stats().invalidated)); }));
  r.push_back(metrics::add("wangge_tile_cache_entries", Type::kGauge, "Tiles in the cache",
                           [&tile_service](Family& f) { f.value("", static_cast<double>(tile_service.cache_stats().entries)); }));
  r.push_back(metrics::add("wangge_tile_cache_bytes", Type::kGauge, "Bytes of the cached tiles (the budget is WANGGE_TILE_CACHE_MB)",
                           [&tile_service](Family& f) { f.value("", static_cast<double>(tile_service.cache_stats().bytes)); }));
  r.push_back(metrics::add("wangge_tile_layer_build_seconds", Type::kHistogram,
                           "Tile layer work after registry changes, by kind: a full build (start-up, catch-up) or a patch",
                           [&tile_builds, &tile_patches](Family& f) {
                             f.histogram(metrics::label("kind", "full"), tile_builds.totals(), tile_builds.bounds());
                             f.histogram(metrics::label("kind", "patch"), tile_patches.totals(), tile_patches.bounds());
                           }));
  r.push_back(metrics::add("wangge_locate_index_build_seconds", Type::kGauge,
                           "How long the current locator index took to build (or to patch, after an edit)", [&locator](Family& f) {
                             if (auto index = locator.current().index) f.value("", index->stats().build_seconds);
                           }));
  r.push_back(metrics::add("wangge_locate_index_areas", Type::kGauge, "Areas in the current locator index", [&locator](Family& f) {
    if (auto index = locator.current().index) f.value("", static_cast<double>(index->stats().areas));
  }));
  r.push_back(metrics::add("wangge_locate_index_bytes", Type::kGauge, "Memory of the current locator index (as of its last full build)",
                           [&locator](Family& f) {
                             if (auto index = locator.current().index) f.value("", static_cast<double>(index->stats().memory_bytes));
                           }));
  return r;
}

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
                 "  WANGGE_DRAIN_TIMEOUT_S  after SIGTERM, how long requests under way may finish (default 30)\n"
                 "  WANGGE_READY_DATABASE   readable (default) or writable: what GET /ready asks of the database\n"
                 "  WANGGE_LOG_FORMAT=json  log lines as JSON objects\n"
                 "  WANGGE_DATABASE_BULK_URL  bulk reads (loads, exports) from a standby, e.g. target_session_attrs=prefer-standby\n"
                 "  WANGGE_BULK_MAX_WAIT_MS   how long a standby may take to replay the writes before the primary reads (2000)\n"
                 "  WANGGE_TRUSTED_PROXIES  networks of the reverse proxies whose X-Forwarded-For names the client (default none)\n"
                 "On first start with no tokens an admin token is written to $WANGGE_VAR_DIR/admin-token.\n"))
    return 0;
  auto config = Config::from_environment();
  // Parsed before anything starts: a mistyped network must stop the process, not trust no one.
  std::vector<http::Cidr> trusted_proxies;
  try {
    const char* list = std::getenv("WANGGE_TRUSTED_PROXIES");
    trusted_proxies = http::parse_trusted_proxies(list ? list : "");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("WANGGE_TRUSTED_PROXIES: ") + e.what());
  }
  {
    auto conn = connect_with_retry(config, 60);
    for (const auto& name : registry::migrate(conn)) log::info("applied migration " + name);
    ensure_admin_token(conn, config);
  }
  // Bulk reads (loads, exports) on a standby when WANGGE_DATABASE_BULK_URL is set; before every
  // service that reads through it, destroyed after them.
  const pg::bulk::Reads bulk_reads(pg::bulk::settings_from_environment(config.statement_timeout_ms));
  // The listeners' loads (the whole registry, the street graph, the tile layers at start-up and
  // after changes) run on their own connections with the load timeout, not a client request's.
  // The services, in the order they depend on each other; they are destroyed in reverse, so a
  // listener thread never outlives what it feeds.
  registry::Registry registry(config);
  const toolkit::Toolkit toolkit(registry.config, registry.rules, registry.areas);
  locate::Locator locator{locate::Locator::options_from_environment()};
  locator.attach(registry.cache);  // before the first load, so the locator sees it
  locator.start_worker_watch(config.database_url, config.load_statement_timeout_ms);
  registry.after_worker_write = [&locator] {
    if (!locator.wait_for_worker_reload(std::chrono::milliseconds(2000)))
      log::warn("the worker directory did not reload within 2 s of a worker write");
  };
  incidents::IncidentStore cases(incidents::CaseRules::parse(resource_or_file("WANGGE_CALENDAR", "geodata/calendar.json"),
                                                             resource_or_file("WANGGE_CASE_CATEGORIES", "geodata/case_categories.json")));
  // After the locator (subscribed by attach): open cases follow the new boundaries.
  registry.cache.subscribe([&cases, &locator](pg::Connection& conn, const std::vector<std::string>& codes) {
    if (int moved = cases.reassign(conn, codes, locator); moved > 0)
      log::info("re-assigned " + std::to_string(moved) + " open incidents after a registry change");
  });
  // Case statistics in memory, following every write to incidents (NOTIFY wangge_stats); the
  // first load runs on the listener's thread, and until it is done /v1/stats answers 503.
  const stats::EvaluationRules evaluation_rules =
      stats::EvaluationRules::parse(resource_or_file("WANGGE_EVALUATION", "geodata/evaluation.json"));
  stats::CaseTableCache case_stats(cases.rules().calendar, evaluation_rules.counting);
  case_stats.start_listening(config.database_url, config.load_statement_timeout_ms);
  const stats::StatsService stats_service(case_stats, evaluation_rules);
  tiles::TileService tile_service(tile_config(), config.tile_cache_bytes);
  std::unique_ptr<tiles::GlyphServer> glyphs;
  try {
    glyphs = std::make_unique<tiles::GlyphServer>(tiles::GlyphServer::default_fonts());
  } catch (const std::exception& e) {
    log::warn(std::string("map labels are off: ") + e.what() + " (apt install fonts-dejavu-core fonts-droid-fallback)");
  }
  // Tile layer (re)builds, timed for /metrics: a full build after each catch-up, patches after edits.
  metrics::Histogram tile_builds(metrics::rebuild_buckets()), tile_patches(metrics::rebuild_buckets());
  registry.cache.subscribe([&tile_service, &tile_builds, &tile_patches](pg::Connection& conn, const std::vector<std::string>& codes) {
    const auto started = std::chrono::steady_clock::now();
    tile_service.apply_changes(conn, codes);
    (codes.empty() ? tile_builds : tile_patches).observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  });
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
  stats::add_routes(routes, registry, stats_service);
  add_ops_routes(
      routes, registry.pool,
      [&registry, &locator, &tile_service] { return registry.cache.ready() && locator.current().index && tile_service.ready(); },
      [] { return http::draining(); }, config.ready_database == "writable");

  http::RequestMetrics request_metrics;
  request_metrics.attach(routes);
  const auto process_metrics = register_metrics(registry.pool, tile_service, locator, tile_builds, tile_patches);

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
  options.drain_timeout_s = config.drain_timeout_s;
  options.metrics = &request_metrics;
  options.trusted_proxies = std::move(trusted_proxies);
  http::Server server(routes, options);
  server.run();
  tile_feed.stop();
  case_stats.stop();
  router.stop();
  registry.cache.stop();  // no more change notifications into the subscribers while they are destroyed
  return 0;
}

}  // namespace wangge::app
