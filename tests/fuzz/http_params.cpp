// Query parameters and JSON bodies as http/params.hpp reads them. The first byte picks the parser;
// the rest is the client's text. Only wangge::Error (a 4xx answer) may come out of a parser.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "geom/crs.hpp"
#include "http/params.hpp"

using namespace wangge;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  http::Request req;
  try {
    switch (data[0] % 7) {
      case 0: {  // a JSON body, depth limit and NUL check included
        req.headers["content-type"] = "application/json";
        req.body = text;
        auto body = http::json_body(req);
        // What passed may be walked recursively later: its depth must be within the limit.
        if (http::json_depth(body.dump(), 64) > 64) __builtin_trap();
        (void)http::crs_text(req, &body);
        break;
      }
      case 1:
        req.query["t"] = text;
        (void)http::time_param(req, "t");
        break;
      case 2: {
        auto b = http::bbox_param(text);
        if (b[0] > b[2] || b[1] > b[3]) __builtin_trap();
        break;
      }
      case 3: {
        // Encoding then decoding gives the text back, whatever it holds.
        if (http::percent_decode(http::percent_encode(text), false) != text) __builtin_trap();
        (void)http::percent_decode(text, true);
        (void)http::valid_utf8(text);
        break;
      }
      case 4:
        req.query["crs"] = text;
        (void)geom::parse_crs(http::crs_text(req));
        break;
      case 5:
        req.query["limit"] = text;
        if (auto v = http::int_param(req, "limit", 10, 1, 1000); v < 1 || v > 1000) __builtin_trap();
        (void)http::bool_param(req, "limit", false);
        break;
      case 6:
        (void)http::json_depth(text, 64);
        break;
    }
  } catch (const Error&) {
  }
  return 0;
}
