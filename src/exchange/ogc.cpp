#include "exchange/ogc.hpp"

#include <charconv>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "geom/crs.hpp"
#include "registry/areas.hpp"
#include "registry/auth.hpp"

namespace wangge::exchange::ogc {
namespace {

using nlohmann::json;

const char* const kCrs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
constexpr int kOffered[] = {4490, 4326, 3857, 4527, 4528, 4529, 4548, 4549, 4550};

std::string epsg_uri(int srid) { return "http://www.opengis.net/def/crs/EPSG/0/" + std::to_string(srid); }

// Geographic CRSs and the Gauss-Krüger zones are defined latitude/northing first in EPSG; Web
// Mercator easting first.
bool epsg_lat_first(int srid) { return srid != 3857; }

// Text columns of the layer's row (see layers.hpp) as a GeoJSON Feature, id = row id, appended to
// `out`. Written directly rather than through a JSON tree: a page is up to 10,000 of them, and
// the database's text is already valid UTF-8 and its integers valid JSON numbers.
void append_feature(std::string& out, const pg::Result& r, int row, LayerKind layer) {
  const auto& fields = layer_fields(layer);
  const int geom = static_cast<int>(fields.size()) + 1;
  out += "{\"type\":\"Feature\",\"id\":";
  out += r.get(row, 0);
  out += ",\"geometry\":";
  if (r.is_null(row, geom)) {
    out += "null";
  } else {
    out += r.get(row, geom);
  }
  out += ",\"properties\":{";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const int col = static_cast<int>(i) + 1;
    if (i) out += ',';
    out += '"';
    out += fields[i].name;  // fixed ASCII names
    out += "\":";
    if (r.is_null(row, col)) {
      out += "null";
    } else if (fields[i].type == FieldType::integer) {
      out += r.get(row, col);
    } else {
      out += '"';
      log::append_json_escaped(out, r.get(row, col));
      out += '"';
    }
  }
  out += "}}";
}

json query_parameter(const char* name, const char* in, const char* description, json schema, bool required = false) {
  return {{"name", name},    {"in", in},        {"description", description}, {"required", required}, {"schema", std::move(schema)},
          {"style", "form"}, {"explode", false}};
}

}  // namespace

const char* const kStorageCrs = "http://www.opengis.net/def/crs/EPSG/0/4490";

const std::vector<Collection>& collections() {
  static const std::vector<Collection> list = {{"province", "省 provinces", LayerKind::areas, "province"},
                                               {"city", "市 cities", LayerKind::areas, "city"},
                                               {"county", "县（市、区） counties", LayerKind::areas, "county"},
                                               {"township", "乡镇（街道） townships", LayerKind::areas, "township"},
                                               {"village", "村（社区） villages and communities", LayerKind::areas, "village"},
                                               {"grid", "网格 grids", LayerKind::areas, "grid"},
                                               {"microgrid", "微网格 micro-grids", LayerKind::areas, "microgrid"},
                                               {"incidents", "事件 incidents", LayerKind::incidents, std::nullopt},
                                               {"checkpoints", "巡查点 checkpoints", LayerKind::checkpoints, std::nullopt}};
  return list;
}

const Collection* find_collection(std::string_view id) {
  for (const auto& c : collections())
    if (c.id == id) return &c;
  return nullptr;
}

Crs parse_crs(std::string_view text) {
  if (text.empty() || text == kCrs84 || text == "CRS84" || text == "OGC:CRS84") return Crs{};
  const int srid = geom::parse_crs(text);
  return Crs{srid, epsg_lat_first(srid), epsg_uri(srid)};
}

std::vector<std::string> crs_list() {
  std::vector<std::string> out = {kCrs84};
  for (int s : kOffered) out.push_back(epsg_uri(s));
  return out;
}

std::string conformance_json() {
  return json({{"conformsTo",
                {"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                 "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
                 "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
                 "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
                 "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
                 "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
                 "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
                 "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
                 "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text", "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
                 "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
                 "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
                 "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
                 "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
                 "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
                 "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
                 "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
                 "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas"}}})
      .dump();
}

std::string landing_json(const std::string& base) {
  json links = json::array({
      {{"rel", "self"}, {"type", "application/json"}, {"title", "this document"}, {"href", base}},
      {{"rel", "service-desc"},
       {"type", "application/vnd.oai.openapi+json;version=3.0"},
       {"title", "the API definition"},
       {"href", base + "/api"}},
      {{"rel", "conformance"}, {"type", "application/json"}, {"title", "conformance classes"}, {"href", base + "/conformance"}},
      {{"rel", "data"}, {"type", "application/json"}, {"title", "collections"}, {"href", base + "/collections"}},
  });
  return json({{"title", "wangge 网格 — OGC API - Features"},
               {"description", "Areas of the grid registry by level, incidents and checkpoints (CGCS2000)."},
               {"links", links}})
      .dump();
}

std::string openapi_json(const std::string& base) {
  json crs_schema = {{"type", "string"}, {"format", "uri"}, {"enum", crs_list()}};
  json p_collection = {{"name", "collectionId"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
  json p_feature = {{"name", "featureId"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "integer"}}}};
  json items_params = json::array({
      p_collection,
      query_parameter("limit", "query", "features per page", {{"type", "integer"}, {"minimum", 1}, {"maximum", 10000}, {"default", 100}}),
      query_parameter("offset", "query", "features to skip (next links set it)", {{"type", "integer"}, {"minimum", 0}, {"default", 0}}),
      query_parameter("bbox", "query", "minx,miny,maxx,maxy in bbox-crs",
                      {{"type", "array"}, {"minItems", 4}, {"maxItems", 4}, {"items", {{"type", "number"}}}}),
      query_parameter("bbox-crs", "query", "CRS of bbox (default CRS84)", crs_schema),
      query_parameter("crs", "query", "CRS of the response (default CRS84)", crs_schema),
      query_parameter("datetime", "query", "instant or interval (RFC 3339, '..' for open)", {{"type", "string"}}),
      query_parameter("filter", "query", "CQL2 filter on the queryables (see /queryables)", {{"type", "string"}}),
      query_parameter("filter-lang", "query", "encoding of filter",
                      {{"type", "string"}, {"enum", {"cql2-text", "cql2-json", "cql-text"}}, {"default", "cql2-text"}}),
      query_parameter("filter-crs", "query", "CRS of the filter's geometries (default CRS84)", crs_schema),
      query_parameter("sortby", "query", "queryables to sort by, comma-separated, '-' for descending", {{"type", "string"}}),
  });
  auto get = [](const char* summary, json params, const char* type) {
    json content = json::object();
    content[type] = {{"schema", {{"type", "object"}}}};
    json op = json::object();
    op["summary"] = summary;
    op["parameters"] = std::move(params);
    op["responses"] = {{"200", {{"description", "OK"}, {"content", content}}}};
    json path = json::object();
    path["get"] = op;
    return path;
  };
  json paths = {
      {"/", get("landing page", json::array(), "application/json")},
      {"/conformance", get("conformance classes", json::array(), "application/json")},
      {"/api", get("this document", json::array(), "application/vnd.oai.openapi+json;version=3.0")},
      {"/collections", get("collections", json::array(), "application/json")},
      {"/collections/{collectionId}", get("one collection", json::array({p_collection}), "application/json")},
      {"/collections/{collectionId}/queryables",
       get("the properties filter and sortby may name", json::array({p_collection}), "application/schema+json")},
      {"/collections/{collectionId}/schema",
       get("the features' properties and geometry type (Part 5)", json::array({p_collection}), "application/schema+json")},
      {"/collections/{collectionId}/schema.xsd",
       get("the features' GML application schema (the describedBy link)", json::array({p_collection}), "application/xml")},
      {"/collections/{collectionId}/items", get("features of a collection", items_params, "application/geo+json")},
      {"/collections/{collectionId}/items/{featureId}",
       get("one feature", json::array({p_collection, p_feature, query_parameter("crs", "query", "CRS of the response", crs_schema)}),
           "application/geo+json")},
  };
  // Part 4 edits of the area collections (routes_ogc_edit.cpp): the registry's rules, a refusal
  // as 409/422 problem+json; the feature id names a version, so an edit answers the new one.
  auto edit = [&](const char* summary, json params, const char* ok, bool body) {
    json op = {{"summary", summary},
               {"parameters", std::move(params)},
               {"responses",
                {{ok, {{"description", "done"}}},
                 {"409", {{"description", "refused by the topology rules, or the feature was superseded"}}},
                 {"412", {{"description", "If-Match does not name the current version"}}},
                 {"422", {{"description", "refused by the area rules"}}}}}};
    if (body) op["requestBody"] = {{"required", true}, {"content", {{"application/geo+json", {{"schema", {{"type", "object"}}}}}}}};
    return op;
  };
  json p_adjust = query_parameter("adjust", "query", "neighbours: the neighbours give up or receive what a new geometry takes or releases",
                                  {{"type", "string"}, {"enum", {"none", "neighbours"}}, {"default", "none"}});
  json p_content_crs = {{"name", "Content-Crs"},
                        {"in", "header"},
                        {"description", "CRS of the body's geometry (default CRS84)"},
                        {"schema", {{"type", "string"}}}};
  json p_if_match = {{"name", "If-Match"},
                     {"in", "header"},
                     {"description", "ETag of the edited feature (default: the version the id names)"},
                     {"schema", {{"type", "string"}}}};
  // An area's item is conditional (routes_ogc.cpp): If-None-Match of its ETag answers 304.
  {
    json& one = paths["/collections/{collectionId}/items/{featureId}"]["get"];
    one["parameters"].push_back({{"name", "If-None-Match"},
                                 {"in", "header"},
                                 {"description", "ETags held (weak comparison, * for any): 304 when one is the feature's"},
                                 {"schema", {{"type", "string"}}}});
    one["responses"]["304"] = {{"description", "not modified: the ETag sent is the feature's (areas only)"}};
  }
  paths["/collections/{collectionId}/items"]["post"] = edit("create a feature", json::array({p_collection, p_content_crs}), "201", true);
  paths["/collections/{collectionId}/items/{featureId}"]["put"] =
      edit("replace a feature", json::array({p_collection, p_feature, p_adjust, p_content_crs, p_if_match}), "200", true);
  paths["/collections/{collectionId}/items/{featureId}"]["patch"] =
      edit("update a feature", json::array({p_collection, p_feature, p_adjust, p_content_crs, p_if_match}), "200", true);
  paths["/collections/{collectionId}/items/{featureId}"]["delete"] =
      edit("retire a feature's area", json::array({p_collection, p_feature, p_if_match}), "204", false);
  json doc = {
      {"openapi", "3.0.3"},
      {"info", {{"title", "wangge OGC API - Features"}, {"version", "1.0.0"}}},
      {"servers", json::array({{{"url", base}}})},
      {"paths", paths},
      {"components",
       {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}, {"basic", {{"type", "http"}, {"scheme", "basic"}}}}}}},
      {"security", json::array({{{"bearer", json::array()}}, {{"basic", json::array()}}})}};
  return doc.dump();
}

json collection_json(pg::Connection& conn, const Collection& c, const std::optional<std::string>& scope, const std::string& base) {
  Selection s;
  s.layer = c.layer;
  s.level = c.level;
  s.scope = scope;
  SqlQuery q = extent_of(s);
  auto r = conn.exec("ogc.extent", q.sql, q.params);
  const std::string href = base + "/collections/" + c.id;
  json out = {{"id", c.id},
              {"title", c.title},
              {"itemType", "feature"},
              {"crs", crs_list()},
              {"storageCrs", kStorageCrs},
              {"links", json::array({{{"rel", "self"}, {"type", "application/json"}, {"href", href}},
                                     {{"rel", "items"}, {"type", "application/geo+json"}, {"href", href + "/items"}},
                                     {{"rel", "http://www.opengis.net/def/rel/ogc/1.0/queryables"},
                                      {"type", "application/schema+json"},
                                      {"title", "queryables"},
                                      {"href", href + "/queryables"}},
                                     // The draft's relation, which GDAL 3.6 (and QGIS through OGR) follows to
                                     // learn which properties it may filter on the server side.
                                     {{"rel", "queryables"}, {"type", "application/json"}, {"href", href + "/queryables"}},
                                     // Part 5's schema: the fields and the geometry type without a feature to
                                     // look at (QGIS 3.44 and later read it).
                                     {{"rel", "http://www.opengis.net/def/rel/ogc/1.0/schema"},
                                      {"type", "application/schema+json"},
                                      {"title", "schema of the features"},
                                      {"href", href + "/schema"}},
                                     // GDAL's OAPIF driver takes its fields and geometry type from an XML
                                     // Schema (a GML application schema) when a describedBy link names one.
                                     {{"rel", "describedBy"},
                                      {"type", "application/xml"},
                                      {"title", "GML application schema of the features"},
                                      {"href", href + "/schema.xsd"}}})}};
  json extent = json::object();
  if (!r.is_null(0, 0)) {
    extent["spatial"] = {{"bbox", json::array({json::array({r.number(0, 0), r.number(0, 1), r.number(0, 2), r.number(0, 3)})})},
                         {"crs", kCrs84}};
  }
  if (!r.is_null(0, 4)) {
    extent["temporal"] = {
        {"interval", json::array({json::array({r.str(0, 4), c.layer == LayerKind::areas ? json(nullptr) : json(r.str(0, 5))})})},
        {"trs", "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}};
  }
  if (!extent.empty()) out["extent"] = extent;
  return out;
}

bool computed_property(std::string_view name) {
  return name == "workers" || name == "version" || name == "valid_from" || name == "valid_to" || name == "changed_by";
}

namespace {

// The schema documents keep the layer's field order: GDAL makes its fields in the order of the
// schema's members, and a GIS table reads best in the order the exports use.
using nlohmann::ordered_json;

// The JSON Schema of one property of the collection's features (a layer field): its JSON type,
// `format: date-time` for times.
ordered_json property_schema(const FieldSpec& f) {
  ordered_json p = {{"title", f.name}, {"description", f.description}};
  switch (f.type) {
    case FieldType::text:
      p["type"] = "string";
      break;
    case FieldType::integer:
      p["type"] = "integer";
      break;
    case FieldType::datetime:
      p["type"] = "string";
      p["format"] = "date-time";
      break;
  }
  return p;
}

const char* geometry_format(const Collection& c) { return c.layer == LayerKind::areas ? "geometry-multipolygon" : "geometry-point"; }

}  // namespace

std::string schema_json(const Collection& c, const std::string& base) {
  ordered_json props = ordered_json::object();
  int seq = 0;
  for (const auto& f : layer_fields(c.layer)) {
    ordered_json p = property_schema(f);
    p["x-ogc-propertySeq"] = ++seq;
    if (c.layer == LayerKind::areas && computed_property(f.name)) p["readOnly"] = true;
    // The times the datetime parameter selects on: an area version's validity, a case's report.
    if (f.name == "valid_from") p["x-ogc-role"] = "primary-interval-start";
    if (f.name == "valid_to") p["x-ogc-role"] = "primary-interval-end";
    if (f.name == "reported_at") p["x-ogc-role"] = "primary-instant";
    props[f.name] = std::move(p);
  }
  props["geometry"] = {{"title", "geometry"}, {"format", geometry_format(c)}, {"x-ogc-role", "primary-geometry"}};
  return ordered_json({{"$schema", "https://json-schema.org/draft/2020-12/schema"},
                       {"$id", base + "/collections/" + c.id + "/schema"},
                       {"type", "object"},
                       {"title", c.title},
                       {"properties", std::move(props)}})
      .dump();
}

std::string gml_schema(const Collection& c, const std::string& base) {
  // Element names are the layer's fixed ASCII field names and the collection id: nothing to escape.
  std::string type = c.id + "Type";
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:gml=\"http://www.opengis.net/gml/3.2\" xmlns:wg=\"" +
      base + "\" targetNamespace=\"" + base +
      "\" elementFormDefault=\"qualified\">\n"
      "<xs:import namespace=\"http://www.opengis.net/gml/3.2\" schemaLocation=\"http://schemas.opengis.net/gml/3.2.1/gml.xsd\"/>\n"
      "<xs:element name=\"" +
      c.id + "\" type=\"wg:" + type +
      "\" substitutionGroup=\"gml:AbstractFeature\"/>\n"
      "<xs:complexType name=\"" +
      type +
      "\"><xs:complexContent><xs:extension base=\"gml:AbstractFeatureType\"><xs:sequence>\n"
      "<xs:element name=\"geometry\" type=\"gml:" +
      std::string(c.layer == LayerKind::areas ? "MultiSurfacePropertyType" : "PointPropertyType") + "\"/>\n";
  for (const auto& f : layer_fields(c.layer)) {
    // GDAL 3.6 puts a first page's "id" field before the schema's fields, so a property named id
    // listed here would be a second field of that name (QGIS: id and id_2).
    if (f.name == "id") continue;
    const char* xs = f.type == FieldType::integer ? "xs:integer" : f.type == FieldType::datetime ? "xs:dateTime" : "xs:string";
    out += "<xs:element name=\"" + f.name + "\" type=\"" + xs + "\" minOccurs=\"0\" nillable=\"true\"/>\n";
  }
  out += "</xs:sequence></xs:extension></xs:complexContent></xs:complexType>\n</xs:schema>\n";
  return out;
}

std::string queryables_json(const Collection& c, const std::string& base) {
  json props = json::object();
  json draft = json::array();  // the draft's list of {"id"}: GDAL 3.6 reads only that
  for (const auto& q : queryables(c.layer)) {
    draft.push_back({{"id", q.name}});
    json p = {{"title", q.name}, {"description", q.description}};
    switch (q.type) {
      case cql2::Type::text:
        p["type"] = "string";
        break;
      case cql2::Type::number:
        p["type"] = "integer";
        break;
      case cql2::Type::datetime:
        p["type"] = "string";
        p["format"] = "date-time";
        break;
      case cql2::Type::boolean:
        p["type"] = "boolean";
        break;
      case cql2::Type::geometry:
        p["format"] = geometry_format(c);
        p["x-ogc-role"] = "primary-geometry";
        break;
    }
    props[q.name] = p;
  }
  return json({{"$schema", "https://json-schema.org/draft/2020-12/schema"},
               {"$id", base + "/collections/" + c.id + "/queryables"},
               {"type", "object"},
               {"title", c.title},
               {"properties", props},
               {"additionalProperties", false},
               {"queryables", draft}})
      .dump();
}

Page items(pg::Connection& conn, const Selection& s, const Crs& crs, long long limit, long long offset) {
  SqlQuery q = select_rows(s, GeometryOut::geojson, crs.srid,
                           {.lat_first = crs.lat_first, .pg_times = false, .limit = limit, .offset = offset, .count_matched = true});
  auto r = conn.exec_prepared("ogc.items", q.sql, q.params);
  Page page;
  if (r.rows() > 0) {
    page.matched = r.integer(0, r.columns() - 1);
  } else {  // past the last row: nothing carried the count
    SqlQuery count = count_rows(s);
    page.matched = conn.exec_prepared("ogc.count", count.sql, count.params).integer(0, 0);
  }
  // Reserved once: the geometries' text and about 400 bytes of properties per feature, so the
  // page is not copied while it grows.
  std::size_t bytes = 2;
  const int geom = static_cast<int>(layer_fields(s.layer).size()) + 1;
  for (int i = 0; i < r.rows(); ++i) bytes += 400 + static_cast<std::size_t>(PQgetlength(r.raw(), i, geom));
  page.features.reserve(bytes);
  page.features = "[";
  for (int i = 0; i < r.rows(); ++i) {
    if (i) page.features += ',';
    append_feature(page.features, r, i, s.layer);
  }
  page.features += "]";
  page.returned = r.rows();
  return page;
}

std::optional<std::string> item(pg::Connection& conn, const Selection& s, long long fid, const Crs& crs) {
  SqlQuery q = select_one(s, fid, crs.srid, crs.lat_first);
  auto r = conn.exec_prepared("ogc.item", q.sql, q.params);
  if (r.rows() == 0) return std::nullopt;
  std::string out;
  append_feature(out, r, 0, s.layer);
  return out;
}

namespace {
constexpr std::size_t kDigestChars = 16;  // 64 bits of SHA-256: tells apart versions of one Feature
}

std::string item_etag(std::string_view code, long long version, std::string_view feature) {
  std::string tag = registry::area_etag(code, version);
  tag.insert(tag.size() - 1, "-" + registry::sha256_hex(feature).substr(0, kDigestChars));
  return tag;
}

std::string version_tag(std::string_view tag) {
  // "<code>-v<N>-<digest>" in quotes: the digest is the last kDigestChars hex digits after a hyphen.
  const std::size_t suffix = kDigestChars + 2;  // "-" + digest + closing quote
  if (tag.size() < suffix + 4 || tag.front() != '"' || tag.back() != '"' || tag[tag.size() - suffix] != '-') return std::string(tag);
  const std::string_view digest = tag.substr(tag.size() - suffix + 1, kDigestChars);
  if (digest.find_first_not_of("0123456789abcdef") != std::string_view::npos) return std::string(tag);
  const std::string_view version = tag.substr(1, tag.size() - suffix - 1);
  const std::size_t v = version.rfind("-v");
  if (v == std::string_view::npos || v + 2 == version.size() || version.find_first_not_of("0123456789", v + 2) != std::string_view::npos)
    return std::string(tag);
  return "\"" + std::string(version) + "\"";
}

std::array<double, 4> bbox_to_storage(pg::Connection& conn, const std::array<double, 4>& b, const Crs& crs) {
  std::array<double, 4> xy = crs.lat_first ? std::array<double, 4>{b[1], b[0], b[3], b[2]} : b;
  // Outside its domain a CRS's coordinates transform wrongly (or not at all): refuse them.
  const auto extra = json({{"parameter", "bbox"}}).dump();
  if (auto d = geom::projected_domain(crs.srid)) {
    if (!d->contains(xy[0], xy[1]) || !d->contains(xy[2], xy[3]))
      throw bad_request("invalid_parameter", "bbox lies outside the domain of bbox-crs " + crs.uri, extra);
  } else if (xy[0] < -180 || xy[2] > 180 || xy[1] < -90 || xy[3] > 90) {
    throw bad_request("invalid_parameter",
                      "bbox lies outside longitude -180..180, latitude -90..90 (in " + crs.uri +
                          (crs.lat_first ? " latitude comes first)" : " longitude comes first)"),
                      extra);
  }
  if (crs.srid == 4326 || crs.srid == 4490) return xy;  // CGCS2000 and WGS 84 agree within centimetres
  // A projected box: transform its densified outline, so the box in degrees covers it all.
  auto r =
      conn.exec("ogc.bbox",
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform(ST_Segmentize("
                "ST_MakeEnvelope($1::float8, $2::float8, $3::float8, $4::float8, $5::int), "
                "GREATEST($3::float8 - $1::float8, $4::float8 - $2::float8) / 16), 4490) AS e) s",
                {std::to_string(xy[0]), std::to_string(xy[1]), std::to_string(xy[2]), std::to_string(xy[3]), std::to_string(crs.srid)});
  return {r.number(0, 0), r.number(0, 1), r.number(0, 2), r.number(0, 3)};
}

void apply_datetime(Selection& s, std::string_view text) {
  auto instant = [](std::string_view t) -> std::optional<Micros> {
    if (t.empty() || t == "..") return std::nullopt;
    auto v = parse_rfc3339(t);
    if (!v) throw bad_request("invalid_parameter", "datetime must be an RFC 3339 instant or interval start/end ('..' for open)");
    return v;
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    s.at = instant(text);
    if (!s.at) throw bad_request("invalid_parameter", "datetime must be an RFC 3339 instant or interval start/end");
    return;
  }
  auto start = instant(text.substr(0, slash));
  auto end = instant(text.substr(slash + 1));
  if (start && end && *start > *end) throw bad_request("invalid_parameter", "datetime interval ends before it starts");
  s.interval = std::make_pair(start, end);
}

}  // namespace wangge::exchange::ogc
