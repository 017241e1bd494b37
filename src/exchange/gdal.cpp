#include "exchange/gdal.hpp"

#include <mutex>

namespace wangge::exchange {

void gdal_init() {
  static std::once_flag once;
  std::call_once(once, [] { GDALAllRegister(); });
}

ErrorCapture::ErrorCapture() { CPLPushErrorHandlerEx(&ErrorCapture::handler, this); }

ErrorCapture::~ErrorCapture() { CPLPopErrorHandler(); }

void CPL_STDCALL ErrorCapture::handler(CPLErr level, CPLErrorNum, const char* message) {
  auto* self = static_cast<ErrorCapture*>(CPLGetErrorHandlerUserData());
  if (!self) return;
  // No exception may leave this function: GDAL's C frames are below it.
  try {
    if (level == CE_Failure || level == CE_Fatal)
      self->m_errors.emplace_back(message ? message : "");
    else if (level == CE_Warning)
      self->m_warnings.emplace_back(message ? message : "");
  } catch (...) {
  }
}

void ErrorCapture::check(const std::string& context) {
  if (!m_errors.empty()) fail(context);
}

void ErrorCapture::fail(const std::string& context, const std::string& fallback) {
  std::string text;
  for (const auto& e : m_errors) text += (text.empty() ? "" : "; ") + e;
  m_errors.clear();
  throw gdal_error(context + ": " + (text.empty() ? fallback : text));
}

Srs srs_from_epsg(int epsg) {
  ErrorCapture errors;
  Srs srs(OSRNewSpatialReference(nullptr));
  if (!srs || OSRImportFromEPSG(srs.get(), epsg) != OGRERR_NONE) errors.fail("EPSG:" + std::to_string(epsg), "unknown to PROJ");
  OSRSetAxisMappingStrategy(srs.get(), OAMS_TRADITIONAL_GIS_ORDER);
  return srs;
}

}  // namespace wangge::exchange
