// Export of a layer to a GIS file written by GDAL: Shapefile (a ZIP with .shp .shx .dbf .prj .cpg
// and a field-name mapping, UTF-8 or GBK with the matching LDID), GeoPackage, GeoJSON, FlatGeobuf,
// KML, CSV. Shared by GET /v1/export and `wangge export`.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "exchange/layers.hpp"
#include "exchange/text.hpp"
#include "pg/connection.hpp"

namespace wangge::exchange {

enum class Format { shapefile, gpkg, geojson, flatgeobuf, kml, csv };

struct ExportOptions {
  Selection selection;
  Format format = Format::shapefile;
  int srid = 4490;
  Encoding encoding = Encoding::utf8;
};

// Reads layer, level, area, at, format, crs, encoding (the query parameters of /v1/export and the
// options of `wangge export`). Throws bad_request (invalid_parameter / unsupported_crs) with a
// message that names the parameter. The scope is left to the caller.
ExportOptions parse_export_options(const std::map<std::string, std::string>& params);

// A directory of its own under the system temp directory, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(TempDir&& o) noexcept : m_path(std::move(o.m_path)) { o.m_path.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

struct ExportResult {
  TempDir dir;                 // owns the file
  std::filesystem::path file;  // inside dir
  std::string filename;        // suggested download name
  std::string media_type;
  long long features = 0;
};

// Writes the selection (one consistent snapshot of the database) to a file in a new TempDir.
// Throws not_found("area_not_found") for an area= that never existed, gdal_error on GDAL failures.
ExportResult export_layer(pg::Connection& conn, const ExportOptions& o);

}  // namespace wangge::exchange
