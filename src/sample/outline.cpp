#include "sample/outline.hpp"

#include <geos_c.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crs/mars.hpp"

namespace wangge::sample {
namespace {

constexpr std::size_t kMaxFileBytes = 64u << 20;
constexpr std::size_t kMaxVertices = 1'000'000;

// Nanodegrees, like the lattice: the same input always prints the same digits.
double nanodegrees(double v) { return std::round(v * 1e9) / 1e9; }

void append_number(std::string& out, double v, const char* format) {
  char buf[40];
  std::snprintf(buf, sizeof buf, format, v);
  out += buf;
}

}  // namespace

std::string read_gcj02_outline(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("outline " + path + ": cannot be opened");
  std::string text;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) throw std::runtime_error("outline " + path + ": larger than 64 MiB");
  }
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw std::runtime_error("outline " + path + ": not JSON");
  const nlohmann::json* geometry = &doc;
  if (doc.value("type", "") == "FeatureCollection") {
    if (!doc.contains("features") || !doc["features"].is_array() || doc["features"].empty())
      throw std::runtime_error("outline " + path + ": a FeatureCollection without features");
    geometry = &doc["features"][0];
  }
  if (geometry->is_object() && geometry->value("type", "") == "Feature") {
    if (!geometry->contains("geometry")) throw std::runtime_error("outline " + path + ": a Feature without geometry");
    geometry = &(*geometry)["geometry"];
  }
  if (!geometry->is_object() || !geometry->contains("coordinates"))
    throw std::runtime_error("outline " + path + ": no Polygon or MultiPolygon found");
  const std::string type = geometry->value("type", "");
  nlohmann::json polygons;
  if (type == "Polygon")
    polygons = nlohmann::json::array({(*geometry)["coordinates"]});
  else if (type == "MultiPolygon")
    polygons = (*geometry)["coordinates"];
  else
    throw std::runtime_error("outline " + path + ": the geometry is a " + type + ", not a Polygon or MultiPolygon");

  std::size_t vertices = 0;
  std::string wkt = "MULTIPOLYGON(";
  bool first_polygon = true;
  for (const auto& polygon : polygons) {
    if (!polygon.is_array() || polygon.empty()) throw std::runtime_error("outline " + path + ": a polygon without rings");
    wkt += first_polygon ? "(" : ",(";
    first_polygon = false;
    bool first_ring = true;
    for (const auto& ring : polygon) {
      if (!ring.is_array() || ring.size() < 4) throw std::runtime_error("outline " + path + ": a ring with fewer than 4 positions");
      wkt += first_ring ? "(" : ",(";
      first_ring = false;
      LonLat previous{NAN, NAN};
      std::size_t written = 0;
      for (const auto& position : ring) {
        if (++vertices > kMaxVertices) throw std::runtime_error("outline " + path + ": more than a million vertices");
        if (!position.is_array() || position.size() < 2 || !position[0].is_number() || !position[1].is_number())
          throw std::runtime_error("outline " + path + ": a position is not [lon, lat]");
        const LonLat gcj{position[0].get<double>(), position[1].get<double>()};
        if (!(std::abs(gcj.lon) <= 180 && std::abs(gcj.lat) <= 90))
          throw std::runtime_error("outline " + path + ": a position lies outside [-180, 180] × [-90, 90]");
        // The inverse is solved to 1e-7° (about a centimetre); WGS84 is used as CGCS2000 (see the header).
        const LonLat wgs = crs::gcj02_to_wgs84(gcj);
        const LonLat p{nanodegrees(wgs.lon), nanodegrees(wgs.lat)};
        if (p == previous) continue;  // the rounding may merge neighbouring positions
        if (written++ > 0) wkt += ',';
        append_number(wkt, p.lon, "%.9f");
        wkt += ' ';
        append_number(wkt, p.lat, "%.9f");
        previous = p;
      }
      wkt += ')';
    }
    wkt += ')';
  }
  wkt += ')';
  return wkt;
}

// ---------------------------------------------------------------------------------------------------

namespace {

// GEOS reports errors through a handler; they are kept and thrown after the call returns, never
// thrown through C.
struct Context {
  GEOSContextHandle_t handle;
  std::string error;
  Context() : handle(GEOS_init_r()) {
    if (!handle) throw std::runtime_error("GEOS_init_r failed");
    GEOSContext_setErrorMessageHandler_r(handle, &Context::on_error, this);
  }
  ~Context() { GEOS_finish_r(handle); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  static void on_error(const char* message, void* self) { static_cast<Context*>(self)->error = message ? message : "unknown"; }
};

struct GeomDeleter {
  GEOSContextHandle_t ctx;
  void operator()(GEOSGeometry* g) const noexcept { GEOSGeom_destroy_r(ctx, g); }
};
struct PreparedDeleter {
  GEOSContextHandle_t ctx;
  void operator()(const GEOSPreparedGeometry* g) const noexcept { GEOSPreparedGeom_destroy_r(ctx, g); }
};
struct ReaderDeleter {
  GEOSContextHandle_t ctx;
  void operator()(GEOSWKTReader* r) const noexcept { GEOSWKTReader_destroy_r(ctx, r); }
};
using Geom = std::unique_ptr<GEOSGeometry, GeomDeleter>;
using Prepared = std::unique_ptr<const GEOSPreparedGeometry, PreparedDeleter>;

struct Envelope {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool intersects(const Envelope& o) const { return x0 <= o.x1 && o.x0 <= x1 && y0 <= o.y1 && o.y0 <= y1; }
  bool contains(LonLat p) const { return x0 <= p.lon && p.lon <= x1 && y0 <= p.lat && p.lat <= y1; }
};

}  // namespace

struct Clipper::Impl {
  Context ctx;
  Geom outline{nullptr, {ctx.handle}};
  Prepared outline_prepared{nullptr, {ctx.handle}};
  std::vector<Geom> leaves;  // null: nothing left
  std::vector<Prepared> leaves_prepared;
  std::size_t cut = 0;

  GEOSContextHandle_t c() const { return ctx.handle; }

  Geom own(GEOSGeometry* g, const char* what) {
    if (!g) throw std::runtime_error(std::string("sample outline: ") + what + " failed: " + ctx.error);
    return Geom(g, {ctx.handle});
  }

  Geom read(const std::string& wkt) {
    std::unique_ptr<GEOSWKTReader, ReaderDeleter> reader(GEOSWKTReader_create_r(c()), {c()});
    return own(GEOSWKTReader_read_r(c(), reader.get(), wkt.c_str()), "reading WKT");
  }

  Geom point(LonLat p) { return own(GEOSGeom_createPointFromXY_r(c(), p.lon, p.lat), "creating a point"); }

  Envelope envelope(const GEOSGeometry* g) const {
    Envelope e;
    GEOSGeom_getXMin_r(c(), g, &e.x0);
    GEOSGeom_getYMin_r(c(), g, &e.y0);
    GEOSGeom_getXMax_r(c(), g, &e.x1);
    GEOSGeom_getYMax_r(c(), g, &e.y1);
    return e;
  }

  double area(const GEOSGeometry* g) const {
    double a = 0;
    GEOSArea_r(c(), g, &a);
    return a;
  }

  // Takes ownership of the parts and answers their union (an empty collection for none).
  Geom union_of(std::vector<Geom>& parts) {
    std::vector<GEOSGeometry*> raw;
    raw.reserve(parts.size());
    for (auto& p : parts) raw.push_back(p.release());
    Geom collection = own(GEOSGeom_createCollection_r(c(), GEOS_GEOMETRYCOLLECTION, raw.data(), static_cast<unsigned>(raw.size())),
                          "collecting geometries");
    parts.clear();
    return own(GEOSUnaryUnion_r(c(), collection.get()), "union");
  }

  Geom clone(const GEOSGeometry* g) { return own(GEOSGeom_clone_r(c(), g), "cloning"); }

  // The polygon parts of a (multi)polygon or collection, as clones.
  std::vector<Geom> polygons_of(const GEOSGeometry* g) {
    std::vector<Geom> out;
    const int type = GEOSGeomTypeId_r(c(), g);
    if (type == GEOS_POLYGON) {
      if (!GEOSisEmpty_r(c(), g)) out.push_back(clone(g));
    } else if (type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
      const int n = GEOSGetNumGeometries_r(c(), g);
      for (int k = 0; k < n; ++k) {
        auto more = polygons_of(GEOSGetGeometryN_r(c(), g, k));
        for (auto& m : more) out.push_back(std::move(m));
      }
    }
    return out;
  }
};

Clipper::Clipper(const std::string& outline_wkt) : m_impl(std::make_unique<Impl>()) {
  Impl& m = *m_impl;
  Geom g = m.read(outline_wkt);
  if (GEOSisValid_r(m.c(), g.get()) != 1) g = m.own(GEOSMakeValid_r(m.c(), g.get()), "repairing the outline");
  std::vector<Geom> parts = m.polygons_of(g.get());
  if (parts.empty()) throw std::runtime_error("sample outline: no polygon area in the outline");
  m.outline = m.union_of(parts);
  m.outline_prepared = Prepared(GEOSPrepare_r(m.c(), m.outline.get()), {m.c()});
}

Clipper::~Clipper() = default;

Bounds Clipper::bounds() const {
  const Envelope e = m_impl->envelope(m_impl->outline.get());
  return {e.x0, e.y0, e.x1, e.y1};
}

double Clipper::outline_area_deg2() const { return m_impl->area(m_impl->outline.get()); }

bool Clipper::outline_contains(LonLat p) const {
  Geom pt = m_impl->point(p);
  return GEOSPreparedContains_r(m_impl->c(), m_impl->outline_prepared.get(), pt.get()) == 1;
}

bool Clipper::outline_intersects(const std::string& linestring_wkt) const {
  Geom line = m_impl->read(linestring_wkt);
  return GEOSPreparedIntersects_r(m_impl->c(), m_impl->outline_prepared.get(), line.get()) == 1;
}

void Clipper::clip(const std::vector<std::string>& leaf_wkt) {
  Impl& m = *m_impl;
  const std::size_t n = leaf_wkt.size();
  std::vector<Geom> source;
  std::vector<Prepared> source_prepared;
  std::vector<Envelope> source_env;
  std::vector<Geom> lines;
  for (const std::string& wkt : leaf_wkt) {
    source.push_back(m.read(wkt));
    source_prepared.emplace_back(GEOSPrepare_r(m.c(), source.back().get()), PreparedDeleter{m.c()});
    source_env.push_back(m.envelope(source.back().get()));
    lines.push_back(m.own(GEOSBoundary_r(m.c(), source.back().get()), "boundary"));
  }
  lines.push_back(m.own(GEOSBoundary_r(m.c(), m.outline.get()), "outline boundary"));
  // One noding of all linework: every crossing point is computed once and shared by both sides.
  Geom noded = m.union_of(lines);
  const GEOSGeometry* noded_raw = noded.get();
  Geom faces = m.own(GEOSPolygonize_r(m.c(), &noded_raw, 1), "polygonize");

  std::vector<std::vector<Geom>> owned(n);
  const int face_count = GEOSGetNumGeometries_r(m.c(), faces.get());
  for (int k = 0; k < face_count; ++k) {
    const GEOSGeometry* face = GEOSGetGeometryN_r(m.c(), faces.get(), k);
    Geom inside = m.own(GEOSPointOnSurface_r(m.c(), face), "point on surface");
    if (GEOSPreparedContains_r(m.c(), m.outline_prepared.get(), inside.get()) != 1) continue;
    double x = 0, y = 0;
    GEOSGeomGetX_r(m.c(), inside.get(), &x);
    GEOSGeomGetY_r(m.c(), inside.get(), &y);
    for (std::size_t leaf = 0; leaf < n; ++leaf) {
      if (!source_env[leaf].contains({x, y})) continue;
      if (GEOSPreparedContains_r(m.c(), source_prepared[leaf].get(), inside.get()) == 1) {
        owned[leaf].push_back(m.clone(face));
        break;
      }
    }
  }
  m.leaves.clear();
  for (auto& parts : owned) m.leaves.push_back(parts.empty() ? Geom(nullptr, {m.c()}) : m.union_of(parts));

  // Detached parts (the outline cut a corner of a leaf off from the rest) join the neighbour that
  // shares the longest border with them, so that no grid is split in pieces.
  for (std::size_t leaf = 0; leaf < n; ++leaf) {
    if (!m.leaves[leaf]) continue;
    std::vector<Geom> parts = m.polygons_of(m.leaves[leaf].get());
    if (parts.size() < 2) continue;
    std::size_t largest = 0;
    for (std::size_t p = 1; p < parts.size(); ++p)
      if (m.area(parts[p].get()) > m.area(parts[largest].get())) largest = p;
    std::vector<Geom> keep;
    for (std::size_t p = 0; p < parts.size(); ++p) {
      if (p == largest) {
        keep.push_back(std::move(parts[p]));
        continue;
      }
      const Envelope pe = m.envelope(parts[p].get());
      double best_length = 0;
      std::size_t best = n;
      for (std::size_t other = 0; other < n; ++other) {
        if (other == leaf || !m.leaves[other] || !m.envelope(m.leaves[other].get()).intersects(pe)) continue;
        Geom shared = m.own(GEOSIntersection_r(m.c(), parts[p].get(), m.leaves[other].get()), "intersection");
        double length = 0;
        GEOSLength_r(m.c(), shared.get(), &length);
        if (length > best_length) best_length = length, best = other;
      }
      if (best == n) {
        keep.push_back(std::move(parts[p]));  // an island: nobody to give it to
        continue;
      }
      std::vector<Geom> merged;
      merged.push_back(std::move(m.leaves[best]));
      merged.push_back(std::move(parts[p]));
      m.leaves[best] = m.union_of(merged);
    }
    m.leaves[leaf] = m.union_of(keep);
  }
  m.cut = 0;
  for (std::size_t leaf = 0; leaf < n; ++leaf)
    if (!m.leaves[leaf] || m.area(m.leaves[leaf].get()) < m.area(source[leaf].get()) * (1 - 1e-9)) ++m.cut;
  m.leaves_prepared.clear();
  for (auto& g : m.leaves) m.leaves_prepared.emplace_back(g ? GEOSPrepare_r(m.c(), g.get()) : nullptr, PreparedDeleter{m.c()});
}

bool Clipper::leaf_empty(std::size_t leaf) const {
  return !m_impl->leaves.at(leaf) || GEOSisEmpty_r(m_impl->c(), m_impl->leaves[leaf].get()) == 1;
}

std::size_t Clipper::leaves_cut() const { return m_impl->cut; }

bool Clipper::leaf_contains(std::size_t leaf, LonLat p) const {
  if (leaf_empty(leaf)) return false;
  Geom pt = m_impl->point(p);
  return GEOSPreparedContains_r(m_impl->c(), m_impl->leaves_prepared[leaf].get(), pt.get()) == 1;
}

LonLat Clipper::point_on_leaf(std::size_t leaf) const {
  if (leaf_empty(leaf)) throw std::logic_error("sample outline: a point on an empty leaf");
  Geom p = m_impl->own(GEOSPointOnSurface_r(m_impl->c(), m_impl->leaves[leaf].get()), "point on surface");
  LonLat out;
  GEOSGeomGetX_r(m_impl->c(), p.get(), &out.lon);
  GEOSGeomGetY_r(m_impl->c(), p.get(), &out.lat);
  return out;
}

std::string Clipper::union_wkt(const std::vector<std::size_t>& leaves) const {
  Impl& m = *m_impl;
  std::vector<Geom> parts;
  for (std::size_t leaf : leaves)
    if (!leaf_empty(leaf)) parts.push_back(m.clone(m.leaves[leaf].get()));
  if (parts.empty()) return {};
  Geom u = parts.size() == 1 ? std::move(parts.front()) : m.union_of(parts);
  // Written by hand with %.17g: every double reads back identically, so a vertex shared by two
  // areas stays one vertex in the database.
  std::string out = "MULTIPOLYGON(";
  bool first_polygon = true;
  for (const Geom& polygon : m.polygons_of(u.get())) {
    out += first_polygon ? "(" : ",(";
    first_polygon = false;
    const int holes = GEOSGetNumInteriorRings_r(m.c(), polygon.get());
    for (int r = -1; r < holes; ++r) {
      const GEOSGeometry* ring = r < 0 ? GEOSGetExteriorRing_r(m.c(), polygon.get()) : GEOSGetInteriorRingN_r(m.c(), polygon.get(), r);
      const GEOSCoordSequence* seq = GEOSGeom_getCoordSeq_r(m.c(), ring);
      unsigned size = 0;
      GEOSCoordSeq_getSize_r(m.c(), seq, &size);
      std::vector<LonLat> points(size);
      for (unsigned k = 0; k < size; ++k) GEOSCoordSeq_getXY_r(m.c(), seq, k, &points[k].lon, &points[k].lat);
      // Shells counter-clockwise, holes clockwise, as the generated rectangle's rings (and RFC 7946).
      double twice_area = 0;
      for (std::size_t k = 0; k + 1 < points.size(); ++k)
        twice_area += points[k].lon * points[k + 1].lat - points[k + 1].lon * points[k].lat;
      if ((r < 0) != (twice_area > 0)) std::reverse(points.begin(), points.end());
      out += r < 0 ? "(" : ",(";
      for (std::size_t k = 0; k < points.size(); ++k) {
        if (k > 0) out += ',';
        append_number(out, points[k].lon, "%.17g");
        out += ' ';
        append_number(out, points[k].lat, "%.17g");
      }
      out += ')';
    }
    out += ')';
  }
  out += ')';
  return out;
}

}  // namespace wangge::sample
