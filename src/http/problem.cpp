#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/context.hpp"

namespace wangge::http {

std::optional<std::string> Request::param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

namespace {
const char* title_of(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
  }
}
}  // namespace

Response problem(int status, const std::string& code, const std::string& detail, const std::string& extra_json) {
  nlohmann::json doc = {{"type", "/api/errors#" + code}, {"title", title_of(status)}, {"status", status},
                        {"detail", detail},             {"code", code}};
  if (!extra_json.empty()) {
    auto extra = nlohmann::json::parse(extra_json, nullptr, false);
    if (extra.is_object())
      for (auto it = extra.begin(); it != extra.end(); ++it)
        if (!doc.contains(it.key())) doc[it.key()] = it.value();
  }
  Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = doc.dump();
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"wangge\"");
  return r;
}

namespace {

// The token of an "Authorization: Bearer <token>" header; throws unauthorized for anything else.
std::string bearer_token(const Request& req) {
  auto h = req.header("authorization");
  if (!h) throw unauthorized("this endpoint needs a bearer token (Authorization: Bearer <token>)");
  const std::string prefix = "Bearer ";
  if (h->size() <= prefix.size() || (h->compare(0, prefix.size(), prefix) != 0 && h->compare(0, prefix.size(), "bearer ") != 0))
    throw unauthorized("the Authorization header must be 'Bearer <token>'");
  std::string token = h->substr(prefix.size());
  while (!token.empty() && token.front() == ' ') token.erase(token.begin());
  while (!token.empty() && token.back() == ' ') token.pop_back();
  if (token.empty() || token.size() > 200) throw unauthorized("the bearer token is not valid");
  return token;
}

}  // namespace

registry::Actor authenticate(App& app, const Request& req) { return app.tokens.authenticate(app.pool, bearer_token(req)); }

bool authenticated_in_cache(App& app, const Request& req) {
  try {
    return app.tokens.valid_in_cache(bearer_token(req));
  } catch (const unauthorized&) {
    return false;
  }
}

}  // namespace wangge::http
