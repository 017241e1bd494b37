#include "exchange/export.hpp"

#include <stdlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <regex>

#include "core/error.hpp"
#include "exchange/gdal.hpp"
#include "exchange/zip.hpp"
#include "geom/crs.hpp"
#include "registry/codes.hpp"
#include "registry/queries.hpp"

namespace wangge::exchange {
namespace {

constexpr std::size_t kDbfMaxValueBytes = 254;
constexpr int kFetchRows = 5000;
constexpr int kIsoWidth = 27;  // "2026-10-24T23:18:47.123456Z"
// dBase language driver ids (DBF header byte 29). ArcGIS gives the LDID precedence over the .cpg,
// so a UTF-8 file must say "none" (0) and a GBK file 0x4D (CP936).
constexpr unsigned char kLdidNone = 0x00;
constexpr unsigned char kLdidGbk = 0x4D;

struct FormatInfo {
  const char* driver;
  const char* extension;
  const char* media_type;
};

FormatInfo info_of(Format f) {
  switch (f) {
    case Format::shapefile:
      return {"ESRI Shapefile", ".shp", "application/zip"};
    case Format::gpkg:
      return {"GPKG", ".gpkg", "application/geopackage+sqlite3"};
    case Format::geojson:
      return {"GeoJSON", ".geojson", "application/geo+json"};
    case Format::flatgeobuf:
      return {"FlatGeobuf", ".fgb", "application/flatgeobuf"};
    case Format::kml:
      return {"KML", ".kml", "application/vnd.google-earth.kml+xml"};
    case Format::csv:
      return {"CSV", ".csv", "text/csv; charset=utf-8"};
  }
  return {"", "", ""};
}

std::optional<std::string> get(const std::map<std::string, std::string>& params, const char* name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

[[noreturn]] void invalid(const std::string& detail) { throw bad_request("invalid_parameter", detail); }

unsigned char hex_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned char>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned char>(c - 'a' + 10);
  return static_cast<unsigned char>(c - 'A' + 10);
}

// bytea in PostgreSQL's text form ("\x0106...") to bytes.
void decode_bytea(std::string_view text, std::vector<unsigned char>& out) {
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') text.remove_prefix(2);
  out.resize(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<unsigned char>(hex_value(text[2 * i]) << 4 | hex_value(text[2 * i + 1]));
}

// timestamptz text of a session in UTC: "2026-10-24 23:18:47.123456+00" (no fraction when zero).
void set_datetime(OGRFeatureH f, int field, std::string_view pg_text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  double sec = 0;
  std::string text(pg_text);
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%lf", &y, &mo, &d, &h, &mi, &sec) != 6 || !text.ends_with("+00"))
    throw std::runtime_error("export: unexpected timestamp text from the database");
  OGR_F_SetFieldDateTimeEx(f, field, y, mo, d, h, mi, static_cast<float>(sec), 100);
}

// The same as RFC 3339 text ("2026-10-24T23:18:47.123456Z"), for formats without a datetime type.
std::string rfc3339_of(std::string_view pg_text) {
  if (pg_text.size() < 22 || !pg_text.ends_with("+00")) throw std::runtime_error("export: unexpected timestamp text from the database");
  std::string out(pg_text.substr(0, pg_text.size() - 3));
  out[10] = 'T';
  return out + "Z";
}

std::string csv_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

const char* type_name(FieldType t, bool shapefile) {
  switch (t) {
    case FieldType::text:
      return "text";
    case FieldType::integer:
      return "integer";
    case FieldType::datetime:
      return shapefile ? "text (RFC 3339, UTC)" : "datetime (UTC)";
  }
  return "";
}

void patch_ldid(const std::filesystem::path& dbf, unsigned char ldid) {
  std::fstream f(dbf, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) throw std::runtime_error("export: cannot open " + dbf.filename().string() + " to set its code page");
  f.seekp(29);
  f.put(static_cast<char>(ldid));
  if (!f) throw std::runtime_error("export: cannot set the code page of " + dbf.filename().string());
}

void write_text_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("export: cannot write " + path.filename().string());
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "wangge-export-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("export: cannot create a temporary directory");
  m_path = pattern;
}

TempDir::~TempDir() {
  if (m_path.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

ExportOptions parse_export_options(const std::map<std::string, std::string>& params) {
  ExportOptions o;
  Selection& s = o.selection;
  if (auto v = get(params, "layer")) {
    auto layer = parse_layer(*v);
    if (!layer) invalid("layer must be areas, incidents or checkpoints");
    s.layer = *layer;
  }
  if (auto v = get(params, "level")) {
    if (s.layer != LayerKind::areas) invalid("level applies to layer=areas only");
    if (!registry::parse_level(*v)) invalid("level must be one of province, city, county, township, village, grid, microgrid");
    s.level = *v;
  }
  if (auto v = get(params, "area")) {
    static const std::regex code("^[0-9]{2,24}$");
    if (!std::regex_match(*v, code)) invalid("area must be an area code (digits)");
    s.area = *v;
  }
  if (auto v = get(params, "at")) {
    if (s.layer == LayerKind::checkpoints) invalid("at does not apply to checkpoints: they keep no history");
    std::string text = *v;
    // An unencoded '+' of a UTC offset arrives as a space; take it back.
    if (text.size() > 19) {
      auto pos = text.find(' ', 19);
      if (pos != std::string::npos) text[pos] = '+';
    }
    s.at = parse_rfc3339(text);
    if (!s.at) invalid("at must be an RFC 3339 date-time, e.g. 2026-01-01T00:00:00Z");
  }
  if (auto v = get(params, "format")) {
    static const std::map<std::string, Format> formats = {
        {"shapefile", Format::shapefile}, {"shp", Format::shapefile},   {"gpkg", Format::gpkg},
        {"geopackage", Format::gpkg},     {"geojson", Format::geojson}, {"flatgeobuf", Format::flatgeobuf},
        {"fgb", Format::flatgeobuf},      {"kml", Format::kml},         {"csv", Format::csv}};
    auto it = formats.find(*v);
    if (it == formats.end()) invalid("format must be shapefile, gpkg, geojson, flatgeobuf, kml or csv");
    o.format = it->second;
  }
  o.srid = geom::parse_crs(get(params, "crs").value_or(""));
  if (auto v = get(params, "encoding")) {
    std::string e = *v;
    for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (e == "utf-8" || e == "utf8") {
      o.encoding = Encoding::utf8;
    } else if (e == "gbk" || e == "cp936") {
      o.encoding = Encoding::gbk;
    } else {
      invalid("encoding must be utf-8 or gbk");
    }
    if (o.encoding == Encoding::gbk && o.format != Format::shapefile)
      invalid("encoding=gbk applies to shapefiles only; the other formats are UTF-8 by definition");
  }
  return o;
}

// Where a shapefile part ends: 2 GiB less 64 MiB of headroom for the features written between two
// size checks. WANGGE_SHAPEFILE_PART_MB lowers it (the tests split a small export this way).
static std::uintmax_t shapefile_part_bytes() {
  constexpr std::uintmax_t kDefault = (std::uintmax_t{2} << 30) - (std::uintmax_t{64} << 20);
  const char* v = std::getenv("WANGGE_SHAPEFILE_PART_MB");
  if (!v || !*v) return kDefault;
  char* end = nullptr;
  const double mb = std::strtod(v, &end);
  if (end == v || !(mb > 0)) return kDefault;
  return std::min(kDefault, static_cast<std::uintmax_t>(mb * 1024 * 1024));
}

ExportResult export_layer(pg::Connection& conn, const ExportOptions& o) {
  gdal_init();
  const Selection& s = o.selection;
  const bool shp = o.format == Format::shapefile;
  const FormatInfo fmt = info_of(o.format);
  const auto& fields = layer_fields(s.layer);

  std::string base = layer_name(s.layer);
  if (s.level) base += "_" + *s.level;
  if (s.area) base += "_" + *s.area;

  ExportResult out{TempDir(), {}, {}, fmt.media_type, 0};
  const std::filesystem::path target = out.dir.path() / (base + fmt.extension);

  // One snapshot for the width scan and the rows.
  pg::Transaction tx(conn);
  tx.exec("export.snapshot", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  // Times leave the database as timestamptz text in UTC: cheaper than formatting them in SQL.
  tx.exec("export.utc", "SET LOCAL TimeZone = 'UTC'");
  tx.exec("export.datestyle", "SET LOCAL DateStyle = 'ISO, YMD'");
  if (s.area) {
    if (!registry::ever_existed(tx.connection(), *s.area)) throw not_found("area_not_found", "no area has the code " + *s.area);
  }

  std::vector<std::string> names;
  for (const auto& f : fields) names.push_back(f.name);
  const std::vector<std::string> out_names = shp ? dbf_field_names(names, o.encoding) : names;

  // dBase text fields are fixed-width. Start each at a width that fits typical values and let GDAL
  // widen a field when a longer value comes (it rewrites the file then, so the start matters);
  // a scan for the longest values first would cost a second pass over the rows.
  std::vector<int> widths(fields.size(), 0);
  for (std::size_t i = 0; i < fields.size(); ++i) widths[i] = fields[i].type == FieldType::datetime ? kIsoWidth : fields[i].width_hint;

  ErrorCapture errors;
  GDALDriverH driver = GDALGetDriverByName(fmt.driver);
  if (!driver) errors.fail(std::string("export: GDAL driver ") + fmt.driver, "not available");

  Options lco;
  switch (o.format) {
    case Format::shapefile:
      lco.set("ENCODING", o.encoding == Encoding::gbk ? "CP936" : "UTF-8");
      break;
    case Format::gpkg:
      lco.set("GEOMETRY_NAME", "geom").set("FID", "fid");
      break;
    case Format::geojson:
      lco.set("RFC7946", "NO");
      break;
    case Format::kml:
      break;
    case Format::csv:
      lco.set("GEOMETRY", "AS_WKT").set("WRITE_BOM", "YES");
      break;
    case Format::flatgeobuf:
      lco.set("SPATIAL_INDEX", "YES");
      break;
  }
  Srs srs = srs_from_epsg(o.srid);
  const OGRwkbGeometryType gtype = s.layer == LayerKind::areas ? wkbMultiPolygon : wkbPoint;

  // Every layer holds one geometry type, so one file set per layer; a shapefile part stops short
  // of 2 GB (the .shp and .dbf offsets are 32-bit) and the rows go on in base_2, base_3, ...
  const std::uintmax_t part_limit = shapefile_part_bytes();
  std::vector<std::string> parts;  // base names of the shapefile parts
  Dataset ds;
  OGRLayerH layer = nullptr;
  OGRFeatureDefnH defn = nullptr;
  std::vector<int> index(fields.size());
  auto open_part = [&] {
    const std::string name = parts.empty() ? base : base + "_" + std::to_string(parts.size() + 1);
    const std::filesystem::path file = out.dir.path() / (name + fmt.extension);
    ds.reset();  // closes the previous part
    ds = Dataset(GDALCreate(driver, file.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    if (!ds) errors.fail(std::string("export: creating a ") + fmt.driver + " file");
    layer = GDALDatasetCreateLayer(ds.get(), name.c_str(), srs.get(), gtype, lco.get());
    if (!layer) errors.fail("export: creating layer " + name);
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const FieldSpec& f = fields[i];
      OGRFieldType type = f.type == FieldType::integer ? OFTInteger64 : (f.type == FieldType::datetime && !shp) ? OFTDateTime : OFTString;
      FieldDefn fd(OGR_Fld_Create(out_names[i].c_str(), type));
      if (shp) OGR_Fld_SetWidth(fd.get(), type == OFTString ? widths[i] : 12);  // 12 digits: ids and counts
      if (OGR_L_CreateField(layer, fd.get(), TRUE) != OGRERR_NONE) errors.fail("export: creating field " + f.name);
    }
    errors.check("export: defining layer " + name);
    defn = OGR_L_GetLayerDefn(layer);
    // Some drivers add fields of their own (KML: Name, Description): write by index, looked up by
    // the names we promised, which the driver must not have changed.
    for (std::size_t i = 0; i < fields.size(); ++i) {
      index[i] = OGR_FD_GetFieldIndex(defn, out_names[i].c_str());
      if (index[i] < 0) throw gdal_error("export: the " + std::string(fmt.driver) + " driver renamed field " + out_names[i]);
    }
    parts.push_back(name);
  };
  open_part();
  // The part's size on disk, checked every few features (GDAL buffers a few kB at most).
  auto part_full = [&] {
    std::error_code ec;
    const auto dir = out.dir.path();
    const auto shp_bytes = std::filesystem::file_size(dir / (parts.back() + ".shp"), ec);
    const auto dbf_bytes = std::filesystem::file_size(dir / (parts.back() + ".dbf"), ec);
    return !ec && std::max(shp_bytes, dbf_bytes) >= part_limit;
  };
  long long in_part = 0;

  const bool transaction = GDALDatasetTestCapability(ds.get(), ODsCTransactions) != 0;
  if (transaction && GDALDatasetStartTransaction(ds.get(), FALSE) != OGRERR_NONE) errors.fail("export: starting a transaction");

  SqlQuery q = select_rows(s, GeometryOut::wkb, o.srid, {.lat_first = false, .pg_times = true, .limit = std::nullopt, .offset = 0});
  tx.exec("export.declare", "DECLARE wangge_export NO SCROLL CURSOR FOR " + q.sql, q.params);
  std::vector<unsigned char> wkb;
  const int geom_col = static_cast<int>(fields.size()) + 1;
  while (true) {
    auto rows = tx.exec("export.fetch", "FETCH " + std::to_string(kFetchRows) + " FROM wangge_export");
    for (int r = 0; r < rows.rows(); ++r) {
      if (shp && in_part > 0 && in_part % 16 == 0 && part_full()) {
        open_part();
        in_part = 0;
      }
      Feature feature(OGR_F_Create(defn));
      for (std::size_t i = 0; i < fields.size(); ++i) {
        const int col = static_cast<int>(i) + 1;
        const int fi = index[i];
        if (rows.is_null(r, col)) {
          OGR_F_SetFieldNull(feature.get(), fi);
          continue;
        }
        std::string_view v = rows.get(r, col);
        switch (fields[i].type) {
          case FieldType::integer: {
            long long n = 0;
            std::from_chars(v.data(), v.data() + v.size(), n);
            OGR_F_SetFieldInteger64(feature.get(), fi, n);
            break;
          }
          case FieldType::datetime:
            if (shp) {
              OGR_F_SetFieldString(feature.get(), fi, rfc3339_of(v).c_str());
            } else {
              set_datetime(feature.get(), fi, v);
            }
            break;
          case FieldType::text:
            if (shp && v.size() > kDbfMaxValueBytes) {
              OGR_F_SetFieldString(feature.get(), fi, truncate_encoded(v, kDbfMaxValueBytes, o.encoding).c_str());
            } else {
              OGR_F_SetFieldString(feature.get(), fi, std::string(v).c_str());
            }
            break;
        }
      }
      if (!rows.is_null(r, geom_col)) {
        decode_bytea(rows.get(r, geom_col), wkb);
        OGRGeometryH g = nullptr;
        if (OGR_G_CreateFromWkb(wkb.data(), nullptr, &g, static_cast<int>(wkb.size())) != OGRERR_NONE)
          errors.fail("export: reading a geometry from the database");
        OGR_F_SetGeometryDirectly(feature.get(), g);
      }
      if (OGR_L_CreateFeature(layer, feature.get()) != OGRERR_NONE) errors.fail("export: writing a feature of " + parts.back());
      ++out.features;
      ++in_part;
    }
    errors.check("export: writing " + base);
    if (rows.rows() < kFetchRows) break;
  }
  tx.exec("export.close", "CLOSE wangge_export");
  tx.commit();
  if (transaction && GDALDatasetCommitTransaction(ds.get()) != OGRERR_NONE) errors.fail("export: committing " + base);
  ds.reset();  // GDALClose flushes headers, indexes and the spatial index
  errors.check("export: closing " + base);

  if (!shp) {
    out.file = target;
    out.filename = target.filename().string();
    return out;
  }

  const std::filesystem::path dir = out.dir.path();
  for (const auto& part : parts) {
    patch_ldid(dir / (part + ".dbf"), o.encoding == Encoding::gbk ? kLdidGbk : kLdidNone);
    // "936" is how ArcGIS names the GBK code page in a .cpg; GDAL and QGIS read it as CP936.
    write_text_file(dir / (part + ".cpg"), o.encoding == Encoding::gbk ? "936" : "UTF-8");
  }
  std::string mapping =
      "\xEF\xBB\xBF"
      "field,name,type,description\r\n";  // BOM: Excel opens it as UTF-8
  for (std::size_t i = 0; i < fields.size(); ++i)
    mapping += csv_quote(out_names[i]) + "," + csv_quote(fields[i].name) + "," + csv_quote(type_name(fields[i].type, true)) + "," +
               csv_quote(fields[i].description) + "\r\n";
  out.file = dir / (base + ".zip");
  out.filename = base + ".zip";
  ZipWriter zip(out.file);
  for (const auto& part : parts)
    for (const char* ext : {".shp", ".shx", ".dbf", ".prj", ".cpg"}) zip.add_file(part + ext, dir / (part + ext));
  zip.add_bytes(base + "_fields.csv", mapping);
  zip.close();
  return out;
}

}  // namespace wangge::exchange
