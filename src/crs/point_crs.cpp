#include "crs/point_crs.hpp"

#include <proj.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <utility>

#include "core/error.hpp"
#include "geom/crs.hpp"

namespace wangge::crs {
namespace {

struct ContextDeleter {
  void operator()(PJ_CONTEXT* c) const noexcept { proj_context_destroy(c); }
};
struct PjDeleter {
  void operator()(PJ* p) const noexcept { proj_destroy(p); }
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// PROJ objects are per thread: each request thread keeps its own transformations, made on first use.
ProjTransform& transform_between(int from, int to) {
  thread_local std::map<std::pair<int, int>, std::unique_ptr<ProjTransform>> cache;
  auto& slot = cache[{from, to}];
  if (!slot) slot = std::make_unique<ProjTransform>(from, to);
  return *slot;
}

}  // namespace

struct ProjTransform::Impl {
  std::unique_ptr<PJ_CONTEXT, ContextDeleter> ctx;
  std::unique_ptr<PJ, PjDeleter> pj;
};

ProjTransform::ProjTransform(int from_srid, int to_srid) : m_impl(std::make_unique<Impl>()) {
  m_impl->ctx.reset(proj_context_create());
  if (!m_impl->ctx) throw std::runtime_error("proj_context_create failed");
  // Errors are reported through return values; keep PROJ from printing to stderr.
  proj_log_level(m_impl->ctx.get(), PJ_LOG_NONE);
  const std::string a = "EPSG:" + std::to_string(from_srid), b = "EPSG:" + std::to_string(to_srid);
  std::unique_ptr<PJ, PjDeleter> raw(proj_create_crs_to_crs(m_impl->ctx.get(), a.c_str(), b.c_str(), nullptr));
  if (!raw) throw std::runtime_error("PROJ cannot transform " + a + " to " + b);
  // EPSG:4490 is latitude first and the Gauss-Krüger CRSs are northing first; normalise to x/y.
  m_impl->pj.reset(proj_normalize_for_visualization(m_impl->ctx.get(), raw.get()));
  if (!m_impl->pj) throw std::runtime_error("PROJ cannot normalise the axis order of " + a + " to " + b);
}

ProjTransform::~ProjTransform() = default;

bool ProjTransform::apply(double& x, double& y) const {
  PJ_COORD c = proj_coord(x, y, 0, 0);
  PJ_COORD r = proj_trans(m_impl->pj.get(), PJ_FWD, c);
  if (proj_errno(m_impl->pj.get()) != 0) {
    proj_errno_reset(m_impl->pj.get());
    return false;
  }
  if (!std::isfinite(r.xy.x) || !std::isfinite(r.xy.y) || r.xy.x == HUGE_VAL) return false;
  x = r.xy.x;
  y = r.xy.y;
  return true;
}

std::string PointCrs::name() const {
  switch (kind) {
    case Kind::gcj02:
      return "gcj02";
    case Kind::bd09:
      return "bd09";
    default:
      return "EPSG:" + std::to_string(srid);
  }
}

PointCrs parse_point_crs(std::string_view text) {
  const std::string l = lower(text);
  if (l == "gcj02" || l == "gcj-02") return {Kind::gcj02, 4326};
  if (l == "bd09" || l == "bd-09") return {Kind::bd09, 4326};
  return {Kind::epsg, geom::parse_crs(text)};
}

LonLat to_storage(const PointCrs& from, double x, double y) {
  if (!std::isfinite(x) || !std::isfinite(y)) throw bad_request("invalid_coordinates", "coordinates must be finite numbers");
  const bool geographic = from.kind != Kind::epsg || from.srid == 4490 || from.srid == 4326;
  if (geographic && (x < -180 || x > 180 || y < -90 || y > 90))
    throw bad_request("invalid_coordinates", "longitude must be within [-180, 180] and latitude within [-90, 90]");
  switch (from.kind) {
    case Kind::gcj02:
      return gcj02_to_wgs84({x, y});
    case Kind::bd09:
      return bd09_to_wgs84({x, y});
    default:
      break;
  }
  // WGS84 and CGCS2000 agree within centimetres; PROJ knows no better transformation either.
  if (from.srid == 4490 || from.srid == 4326) return {x, y};
  if (auto domain = geom::projected_domain(from.srid); domain && !domain->contains(x, y))
    throw bad_request("invalid_coordinates", "the point (" + std::to_string(x) + ", " + std::to_string(y) + ") is outside the domain of " +
                                                 from.name() + " (x = easting, y = northing, in metres)");
  double ox = x, oy = y;
  if (!transform_between(from.srid, 4490).apply(ox, oy))
    throw bad_request("invalid_coordinates", "the point is outside the domain of " + from.name());
  return {ox, oy};
}

LonLat from_storage(const PointCrs& to, LonLat p) {
  switch (to.kind) {
    case Kind::gcj02:
      return wgs84_to_gcj02(p);
    case Kind::bd09:
      return wgs84_to_bd09(p);
    default:
      break;
  }
  if (to.srid == 4490 || to.srid == 4326) return p;
  double x = p.lon, y = p.lat;
  if (!transform_between(4490, to.srid).apply(x, y))
    throw bad_request("invalid_coordinates", "the point is outside the domain of " + to.name());
  return {x, y};
}

}  // namespace wangge::crs
