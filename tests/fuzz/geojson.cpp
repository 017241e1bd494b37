// GeoJSON geometry as a request body carries it: parsed as json_body does (depth limit first), then
// the structural checks of geom/geojson.hpp. Only wangge::Error may come out.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"
#include "geom/geojson.hpp"
#include "http/params.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wangge::http::Request req;
  req.headers["content-type"] = "application/geo+json";
  req.body.assign(reinterpret_cast<const char*>(data), size);
  try {
    const auto body = wangge::http::json_body(req);
    const auto& geometry = body.is_object() && body.contains("geometry") ? body["geometry"] : body;
    const std::string text = wangge::geom::checked_polygonal(geometry);
    // What passed is compact JSON that parses again.
    (void)nlohmann::json::parse(text);
  } catch (const wangge::Error&) {
  }
  return 0;
}
