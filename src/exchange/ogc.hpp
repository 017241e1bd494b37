// The OGC API - Features model (Part 1 core/geojson/oas30, Part 2 crs): collections, their
// metadata and item pages. The HTTP side (routes_ogc.cpp) adds links and headers.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exchange/layers.hpp"
#include "pg/connection.hpp"

namespace wangge::exchange::ogc {

// One collection per area level, plus incidents and checkpoints.
struct Collection {
  std::string id;     // "grid", "incidents", ...
  std::string title;  // "网格 grids"
  LayerKind layer;
  std::optional<std::string> level;
};
const std::vector<Collection>& collections();
const Collection* find_collection(std::string_view id);

// An output or bbox CRS: the EPSG code (CRS84 is 4326 with lon/lat order) and whether the
// coordinates go latitude/northing first, as the EPSG definition orders the axes.
struct Crs {
  int srid = 4326;
  bool lat_first = false;
  std::string uri = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
};
// Empty: CRS84. Throws bad_request("unsupported_crs") for CRSs not offered.
Crs parse_crs(std::string_view text);
std::vector<std::string> crs_list();
extern const char* const kStorageCrs;

std::string conformance_json();
std::string landing_json(const std::string& base);  // base: ".../ogc"
// The OpenAPI 3.0 description of /ogc, as JSON.
std::string openapi_json(const std::string& base);

// Collection metadata with its extent; the extent and counts respect the token's scope.
nlohmann::json collection_json(pg::Connection& conn, const Collection& c, const std::optional<std::string>& scope, const std::string& base);

// Whether the server computes the property of an area collection's features (workers, version,
// validity times, author): a Part 4 edit ignores it, and the schema marks it readOnly.
bool computed_property(std::string_view name);

// The queryables of the collection as a JSON Schema (OGC API - Features Part 3).
std::string queryables_json(const Collection& c, const std::string& base);

// The schema of the collection's features (OGC API - Features Part 5, /schema): every property
// with its type (date-time ones as `format: date-time`, so a property that is null on every
// current feature, such as valid_to, is still a time), its order and whether the server computes
// it, and the primary geometry's type (`x-ogc-role`, `format: geometry-multipolygon`). A client
// that reads it (QGIS since 3.44) knows the layer's fields and geometry type even when every page
// it sees is empty; QGIS 3.22 reads neither this nor the queryables: it types a layer from the
// first page of items alone.
std::string schema_json(const Collection& c, const std::string& base);
// The same features as a GML application schema (XML Schema): the describedBy document GDAL's
// OAPIF driver reads for its fields' types and the geometry type, so that through GDAL, too, an
// empty collection has both and valid_to is a time.
std::string gml_schema(const Collection& c, const std::string& base);

struct Page {
  std::string features;  // JSON array text
  long long matched = 0;
  long long returned = 0;
};
Page items(pg::Connection& conn, const Selection& s, const Crs& crs, long long limit, long long offset);
// The Feature (JSON text) with row id `fid`, or std::nullopt when absent or outside the selection's scope.
std::optional<std::string> item(pg::Connection& conn, const Selection& s, long long fid, const Crs& crs);

// The ETag of an item of an area collection: the version's tag (registry::area_etag, which If-Match
// on a Part 4 edit compares), a hyphen and a digest of `feature` as ogc::item wrote it. The version
// alone would not do for If-None-Match: one version's Feature still changes (valid_to once it is
// superseded, its count of workers), and a 304 must never keep a client on the old text.
std::string item_etag(std::string_view code, long long version, std::string_view feature);
// The version's tag in an item ETag: "<code>-v<N>" (quoted) from "<code>-v<N>-<digest>"; any other
// tag comes back unchanged.
std::string version_tag(std::string_view tag);

// bbox (in `crs` and its axis order) to min lon, min lat, max lon, max lat in EPSG:4490. Throws
// bad_request("invalid_parameter") when the box leaves the CRS's domain (degrees or metres).
std::array<double, 4> bbox_to_storage(pg::Connection& conn, const std::array<double, 4>& bbox, const Crs& crs);
// datetime: an instant or an interval "start/end" with ".." or empty for an open end. Throws bad_request.
void apply_datetime(Selection& s, std::string_view text);

}  // namespace wangge::exchange::ogc
