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
#include "toolkit/operation.hpp"
#include "toolkit/toolkit.hpp"

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

std::optional<int> field_index(OGRFeatureDefnH defn, const std::optional<std::string>& asked,
                               std::initializer_list<const char*> defaults, const char* what) {
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

struct Row {
  int n;  // feature number in the file, from 1
  std::string code, name, parent, wkb_hex;
};

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
  if (!level || !registry::parse_level(*level))
    invalid("level is required: province, city, county, township, village, grid or microgrid");
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
    if (l == "utf-8" || l == "utf8") o.encoding = "UTF-8";
    else if (l == "gbk" || l == "cp936") o.encoding = "CP936";
    else invalid("encoding must be utf-8 or gbk");
  }
  if (auto d = get(params, "dry_run")) {
    if (*d != "true" && *d != "false" && *d != "1" && *d != "0") invalid("dry_run must be true or false");
    o.dry_run = *d == "true" || *d == "1";
  }
  if (auto m = get(params, "mode")) {
    if (*m == "insert") o.mode = ImportMode::insert;
    else if (*m == "upsert") o.mode = ImportMode::upsert;
    else if (*m == "replace-children" || *m == "replace_children") o.mode = ImportMode::replace_children;
    else invalid("mode must be insert, upsert or replace-children");
  }
  if (o.mode == ImportMode::replace_children && !o.parent) invalid("mode=replace-children needs parent=CODE (one parent)");
  return o;
}

json import_areas(pg::Connection& conn, const registry::Actor& actor, const registry::CodeRules& rules, const Config& config,
                  const std::filesystem::path& file, const ImportOptions& o, const toolkit::Toolkit* toolkit) {
  gdal_init();
  actor.require_edit_role();
  if (o.mode == ImportMode::replace_children && !toolkit)
    throw std::logic_error("import_areas: replace-children needs the toolkit");
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
  OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
  const auto code_i = field_index(defn, o.code_field, {"code", "adcode", "gbcode", "CODE"}, "code");
  const auto name_i = field_index(defn, o.name_field, {"name", "chname", "NAME"}, "name");
  if (!code_i || !name_i) throw bad_request("invalid_parameter", "name the code and name fields: code_field=..., name_field=...");
  const int parent_i = o.parent_field ? *field_index(defn, o.parent_field, {}, "parent") : -1;

  // CRS: the caller's EPSG code, else the file's; gcj02/bd09 are offsets of lon/lat, so a projected
  // file is first brought to lon/lat and then shifted.
  Mars mars = o.crs == std::optional<std::string>("gcj02") ? Mars::gcj02 : o.crs == std::optional<std::string>("bd09") ? Mars::bd09 : Mars::none;
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
      [](OGRCoordinateTransformationH t) { if (t) OCTDestroyCoordinateTransformation(t); });
  report["crs"] = o.crs.value_or("from the file") + (mars == Mars::none ? "" : " (converted to CGCS2000)");

  std::vector<Row> rows;
  std::set<std::string> seen;
  int n = 0;
  OGR_L_ResetReading(layer);
  while (Feature f{OGR_L_GetNextFeature(layer)}) {
    ++n;
    if (n % 10000 == 0) say("read " + std::to_string(n) + " features");
    std::string code = OGR_F_IsFieldSetAndNotNull(f.get(), *code_i) ? OGR_F_GetFieldAsString(f.get(), *code_i) : "";
    std::string name = OGR_F_IsFieldSetAndNotNull(f.get(), *name_i) ? OGR_F_GetFieldAsString(f.get(), *name_i) : "";
    std::string row_parent = o.parent.value_or("");
    if (parent_i >= 0) row_parent = OGR_F_IsFieldSetAndNotNull(f.get(), parent_i) ? OGR_F_GetFieldAsString(f.get(), parent_i) : "";
    auto skip = [&](const std::string& why) { report["skipped"].push_back({{"feature", n}, {"code", code}, {"reason", why}}); };
    OGRGeometryH g = OGR_F_GetGeometryRef(f.get());
    if (code.empty() || name.empty()) { skip("no code or no name"); continue; }
    if (!g || OGR_G_IsEmpty(g)) { skip("no geometry"); continue; }
    const auto flat = wkbFlatten(OGR_G_GetGeometryType(g));
    if (flat != wkbPolygon && flat != wkbMultiPolygon) { skip("not a polygon"); continue; }
    Geometry geom(OGR_G_ForceToMultiPolygon(OGR_G_Clone(g)));
    OGR_G_FlattenTo2D(geom.get());
    if (transform && OGR_G_Transform(geom.get(), transform.get()) != OGRERR_NONE) { skip("cannot be transformed to EPSG:4490"); continue; }
    if (mars != Mars::none) mars_to_wgs84(geom.get(), mars);
    std::vector<unsigned char> wkb(static_cast<std::size_t>(OGR_G_WkbSize(geom.get())));
    OGR_G_ExportToIsoWkb(geom.get(), wkbNDR, wkb.data());
    if (!seen.insert(code).second) {
      report["problems"].push_back({{"feature", n}, {"code", code}, {"problem", "duplicate_code"}, {"detail", "the code appears twice in the file"}});
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

  const std::string level = registry::level_name(o.level);
  const std::string parent = o.parent.value_or("");
  json plan;  // replace-children: the checked rows as a redistricting plan
  {
  pg::Transaction tx(conn);
  // A whole county of grids takes longer than an API statement may; the import holds one
  // connection for at most this long.
  tx.exec("import.timeout", "SET LOCAL statement_timeout = '15min'");
  if (!parent.empty()) {
    auto p = tx.exec("import.parent", "SELECT level FROM areas WHERE code = $1 AND valid_to IS NULL", {parent});
    if (p.rows() == 0) throw unprocessable("parent_not_found", "parent " + parent + " does not exist (or is retired)");
    auto want = registry::parent_level(o.level);
    if (!want || p.str(0, 0) != registry::level_name(*want))
      throw unprocessable("parent_level_mismatch", "the parent of a " + level + " cannot be a " + p.str(0, 0));
  } else if (o.level > registry::Level::county && !o.parent_field) {
    throw unprocessable("missing_parent", "a " + level + " needs a parent: send parent=CODE or parent_field=FIELD");
  }
  // Writers of one parent's children take its lock (in code order: no deadlock between imports).
  {
    std::set<std::string> parents;
    for (const auto& r : rows) parents.insert(r.parent);
    if (parents.empty()) parents.insert(parent);
    for (const auto& p : parents) tx.exec("import.lock", "SELECT pg_advisory_xact_lock(hashtext('wangge.children:' || $1))", {p});
  }
  tx.exec("import.temp",
          "CREATE TEMP TABLE import_raw (n int, code text, name text, parent text, geom geometry) ON COMMIT DROP");
  std::size_t next = 0;
  tx.connection().copy_in("import.copy", "COPY import_raw (n, code, name, parent, geom) FROM STDIN", [&](std::string& chunk) {
    for (; next < rows.size() && chunk.size() < (1u << 20); ++next) {
      const Row& r = rows[next];
      chunk += std::to_string(r.n) + '\t';
      pg::append_copy_field(chunk, r.code);
      chunk += '\t';
      pg::append_copy_field(chunk, r.name);
      chunk += '\t';
      if (r.parent.empty()) chunk += "\\N";
      else pg::append_copy_field(chunk, r.parent);
      chunk += '\t' + r.wkb_hex + '\n';
    }
    return next < rows.size();
  });
  // Validity once per row (the pair checks below would otherwise repeat it per pair); JIT costs
  // more than it saves on these short statements.
  say("checking geometries");
  // upsert and replace-children: a code that is a current area of the same level and parent is
  // that area's next version. The checked table is written once and indexed after: an index built
  // in this transaction after an UPDATE (broken HOT chains) would be invisible to the transaction
  // itself, and the pair checks would compare every row with every other.
  tx.exec("import.rows",
          "CREATE TEMP TABLE import_rows ON COMMIT DROP AS SELECT n, code, name, parent, g AS geom, ST_IsValid(g) AS ok, "
          "  $2 AND EXISTS (SELECT 1 FROM areas a WHERE a.code = r.code AND a.valid_to IS NULL AND a.level = $1 "
          "  AND a.parent_code IS NOT DISTINCT FROM r.parent) AS existing "
          "FROM (SELECT n, code, name, parent, ST_SetSRID(geom, 4490) AS g FROM import_raw) r",
          {level, o.mode == ImportMode::insert ? "false" : "true"});
  tx.exec("import.jit", "SET LOCAL jit = off");
  // The overlap checks join the rows with themselves and with the registry: index them first.
  tx.exec("import.index", "CREATE INDEX ON import_rows USING gist (geom)");
  // The checks against the registry ask "is this code in the file?" per candidate row.
  tx.exec("import.code_index", "CREATE INDEX ON import_rows (code)");
  tx.exec("import.analyze", "ANALYZE import_rows");
  auto add = [&](const pg::Result& r, const char* problem, const std::function<json(const pg::Result&, int)>& extra) {
    for (int i = 0; i < r.rows(); ++i) {
      json p = {{"feature", r.integer(i, 0)}, {"code", r.str(i, 1)}, {"problem", problem}};
      p.update(extra(r, i));
      report["problems"].push_back(p);
    }
  };
  if (o.parent_field) {
    const auto want = registry::parent_level(o.level);
    add(tx.exec("import.parents",
                "SELECT i.n, i.code, i.parent, p.level FROM import_rows i LEFT JOIN areas p ON p.code = i.parent AND p.valid_to IS NULL "
                "WHERE p.code IS NULL OR p.level IS DISTINCT FROM $1 ORDER BY i.n",
                {want ? pg::Param(registry::level_name(*want)) : pg::Param()}),
        "parent_not_found", [&](const pg::Result& r, int i) {
          if (r.is_null(i, 3))
            return json{{"parent", r.str(i, 2)}, {"detail", "the parent " + r.str(i, 2) + " does not exist (or is retired)"}};
          return json{{"parent", r.str(i, 2)}, {"problem", "parent_level_mismatch"},
                      {"detail", "the parent of a " + level + " cannot be a " + r.str(i, 3)}};
        });
  }
  say("checking codes");
  {
    auto used = tx.exec("import.code_used",
                        "SELECT i.n, i.code, bool_or(a.valid_to IS NULL) FROM import_rows i JOIN areas a ON a.code = i.code "
                        "WHERE NOT i.existing GROUP BY i.n, i.code ORDER BY i.n");
    for (int i = 0; i < used.rows(); ++i) {
      const bool current = used.boolean(i, 2);
      json p = {{"feature", used.integer(i, 0)}, {"code", used.str(i, 1)}};
      if (o.mode == ImportMode::insert) {
        p.update({{"problem", "code_taken"}, {"detail", "an area with this code exists or existed; codes are never reused"
                                                       " (mode=upsert updates current areas)"}});
      } else if (current) {
        p.update({{"problem", "code_taken"}, {"detail", "an area with this code exists at another level or under another parent"}});
      } else {
        p.update({{"problem", "code_retired"}, {"detail", "this code belonged to a retired area; codes are never reused"}});
      }
      report["problems"].push_back(p);
    }
  }
  say("checking validity and overlaps");
  add(tx.exec("import.invalid", "SELECT i.n, i.code, d.reason, ST_AsGeoJSON(d.location, 9, 0) FROM import_rows i, "
                                "ST_IsValidDetail(i.geom) d WHERE NOT i.ok ORDER BY i.n"),
      "invalid_geometry", [](const pg::Result& r, int i) {
        return json{{"detail", r.str(i, 2)}, {"location", r.is_null(i, 3) ? json(nullptr) : json::parse(r.str(i, 3))["coordinates"]}};
      });
  const std::string tol = std::to_string(config.overlap_tolerance_m2);
  add(tx.exec("import.overlaps",
              // Neighbours that only touch share no interior: drop them before measuring anything
              // (MATERIALIZED keeps the planner from measuring first).
              "WITH pairs AS MATERIALIZED (SELECT a.n, a.code, b.code AS other, a.geom AS ga, b.geom AS gb "
              "FROM import_rows a JOIN import_rows b ON a.n < b.n AND a.geom && b.geom AND a.ok AND b.ok "
              "AND ST_Relate(a.geom, b.geom, '2********')) "
              "SELECT n, code, other, m2 FROM (SELECT n, code, other, ST_Area(wg_to_metric(ST_Intersection(ga, gb))) AS m2 "
              "FROM pairs) s WHERE m2 > $1::float8 ORDER BY n",
              {tol}),
      "overlap", [](const pg::Result& r, int i) {
        return json{{"with", r.str(i, 2)}, {"area_m2", r.number(i, 3)}, {"detail", "overlaps another feature of the file"}};
      });
  // Existing siblings the file replaces do not count: all of them with replace-children, the
  // updated ones with upsert.
  if (o.mode != ImportMode::replace_children)
    add(tx.exec("import.overlaps_existing",
                "SELECT i.n, i.code, a.code FROM import_rows i JOIN areas a ON a.valid_to IS NULL AND a.level = $1 "
                "AND a.parent_code IS NOT DISTINCT FROM i.parent AND a.geom && i.geom AND i.ok "
                "AND NOT EXISTS (SELECT 1 FROM import_rows r WHERE r.existing AND r.code = a.code) "
                "AND ST_Relate(a.geom, i.geom, '2********') "
                "WHERE ST_Area(wg_to_metric(ST_Intersection(a.geom, i.geom))) > $2::float8 ORDER BY i.n",
                {level, tol}),
        "overlaps_sibling", [](const pg::Result& r, int i) {
          return json{{"with", r.str(i, 2)}, {"detail", "overlaps an existing area of the same level and parent"}};
        });
  // An updated area must still hold its own children.
  add(tx.exec("import.children_outside",
              "SELECT i.n, i.code, count(*) FROM import_rows i JOIN areas c ON c.parent_code = i.code AND c.valid_to IS NULL "
              "WHERE i.existing AND i.ok AND NOT ST_CoveredBy(c.geom, i.geom) AND NOT ST_IsEmpty(ST_Difference(wg_to_metric(c.geom), "
              "  ST_Buffer(ST_Transform(i.geom, ST_SRID(wg_to_metric(c.geom))), $1::float8))) GROUP BY i.n, i.code ORDER BY i.n",
              {std::to_string(config.parent_tolerance_m)}),
      "children_outside", [](const pg::Result& r, int i) {
        return json{{"children", r.integer(i, 2)}, {"detail", "the new geometry leaves some of this area's children outside"}};
      });
  if (o.mode == ImportMode::replace_children) {
    auto orphans = tx.exec("import.retired_with_children",
                           "SELECT a.code, count(*) FROM areas a JOIN areas c ON c.parent_code = a.code AND c.valid_to IS NULL "
                           "WHERE a.parent_code = $1 AND a.valid_to IS NULL AND NOT EXISTS (SELECT 1 FROM import_rows i WHERE i.code = a.code) "
                           "GROUP BY a.code ORDER BY a.code",
                           {parent});
    for (int i = 0; i < orphans.rows(); ++i)
      report["problems"].push_back({{"feature", nullptr}, {"code", orphans.str(i, 0)}, {"problem", "has_children"},
                                    {"detail", "this child of " + parent + " is not in the file, so it would be retired, but it has " +
                                                   orphans.str(i, 1) + " children of its own"}});
  }
  add(tx.exec("import.outside",
              "SELECT i.n, i.code, ST_Area(wg_to_metric(ST_Difference(i.geom, p.geom))), i.parent FROM import_rows i "
              "JOIN areas p ON p.code = i.parent AND p.valid_to IS NULL WHERE i.ok AND NOT ST_CoveredBy(i.geom, p.geom) "
              "AND NOT ST_IsEmpty(ST_Difference(wg_to_metric(i.geom), ST_Buffer(ST_Transform(p.geom, ST_SRID(wg_to_metric(i.geom))), $1::float8))) "
              "ORDER BY i.n",
              {std::to_string(config.parent_tolerance_m)}),
      "outside_parent", [&](const pg::Result& r, int i) {
        return json{{"outside_m2", r.number(i, 2)}, {"detail", "reaches outside the parent " + r.str(i, 3)}};
      });
  if (!parent.empty()) {
    say("checking the parent's coverage");
    // The parent's part covered by neither the file nor the siblings it keeps.
    auto gap = tx.exec("import.gap",
                       "SELECT ST_Area(wg_to_metric(ST_Difference(p.geom, ST_Union(c.geom)))) FROM "
                       "(SELECT geom FROM areas WHERE code = $1 AND valid_to IS NULL) p, "
                       "(SELECT geom FROM import_rows WHERE ok UNION ALL SELECT a.geom FROM areas a "
                       " WHERE a.parent_code = $1 AND a.valid_to IS NULL AND NOT $2 "
                       " AND NOT EXISTS (SELECT 1 FROM import_rows r WHERE r.existing AND r.code = a.code)) c GROUP BY p.geom",
                       {parent, o.mode == ImportMode::replace_children ? "true" : "false"});
    if (gap.rows() == 1 && !gap.is_null(0, 0)) {
      report["gap_m2"] = gap.number(0, 0);  // uncovered part of the parent
      // A partial insert may leave the rest for later; a whole new set of children may not.
      if (o.mode == ImportMode::replace_children && gap.number(0, 0) > config.overlap_tolerance_m2)
        report["problems"].push_back({{"feature", nullptr}, {"code", parent}, {"problem", "gap"}, {"gap_m2", gap.number(0, 0)},
                                      {"detail", "the file leaves part of " + parent + " uncovered"}});
    }
  }
  report["valid"] = report["problems"].empty();
  report["written"] = 0;
  if (!report["problems"].empty()) {
    if (o.dry_run) return report;  // the transaction rolls back: a dry run writes nothing
    throw unprocessable("import_invalid", "the file has " + std::to_string(report["problems"].size()) +
                                              " problems; nothing was written (see problems)",
                        json({{"report", report}}).dump());
  }
  if (o.mode == ImportMode::replace_children) {
    plan = json::parse(tx.exec("import.plan",
                               "SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object("
                               "  'type', 'Feature', 'properties', json_build_object('code', code, 'name', name), "
                               "  'geometry', ST_AsGeoJSON(geom, 9)::json) ORDER BY n))::text FROM import_rows")
                           .str(0, 0));
  } else {
    const auto existing = tx.exec("import.count_existing", "SELECT count(*) FILTER (WHERE existing), count(*) FILTER (WHERE NOT existing) FROM import_rows");
    if (o.dry_run) {
      report["updated_or_unchanged"] = existing.integer(0, 0);
      report["inserted"] = existing.integer(0, 1);
      return report;  // rolls back
    }
    say("writing");
    // upsert: close the current version of every changed area and write the next one; an area whose
    // name and geometry are the same stays as it is (re-importing a file changes nothing).
    auto closed = tx.exec("import.close",
                          "UPDATE areas a SET valid_to = clock_timestamp() FROM import_rows i WHERE i.existing AND a.code = i.code "
                          "AND a.valid_to IS NULL AND NOT (a.name = i.name AND ST_Equals(a.geom, ST_Multi(i.geom))) RETURNING a.id");
    std::string ids = "{";
    for (int i = 0; i < closed.rows(); ++i) ids += (i ? "," : "") + closed.str(i, 0);
    ids += "}";
    auto updated = tx.exec("import.update",
                           "INSERT INTO areas (code, version, name, level, parent_code, geom, households, population, attributes, "
                           "  valid_from, changed_by, change) "
                           "SELECT a.code, a.version + 1, i.name, a.level, a.parent_code, ST_Multi(i.geom), a.households, a.population, "
                           "  a.attributes, a.valid_to, $2, 'import' FROM areas a JOIN import_rows i ON i.code = a.code "
                           "WHERE a.id = ANY($1::bigint[]) ORDER BY i.n RETURNING code, version",
                           {ids, actor.label()});
    auto inserted = tx.exec("import.insert",
                            "INSERT INTO areas (code, version, name, level, parent_code, geom, valid_from, changed_by, change) "
                            "SELECT code, 1, name, $1, parent, ST_Multi(geom), clock_timestamp(), $2, 'import' FROM import_rows "
                            "WHERE NOT existing ORDER BY n RETURNING code, version",
                            {level, actor.label()});
    std::vector<std::string> codes;
    std::vector<std::optional<long long>> versions;
    for (const auto* r : {&updated, &inserted})
      for (int i = 0; i < r->rows(); ++i) {
        codes.push_back(r->str(i, 0));
        versions.push_back(r->integer(i, 1));
      }
    tx.exec("import.audit",
            "INSERT INTO audit_log (actor, action, target_type, target, version_after, detail) "
            "SELECT $1, 'area.import', 'area', c, v, $2::jsonb FROM unnest($3::text[], $4::int[]) AS u(c, v)",
            {actor.label(), json({{"file", file.filename().string()}, {"mode", mode_name}}).dump(), toolkit::pg_array(codes),
             toolkit::pg_array(versions)});
    tx.commit();
    report["inserted"] = inserted.rows();
    report["updated"] = updated.rows();
    report["unchanged"] = existing.integer(0, 0) - updated.rows();
    report["written"] = inserted.rows() + updated.rows();
    say("wrote " + std::to_string(inserted.rows()) + " new areas and " + std::to_string(updated.rows()) + " new versions");
    return report;
  }
  }  // the validation transaction rolls back

  // replace-children: the checked file is the parent's new set of children, swapped in by the
  // toolkit's redistricting (its own transaction: lineage, reassignment, history, audit).
  say(o.dry_run ? "redistricting (dry run)" : "redistricting");
  toolkit::OperationOptions redistrict;
  redistrict.dry_run = o.dry_run;
  redistrict.if_match = {"*"};  // the import is checked against the current state just above
  auto result = toolkit->redistrict(conn, actor, parent, plan, redistrict);
  report["operation"] = result.body;
  report["written"] = o.dry_run ? 0 : static_cast<long long>(result.changed.size());
  return report;
}

}  // namespace wangge::exchange
