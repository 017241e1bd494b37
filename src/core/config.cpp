#include "core/config.hpp"

#include <fstream>

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace wangge {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}

template <typename Number>
Number env_number(const char* name, Number fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  try {
    std::size_t used = 0;
    double d = std::stod(v, &used);
    if (used != std::string(v).size() || d < 0) throw std::invalid_argument(name);
    return static_cast<Number>(d);
  } catch (const std::exception&) {
    throw std::runtime_error(std::string("environment variable ") + name + " must be a non-negative number");
  }
}

// The embedded cluster that tools/run and tools/pg keep under <var>/pg (its port and password in
// files there), as a libpq URL; "" when there is none. So `wangge token create` typed after
// tools/run reaches the same database as the server without setting WANGGE_DATABASE_URL.
std::string embedded_cluster_url(const std::string& var_dir) {
  auto first_line = [](const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  };
  const std::string port = first_line(var_dir + "/pg/port"), password = first_line(var_dir + "/pg/password");
  if (port.empty() || password.empty()) return "";
  return "postgresql://wangge:" + password + "@127.0.0.1:" + port + "/wangge";
}

}  // namespace

Config Config::from_environment() {
  Config c;
  c.database_url = env_or("WANGGE_DATABASE_URL", "");
  c.listen_address = env_or("WANGGE_LISTEN", c.listen_address);
  c.port = env_number("WANGGE_PORT", c.port);
  c.http_threads = env_number("WANGGE_HTTP_THREADS", c.http_threads);
  c.db_workers = env_number("WANGGE_DB_WORKERS", c.db_workers);
  c.db_pool_size = env_number("WANGGE_DB_POOL", c.db_pool_size);
  c.var_dir = env_or("WANGGE_VAR_DIR", c.var_dir);
  if (c.database_url.empty()) c.database_url = embedded_cluster_url(c.var_dir);
  c.max_body_bytes = static_cast<std::size_t>(env_number("WANGGE_MAX_BODY_MB", 32.0) * 1024 * 1024);
  c.max_head_bytes = static_cast<std::size_t>(env_number("WANGGE_MAX_HEADER_KB", 64.0) * 1024);
  c.max_headers = env_number("WANGGE_MAX_HEADERS", c.max_headers);
  c.max_json_depth = env_number("WANGGE_MAX_JSON_DEPTH", c.max_json_depth);
  c.request_timeout_s = static_cast<int>(env_number("WANGGE_REQUEST_TIMEOUT_S", c.request_timeout_s));
  c.statement_timeout_ms = env_number("WANGGE_STATEMENT_TIMEOUT_MS", c.statement_timeout_ms);
  c.load_statement_timeout_ms = env_number("WANGGE_LOAD_STATEMENT_TIMEOUT_MS", c.load_statement_timeout_ms);
  c.max_expensive = env_number("WANGGE_MAX_EXPENSIVE", c.max_expensive);
  c.max_coordinates = env_number("WANGGE_MAX_COORDINATES", c.max_coordinates);
  c.max_parts = env_number("WANGGE_MAX_PARTS", c.max_parts);
  c.max_batch_points = env_number("WANGGE_MAX_BATCH_POINTS", c.max_batch_points);
  c.max_form_parts = env_number("WANGGE_MAX_FORM_PARTS", c.max_form_parts);
  c.max_import_features = env_number("WANGGE_MAX_IMPORT_FEATURES", c.max_import_features);
  c.max_zip_entries = env_number("WANGGE_MAX_ZIP_ENTRIES", c.max_zip_entries);
  c.max_unzipped_mb = env_number("WANGGE_MAX_UNZIPPED_MB", c.max_unzipped_mb);
  c.parent_tolerance_m = env_number("WANGGE_PARENT_TOLERANCE_M", c.parent_tolerance_m);
  c.overlap_tolerance_m2 = env_number("WANGGE_OVERLAP_TOLERANCE_M2", c.overlap_tolerance_m2);
  c.grid_code_pattern = env_or("WANGGE_GRID_CODE_PATTERN", c.grid_code_pattern);
  c.microgrid_code_pattern = env_or("WANGGE_MICROGRID_CODE_PATTERN", c.microgrid_code_pattern);
  c.public_base_url = env_or("WANGGE_PUBLIC_URL", "");
  c.tile_cache_bytes = static_cast<std::size_t>(env_number("WANGGE_TILE_CACHE_MB", 256.0) * 1024 * 1024);
  c.web_dir = env_or("WANGGE_WEB_DIR", "");
  if (c.web_dir.empty()) {
    // Beside the executable: the build puts web/ next to build/wangge.
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    std::string dir = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : std::string("./wangge");
    c.web_dir = dir.substr(0, dir.find_last_of('/')) + "/web";
  }
  c.drain_timeout_s = static_cast<int>(env_number("WANGGE_DRAIN_TIMEOUT_S", c.drain_timeout_s));
  c.ready_database = env_or("WANGGE_READY_DATABASE", c.ready_database);
  if (c.ready_database != "readable" && c.ready_database != "writable")
    throw std::runtime_error("WANGGE_READY_DATABASE must be readable or writable");
  if (c.port <= 0 || c.port > 65535) throw std::runtime_error("WANGGE_PORT must be 1..65535");
  if (c.db_workers < 1) c.db_workers = 1;
  if (c.db_pool_size < 1) c.db_pool_size = 1;
  if (c.http_threads < 1) c.http_threads = 1;
  if (c.max_head_bytes < 1024) throw std::runtime_error("WANGGE_MAX_HEADER_KB must be at least 1");
  if (c.max_headers < 1) throw std::runtime_error("WANGGE_MAX_HEADERS must be at least 1");
  if (c.max_expensive < 1) throw std::runtime_error("WANGGE_MAX_EXPENSIVE must be at least 1");
  if (c.max_coordinates < 4) throw std::runtime_error("WANGGE_MAX_COORDINATES must be at least 4");
  if (c.max_parts < 1) throw std::runtime_error("WANGGE_MAX_PARTS must be at least 1");
  if (c.max_batch_points < 1) throw std::runtime_error("WANGGE_MAX_BATCH_POINTS must be at least 1");
  if (c.max_form_parts < 1) throw std::runtime_error("WANGGE_MAX_FORM_PARTS must be at least 1");
  if (c.max_zip_entries < 1) throw std::runtime_error("WANGGE_MAX_ZIP_ENTRIES must be at least 1");
  if (c.max_unzipped_mb < 1) throw std::runtime_error("WANGGE_MAX_UNZIPPED_MB must be at least 1");
  if (c.max_import_features < 1) throw std::runtime_error("WANGGE_MAX_IMPORT_FEATURES must be at least 1");
  if (c.max_json_depth < 1) throw std::runtime_error("WANGGE_MAX_JSON_DEPTH must be at least 1");
  c.session_minutes = env_number("WANGGE_SESSION_MINUTES", c.session_minutes);
  c.login_max_failures = env_number("WANGGE_LOGIN_MAX_FAILURES", c.login_max_failures);
  c.login_lock_minutes = env_number("WANGGE_LOGIN_LOCK_MINUTES", c.login_lock_minutes);
  c.auth_free_failures = env_number("WANGGE_AUTH_FREE_FAILURES", c.auth_free_failures);
  if (c.session_minutes < 1) throw std::runtime_error("WANGGE_SESSION_MINUTES must be at least 1");
  if (c.login_max_failures < 1) throw std::runtime_error("WANGGE_LOGIN_MAX_FAILURES must be at least 1");
  if (c.login_lock_minutes < 1) throw std::runtime_error("WANGGE_LOGIN_LOCK_MINUTES must be at least 1");
  c.min_area_m2 = env_number("WANGGE_MIN_AREA_M2", c.min_area_m2);
  c.min_width_m = env_number("WANGGE_MIN_WIDTH_M", c.min_width_m);
  return c;
}

std::string Config::base_url() const {
  if (!public_base_url.empty()) return public_base_url;
  return "http://" + listen_address + ":" + std::to_string(port);
}

}  // namespace wangge
