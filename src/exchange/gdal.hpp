// GDAL/OGR behind RAII: one owner per C handle, and GDAL's error reports captured on the calling
// thread and turned into gdal_error after the call returns (never thrown through C).
#pragma once

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace wangge::exchange {

// A GDAL call failed. Internal: the message names driver, file or layer and is logged, never sent
// to a client.
class gdal_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Registers the drivers once per process; every entry point of this module calls it.
void gdal_init();

struct DatasetCloser {
  void operator()(GDALDatasetH h) const noexcept { GDALClose(h); }
};
struct FeatureDeleter {
  void operator()(OGRFeatureH h) const noexcept { OGR_F_Destroy(h); }
};
struct GeometryDeleter {
  void operator()(OGRGeometryH h) const noexcept { OGR_G_DestroyGeometry(h); }
};
struct SrsReleaser {
  void operator()(OGRSpatialReferenceH h) const noexcept { OSRRelease(h); }
};
struct FieldDefnDeleter {
  void operator()(OGRFieldDefnH h) const noexcept { OGR_Fld_Destroy(h); }
};
struct CslDeleter {
  void operator()(char** p) const noexcept { CSLDestroy(p); }
};

using Dataset = std::unique_ptr<std::remove_pointer_t<GDALDatasetH>, DatasetCloser>;
using Feature = std::unique_ptr<std::remove_pointer_t<OGRFeatureH>, FeatureDeleter>;
using Geometry = std::unique_ptr<std::remove_pointer_t<OGRGeometryH>, GeometryDeleter>;
using Srs = std::unique_ptr<std::remove_pointer_t<OGRSpatialReferenceH>, SrsReleaser>;
using FieldDefn = std::unique_ptr<std::remove_pointer_t<OGRFieldDefnH>, FieldDefnDeleter>;

// A NULL-terminated list of "KEY=VALUE" options (papszOptions) that frees itself.
class Options {
 public:
  Options& set(const std::string& key, const std::string& value) {
    m_list.reset(CSLSetNameValue(m_list.release(), key.c_str(), value.c_str()));
    return *this;
  }
  char** get() const { return m_list.get(); }

 private:
  std::unique_ptr<char*, CslDeleter> m_list;
};

// Collects CPLError reports made on this thread while it lives (GDAL's handler stack is
// per-thread). check() throws gdal_error naming `context` when a failure was reported.
class ErrorCapture {
 public:
  ErrorCapture();
  ~ErrorCapture();
  ErrorCapture(const ErrorCapture&) = delete;
  ErrorCapture& operator=(const ErrorCapture&) = delete;
  void check(const std::string& context);
  // Throws with the captured messages (or `fallback` when GDAL said nothing).
  [[noreturn]] void fail(const std::string& context, const std::string& fallback = "failed");
  const std::vector<std::string>& warnings() const { return m_warnings; }

 private:
  static void CPL_STDCALL handler(CPLErr level, CPLErrorNum num, const char* message);
  std::vector<std::string> m_errors;
  std::vector<std::string> m_warnings;
};

// EPSG code → SRS in lon/lat (easting/northing) order, the order PostGIS hands coordinates in.
Srs srs_from_epsg(int epsg);

}  // namespace wangge::exchange
