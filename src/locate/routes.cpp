// /v1/locate: point to grid, one point (GET) or many (POST). The current moment is answered by the
// in-memory locator (src/locate) without the database; `at=` reads what the points need at that
// moment from PostGIS (locate/past.hpp).
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "crs/point_crs.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "locate/batch_csv.hpp"
#include "locate/past.hpp"
#include "locate/routes.hpp"
#include "pg/pool.hpp"

namespace wangge::locate {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

double number_param(const Request& req, const std::string& name) {
  auto v = req.param(name);
  if (!v || v->empty()) throw bad_request("invalid_parameter", name + " is required (a number)");
  double out = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || end != v->data() + v->size() || !std::isfinite(out))
    throw bad_request("invalid_parameter", name + " must be a number");
  return out;
}

Locator::View current_view(Locator& locator) {
  auto v = locator.current();
  if (!v.index) throw unavailable("locator_not_ready", "the locator is still loading the areas; retry shortly");
  return v;
}

// Collects [x, y] pairs from a JSON array of positions without building a document: a batch of a
// million points would otherwise cost ~100 bytes of DOM per number.
class PairCollector : public json::json_sax_t {
 public:
  PairCollector(std::vector<double>& out, std::size_t max_points) : m_out(out), m_max_points(max_points) {}
  bool null() override { return fail("positions are numbers, not null"); }
  bool boolean(bool) override { return fail("positions are numbers, not booleans"); }
  bool number_integer(json::number_integer_t v) override { return number(static_cast<double>(v)); }
  bool number_unsigned(json::number_unsigned_t v) override { return number(static_cast<double>(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) override { return number(v); }
  bool string(json::string_t&) override { return fail("positions are numbers, not strings"); }
  bool binary(json::binary_t&) override { return fail("unexpected binary value"); }
  bool start_object(std::size_t) override { return fail("an array of positions holds arrays, not objects"); }
  bool key(json::string_t&) override { return false; }
  bool end_object() override { return false; }
  bool start_array(std::size_t) override {
    if (++m_depth > 2) return fail("a position is [lon, lat]");
    m_in_pair = 0;
    return true;
  }
  bool end_array() override {
    if (m_depth == 2 && m_in_pair < 2) return fail("a position needs two numbers, [lon, lat]");
    --m_depth;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) override {
    m_error = "the body is not valid JSON (at byte " + std::to_string(position) + ")";
    m_malformed = true;
    return false;
  }
  const std::string& error() const { return m_error; }
  bool malformed() const { return m_malformed; }

 private:
  bool number(double v) {
    if (m_depth != 2) return fail("an array of positions holds [lon, lat] arrays");
    if (m_in_pair == 0) check_batch_size(m_out, m_max_points);
    if (m_in_pair < 2) m_out.push_back(v);  // a third value (height) is ignored
    ++m_in_pair;
    return true;
  }
  bool fail(std::string why) {
    if (m_error.empty()) m_error = "point " + std::to_string(m_out.size() / 2) + ": " + why;
    return false;
  }
  std::vector<double>& m_out;
  const std::size_t m_max_points;
  int m_depth = 0;
  int m_in_pair = 0;
  std::string m_error;
  bool m_malformed = false;
};

void add_position(const json& pos, std::vector<double>& out, std::size_t max_points) {
  check_batch_size(out, max_points);
  if (!pos.is_array() || pos.size() < 2 || !pos[0].is_number() || !pos[1].is_number())
    throw bad_request("invalid_batch", "point " + std::to_string(out.size() / 2) + ": a position is [lon, lat]");
  out.push_back(pos[0].get<double>());
  out.push_back(pos[1].get<double>());
}

void add_geometry(const json& g, std::vector<double>& out, std::size_t max_points) {
  if (!g.is_object() || !g.contains("type") || !g.contains("coordinates") || !g["coordinates"].is_array())
    throw bad_request("invalid_batch", "a batch geometry is a GeoJSON Point or MultiPoint");
  if (g["type"] == "Point") {
    add_position(g["coordinates"], out, max_points);
  } else if (g["type"] == "MultiPoint") {
    for (const auto& p : g["coordinates"]) add_position(p, out, max_points);
  } else {
    throw bad_request("invalid_batch", "a batch geometry is a GeoJSON Point or MultiPoint");
  }
}

// The batch body as x0, y0, x1, y1, ...: a JSON array of [lon, lat], GeoJSON (FeatureCollection,
// Feature, MultiPoint or Point) or text/csv lines "lon,lat" (an optional header line is skipped).
std::vector<double> batch_points(const Request& req, std::size_t max_points) {
  std::string media = req.header("content-type").value_or("");
  media = media.substr(0, media.find(';'));
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  std::vector<double> out;
  if (media == "text/csv") return csv_points(req.body, max_points);
  if (media != "application/json" && media != "application/geo+json")
    throw Error(415, "unsupported_media_type", "send the points as application/json, application/geo+json or text/csv");
  std::size_t first = req.body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && req.body[first] == '[') {
    PairCollector sax(out, max_points);
    if (!json::sax_parse(req.body, &sax)) {
      if (sax.malformed()) throw bad_request("malformed_json", sax.error());
      throw bad_request("invalid_batch", sax.error().empty() ? "the body is not an array of [lon, lat]" : sax.error());
    }
    return out;
  }
  json doc = http::json_body(req);
  if (!doc.is_object() || !doc.contains("type"))
    throw bad_request("invalid_batch", "send an array of [lon, lat], a GeoJSON FeatureCollection or MultiPoint, or CSV");
  if (doc["type"] == "FeatureCollection") {
    if (!doc.contains("features") || !doc["features"].is_array())
      throw bad_request("invalid_batch", "a FeatureCollection needs a features array");
    for (const auto& f : doc["features"]) {
      if (!f.is_object() || !f.contains("geometry")) throw bad_request("invalid_batch", "a feature needs a geometry");
      add_geometry(f["geometry"], out, max_points);
    }
  } else if (doc["type"] == "Feature") {
    add_geometry(doc.value("geometry", json()), out, max_points);
  } else {
    add_geometry(doc, out, max_points);
  }
  return out;
}

// What a scoped token may see of an answer: all of it when its deepest area (micro-grid, grid, or
// the administrative area of a fallback) lies in the scope, as /v1/areas would show that area;
// nothing of it otherwise, since the hierarchy and the workers would name areas and people the
// token is refused everywhere else. An answer that names no area is visible to everyone.
bool visible(const LocateIndex& index, const Location& loc, const registry::Actor& actor) {
  if (!actor.scope) return true;
  const std::int32_t leaf = loc.microgrid >= 0 ? loc.microgrid : loc.grid >= 0 ? loc.grid : loc.admin;
  return leaf < 0 || actor.covers(index.area(leaf).code);
}

Response locate_one(registry::Registry& reg, Locator& locator, const Request& req, const registry::Actor& actor) {
  const double x = number_param(req, "lon"), y = number_param(req, "lat");
  const auto crs = crs::parse_point_crs(http::crs_text(req));
  const auto at = http::time_param(req, "at");
  const auto p = crs::to_storage(crs, x, y);
  const Pt pt{p.lon, p.lat};
  std::string body;
  body.reserve(1024);  // an answer is about 750 bytes
  if (at) {
    // One short query: no place at the cost gate.
    const PastAnswers past = PastAnswers::read(*reg.pool.acquire(), *at, &pt, 1, locator.options());
    const Location loc = past.locate(0);
    if (!visible(past.index(), loc, actor))
      throw forbidden("outside_scope", "the point lies in an area outside this token's scope " + actor.scope.value_or(""));
    past.index().append_json(loc, pt, &past.workers(), body);
    return http::json_response(200, std::move(body));
  }
  auto view = current_view(locator);
  const Location loc = view.index->locate(pt);
  if (!visible(*view.index, loc, actor))
    throw forbidden("outside_scope", "the point lies in an area outside this token's scope " + actor.scope.value_or(""));
  view.index->append_json(loc, pt, view.workers.get(), body);
  return http::json_response(200, std::move(body));
}

// One result of a batch: the answer, or for a scoped token and a point outside its scope the
// answer of a point in no area, marked (the point's place in the batch stays, since clients match
// results by position; its areas and workers do not).
void append_batch_result(const LocateIndex& index, const Location& loc, Pt pt, const WorkerDirectory* workers,
                         const std::optional<registry::Actor>& scoped, std::string& out) {
  if (scoped && !visible(index, loc, *scoped)) {
    index.append_json(Location{}, pt, nullptr, out);
    out.pop_back();
    out += ",\"outside_scope\":true}";
  } else {
    index.append_json(loc, pt, workers, out);
  }
}

Response locate_batch(registry::Registry& reg, Locator& locator, const Request& req, const registry::Actor& actor) {
  const auto crs = crs::parse_point_crs(http::crs_text(req));
  std::vector<double> xy = batch_points(req, reg.config.max_batch_points);
  const auto at = http::time_param(req, "at");
  std::optional<Locator::View> view;
  if (!at) view = current_view(locator);
  const std::size_t n = xy.size() / 2;
  // Every point is converted first so a bad one fails the request before any output is made.
  std::vector<Pt> pts(n);
  for (std::size_t i = 0; i < n; ++i) {
    try {
      const auto p = crs::to_storage(crs, xy[2 * i], xy[2 * i + 1]);
      pts[i] = {p.lon, p.lat};
    } catch (const bad_request& e) {
      throw bad_request(e.code(), "point " + std::to_string(i) + ": " + e.what(), "{\"index\":" + std::to_string(i) + "}");
    }
  }
  xy = {};
  // One result per line, so a client can read the answer line by line; streamed in chunks of
  // kChunkPoints results as they are made (http/chunked.hpp), so a million points never become
  // one 500 MB string. Each chunk is located in one locate_many call (prefetched lookups), or for
  // `at=` read with one query (so what a past moment costs in memory is bounded by a chunk).
  constexpr std::size_t kChunkPoints = 1000;
  auto points = std::make_shared<const std::vector<Pt>>(std::move(pts));
  auto next = std::make_shared<std::size_t>(0);
  Response res;
  const std::optional<registry::Actor> scoped = actor.scope ? std::optional(actor) : std::nullopt;
  if (at) {
    // The stream runs on this worker after the handler returns: it keeps the connection, and a
    // batch of several queries a place at the cost gate, until its last chunk. The first chunk is
    // read here, so a failing query still answers a problem rather than a cut stream.
    std::shared_ptr<http::CostGate::Pass> pass;
    if (n > kChunkPoints) pass = std::make_shared<http::CostGate::Pass>(reg.expensive.enter("the historical locate"));
    auto conn = std::make_shared<pg::Lease>(reg.pool.acquire());
    const Options options = locator.options();
    auto chunk = std::make_shared<PastAnswers>(PastAnswers::read(**conn, *at, points->data(), std::min(n, kChunkPoints), options));
    res.stream = [pass, conn, chunk, points, next, n, scoped, when = *at, options](std::string& out) {
      std::size_t& i = *next;
      if (i == 0) out += "{\"results\":[\n";
      const std::size_t begin = i, end = std::min(n, i + kChunkPoints);
      if (begin > 0) *chunk = PastAnswers::read(**conn, when, points->data() + begin, end - begin, options);
      out.reserve(out.size() + (end - i) * 480 + 8);
      for (; i < end; ++i) {
        append_batch_result(chunk->index(), chunk->locate(i - begin), (*points)[i], &chunk->workers(), scoped, out);
        if (i + 1 < n) out += ',';
        out += '\n';
      }
      if (i < n) return true;
      out += "]}\n";
      return false;
    };
    return res;
  }
  auto found = std::make_shared<std::vector<Location>>(kChunkPoints);
  res.stream = [view = *view, points, next, found, n, scoped](std::string& out) {
    std::size_t& i = *next;
    if (i == 0) out += "{\"results\":[\n";
    const std::size_t begin = i, end = std::min(n, i + kChunkPoints);
    out.reserve(out.size() + (end - i) * 480 + 8);
    view.index->locate_many(points->data() + begin, end - begin, found->data());
    for (; i < end; ++i) {
      append_batch_result(*view.index, (*found)[i - begin], (*points)[i], view.workers.get(), scoped, out);
      if (i + 1 < n) out += ',';
      out += '\n';
    }
    if (i < n) return true;
    out += "]}\n";
    return false;
  };
  return res;
}

}  // namespace

void add_routes(http::RouteTable& routes, registry::Registry& reg, Locator& locator) {
  registry::Registry* r = &reg;
  Locator* l = &locator;
  // The current moment with a token in the cache and valid parameters needs neither the database
  // nor a worker: answered on the event loop, since handing a microsecond of work to a worker
  // thread and back costs more than the work. Anything else (at=, an unknown token, a bad
  // parameter, not ready) takes the usual way, which also makes every error answer.
  routes.add_inline("GET", "/v1/locate", [r, l](const Request& req) -> std::optional<Response> {
    if (!req.body.empty() || req.query.count("at") != 0) return std::nullopt;
    // What dispatch() checks before any route: leave anything unusual to it.
    if (!http::valid_utf8(req.path)) return std::nullopt;
    for (const auto& [k, v] : req.query)
      if (!http::valid_utf8(k) || !http::valid_utf8(v)) return std::nullopt;
    try {
      // A fresh cache answer: authenticate() below answers from the same cache, without the database.
      if (!r->authenticated_in_cache(req)) return std::nullopt;
      return locate_one(*r, *l, req, r->authenticate(req));
    } catch (const std::exception&) {  // bad parameters, not ready, outside the scope: the worker path answers the problem
      return std::nullopt;
    }
  });
  routes.add("GET", "/v1/locate", [r, l](const Request& req) { return locate_one(*r, *l, req, r->authenticate(req)); });
  routes.add("POST", "/v1/locate", [r, l](const Request& req) { return locate_batch(*r, *l, req, r->authenticate(req)); });
}

}  // namespace wangge::locate
