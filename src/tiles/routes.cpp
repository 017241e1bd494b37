// /tiles: vector tiles and TileJSON, and the map page's static files (/vendor, /style.json).
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "http/params.hpp"
#include "http/resources.hpp"
#include "http/router.hpp"
#include "registry/areas.hpp"
#include "registry/auth.hpp"
#include "registry/codes.hpp"
#include "tiles/compression.hpp"
#include "tiles/routes.hpp"

namespace wangge::tiles {
namespace {

using namespace http;  // Request, Response, the parameter parsers

using nlohmann::json;

// Whether the client takes gzip: Accept-Encoding names it (or *) without q=0.
bool accepts_gzip(const Request& req) {
  const std::string h = req.header("accept-encoding").value_or("");
  auto at = h.find("gzip");
  if (at == std::string::npos) at = h.find('*');
  if (at == std::string::npos) return false;
  const auto end = std::min(h.find(',', at), h.size());
  const auto q = h.find("q=", at);
  if (q == std::string::npos || q > end) return true;
  return std::strtod(h.c_str() + q + 2, nullptr) > 0;
}

// "village,grid,grid" → {"village","grid"}: duplicates dropped, order kept, count capped.
std::vector<std::string> parse_layers(const TileServices& app, const std::string& text) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::size_t i = 0;
  while (i <= text.size()) {
    std::size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    std::string name = text.substr(i, j - i);
    if (!name.empty() && seen.insert(name).second) {
      if (!app.tiles->has_layer(name)) throw not_found("unknown_layer", "no tile layer is called '" + name + "'");
      out.push_back(name);
    }
    i = j + 1;
  }
  if (out.empty()) throw not_found("unknown_layer", "name at least one tile layer");
  if (static_cast<int>(out.size()) > app.tiles->config().max_layers_per_request)
    throw bad_request("too_many_layers",
                      "at most " + std::to_string(app.tiles->config().max_layers_per_request) + " layers per tile request");
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

Response tilejson(const TileServices& app, const std::vector<std::string>& layers) {
  auto b = app.tiles->bounds_lonlat();
  json vector_layers = json::array();
  for (const auto& name : layers) {
    json fields = json::object();
    for (const auto& [k, v] : app.tiles->fields(name)) fields[k] = v;
    vector_layers.push_back(
        {{"id", name}, {"fields", fields}, {"minzoom", app.tiles->minzoom({name})}, {"maxzoom", app.tiles->maxzoom({name})}});
  }
  json doc = {{"tilejson", "3.0.0"},
              {"name", "wangge " + join(layers)},
              {"scheme", "xyz"},
              {"tiles", json::array({app.registry.config.base_url() + "/tiles/" + join(layers) + "/{z}/{x}/{y}.mvt"})},
              {"minzoom", app.tiles->minzoom(layers)},
              {"maxzoom", app.tiles->maxzoom(layers)},
              {"bounds", {b.minx, b.miny, b.maxx, b.maxy}},
              {"center", {(b.minx + b.maxx) / 2, (b.miny + b.maxy) / 2, std::max(app.tiles->minzoom(layers), 10)}},
              {"vector_layers", vector_layers}};
  return json_response(200, doc.dump());
}

// A vendored file as it is served: read once (every page load asks for it), gzip-compressed once
// at a high level (the console's bundle is a megabyte of JavaScript, a quarter of that
// compressed), each form under its own strong ETag (a representation's ETag names its encoding).
struct StaticFile {
  std::string raw;
  std::string gzip;  // empty when compression would not make it smaller
  std::string etag;  // of the raw bytes; the gzip form's adds "-gz"
};

std::shared_ptr<const StaticFile> load_static(const TileServices& app, const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const StaticFile>> loaded;
  std::lock_guard lock(mutex);
  if (auto it = loaded.find(name); it != loaded.end()) return it->second;
  std::ifstream in(app.registry.config.web_dir + "/" + name, std::ios::binary);
  if (!in) return nullptr;
  std::ostringstream text;
  text << in.rdbuf();
  auto file = std::make_shared<StaticFile>();
  file->raw = text.str();
  file->gzip = gzip_best(file->raw);
  if (file->gzip.size() >= file->raw.size()) file->gzip.clear();
  file->etag = registry::sha256_hex(file->raw).substr(0, 32);
  return loaded.emplace(name, std::move(file)).first->second;
}

std::optional<Response> static_file(const TileServices& app, const Request& req, const std::string& name, const std::string& type) {
  auto file = load_static(app, name);
  if (!file) return std::nullopt;
  const bool compressed = !file->gzip.empty() && accepts_gzip(req);
  const std::string etag = "\"" + file->etag + (compressed ? "-gz" : "") + "\"";
  Response r;
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", "public, max-age=86400");
  r.headers.emplace_back("Vary", "Accept-Encoding");
  if (auto inm = req.header("if-none-match")) {
    const auto tags = registry::parse_if_match(*inm);
    if (std::any_of(tags.begin(), tags.end(), [&](const std::string& t) { return t == "*" || t == etag; })) {
      r.status = 304;
      r.content_type.clear();
      return r;
    }
  }
  r.content_type = type;
  if (compressed) r.headers.emplace_back("Content-Encoding", "gzip");
  r.body = compressed ? file->gzip : file->raw;
  return r;
}

// Right after start the layers are still being built; wait a little rather than serve empty tiles.
void wait_until_ready(const TileServices& app) {
  if (!app.tiles) throw unavailable("tiles_unavailable", "tiles are not enabled on this server");
  for (int i = 0; i < 100 && !app.tiles->ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!app.tiles->ready()) throw unavailable("tiles_loading", "the tile layers are still being built; retry shortly");
}

Response tile(const TileServices& app, const Request& req) {
  wait_until_ready(app);
  auto actor = app.registry.authenticate(req);
  auto layers = parse_layers(app, req.path_param("layers"));
  auto id = parse_tile(req.path_param("z"), req.path_param("x"), req.path_param("y"));
  if (!id) throw bad_request("invalid_tile", "z/x/y must be integers with 0 <= z <= 24 and 0 <= x, y < 2^z");
  const std::string scope = actor.scope ? registry::code_prefix(*actor.scope) : "";
  auto at = time_param(req, "at");
  const bool client_gzip = accepts_gzip(req);
  const auto gzip = client_gzip ? TileService::ClientGzip::accepted : TileService::ClientGzip::refused;
  std::shared_ptr<const EncodedTile> tile;
  if (at) {
    auto conn = app.registry.pool.acquire();
    tile = app.tiles->tile(layers, *id, scope, &*conn, at, gzip);
  } else {
    tile = app.tiles->tile(layers, *id, scope, nullptr, std::nullopt, gzip);
  }
  Response r;
  r.headers.emplace_back("ETag", tile->etag);
  // Always revalidate: a tile changes the moment a boundary does, and the ETag makes that cheap.
  r.headers.emplace_back("Cache-Control", "private, no-cache");
  r.headers.emplace_back("Vary", "Authorization, Accept-Encoding");
  if (auto inm = req.header("if-none-match"); inm && inm->find(tile->etag) != std::string::npos) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  if (tile->empty()) {
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  r.content_type = "application/vnd.mapbox-vector-tile";
  if (client_gzip && !tile->gzip.empty()) {
    r.headers.emplace_back("Content-Encoding", "gzip");
    r.body = tile->gzip;
  } else {
    r.body = tile->gzip.empty() ? tile->raw : gunzip(tile->gzip);
  }
  return r;
}

}  // namespace

void add_routes(http::RouteTable& routes, const TileServices& services) {
  // The routes outlive the caller's services value: they share a copy.
  auto app = std::make_shared<const TileServices>(services);
  routes.add("GET", "/style.json", [](const Request&) {
    Response r = json_response(200, std::string(*resource("tiles/style.json")));
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  });
  routes.add("GET", "/vendor/{file}", [app](const Request& req) {
    static const std::map<std::string, std::string> files = {{"maplibre-gl.js", "text/javascript; charset=utf-8"},
                                                             {"maplibre-gl.css", "text/css; charset=utf-8"},
                                                             {"console.js", "text/javascript; charset=utf-8"},
                                                             {"console-charts.js", "text/javascript; charset=utf-8"},
                                                             {"console.css", "text/css; charset=utf-8"}};
    auto it = files.find(req.path_param("file"));
    if (it == files.end()) throw not_found("not_found", "no resource at " + req.path);
    auto r = static_file(*app, req, it->first, it->second);
    if (!r) throw not_found("not_installed", "the map library was not installed with the build (npm install maplibre-gl)");
    return *r;
  });
  routes.add("GET", "/fonts/{stack}/{range}", [app](const Request& req) {
    const auto start = glyph_range_start(req.path_param("range"));
    if (!start) throw bad_request("invalid_parameter", "a glyph range is {start}-{start+255}.pbf with start a multiple of 256 below 65536");
    if (!app->glyphs) throw not_found("not_installed", "no fonts for map labels are installed on the server");
    Response r;
    r.body = app->glyphs->range(req.path_param("stack"), *start);
    r.content_type = "application/x-protobuf";
    r.headers.emplace_back("Cache-Control", "public, max-age=86400");
    return r;
  });
  routes.add("GET", "/tiles/{layers}.json", [app](const Request& req) {
    wait_until_ready(*app);
    app->registry.authenticate(req);
    return tilejson(*app, parse_layers(*app, req.path_param("layers")));
  });
  for (const char* pattern : {"/tiles/{layers}/{z}/{x}/{y}.mvt", "/tiles/{layers}/{z}/{x}/{y}.pbf", "/tiles/{layers}/{z}/{x}/{y}"})
    routes.add("GET", pattern, [app](const Request& req) { return tile(*app, req); });
}

}  // namespace wangge::tiles
