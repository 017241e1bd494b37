// Import of areas from a GIS file (shapefile or its ZIP, GeoPackage, GeoJSON, KML, CSV with WKT)
// read by GDAL: encoding sniffed for shapefiles (.cpg, then LDID, then UTF-8 vs GBK), CRS from the
// file or the caller (gcj02/bd09 when told, since GCJ-02 cannot be detected), every feature checked
// before anything is written, and a real import is one transaction. In phases: find the dataset,
// choose the encoding, open the layer, reproject (exchange/import_phases.hpp), stage the rows,
// then the registry checks and writes them.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "pg/connection.hpp"
#include "registry/auth.hpp"
#include "registry/bulk_import.hpp"
#include "registry/codes.hpp"

namespace wangge::toolkit {
class Toolkit;
}

namespace wangge::exchange {

// The modes are the registry's (registry/bulk_import.hpp says what each does).
using ImportMode = registry::ImportMode;

struct ImportOptions {
  registry::Level level = registry::Level::grid;
  std::optional<std::string> parent;        // every imported area's parent (else: none, for roots)
  std::optional<std::string> parent_field;  // or: each feature's parent code from this field
  std::optional<std::string> code_field;    // default: code, adcode, gbcode (first present)
  std::optional<std::string> name_field;    // default: name, chname
  std::optional<std::string> crs;           // EPSG:n, gcj02, bd09; default: the file's own
  std::optional<std::string> encoding;      // shapefile text: utf-8, gbk; default: sniffed
  bool dry_run = false;
  ImportMode mode = ImportMode::insert;
  // Called with a line of progress (features read, each check, the write); may be empty.
  std::function<void(const std::string&)> progress;
  // Called with the code of every area written (a new area or a new version), after the commit;
  // may be empty. The server's route hands them to Registry::after_write (read-your-writes).
  std::function<void(const std::string&)> written;
};

// Reads level, parent, parent_field, code_field, name_field, crs, encoding, dry_run, mode; throws bad_request.
ImportOptions parse_import_options(const std::map<std::string, std::string>& params);

// Reads, validates and (unless dry_run or anything failed validation) writes the areas in one
// transaction. Returns the report: {"features", "valid", "encoding", "crs", "mode", "problems": [...],
// "skipped": [...], "written": n, "inserted": n, "updated": n, "unchanged": n, "dry_run": bool}, plus
// "operation" (the redistricting's answer) for replace-children. Throws
// unprocessable("import_invalid", ..., report) when a real import finds problems (a file without any
// area among them; nothing is written), bad_request("unreadable_file") for files GDAL cannot read
// or that are damaged, unprocessable("encoding_mismatch") for text that is not in its encoding,
// bad_request("unsupported_crs") for a file CRS that cannot become CGCS2000. GDAL's own messages
// are logged, never put in an answer. replace-children needs `toolkit`.
nlohmann::json import_areas(pg::Connection& conn, const registry::Actor& actor, const registry::CodeRules& rules, const Config& config,
                            const std::filesystem::path& file, const ImportOptions& o, const toolkit::Toolkit* toolkit = nullptr);

}  // namespace wangge::exchange
