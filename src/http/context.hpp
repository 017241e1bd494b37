// What the route handlers see: a request copied out of Pistache (so it can cross to a worker
// thread) and the response they build. No Pistache types here.
#pragma once

#include <functional>
#include <map>
#include <string_view>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "incidents/store.hpp"
#include "locate/service.hpp"
#include "pg/pool.hpp"
#include "registry/areas.hpp"
#include "registry/auth.hpp"
#include "registry/codes.hpp"
#include "registry/snapshot.hpp"
#include "registry/workers.hpp"
#include "route/router_cache.hpp"
#include "tiles/glyphs.hpp"
#include "tiles/service.hpp"
#include "toolkit/toolkit.hpp"

namespace wangge::http {

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // percent-decoded, without the query
  std::vector<std::string> segments;           // path split on '/', empty segments dropped
  std::map<std::string, std::string> query;    // percent-decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::optional<std::string> param(const std::string& name) const;
  std::optional<std::string> header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // A body too large to build whole: when set, `body` is ignored and the server sends what this
  // producer appends to `chunk` (chunked transfer encoding, bounded memory), calling it again
  // while it returns true. It runs on the request's worker thread after the handler returned, so
  // it owns (or shares) everything it reads. The status and headers are on the wire before it
  // runs: an exception it throws cuts the answer short (the client sees an incomplete body).
  std::function<bool(std::string& chunk)> stream;
};

// Everything the handlers need, built once at start.
struct App {
  explicit App(Config c)
      : config(std::move(c)),
        rules(config),
        pool(config.database_url, config.db_pool_size, config.statement_timeout_ms),
        areas(config, rules),
        toolkit(config, rules, areas) {}
  Config config;
  registry::CodeRules rules;
  pg::Pool pool;
  registry::AreaStore areas;
  toolkit::Toolkit toolkit;  // redraw/split/merge/re-parent/redistrict (issue 3); after `areas`, which it uses
  registry::WorkerStore workers;
  registry::TokenCache tokens;
  registry::AreaCache cache;  // current areas in memory; the database stays the source of truth
  std::unique_ptr<incidents::IncidentStore> incidents;  // cases; set up by `serve` with the calendar
  std::unique_ptr<tiles::TileService> tiles;  // vector tiles, follow `cache`; set up by `serve`
  std::unique_ptr<tiles::GlyphServer> glyphs;  // label fonts for the map page; absent without system fonts
  locate::Locator locator{locate::Locator::options_from_environment()};  // point -> grid, follows `cache`
  // Street graphs per profile: router.current() per request; follows road changes. Last: its listener
  // rebuilds `tiles`, so it must stop (be destroyed) first.
  route::RouterCache router;
};

Response json_response(int status, std::string body);
// Problem document (RFC 9457) for any error; `extra_json` is an object merged in.
Response problem(int status, const std::string& code, const std::string& detail, const std::string& extra_json = {});

// After a committed registry write: the area cache takes the change at once; the locator, tiles and
// open cases follow on the listener thread, and the request waits for them up to 2 s.
void after_registry_write(App& app, pg::Connection& conn, const std::vector<std::string>& codes);

// Resolves the bearer token; throws unauthorized when it is missing or unknown.
registry::Actor authenticate(App& app, const Request& req);
// True when the request's bearer token is known valid without asking the database (a fresh
// TokenCache answer); false says nothing: authenticate() decides.
bool authenticated_in_cache(App& app, const Request& req);

// Route groups; each returns std::nullopt when the path is not theirs, and throws wangge::Error
// subclasses for problems (405 included).
// Before route_areas: it takes /v1/areas/merge, .../split|reparent|coverage|lineage, PUT .../children
// and PATCH /v1/areas/{code} with adjust= or dry_run=.
std::optional<Response> route_toolkit(App& app, const Request& req);
std::optional<Response> route_areas(App& app, const Request& req);
std::optional<Response> route_workers(App& app, const Request& req);
std::optional<Response> route_misc(App& app, const Request& req);
std::optional<Response> route_tiles(App& app, const Request& req);  // /tiles, /style.json, /vendor
std::optional<Response> route_locate(App& app, const Request& req);
// GET /v1/locate when it needs neither the database nor a worker (current moment, token in the
// cache, valid parameters): answered on Pistache's event loop, as /hello is, since handing a
// microsecond of work to a worker thread and back costs more than the work. std::nullopt: the
// request takes the usual way (route_locate on a worker), which also makes every error answer.
std::optional<Response> route_locate_inline(App& app, const Request& req);
std::optional<Response> route_incidents(App& app, const Request& req);  // /v1/incidents
std::optional<Response> route_export(App& app, const Request& req);  // /v1/export
std::optional<Response> route_ogc(App& app, const Request& req);     // /ogc (OGC API - Features)
std::optional<Response> route_route(App& app, const Request& req);   // /v1/route, /v1/route/matrix
std::optional<Response> route_patrol(App& app, const Request& req);  // /v1/patrol/tour
// Patrols (issue 6): /v1/checkpoints and /v1/patrol/due; /v1/dispatch/nearest-workers and
// /v1/workers/{id}/position (before route_workers); /v1/patrol/coverage.
std::optional<Response> route_checkpoints(App& app, const Request& req);
std::optional<Response> route_dispatch(App& app, const Request& req);
std::optional<Response> route_coverage(App& app, const Request& req);

}  // namespace wangge::http
