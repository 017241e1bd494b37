#include "exchange/import.hpp"

#include <cpl_vsi.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <fstream>
#include <set>

#include "core/error.hpp"
#include "crs/mars.hpp"
#include "exchange/gdal.hpp"
#include "geom/crs.hpp"
#include "registry/bulk_import.hpp"
#include "registry/toolkit.hpp"

namespace wangge::exchange {
namespace {

using nlohmann::json;

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

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

enum class Mars { none, gcj02, bd09 };

// The dataset name GDAL should open: a ZIP holding a shapefile opens as that shapefile.
std::string dataset_path(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  if (!(magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4)) return file.string();
  const std::string zip = "/vsizip/" + file.string();
  std::unique_ptr<char*, CslDeleter> entries(VSIReadDirRecursive(zip.c_str()));
  for (char** e = entries.get(); e && *e; ++e) {
    const std::string name = *e;
    if (name.size() > 4 && lower(name.substr(name.size() - 4)) == ".shp") return zip + "/" + name;
  }
  for (char** e = entries.get(); e && *e; ++e) {
    const std::string name = lower(*e);
    for (const char* ext : {".gpkg", ".geojson", ".json", ".kml", ".csv"})
      if (name.size() > std::strlen(ext) && name.ends_with(ext)) return zip + "/" + *e;
  }
  throw bad_request("unreadable_file", "the ZIP holds no shapefile, GeoPackage, GeoJSON, KML or CSV");
}

bool vsi_exists(const std::string& path) {
  VSIStatBufL st;
  return VSIStatL(path.c_str(), &st) == 0;
}

// Byte 29 of the .dbf beside a .shp path (0 when unreadable).
int dbf_ldid(const std::string& shp) {
  const std::string dbf = shp.substr(0, shp.size() - 4) + ".dbf";
  VSILFILE* f = VSIFOpenL(dbf.c_str(), "rb");
  if (!f) return 0;
  unsigned char head[32] = {};
  const size_t got = VSIFReadL(head, 1, 32, f);
  VSIFCloseL(f);
  return got == 32 ? head[29] : 0;
}

Dataset open_vector(const std::string& path, const std::optional<std::string>& shape_encoding) {
  static const char* const drivers[] = {"ESRI Shapefile", "GPKG", "GeoJSON", "KML", "CSV", nullptr};
  Options oo;
  if (shape_encoding) oo.set("ENCODING", *shape_encoding);
  ErrorCapture errors;
  Dataset ds(GDALOpenEx(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, oo.get(), nullptr));
  if (!ds || GDALDatasetGetLayerCount(ds.get()) < 1)
    throw bad_request("unreadable_file", "GDAL cannot read the file as a shapefile, GeoPackage, GeoJSON, KML or CSV");
  return ds;
}

// Text of every string field of the first layer, undecoded, is UTF-8: else the file is GBK.
std::string sniff_encoding(const std::string& path) {
  Dataset raw = open_vector(path, std::string());
  OGRLayerH layer = GDALDatasetGetLayer(raw.get(), 0);
  OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
  OGR_L_ResetReading(layer);
  while (Feature f{OGR_L_GetNextFeature(layer)}) {
    for (int i = 0; i < OGR_FD_GetFieldCount(defn); ++i) {
      if (OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, i)) != OFTString || !OGR_F_IsFieldSetAndNotNull(f.get(), i)) continue;
      if (!valid_utf8(OGR_F_GetFieldAsString(f.get(), i))) return "CP936";
    }
  }
  return "UTF-8";
}

void mars_to_wgs84(OGRGeometryH g, Mars mars) {
  const int parts = OGR_G_GetGeometryCount(g);
  if (parts > 0) {
    for (int i = 0; i < parts; ++i) mars_to_wgs84(OGR_G_GetGeometryRef(g, i), mars);
    return;
  }
  for (int i = 0; i < OGR_G_GetPointCount(g); ++i) {
    crs::LonLat p{OGR_G_GetX(g, i), OGR_G_GetY(g, i)};
    p = mars == Mars::gcj02 ? crs::gcj02_to_wgs84(p) : crs::bd09_to_wgs84(p);
    OGR_G_SetPoint_2D(g, i, p.lon, p.lat);
  }
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

using Row = registry::ImportRow;

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
  const auto say = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  const char* const mode_name = o.mode == ImportMode::insert ? "insert" : o.mode == ImportMode::upsert ? "upsert" : "replace-children";
  const std::string path = dataset_path(file);
  const bool shp = lower(path).ends_with(".shp");
  json report = {{"dry_run", o.dry_run}, {"mode", mode_name}, {"problems", json::array()}, {"skipped", json::array()}};

  // Encoding: the caller's word, else the .cpg, else the LDID (GDAL reads both), else sniffed.
  std::optional<std::string> encoding = o.encoding;
  if (shp && !encoding) {
    const std::string cpg = path.substr(0, path.size() - 4) + ".cpg";
    if (vsi_exists(cpg)) {
      report["encoding"] = "from .cpg";
    } else if (int ldid = dbf_ldid(path); ldid != 0) {
      report["encoding"] = "from LDID " + std::to_string(ldid);
    } else {
      encoding = sniff_encoding(path);
      report["encoding"] = *encoding + " (detected: no .cpg, no LDID)";
    }
  } else if (encoding) {
    report["encoding"] = *encoding + " (as told)";
  }
  Dataset ds = open_vector(path, shp ? encoding : std::nullopt);
  OGRLayerH layer = GDALDatasetGetLayer(ds.get(), 0);
  // Counted before any feature is read: a GeoPackage view or a virtual layer of a few KB may
  // expand to millions of features, each held until the whole file is validated. GDAL counts
  // without building features (a shapefile's header, SELECT COUNT(*) in a GeoPackage); where it
  // cannot (-1), the reading loop below stops at the same limit.
  const long long max_features = config.max_import_features;
  const auto too_many = [&] {
    return Error(413, "too_many_features",
                 "an import may have at most " + std::to_string(max_features) + " features (WANGGE_MAX_IMPORT_FEATURES)",
                 json({{"limit", max_features}}).dump());
  };
  if (layer && OGR_L_GetFeatureCount(layer, TRUE) > max_features) throw too_many();
  OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
  const auto code_i = field_index(defn, o.code_field, {"code", "adcode", "gbcode", "CODE"}, "code");
  const auto name_i = field_index(defn, o.name_field, {"name", "chname", "NAME"}, "name");
  if (!code_i || !name_i) throw bad_request("invalid_parameter", "name the code and name fields: code_field=..., name_field=...");
  const int parent_i = o.parent_field ? *field_index(defn, o.parent_field, {}, "parent") : -1;

  // CRS: the caller's EPSG code, else the file's; gcj02/bd09 are offsets of lon/lat, so a projected
  // file is first brought to lon/lat and then shifted.
  Mars mars = o.crs == std::optional<std::string>("gcj02")  ? Mars::gcj02
              : o.crs == std::optional<std::string>("bd09") ? Mars::bd09
                                                            : Mars::none;
  Srs source;
  if (o.crs && mars == Mars::none) {
    source = srs_from_epsg(std::stoi(o.crs->substr(5)));
  } else if (OGRSpatialReferenceH file_srs = OGR_L_GetSpatialRef(layer)) {
    source.reset(OSRClone(file_srs));
    OSRSetAxisMappingStrategy(source.get(), OAMS_TRADITIONAL_GIS_ORDER);
  }
  if (!source) {
    OGREnvelope e;
    if (OGR_L_GetExtent(layer, &e, TRUE) != OGRERR_NONE || e.MinX < -180 || e.MaxX > 180 || e.MinY < -90 || e.MaxY > 90)
      throw unprocessable("missing_crs", "the file names no CRS and its coordinates are not longitude/latitude; send crs=");
    source = srs_from_epsg(4490);
    report["crs_note"] = "no CRS in the file: read as longitude/latitude (EPSG:4490)";
  }
  Srs target = srs_from_epsg(mars == Mars::none ? 4490 : 4326);
  ErrorCapture errors;
  std::unique_ptr<std::remove_pointer_t<OGRCoordinateTransformationH>, void (*)(OGRCoordinateTransformationH)> transform(
      OSRIsSame(source.get(), target.get()) ? nullptr : OCTNewCoordinateTransformation(source.get(), target.get()),
      [](OGRCoordinateTransformationH t) {
        if (t) OCTDestroyCoordinateTransformation(t);
      });
  report["crs"] = o.crs.value_or("from the file") + (mars == Mars::none ? "" : " (converted to CGCS2000)");

  std::vector<Row> rows;
  std::set<std::string> seen;
  int n = 0;
  OGR_L_ResetReading(layer);
  while (Feature f{OGR_L_GetNextFeature(layer)}) {
    if (++n > max_features) throw too_many();
    if (n % 10000 == 0) say("read " + std::to_string(n) + " features");
    std::string code = OGR_F_IsFieldSetAndNotNull(f.get(), *code_i) ? OGR_F_GetFieldAsString(f.get(), *code_i) : "";
    std::string name = OGR_F_IsFieldSetAndNotNull(f.get(), *name_i) ? OGR_F_GetFieldAsString(f.get(), *name_i) : "";
    std::string row_parent = o.parent.value_or("");
    if (parent_i >= 0) row_parent = OGR_F_IsFieldSetAndNotNull(f.get(), parent_i) ? OGR_F_GetFieldAsString(f.get(), parent_i) : "";
    auto skip = [&](const std::string& why) { report["skipped"].push_back({{"feature", n}, {"code", code}, {"reason", why}}); };
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
    Geometry geom(OGR_G_ForceToMultiPolygon(OGR_G_Clone(g)));
    OGR_G_FlattenTo2D(geom.get());
    if (transform && OGR_G_Transform(geom.get(), transform.get()) != OGRERR_NONE) {
      skip("cannot be transformed to EPSG:4490");
      continue;
    }
    if (mars != Mars::none) mars_to_wgs84(geom.get(), mars);
    std::vector<unsigned char> wkb(static_cast<std::size_t>(OGR_G_WkbSize(geom.get())));
    OGR_G_ExportToIsoWkb(geom.get(), wkbNDR, wkb.data());
    if (!seen.insert(code).second) {
      report["problems"].push_back(
          {{"feature", n}, {"code", code}, {"problem", "duplicate_code"}, {"detail", "the code appears twice in the file"}});
      continue;
    }
    try {
      rules.validate(code, o.level, row_parent);
      actor.require_edit(code);
    } catch (const Error& e) {
      report["problems"].push_back({{"feature", n}, {"code", code}, {"problem", e.code()}, {"detail", e.what()}});
    }
    rows.push_back({n, code, name, row_parent, hex_of(wkb)});
  }
  errors.check("import: reading " + std::filesystem::path(path).filename().string());
  report["features"] = n;
  say("read " + std::to_string(n) + " features (" + std::to_string(rows.size()) + " to check)");

  const registry::ImportSettings settings{
      o.level, o.parent.value_or(""), o.parent_field.has_value(), o.mode, o.dry_run, file.filename().string(), mode_name, o.progress};
  const auto plan = registry::import_rows(conn, actor, config, rows, settings, report);
  if (!plan) return report;

  // replace-children: the checked file is the parent's new set of children, swapped in by the
  // toolkit's redistricting (its own transaction: lineage, reassignment, history, audit).
  say(o.dry_run ? "redistricting (dry run)" : "redistricting");
  toolkit::OperationOptions redistrict;
  redistrict.dry_run = o.dry_run;
  redistrict.if_match = {"*"};  // the import is checked against the current state just above
  auto result = toolkit->redistrict(conn, actor, settings.parent, *plan, redistrict);
  report["operation"] = result.body;
  report["written"] = o.dry_run ? 0 : static_cast<long long>(result.changed.size());
  return report;
}

}  // namespace wangge::exchange
