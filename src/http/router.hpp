// The route table: each capability module registers its own (method, path pattern) -> handler
// entries at start-up; the server asks the table, never a module. Modelled on OSRM's service map:
// src/http knows requests, answers and this interface, not the modules behind it.
//
// Patterns are paths whose segments are literals ("areas"), parameters ("{code}"), parameters
// with a literal suffix ("{y}.mvt"), or a final catch-all ("{*rest}", one or more segments).
// A pattern may also require query parameters ("/v1/areas/{code}?adjust"): a redraw with
// `adjust=` is a different operation from a plain PATCH of the same path.
//
// Which route answers: first the resource, the most specific path pattern that matches, compared
// segment by segment from the left (literal > parameter with suffix > parameter > catch-all); then,
// among that resource's routes for the method, the one requiring the most query parameters that
// the request has. So no registration order matters, and two modules cannot silently take the
// same request from each other: registering the same method and pattern twice throws at start-up.
// A resource without a route for the method answers 405 with its Allow list.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.hpp"

namespace wangge::http {

// A path's segments, empty ones dropped ("/v1//areas/" -> v1, areas): how requests and patterns
// are both cut, so they compare segment by segment.
std::vector<std::string> split_path(std::string_view path);

using Handler = std::function<Response(const Request&)>;
// A handler cheap enough to run on the event loop (no database, no blocking): std::nullopt sends
// the request the usual way, to the route's worker-thread handler, which also makes every error
// answer. It sees only the query and the Authorization header (copying the rest costs more than
// such a request's work).
using InlineHandler = std::function<std::optional<Response>(const Request&)>;

class RouteTable {
 public:
  // Throws std::logic_error for a malformed pattern or a (method, pattern) registered twice.
  void add(const std::string& method, const std::string& pattern, Handler handler);
  // The event-loop fast path of an exact path (no parameters), tried before `add`'s handler.
  void add_inline(const std::string& method, const std::string& exact_path, InlineHandler handler);

  // Finds the route and runs it. Throws wangge::Error: 404 not_found when no pattern matches
  // the path, 405 method_not_allowed (with the allowed methods) when only other methods' do.
  // HEAD is served by GET routes. Sets req.path_params and req.route before calling the handler.
  Response handle(Request& req) const;
  // The inline handler for this exact method and path, or nullptr.
  const InlineHandler* inline_handler(std::string_view method, std::string_view path) const;

  // Every registered route as "METHOD pattern", sorted: for documentation and tests.
  std::vector<std::string> describe() const;

  // The routes by index, as Request::route names them (for per-route metrics).
  std::size_t size() const { return m_routes.size(); }
  const std::string& method_at(std::size_t i) const { return m_routes[i].method; }
  const std::string& pattern_at(std::size_t i) const { return m_routes[i].pattern; }
  // Inline routes' exact paths with their methods.
  std::vector<std::pair<std::string, std::string>> inline_paths() const;

 private:
  struct Segment {
    enum Kind { kCatchAll = 0, kParam = 1, kParamWithSuffix = 2, kLiteral = 3 } kind;
    std::string text;    // the literal, or the parameter's name
    std::string suffix;  // kParamWithSuffix only
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::string path;  // the pattern without its required query
    std::vector<Segment> segments;
    std::vector<std::string> required_query;
    Handler handler;
  };
  // Fills `params` (when given) with the pattern's {name}s.
  static bool matches_path(const Route& route, const Request& req, std::map<std::string, std::string>* params);
  static bool more_specific_path(const Route& a, const Route& b);

  std::vector<Route> m_routes;
  // Indexes into m_routes by the number of path segments a route takes; catch-alls apart. Every
  // request looked at every route (about 150) before; a path of n segments now looks at the
  // routes of n segments and the catch-alls only.
  std::vector<std::vector<std::size_t>> m_by_length;
  std::vector<std::size_t> m_catch_alls;
  struct Inline {
    std::string method, path;
    InlineHandler handler;
  };
  std::vector<Inline> m_inline;
};

}  // namespace wangge::http
