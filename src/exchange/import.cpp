#include "exchange/import.hpp"

#include <set>

#include "core/error.hpp"
#include "core/log.hpp"
#include "exchange/gdal.hpp"
#include "exchange/import_phases.hpp"
#include "exchange/text.hpp"
#include "geom/crs.hpp"
#include "registry/areas.hpp"
#include "registry/bulk_import.hpp"
#include "registry/toolkit.hpp"

namespace wangge::exchange {
namespace {

using nlohmann::json;
using Row = registry::ImportRow;

// Longer than any code of the GB/T 2260 / grid schemes by far. A longer one is refused before it
// reaches the report (the rules quote the code) or an index of the staging table (8 KB a row).
constexpr std::size_t kMaxCodeBytes = 64;

[[noreturn]] void invalid(const std::string& detail) { throw bad_request("invalid_parameter", detail); }

std::optional<std::string> get(const std::map<std::string, std::string>& params, const char* name) {
  auto it = params.find(name);
  if (it == params.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// GDAL's messages name the server's temporary paths: they go to the log, the client gets `detail`.
[[noreturn]] void unreadable_after(const gdal_error& e, const std::string& detail) {
  log::warn(std::string("import: ") + e.what());
  throw bad_request("unreadable_file", detail);
}

std::optional<int> field_index(OGRFeatureDefnH defn, const std::optional<std::string>& asked, std::initializer_list<const char*> defaults,
                               const char* what) {
  if (asked) {
    const int i = OGR_FD_GetFieldIndex(defn, asked->c_str());
    if (i < 0) throw bad_request("invalid_parameter", std::string(what) + " field '" + *asked + "' is not in the file");
    return i;
  }
  for (const char* name : defaults) {
    const int i = OGR_FD_GetFieldIndex(defn, name);
    if (i >= 0) return i;
  }
  return std::nullopt;
}

struct FieldIndexes {
  int code = -1;
  int name = -1;
  int parent = -1;  // -1 without parent_field
};

FieldIndexes find_fields(OGRLayerH layer, const ImportOptions& o) {
  OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
  const auto code = field_index(defn, o.code_field, {"code", "adcode", "gbcode", "CODE"}, "code");
  const auto name = field_index(defn, o.name_field, {"name", "chname", "NAME"}, "name");
  if (!code || !name) throw bad_request("invalid_parameter", "name the code and name fields: code_field=..., name_field=...");
  return {*code, *name, o.parent_field ? *field_index(defn, o.parent_field, {}, "parent") : -1};
}

std::string hex_of(const std::vector<unsigned char>& bytes) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

Error too_many_features(long long limit) {
  return Error(413, "too_many_features", "an import may have at most " + std::to_string(limit) + " features (WANGGE_MAX_IMPORT_FEATURES)",
               json({{"limit", limit}}).dump());
}

// The rows the registry checks, read feature by feature: text checked as UTF-8, geometry brought
// to EPSG:4490. Features that are not areas (no code, no polygon) are skipped; features that are
// areas but broken (non-finite coordinates, a code the rules refuse) are problems.
struct StagedFile {
  std::vector<Row> rows;
  int features = 0;
};

StagedFile stage_features(OGRLayerH layer, const FieldIndexes& fields, const Reprojection& to_cgcs2000, const ImportOptions& o,
                          const registry::CodeRules& rules, const registry::Actor& actor, long long max_features, json& report) {
  const auto say = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  const auto text = [](OGRFeatureH f, int i, int n, const char* what) -> std::string {
    if (i < 0 || !OGR_F_IsFieldSetAndNotNull(f, i)) return "";
    std::string s = OGR_F_GetFieldAsString(f, i);
    // Checked before the text reaches the report (JSON) or the database, which both refuse it.
    if (!valid_utf8(s))
      throw unprocessable("encoding_mismatch", "feature " + std::to_string(n) + ": the " + what +
                                                   " is not UTF-8 text after decoding; send encoding=gbk or encoding=utf-8 "
                                                   "if you know the file's encoding");
    return s;
  };
  StagedFile staged;
  std::set<std::string> seen;
  int& n = staged.features;
  ErrorCapture errors;
  OGR_L_ResetReading(layer);
  while (true) {
    Feature f{OGR_L_GetNextFeature(layer)};
    try {
      errors.check("import: reading feature " + std::to_string(n + 1));
    } catch (const gdal_error& e) {
      unreadable_after(e, "feature " + std::to_string(n + 1) +
                              " of the file cannot be read: the file is damaged or malformed (a corrupt record, or coordinates "
                              "that are not numbers)");
    }
    if (!f) break;
    if (++n > max_features) throw too_many_features(max_features);
    if (n % 10000 == 0) say("read " + std::to_string(n) + " features");
    const std::string code = text(f.get(), fields.code, n, "code");
    const std::string name = text(f.get(), fields.name, n, "name");
    const std::string row_parent = fields.parent >= 0 ? text(f.get(), fields.parent, n, "parent") : o.parent.value_or("");
    const std::string shown = truncate_encoded(code, kMaxCodeBytes, Encoding::utf8);
    auto skip = [&](const std::string& why) { report["skipped"].push_back({{"feature", n}, {"code", shown}, {"reason", why}}); };
    auto problem = [&](const char* kind, const std::string& detail) {
      report["problems"].push_back({{"feature", n}, {"code", shown}, {"problem", kind}, {"detail", detail}});
    };
    OGRGeometryH g = OGR_F_GetGeometryRef(f.get());
    if (code.empty() || name.empty()) {
      skip("no code or no name");
      continue;
    }
    if (!g || OGR_G_IsEmpty(g)) {
      skip("no geometry");
      continue;
    }
    const auto flat = wkbFlatten(OGR_G_GetGeometryType(g));
    if (flat != wkbPolygon && flat != wkbMultiPolygon) {
      skip("not a polygon");
      continue;
    }
    if (code.size() > kMaxCodeBytes || row_parent.size() > kMaxCodeBytes) {
      problem("invalid_code", "the code or the parent code is longer than " + std::to_string(kMaxCodeBytes) + " bytes");
      continue;
    }
    if (!registry::valid_area_name(name)) {
      problem("invalid_property", "name must be 1 to 300 bytes");
      continue;
    }
    if (!finite_coordinates(g)) {
      problem("invalid_geometry", "a coordinate is not a finite number");
      continue;
    }
    Geometry geom(OGR_G_ForceToMultiPolygon(OGR_G_Clone(g)));
    OGR_G_FlattenTo2D(geom.get());
    if (!to_cgcs2000.apply(geom.get())) {
      skip("cannot be transformed to EPSG:4490");
      continue;
    }
    if (!finite_coordinates(geom.get()) || !within_lon_lat(geom.get())) {
      problem("invalid_geometry", "a coordinate is outside longitude [-180, 180] / latitude [-90, 90] after transformation to EPSG:4490");
      continue;
    }
    std::vector<unsigned char> wkb(static_cast<std::size_t>(OGR_G_WkbSize(geom.get())));
    OGR_G_ExportToIsoWkb(geom.get(), wkbNDR, wkb.data());
    if (!seen.insert(code).second) {
      problem("duplicate_code", "the code appears twice in the file");
      continue;
    }
    try {
      rules.validate(code, o.level, row_parent);
      actor.require_edit(code);
    } catch (const Error& e) {
      report["problems"].push_back({{"feature", n}, {"code", code}, {"problem", e.code()}, {"detail", e.what()}});
    }
    staged.rows.push_back({n, code, name, row_parent, hex_of(wkb)});
  }
  return staged;
}

// The registry checks the rows and writes them (insert, upsert) in one transaction; for
// replace-children the checked rows are the parent's new set of children, swapped in by the
// toolkit's redistricting (its own transaction: lineage, reassignment, history, audit).
json check_and_write(pg::Connection& conn, const registry::Actor& actor, const Config& config, const std::string& file_name,
                     const char* mode_name, const ImportOptions& o, const toolkit::Toolkit* toolkit, const std::vector<Row>& rows,
                     json report) {
  const auto say = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  if (rows.empty()) {
    // Nothing to check: an empty set of children would retire the parent's, and an insert of
    // nothing is a mistake the client should hear about.
    report["problems"].push_back({{"feature", nullptr},
                                  {"problem", "no_areas"},
                                  {"detail", "no feature of the file is an area with a code, a name and a polygon (see skipped)"}});
    report["valid"] = false;
    report["written"] = 0;
    if (o.dry_run) return report;
    throw unprocessable("import_invalid", "the file holds no area to import; nothing was written (see problems and skipped)",
                        json({{"report", report}}).dump());
  }
  const registry::ImportSettings settings{
      o.level, o.parent.value_or(""), o.parent_field.has_value(), o.mode, o.dry_run, file_name, mode_name, o.progress, o.written};
  const auto plan = registry::import_rows(conn, actor, config, rows, settings, report);
  if (!plan) return report;
  say(o.dry_run ? "redistricting (dry run)" : "redistricting");
  toolkit::OperationOptions redistrict;
  redistrict.dry_run = o.dry_run;
  redistrict.if_match = {"*"};  // the import is checked against the current state just above
  auto result = toolkit->redistrict(conn, actor, settings.parent, *plan, redistrict);
  report["operation"] = result.body;
  report["written"] = o.dry_run ? 0 : static_cast<long long>(result.changed.size());
  if (!o.dry_run && o.written)
    for (const auto& code : result.changed) o.written(code);
  return report;
}

}  // namespace

ImportOptions parse_import_options(const std::map<std::string, std::string>& params) {
  ImportOptions o;
  auto level = get(params, "level");
  if (!level || !registry::parse_level(*level)) invalid("level is required: province, city, county, township, village, grid or microgrid");
  o.level = *registry::parse_level(*level);
  o.parent = get(params, "parent");
  o.parent_field = get(params, "parent_field");
  if (o.parent && o.parent_field) invalid("send parent or parent_field, not both");
  o.code_field = get(params, "code_field");
  o.name_field = get(params, "name_field");
  if (auto c = get(params, "crs")) {
    const std::string l = lower(*c);
    if (l == "gcj02" || l == "gcj-02" || l == "bd09" || l == "bd-09") {
      o.crs = l.substr(0, 3) == "gcj" ? "gcj02" : "bd09";
    } else {
      o.crs = "EPSG:" + std::to_string(geom::parse_crs(*c));
    }
  }
  if (auto e = get(params, "encoding")) {
    const std::string l = lower(*e);
    if (l == "utf-8" || l == "utf8")
      o.encoding = "UTF-8";
    else if (l == "gbk" || l == "cp936")
      o.encoding = "CP936";
    else
      invalid("encoding must be utf-8 or gbk");
  }
  if (auto d = get(params, "dry_run")) {
    if (*d != "true" && *d != "false" && *d != "1" && *d != "0") invalid("dry_run must be true or false");
    o.dry_run = *d == "true" || *d == "1";
  }
  if (auto m = get(params, "mode")) {
    if (*m == "insert")
      o.mode = ImportMode::insert;
    else if (*m == "upsert")
      o.mode = ImportMode::upsert;
    else if (*m == "replace-children" || *m == "replace_children")
      o.mode = ImportMode::replace_children;
    else
      invalid("mode must be insert, upsert or replace-children");
  }
  if (o.mode == ImportMode::replace_children && !o.parent) invalid("mode=replace-children needs parent=CODE (one parent)");
  return o;
}

json import_areas(pg::Connection& conn, const registry::Actor& actor, const registry::CodeRules& rules, const Config& config,
                  const std::filesystem::path& file, const ImportOptions& o, const toolkit::Toolkit* toolkit) {
  gdal_init();
  actor.require_edit_role();
  if (o.mode == ImportMode::replace_children && !toolkit) throw std::logic_error("import_areas: replace-children needs the toolkit");
  const char* const mode_name = o.mode == ImportMode::insert ? "insert" : o.mode == ImportMode::upsert ? "upsert" : "replace-children";
  json report = {{"dry_run", o.dry_run}, {"mode", mode_name}, {"problems", json::array()}, {"skipped", json::array()}};
  // Reading ends before the database is touched: whatever the file holds, nothing is written
  // unless every row was read.
  StagedFile staged;
  try {
    const ImportSource source = locate_dataset(file, {config.max_zip_entries, config.max_unzipped_mb << 20});
    const EncodingChoice encoding = detect_encoding(source, o.encoding);
    if (!encoding.note.empty()) report["encoding"] = encoding.note;
    OpenedLayer opened = open_layer(source, encoding);
    // Counted before any feature is read: a GeoPackage view or a virtual layer of a few KB may
    // expand to millions of features, each held until the whole file is validated. GDAL counts
    // without building features (a shapefile's header, SELECT COUNT(*) in a GeoPackage); where it
    // cannot (-1), the reading stops at the same limit.
    if (OGR_L_GetFeatureCount(opened.layer, TRUE) > config.max_import_features) throw too_many_features(config.max_import_features);
    const FieldIndexes fields = find_fields(opened.layer, o);
    const Reprojection to_cgcs2000 = open_reprojected(source, opened.layer, o.crs);
    report["crs"] = to_cgcs2000.note();
    if (to_cgcs2000.assumed()) report["crs_note"] = *to_cgcs2000.assumed();
    staged = stage_features(opened.layer, fields, to_cgcs2000, o, rules, actor, config.max_import_features, report);
  } catch (const gdal_error& e) {
    unreadable_after(e, "GDAL cannot read the file: it is damaged, truncated or not a valid shapefile, GeoPackage, GeoJSON, KML or CSV");
  }
  report["features"] = staged.features;
  if (o.progress) o.progress("read " + std::to_string(staged.features) + " features (" + std::to_string(staged.rows.size()) + " to check)");
  return check_and_write(conn, actor, config, file.filename().string(), mode_name, o, toolkit, staged.rows, std::move(report));
}

}  // namespace wangge::exchange
