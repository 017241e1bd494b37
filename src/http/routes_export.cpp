// GET /v1/export: a layer as a GIS file written by GDAL (see exchange/export.hpp);
// POST /v1/import: areas from a GIS file, validated, in one transaction (exchange/import.hpp).
#include <fstream>

#include "core/error.hpp"
#include "exchange/export.hpp"
#include "exchange/import.hpp"
#include "http/context.hpp"
#include "http/params.hpp"

namespace wangge::http {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data;
  data.resize(std::filesystem::file_size(path));
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (!in) throw std::runtime_error("export: cannot read back " + path.filename().string());
  return data;
}

Response import_file(App& app, const Request& req) {
  auto actor = authenticate(app, req);
  auto options = exchange::parse_import_options(req.query);
  const auto type = req.header("content-type").value_or("");
  if (type.rfind("multipart/", 0) == 0)
    throw Error(415, "unsupported_media_type", "send the file itself as the body (e.g. application/zip), not multipart");
  if (req.body.empty()) throw bad_request("invalid_body", "the body must be the file to import");
  // GDAL recognises ZIPs and CSVs by their names: give the upload the extension its content has.
  std::string ext;
  if (req.body.size() >= 4 && req.body.compare(0, 4, "PK\x03\x04") == 0) ext = ".zip";
  else if (type.find("csv") != std::string::npos) ext = ".csv";
  else if (type.find("json") != std::string::npos) ext = ".geojson";
  else if (type.find("kml") != std::string::npos) ext = ".kml";
  else if (req.body.compare(0, 15, "SQLite format 3") == 0) ext = ".gpkg";
  exchange::TempDir dir;
  const auto path = dir.path() / ("upload" + ext);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(req.body.data(), static_cast<std::streamsize>(req.body.size()));
    if (!out) throw std::runtime_error("import: cannot store the upload");
  }
  auto conn = app.pool.acquire();
  // The area cache follows the inserted rows through NOTIFY, like other processes' caches.
  auto report = exchange::import_areas(*conn, actor, app.rules, app.config, path, options);
  return json_response(options.dry_run ? 200 : 201, report.dump());
}

}  // namespace

std::optional<Response> route_export(App& app, const Request& req) {
  const auto& s = req.segments;
  if (s.size() == 2 && s[0] == "v1" && s[1] == "import") {
    if (req.method != "POST") throw_method_not_allowed("POST");
    return import_file(app, req);
  }
  if (s.size() != 2 || s[0] != "v1" || s[1] != "export") return std::nullopt;
  if (req.method != "GET") throw_method_not_allowed("GET");
  auto actor = authenticate(app, req);
  auto options = exchange::parse_export_options(req.query);
  // Any role may export, but only inside its scope: the area asked for must lie in it, and the
  // scope filters the rows whatever was asked.
  if (options.selection.area) actor.require_read(*options.selection.area);
  options.selection.scope = actor.scope;
  auto result = exchange::export_layer(*app.pool.acquire(), options);
  Response r;
  r.content_type = result.media_type;
  r.body = read_file(result.file);
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + result.filename + "\"");
  r.headers.emplace_back("X-Feature-Count", std::to_string(result.features));
  return r;
}

}  // namespace wangge::http
