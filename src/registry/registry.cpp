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

}  // namespace

Actor Registry::authenticate(const http::Request& req) { return tokens.authenticate(pool, bearer_token(req)); }

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
    cache.refresh(conn, codes, AreaCache::Subscribers::leave_to_listener);
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
