// The route table with the real route patterns (copied from the modules' registrations) against
// any method, path and query. A request either reaches a handler with every {name} of its pattern
// set, or is answered 404/405 (wangge::Error); the table never throws anything else.
#include <cstdint>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "http/params.hpp"
#include "http/router.hpp"

using namespace wangge;

namespace {

const char* const kRoutes[][2] = {
    {"DELETE", "/v1/areas/{code}"},
    {"DELETE", "/v1/checkpoints/{id}"},
    {"GET", "/"},
    {"GET", "/api"},
    {"GET", "/api/errors"},
    {"GET", "/fonts/{stack}/{range}"},
    {"GET", "/health"},
    {"GET", "/ogc"},
    {"GET", "/ogc/api"},
    {"GET", "/ogc/collections"},
    {"GET", "/ogc/collections/{collection}"},
    {"GET", "/ogc/collections/{collection}/items"},
    {"GET", "/ogc/collections/{collection}/items/{fid}"},
    {"GET", "/ogc/conformance"},
    {"GET", "/style.json"},
    {"GET", "/tiles/{layers}.json"},
    {"GET", "/tiles/{layers}/{z}/{x}/{y}.mvt"},
    {"GET", "/tiles/{layers}/{z}/{x}/{y}.pbf"},
    {"GET", "/tiles/{layers}/{z}/{x}/{y}"},
    {"GET", "/v1/areas"},
    {"GET", "/v1/areas/{code}"},
    {"GET", "/v1/areas/{code}/children"},
    {"GET", "/v1/areas/{code}/coverage"},
    {"GET", "/v1/areas/{code}/history"},
    {"GET", "/v1/areas/{code}/lineage"},
    {"GET", "/v1/areas/{code}/workers"},
    {"GET", "/v1/checkpoints"},
    {"GET", "/v1/checkpoints/{id}"},
    {"GET", "/v1/checkpoints/{id}/visits"},
    {"GET", "/v1/dispatch/nearest-workers"},
    {"GET", "/v1/export"},
    {"GET", "/v1/incidents"},
    {"GET", "/v1/incidents/{id}"},
    {"GET", "/v1/locate"},
    {"GET", "/v1/patrol/due"},
    {"GET", "/v1/route"},
    {"GET", "/v1/workers/{id}"},
    {"GET", "/vendor/{*rest}"},
    {"PATCH", "/v1/areas/{code}"},
    {"PATCH", "/v1/areas/{code}?adjust"},
    {"PATCH", "/v1/areas/{code}?dry_run"},
    {"PATCH", "/v1/checkpoints/{id}"},
    {"PATCH", "/v1/incidents/{id}"},
    {"POST", "/v1/areas"},
    {"POST", "/v1/areas/merge"},
    {"POST", "/v1/areas/{code}/reparent"},
    {"POST", "/v1/areas/{code}/split"},
    {"POST", "/v1/checkpoints"},
    {"POST", "/v1/checkpoints/{id}/visits"},
    {"POST", "/v1/import"},
    {"POST", "/v1/incidents"},
    {"POST", "/v1/locate"},
    {"POST", "/v1/patrol/coverage"},
    {"POST", "/v1/patrol/tour"},
    {"POST", "/v1/route/matrix"},
    {"POST", "/v1/workers"},
    {"POST", "/v1/workers/{id}/position"},
    {"PUT", "/v1/areas/{code}/children"},
    {"PUT", "/v1/areas/{code}/workers"},
};
const char* const kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"};

// The names of a pattern's {parameters}.
std::vector<std::string> param_names(std::string_view pattern) {
  std::vector<std::string> out;
  for (std::size_t at = pattern.find('{'); at != std::string_view::npos; at = pattern.find('{', at + 1)) {
    std::size_t end = pattern.find('}', at);
    std::string name(pattern.substr(at + 1, end - at - 1));
    if (!name.empty() && name[0] == '*') name.erase(0, 1);
    out.push_back(name);
  }
  return out;
}

const http::RouteTable& table() {
  static const http::RouteTable t = [] {
    http::RouteTable t;
    for (const auto& r : kRoutes) {
      const std::string pattern = r[1];
      t.add(r[0], pattern, [pattern](const http::Request& req) {
        for (const auto& name : param_names(pattern.substr(0, pattern.find('?'))))
          if (req.path_params.find(name) == req.path_params.end()) __builtin_trap();
        return http::json_response(200, pattern);
      });
    }
    t.add_inline("GET", "/v1/locate", [](const http::Request&) { return std::nullopt; });
    return t;
  }();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  http::Request req;
  req.method = kMethods[data[0] % 8];
  const std::string_view target(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto q = target.find('?');
  // As the server builds a request: the path percent-decoded, split on '/', the query decoded.
  req.path = http::percent_decode(target.substr(0, q), false);
  for (std::size_t i = 0; i < req.path.size();) {
    std::size_t j = req.path.find('/', i);
    if (j == std::string::npos) j = req.path.size();
    if (j > i) req.segments.push_back(req.path.substr(i, j - i));
    i = j + 1;
  }
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      auto amp = query.find('&');
      auto item = query.substr(0, amp);
      auto eq = item.find('=');
      req.query[http::percent_decode(item.substr(0, eq), true)] =
          eq == std::string_view::npos ? "" : http::percent_decode(item.substr(eq + 1), true);
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  (void)table().inline_handler(req.method, req.path);
  try {
    (void)table().handle(req);
  } catch (const Error& e) {
    if (e.status() != 404 && e.status() != 405) __builtin_trap();
  }
  return 0;
}
