// The phases of an import that read the file, before the registry checks and writes its rows:
// find the dataset in the upload, choose the encoding of its text, open its layer, and bring its
// geometries to EPSG:4490. Each needs GDAL but no database, so each can be tested on its own.
// Failures a client can fix are Errors (unreadable_file, encoding_mismatch, unsupported_crs,
// missing_crs, invalid_geometry_type); gdal_error means GDAL itself failed while reading.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "exchange/gdal.hpp"
#include "exchange/sniff.hpp"

namespace wangge::exchange {

// The dataset GDAL opens: the upload itself, or the shapefile (else the first GeoPackage, GeoJSON,
// KML or CSV) inside an uploaded ZIP, read in place through /vsizip/.
struct ImportSource {
  std::string path;
  bool shapefile = false;
};
// Throws unreadable_file for a ZIP holding nothing importable, a ZIP entry whose name leaves the
// archive, or a shapefile without its .shx or .dbf.
// What an uploaded ZIP may hold: a ZIP of a few MB can name millions of entries or expand to many
// GB (a "zip bomb"), and GDAL would read through them. Checked from the archive's directory,
// before anything is read: 413 `archive_too_large` naming the setting.
struct ArchiveLimits {
  std::size_t max_entries = 1000;                    // WANGGE_MAX_ZIP_ENTRIES
  std::uint64_t max_unzipped_bytes = 1024ull << 20;  // WANGGE_MAX_UNZIPPED_MB
};
ImportSource locate_dataset(const std::filesystem::path& file, const ArchiveLimits& limits = {});

// The encoding of a shapefile's text: `told` (the caller's "UTF-8" or "CP936"), else the .cpg,
// else the .dbf's LDID, else sniffed (see choose_encoding). Other formats are UTF-8 by definition
// (the note is empty and nothing is set).
EncodingChoice detect_encoding(const ImportSource& source, const std::optional<std::string>& told);

struct OpenedLayer {
  Dataset dataset;
  OGRLayerH layer = nullptr;  // owned by the dataset: the first layer that has geometries
};
// Throws unreadable_file when GDAL cannot open the file, invalid_geometry_type when no layer has
// geometries (a GeoPackage of plain tables, a CSV without WKT).
OpenedLayer open_layer(const ImportSource& source, const EncodingChoice& encoding);

struct TransformDeleter {
  void operator()(OGRCoordinateTransformationH h) const noexcept { OCTDestroyCoordinateTransformation(h); }
};
using Transform = std::unique_ptr<std::remove_pointer_t<OGRCoordinateTransformationH>, TransformDeleter>;

// How the layer's geometries reach EPSG:4490 lon/lat: the caller's EPSG code, else the file's own
// CRS, else lon/lat as they are; gcj02/bd09 (which no file can declare) are shifted after the
// file's CRS has brought them to lon/lat.
class Reprojection {
 public:
  enum class Mars { none, gcj02, bd09 };
  // Transforms `g` in place; false when PROJ cannot.
  bool apply(OGRGeometryH g) const;
  const std::string& note() const { return m_note; }                       // the report's "crs"
  const std::optional<std::string>& assumed() const { return m_assumed; }  // the report's "crs_note"

 private:
  friend Reprojection open_reprojected(const ImportSource&, OGRLayerH, const std::optional<std::string>&);
  Mars m_mars = Mars::none;
  Srs m_source;
  Srs m_target;
  Transform m_transform;  // null when source and target are the same
  std::string m_note;
  std::optional<std::string> m_assumed;
};
// `crs`: the caller's "EPSG:n", "gcj02" or "bd09". Throws unsupported_crs for a file CRS that is
// local (engineering), unreadable, or has no transformation to CGCS2000, and missing_crs when the
// file names none and its coordinates are not lon/lat.
Reprojection open_reprojected(const ImportSource& source, OGRLayerH layer, const std::optional<std::string>& crs);

// Every coordinate of `g` (and its parts) is a finite number.
bool finite_coordinates(OGRGeometryH g);
// Every coordinate of `g` is a longitude in [-180, 180] and a latitude in [-90, 90].
bool within_lon_lat(OGRGeometryH g);

}  // namespace wangge::exchange
