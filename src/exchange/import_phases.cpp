#include "exchange/import_phases.hpp"

#include <cpl_vsi.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "core/error.hpp"
#include "core/log.hpp"
#include "crs/mars.hpp"

namespace wangge::exchange {
namespace {

// A .prj or .cpg longer than this is not one (real ones are a few hundred bytes).
constexpr std::size_t kSidecarBytes = 64 * 1024;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

[[noreturn]] void unreadable(const std::string& detail) { throw bad_request("unreadable_file", detail); }

[[noreturn]] void unsupported_crs(const std::string& detail) {
  throw bad_request("unsupported_crs", detail + "; send crs=EPSG:n if you know the coordinates' CRS");
}

// The file beside a shapefile with another extension, as the archive or directory spells it
// (lower or upper case), or nullopt.
std::optional<std::string> sidecar(const std::string& shp, const char* ext) {
  const std::string stem = shp.substr(0, shp.size() - 4);
  std::string upper = ext;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& candidate : {stem + ext, stem + upper}) {
    VSIStatBufL st;
    if (VSIStatL(candidate.c_str(), &st) == 0) return candidate;
  }
  return std::nullopt;
}

// At most kSidecarBytes of a (virtual) file.
std::string read_small(const std::string& path) {
  VSILFILE* f = VSIFOpenL(path.c_str(), "rb");
  if (!f) return {};
  std::string text(kSidecarBytes, '\0');
  text.resize(VSIFReadL(text.data(), 1, text.size(), f));
  VSIFCloseL(f);
  return text;
}

// Byte 29 of the .dbf beside a .shp path (0 when unreadable).
int dbf_ldid(const std::string& shp) {
  const auto dbf = sidecar(shp, ".dbf");
  if (!dbf) return 0;
  VSILFILE* f = VSIFOpenL(dbf->c_str(), "rb");
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
    unreadable("GDAL cannot read the file as a shapefile, GeoPackage, GeoJSON, KML or CSV");
  // A driver that reads the whole file at open (GeoJSON) reports malformed content here.
  errors.check("import: opening the file");
  return ds;
}

OGRLayerH first_spatial_layer(GDALDatasetH ds) {
  for (int i = 0; i < GDALDatasetGetLayerCount(ds); ++i) {
    OGRLayerH layer = GDALDatasetGetLayer(ds, i);
    if (layer && OGR_L_GetGeomType(layer) != wkbNone) return layer;
  }
  return nullptr;
}

// The undecoded text of every string field of the layer.
TextScan scan_text(const ImportSource& source) {
  OpenedLayer raw = open_layer(source, EncodingChoice{std::string(), ""});
  OGRFeatureDefnH defn = OGR_L_GetLayerDefn(raw.layer);
  TextScan scan;
  ErrorCapture errors;
  OGR_L_ResetReading(raw.layer);
  while (Feature f{OGR_L_GetNextFeature(raw.layer)}) {
    for (int i = 0; i < OGR_FD_GetFieldCount(defn); ++i) {
      if (OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, i)) != OFTString || !OGR_F_IsFieldSetAndNotNull(f.get(), i)) continue;
      scan.add(OGR_F_GetFieldAsString(f.get(), i));
    }
    if (!scan.utf8 && !scan.gbk) break;  // nothing more to learn
  }
  errors.check("import: reading the text of the file");
  return scan;
}

void mars_to_wgs84(OGRGeometryH g, Reprojection::Mars mars) {
  const int parts = OGR_G_GetGeometryCount(g);
  if (parts > 0) {
    for (int i = 0; i < parts; ++i) mars_to_wgs84(OGR_G_GetGeometryRef(g, i), mars);
    return;
  }
  for (int i = 0; i < OGR_G_GetPointCount(g); ++i) {
    crs::LonLat p{OGR_G_GetX(g, i), OGR_G_GetY(g, i)};
    p = mars == Reprojection::Mars::gcj02 ? crs::gcj02_to_wgs84(p) : crs::bd09_to_wgs84(p);
    OGR_G_SetPoint_2D(g, i, p.lon, p.lat);
  }
}

}  // namespace

ImportSource locate_dataset(const std::filesystem::path& file, const ArchiveLimits& limits) {
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  ImportSource source{file.string(), false};
  if (magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) {
    const std::string zip = "/vsizip/" + file.string();
    ErrorCapture errors;  // a damaged archive lists what it can; what is missing fails below
    std::unique_ptr<char*, CslDeleter> entries(VSIReadDirRecursive(zip.c_str()));
    // /vsizip/ would resolve "../x.shp" against the archive's own path, outside the archive.
    for (char** e = entries.get(); e && *e; ++e)
      if (!safe_archive_name(*e)) unreadable("the ZIP holds an entry whose name leaves the archive (an absolute path or '..')");
    // The sizes come from the archive's directory (no entry is inflated to learn them).
    std::size_t count = 0;
    std::uint64_t unzipped = 0;
    for (char** e = entries.get(); e && *e; ++e) {
      if (++count > limits.max_entries)
        throw Error(413, "archive_too_large",
                    "the ZIP holds more than " + std::to_string(limits.max_entries) + " entries (WANGGE_MAX_ZIP_ENTRIES)",
                    "{\"limit\":" + std::to_string(limits.max_entries) + "}");
      VSIStatBufL st;
      if (VSIStatL((zip + "/" + *e).c_str(), &st) == 0 && !VSI_ISDIR(st.st_mode)) unzipped += static_cast<std::uint64_t>(st.st_size);
      if (unzipped > limits.max_unzipped_bytes)
        throw Error(413, "archive_too_large",
                    "the ZIP's files add up to more than " + std::to_string(limits.max_unzipped_bytes >> 20) +
                        " MB uncompressed (WANGGE_MAX_UNZIPPED_MB)",
                    "{\"limit_mb\":" + std::to_string(limits.max_unzipped_bytes >> 20) + "}");
    }
    source.path.clear();
    for (char** e = entries.get(); e && *e && source.path.empty(); ++e)
      if (lower(*e).ends_with(".shp") && std::strlen(*e) > 4) source.path = zip + "/" + *e;
    for (char** e = entries.get(); e && *e && source.path.empty(); ++e) {
      const std::string name = lower(*e);
      for (const char* ext : {".gpkg", ".geojson", ".json", ".kml", ".csv"})
        if (name.size() > std::strlen(ext) && name.ends_with(ext)) {
          source.path = zip + "/" + *e;
          break;
        }
    }
    if (source.path.empty()) unreadable("the ZIP holds no shapefile, GeoPackage, GeoJSON, KML or CSV");
  }
  source.shapefile = lower(source.path).ends_with(".shp");
  if (source.shapefile) {
    // GDAL would open a .shp without its index as nothing, and without its table as features
    // without attributes: both are incomplete uploads.
    if (!sidecar(source.path, ".shx")) unreadable("the shapefile has no .shx (index) beside its .shp: send .shp, .shx and .dbf together");
    if (!sidecar(source.path, ".dbf"))
      unreadable("the shapefile has no .dbf (attributes) beside its .shp: send .shp, .shx and .dbf together");
  }
  return source;
}

EncodingChoice detect_encoding(const ImportSource& source, const std::optional<std::string>& told) {
  if (told) return choose_encoding(EncodingSource::caller, told, std::nullopt);
  if (!source.shapefile) return {std::nullopt, ""};
  EncodingSource from = EncodingSource::none;
  std::optional<std::string> declared;
  if (auto cpg = sidecar(source.path, ".cpg"); cpg && (declared = cpg_encoding(read_small(*cpg)))) {
    from = EncodingSource::cpg;
  } else if (int ldid = dbf_ldid(source.path); ldid != 0) {
    from = EncodingSource::ldid;
    declared = std::to_string(ldid);
  }
  std::optional<TextScan> scan;
  if (needs_scan(from, declared)) scan = scan_text(source);
  return choose_encoding(from, declared, scan);
}

OpenedLayer open_layer(const ImportSource& source, const EncodingChoice& encoding) {
  OpenedLayer opened{open_vector(source.path, source.shapefile ? encoding.open_with : std::nullopt), nullptr};
  opened.layer = first_spatial_layer(opened.dataset.get());
  if (!opened.layer)
    throw unprocessable("invalid_geometry_type",
                        "the file has no layer with geometries (a table without a geometry column, or a CSV without WKT); "
                        "areas need polygons");
  // GDAL opens a shapefile whose .dbf it cannot read as features without attributes.
  if (source.shapefile && OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(opened.layer)) == 0)
    unreadable("the shapefile's .dbf cannot be read (damaged) or has no fields; the code and name fields are needed");
  return opened;
}

bool Reprojection::apply(OGRGeometryH g) const {
  if (m_transform && OGR_G_Transform(g, m_transform.get()) != OGRERR_NONE) return false;
  if (m_mars != Mars::none) mars_to_wgs84(g, m_mars);
  return true;
}

Reprojection open_reprojected(const ImportSource& source, OGRLayerH layer, const std::optional<std::string>& crs) {
  Reprojection r;
  r.m_mars = crs == std::optional<std::string>("gcj02")  ? Reprojection::Mars::gcj02
             : crs == std::optional<std::string>("bd09") ? Reprojection::Mars::bd09
                                                         : Reprojection::Mars::none;
  if (crs && r.m_mars == Reprojection::Mars::none) {
    r.m_source = srs_from_epsg(std::stoi(crs->substr(5)));
  } else {
    // The .prj is sniffed before GDAL's reading of it is trusted: GDAL reads a LOCAL_CS as a
    // coordinate system, but one without a place on the earth.
    CrsKind prj = CrsKind::none;
    if (source.shapefile)
      if (auto path = sidecar(source.path, ".prj")) prj = sniff_prj(read_small(*path));
    if (prj == CrsKind::local)
      unsupported_crs("the .prj describes a local (engineering) coordinate system, which has no place on the earth");
    if (OGRSpatialReferenceH file_srs = OGR_L_GetSpatialRef(layer)) {
      if (OSRIsLocal(file_srs) || (!OSRIsGeographic(file_srs) && !OSRIsProjected(file_srs)))
        unsupported_crs("the file's coordinate system is neither geographic nor projected");
      r.m_source.reset(OSRClone(file_srs));
      OSRSetAxisMappingStrategy(r.m_source.get(), OAMS_TRADITIONAL_GIS_ORDER);
    } else if (prj != CrsKind::none) {
      unsupported_crs("the .prj cannot be read as a coordinate system (WKT)");
    }
  }
  if (!r.m_source) {
    OGREnvelope e;
    ErrorCapture errors;  // an extent GDAL cannot compute is no extent
    if (OGR_L_GetExtent(layer, &e, TRUE) != OGRERR_NONE || !(e.MinX >= -180 && e.MaxX <= 180 && e.MinY >= -90 && e.MaxY <= 90))
      throw unprocessable("missing_crs", "the file names no CRS and its coordinates are not longitude/latitude; send crs=");
    r.m_source = srs_from_epsg(4490);
    r.m_assumed = "no CRS in the file: read as longitude/latitude (EPSG:4490)";
  }
  r.m_target = srs_from_epsg(r.m_mars == Reprojection::Mars::none ? 4490 : 4326);
  if (!OSRIsSame(r.m_source.get(), r.m_target.get())) {
    ErrorCapture errors;  // PROJ's reason is for the log, not the client
    r.m_transform.reset(OCTNewCoordinateTransformation(r.m_source.get(), r.m_target.get()));
    if (!r.m_transform) {
      try {
        errors.check("import: transformation to CGCS2000");
      } catch (const gdal_error& e) {
        log::warn(e.what());
      }
      unsupported_crs("there is no transformation from the file's coordinate system to CGCS2000");
    }
  }
  r.m_note = crs.value_or("from the file") + (r.m_mars == Reprojection::Mars::none ? "" : " (converted to CGCS2000)");
  return r;
}

bool within_lon_lat(OGRGeometryH g) {
  const int parts = OGR_G_GetGeometryCount(g);
  for (int i = 0; i < parts; ++i)
    if (!within_lon_lat(OGR_G_GetGeometryRef(g, i))) return false;
  for (int i = 0; i < OGR_G_GetPointCount(g); ++i) {
    const double x = OGR_G_GetX(g, i), y = OGR_G_GetY(g, i);
    if (!(x >= -180 && x <= 180 && y >= -90 && y <= 90)) return false;
  }
  return true;
}

bool finite_coordinates(OGRGeometryH g) {
  const int parts = OGR_G_GetGeometryCount(g);
  for (int i = 0; i < parts; ++i)
    if (!finite_coordinates(OGR_G_GetGeometryRef(g, i))) return false;
  for (int i = 0; i < OGR_G_GetPointCount(g); ++i)
    if (!std::isfinite(OGR_G_GetX(g, i)) || !std::isfinite(OGR_G_GetY(g, i))) return false;
  return true;
}

}  // namespace wangge::exchange
