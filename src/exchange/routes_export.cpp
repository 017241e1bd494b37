// GET /v1/export: a layer as a GIS file written by GDAL (see exchange/export.hpp);
// POST /v1/import: areas from a GIS file, validated, in one transaction (exchange/import.hpp).
#include <cstring>
#include <fstream>
#include <string_view>

#include "core/error.hpp"
#include "exchange/export.hpp"
#include "exchange/import.hpp"
#include "exchange/multipart.hpp"
#include "exchange/routes.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "pg/bulk.hpp"

namespace wangge::exchange {
namespace {

using namespace http;  // Request, Response, json_body, the parameter parsers

Response import_file(const ExchangeServices& app, const Request& req) {
  auto actor = app.registry.authenticate(req);
  auto pass = app.registry.expensive.enter("the import");
  auto type = req.header("content-type").value_or("");
  std::string_view upload = req.body;
  std::string upload_name;
  auto params = req.query;
  // A browser form or `curl -F file=@x.zip -F level=grid`: the file is the part with a file name (or
  // named "file"); other parts are options, which the query string overrides.
  if (type.rfind("multipart/form-data", 0) == 0) {
    const FormPart* file = nullptr;
    auto parts = form_parts(req.body, type, app.registry.config.max_form_parts);
    for (const auto& p : parts) {
      if (!file && (!p.filename.empty() || p.name == "file")) {
        file = &p;
      } else if (!p.name.empty() && p.data.size() < 1000) {
        params.emplace(p.name, std::string(p.data));
      }
    }
    if (!file) throw bad_request("invalid_body", "the multipart body has no file part (a part with a filename, or named \"file\")");
    upload = file->data;
    upload_name = file->filename;
    type = file->content_type;
  } else if (type.rfind("multipart/", 0) == 0) {
    throw Error(415, "unsupported_media_type", "send multipart/form-data, or the file itself as the body (e.g. application/zip)");
  }
  auto options = exchange::parse_import_options(params);
  if (upload.empty()) throw bad_request("invalid_body", "the body must be the file to import");
  // GDAL recognises ZIPs and CSVs by their names: give the upload the extension its content has.
  std::string ext;
  auto lower_name = upload_name;
  for (auto& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto named = [&](const char* e) { return lower_name.size() > std::strlen(e) && lower_name.ends_with(e); };
  if (upload.size() >= 4 && upload.substr(0, 4) == "PK\x03\x04")
    ext = ".zip";
  else if (upload.substr(0, 15) == "SQLite format 3")
    ext = ".gpkg";
  else if (named(".csv") || type.find("csv") != std::string::npos)
    ext = ".csv";
  else if (named(".kml") || type.find("kml") != std::string::npos)
    ext = ".kml";
  else if (named(".geojson") || named(".json") || type.find("json") != std::string::npos)
    ext = ".geojson";
  exchange::TempDir dir;
  const auto path = dir.path() / ("upload" + ext);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(upload.data(), static_cast<std::streamsize>(upload.size()));
    if (!out) throw std::runtime_error("import: cannot store the upload");
  }
  auto conn = app.registry.pool.acquire();
  // Other processes' caches follow the written rows through NOTIFY; this one takes them before
  // answering, so the importer's next read (a page, a tile, a locate) holds the import.
  std::vector<std::string> written;
  options.written = [&written](const std::string& code) { written.push_back(code); };
  auto report = import_areas(*conn, actor, app.registry.rules, app.registry.config, path, options, &app.toolkit);
  app.registry.after_write(*conn, written);
  return json_response(options.dry_run || report.value("written", 0) == 0 ? 200 : 201, report.dump());
}

Response export_file(const ExchangeServices& app, const Request& req) {
  auto actor = app.registry.authenticate(req);
  auto options = exchange::parse_export_options(req.query);
  // Any role may export, but only inside its scope: the area asked for must lie in it, and the
  // scope filters the rows whatever was asked.
  if (options.selection.area) actor.require_read(*options.selection.area);
  options.selection.scope = actor.scope;
  // Held while GDAL writes the file; the streaming of the written file after it costs little.
  auto pass = app.registry.expensive.enter("the export");
  // A bulk read: on a standby that has replayed every write acknowledged so far, when configured.
  // GDAL writes the file (shapefiles and GeoPackages cannot be written front to back), then it
  // is streamed to the client in 1 MB chunks: the answer never sits in memory as a whole, and the
  // temporary directory lives until the last chunk has gone.
  std::shared_ptr<exchange::ExportResult> result;
  pg::bulk::read(app.registry.pool,
                 [&](pg::Connection& conn) { result = std::make_shared<exchange::ExportResult>(export_layer(conn, options)); });
  auto file = std::make_shared<std::ifstream>(result->file, std::ios::binary);
  if (!*file) throw std::runtime_error("export: cannot read back " + result->file.filename().string());
  Response r;
  r.content_type = result->media_type;
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + result->filename + "\"");
  r.headers.emplace_back("X-Feature-Count", std::to_string(result->features));
  r.stream = [result, file](std::string& out) {
    constexpr std::size_t kChunk = 1u << 20;
    const std::size_t at = out.size();
    out.resize(at + kChunk);
    file->read(out.data() + at, static_cast<std::streamsize>(kChunk));
    out.resize(at + static_cast<std::size_t>(file->gcount()));
    if (file->bad()) throw std::runtime_error("export: reading " + result->file.filename().string() + " failed");
    return !file->eof();
  };
  return r;
}

}  // namespace

void add_exchange_routes(http::RouteTable& routes, const ExchangeServices& services) {
  routes.add("POST", "/v1/import", [services](const Request& req) { return import_file(services, req); });
  routes.add("GET", "/v1/export", [services](const Request& req) { return export_file(services, req); });
}

}  // namespace wangge::exchange
