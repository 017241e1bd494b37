#include "registry/registry.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

namespace wangge::registry {
namespace {

// The token of an "Authorization: Bearer <token>" header; throws unauthorized for anything else.
std::string bearer_token(const http::Request& req) {
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

bool changes_something(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

}  // namespace

std::optional<std::string> session_cookie(const http::Request& req) {
  auto h = req.header("cookie");
  if (!h) return std::nullopt;
  // "a=1; wangge_session=ws_...; b=2"
  const std::string name = std::string(kSessionCookie) + "=";
  std::size_t at = 0;
  while (at < h->size()) {
    while (at < h->size() && (*h)[at] == ' ') ++at;
    std::size_t end = h->find(';', at);
    if (end == std::string::npos) end = h->size();
    if (h->compare(at, name.size(), name) == 0) return h->substr(at + name.size(), end - at - name.size());
    at = end + 1;
  }
  return std::nullopt;
}

Actor Registry::authenticate(const http::Request& req) {
  if (req.header("authorization")) return tokens.authenticate(pool, bearer_token(req));
  if (auto session = session_cookie(req)) {
    std::optional<std::string> csrf;
    if (changes_something(req.method)) csrf = req.header("x-csrf-token").value_or("");
    return accounts.authenticate(pool, *session, csrf);
  }
  throw unauthorized("sign in (POST /v1/session) or send a bearer token (Authorization: Bearer <token>)");
}

bool Registry::authenticated_in_cache(const http::Request& req) {
  try {
    return tokens.valid_in_cache(bearer_token(req));
  } catch (const unauthorized&) {
    return false;
  }
}

void Registry::after_write(pg::Connection& conn, const std::vector<std::string>& codes) {
  if (codes.empty()) return;
  try {
    cache.refresh(conn, codes, false);
  } catch (const std::exception& e) {
    log::warn(std::string("area cache refresh after a write failed: ") + e.what());
    return;
  }
  // Small registries rebuild in milliseconds and the writer then sees its change everywhere
  // (locate, tiles) in its next request; big ones keep rebuilding after the answer has gone.
  cache.wait_for_subscribers(codes, std::chrono::milliseconds(2000));
}

std::optional<std::string> Registry::current_geometry_wkb(pg::Connection& conn, const std::string& code) {
  auto r = conn.exec("registry.current_geometry", "SELECT encode(ST_AsBinary(geom), 'hex') FROM areas WHERE code = $1 AND valid_to IS NULL",
                     {code});
  if (r.rows() == 0) return std::nullopt;
  return r.str(0, 0);
}

}  // namespace wangge::registry
