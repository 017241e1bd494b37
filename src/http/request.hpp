// What a route handler sees: a request copied out of Pistache (so it can cross to a worker thread)
// and the answer it builds. No Pistache types and no capability module here: every module's routes
// include this, and src/http depends on none of them.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wangge::http {

struct Request {
  std::string method;                              // "GET", "POST", ...
  std::string path;                                // percent-decoded, without the query
  std::vector<std::string> segments;               // path split on '/', empty segments dropped
  std::map<std::string, std::string> query;        // percent-decoded
  std::map<std::string, std::string> headers;      // names lower-cased
  std::map<std::string, std::string> path_params;  // the matched pattern's {name}s; set by RouteTable
  std::string body;
  int route = -1;      // the index of the route that answers (RouteTable::handle sets it), for metrics
  std::string client;  // the peer's IP address (per-client limits such as the back-off after wrong credentials)

  std::optional<std::string> param(const std::string& name) const;
  std::optional<std::string> header(const std::string& lower_name) const;
  // A {name} of the matched route pattern; the route table guarantees the ones its pattern names.
  const std::string& path_param(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // A body too large to build whole: when set, `body` is ignored and the server sends what this
  // producer appends to `chunk` (chunked transfer encoding, bounded memory), calling it again
  // while it returns true. It runs on the request's worker thread after the handler returned, so
  // it owns (or shares) everything it reads. The status and headers are on the wire before it
  // runs: an exception it throws cuts the answer short (the client sees an incomplete body).
  std::function<bool(std::string& chunk)> stream;
};

Response json_response(int status, std::string body);
// An answer without a body (204, 304).
Response empty_response(int status);
// Problem document (RFC 9457) for any error; `extra_json` is an object merged in.
Response problem(int status, const std::string& code, const std::string& detail, const std::string& extra_json = {});

}  // namespace wangge::http
