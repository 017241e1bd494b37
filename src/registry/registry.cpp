#include "registry/registry.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "registry/audit.hpp"

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

// RFC 4648 base64 (with or without padding); std::nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  if (count >= 6) return std::nullopt;  // a dangling character
  return out;
}

// The token of an "Authorization: Basic base64(user:token)" header: GIS clients (QGIS's Basic
// authentication, GDAL_HTTP_AUTH=BASIC) can send a user name and a password but not a bearer
// token, so the token is the password and the user name is ignored.
std::string basic_password(const std::string& header) {
  auto decoded = base64_decode(std::string_view(header).substr(6));
  if (!decoded) throw unauthorized("the Authorization header must be 'Basic base64(user:token)'");
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) throw unauthorized("the Basic credentials must be user:token");
  std::string token = decoded->substr(colon + 1);
  if (token.empty() || token.size() > 200) throw unauthorized("the token (the Basic password) is not valid");
  return token;
}

bool is_basic(const std::string& header) {
  return header.size() > 6 && (header.compare(0, 6, "Basic ") == 0 || header.compare(0, 6, "basic ") == 0);
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
  const auto authorization = req.header("authorization");
  const auto session = authorization ? std::nullopt : session_cookie(req);
  if (!authorization && !session)
    throw unauthorized(
        "sign in (POST /v1/session) or send a token (Authorization: Bearer <token>, or Basic with the token as the password)");
  refuse_while_backing_off(req.client);
  try {
    Actor actor;
    if (authorization) {
      actor = tokens.authenticate(pool, is_basic(*authorization) ? basic_password(*authorization) : bearer_token(req));
    } else {
      std::optional<std::string> csrf;
      if (changes_something(req.method)) csrf = req.header("x-csrf-token").value_or("");
      actor = accounts.authenticate(pool, *session, csrf);
    }
    return actor;
  } catch (const Error& e) {
    // A wrong credential is a guess; an expired session or a missing CSRF token is not.
    if (e.code() == "unauthorized") count_wrong_credential(req.client);
    throw;
  }
}

void Registry::refuse_while_backing_off(const std::string& client) {
  if (const long long wait = throttle.wait_seconds(client); wait > 0)
    throw Error(429, "too_many_failures", "too many wrong credentials from this address; try again in " + std::to_string(wait) + " s",
                "{\"retry_after\":" + std::to_string(wait) + "}");
}

void Registry::count_wrong_credential(const std::string& client) {
  if (!throttle.failed(client)) return;
  // Audited once per back-off, not per guess: guessing must not be able to flood the audit log.
  try {
    auto conn = pool.acquire();
    audit::record(*conn, "client " + client, "auth.back_off",
                  {"client", client, std::nullopt, std::nullopt, {{"failures", throttle.failures(client)}}});
  } catch (const std::exception& e) {
    log::warn(std::string("could not audit a back-off: ") + e.what());
  }
  log::warn("wrong credentials from " + client + ": backing off");
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
