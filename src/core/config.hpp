// Deployment settings, read once from the environment (WANGGE_*) with sensible defaults.
#pragma once

#include <cstdint>
#include <string>

namespace wangge {

struct Config {
  std::string database_url;                  // WANGGE_DATABASE_URL (libpq URI or key=value string)
  std::string listen_address = "127.0.0.1";  // WANGGE_LISTEN
  int port = 8080;                           // WANGGE_PORT
  int http_threads = 2;                      // WANGGE_HTTP_THREADS: Pistache event loops (no blocking work there)
  int db_workers = 4;                        // WANGGE_DB_WORKERS: request workers, each may hold one connection
  int db_pool_size = 8;                      // WANGGE_DB_POOL: at most this many connections
  std::string var_dir = "var";               // WANGGE_VAR_DIR: admin token and other local state
  std::size_t max_body_bytes = 32u << 20;    // WANGGE_MAX_BODY_MB: larger bodies get 413
  // WANGGE_MAX_HEADER_KB: request line and headers together; larger heads get 431. Browsers send
  // under 8 KiB; a long bearer token and a full query string fit many times over.
  std::size_t max_head_bytes = 64u << 10;
  std::size_t max_headers = 100;  // WANGGE_MAX_HEADERS: header fields per request; more get 431
  // WANGGE_MAX_JSON_DEPTH: nesting of arrays and objects in a JSON body; deeper gets 422. GeoJSON
  // needs 6 (a MultiPolygon's coordinates in a Feature in a FeatureCollection).
  int max_json_depth = 64;
  // WANGGE_REQUEST_TIMEOUT_S: how long one request may take from its first byte to its answer (a
  // whole-county import validates for minutes); also how long an idle keep-alive connection stays.
  int request_timeout_s = 900;
  int statement_timeout_ms = 30000;  // WANGGE_STATEMENT_TIMEOUT_MS: one statement of a client's request
  // WANGGE_LOAD_STATEMENT_TIMEOUT_MS: one statement of the server's own loads (every area, street
  // and tile layer at start-up and after changes); at province scale these read millions of rows,
  // so they are not held to a client request's limit.
  int load_statement_timeout_ms = 600000;
  // WANGGE_MAX_EXPENSIVE: exports, imports, toolkit operations and dry runs, coverage, tours,
  // matrices and historical locates running at once; more get 503 `busy`. Kept below
  // WANGGE_DB_WORKERS so that cheap requests always find a worker.
  int max_expensive = 2;
  // WANGGE_MAX_COORDINATES: positions in one geometry of a JSON body; more get 413. A detailed
  // township boundary has tens of thousands; every check of a geometry costs in proportion.
  std::size_t max_coordinates = 200000;
  // WANGGE_MAX_PARTS: polygons in one MultiPolygon of a JSON body; more get 413. Grids with
  // islands have a few; overlay work grows with the parts.
  std::size_t max_parts = 1000;
  std::size_t max_batch_points = 1000000;  // WANGGE_MAX_BATCH_POINTS: points in one POST /v1/locate
  std::size_t max_form_parts = 16;         // WANGGE_MAX_FORM_PARTS: parts of one multipart/form-data body
  // WANGGE_MAX_IMPORT_FEATURES: features of one import, counted before any is read (a GeoPackage
  // view of a few KB may expand to millions).
  long long max_import_features = 500000;
  // WANGGE_MAX_ZIP_ENTRIES and WANGGE_MAX_UNZIPPED_MB: what an uploaded ZIP may hold, read from its
  // directory before anything is inflated. A county's shapefile set is a handful of files and a
  // few hundred MB at most.
  std::size_t max_zip_entries = 1000;
  std::uint64_t max_unzipped_mb = 1024;
  double parent_tolerance_m = 0.5;    // WANGGE_PARENT_TOLERANCE_M: how far a child may poke out of its parent
  double overlap_tolerance_m2 = 1.0;  // WANGGE_OVERLAP_TOLERANCE_M2: sibling overlaps up to this are ignored
  // Code patterns (ECMAScript regex) per level; the 15-digit grid code is the default (docs/domain.md).
  std::string grid_code_pattern = "^[0-9]{15}$";          // WANGGE_GRID_CODE_PATTERN
  std::string microgrid_code_pattern = "^[0-9]{17,18}$";  // WANGGE_MICROGRID_CODE_PATTERN
  std::size_t tile_cache_bytes = 256u << 20;              // WANGGE_TILE_CACHE_MB: compressed tiles kept in memory
  std::string web_dir;          // WANGGE_WEB_DIR: the map page's vendored files (default: web/ beside the executable)
  std::string public_base_url;  // WANGGE_PUBLIC_URL: for links; default http://<listen>:<port>
  // WANGGE_MIN_AREA_M2 and WANGGE_MIN_WIDTH_M: the smallest grid or micro-grid any write may leave,
  // by area and by mean width (2 × area / perimeter, which is a strip's width). They catch slivers
  // left by redraws and typing errors, never a real area: an urban grid holds about 10,000 m², the
  // smallest micro-grid (one building, one market stall row) still some hundred.
  double min_area_m2 = 25.0;
  double min_width_m = 1.0;

  // People's sign-in (POST /v1/session). WANGGE_SESSION_MINUTES: a session's lifetime from sign-in,
  // a working day by default, so a console left open overnight asks again in the morning.
  // WANGGE_LOGIN_MAX_FAILURES wrong passwords in a row lock the account for WANGGE_LOGIN_LOCK_MINUTES:
  // at 5 per 15 minutes a guesser gets about 500 tries a day, a person who mistypes waits once.
  int session_minutes = 12 * 60;
  int login_max_failures = 5;
  int login_lock_minutes = 15;
  // WANGGE_AUTH_FREE_FAILURES: wrong credentials one client address may send before each further
  // attempt waits (1 s, doubling up to 15 minutes; forgiven after 10 minutes without a failure).
  int auth_free_failures = 20;

  // WANGGE_DRAIN_TIMEOUT_S: after SIGTERM, how long the requests under way may take to finish
  // before the process exits anyway (a rolling restart waits this long at most per process).
  int drain_timeout_s = 30;
  // WANGGE_READY_DATABASE: what /ready asks of the database: "readable" (any reachable server; a
  // process on a standby still serves reads) or "writable" (a primary; behind a balancer that
  // sends writes only to ready processes).
  std::string ready_database = "readable";

  static Config from_environment();
  std::string base_url() const;
};

}  // namespace wangge
