// /v1/session: a person signs in with a login and a password and gets a session cookie (HttpOnly,
// SameSite=Strict, Path=/) and a CSRF token for writes; GET says who is signed in (the console asks
// after a reload), DELETE signs out, PUT /v1/session/password changes the person's own password.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/params.hpp"
#include "http/router.hpp"
#include "registry/registry.hpp"

namespace wangge::registry {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

std::string text_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) throw bad_request("invalid_body", std::string("the body needs \"") + name + "\" as a string");
  return it->get<std::string>();
}

// The person as the page shows them; a grid worker's account also names its worker record, so the
// phone view opens on that worker's grids.
json person(Registry& reg, const Actor& a) {
  json p = {{"login", a.login}, {"name", a.name}, {"role", role_name(a.role)}, {"scope", a.scope ? json(*a.scope) : json(nullptr)}};
  const auto worker = a.role == Role::worker ? linked_worker(*reg.pool.acquire(), a) : std::nullopt;
  p["worker"] = worker ? json{{"id", worker->id}, {"name", worker->name}} : json(nullptr);
  return p;
}

// Secure only when the public address is https: on http://127.0.0.1 a Secure cookie would never be
// sent back and nobody could sign in.
std::string cookie(const Registry& reg, const std::string& value, long long max_age_s) {
  std::string c = std::string(kSessionCookie) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
  if (reg.config.base_url().rfind("https://", 0) == 0) c += "; Secure";
  return c;
}

std::string required_session(const Request& req) {
  auto s = session_cookie(req);
  if (!s) throw unauthorized("not signed in: no session cookie (sign in with POST /v1/session)");
  return *s;
}

}  // namespace

void add_session_routes(http::RouteTable& routes, Registry& registry) {
  Registry* r = &registry;
  routes.add("POST", "/v1/session", [r](const Request& req) {
    const json body = http::json_body(req);
    if (!body.is_object()) throw bad_request("invalid_body", "the body is {\"login\": ..., \"password\": ...}");
    r->refuse_while_backing_off(req.client);
    Session s = [&] {
      try {
        return r->accounts.sign_in(r->pool, text_field(body, "login"), text_field(body, "password"));
      } catch (const Error& e) {
        if (e.code() == "invalid_credentials") r->count_wrong_credential(req.client);
        throw;
      }
    }();
    Response res =
        http::json_response(201, json{{"user", person(*r, s.actor)}, {"csrf_token", s.csrf_token}, {"expires_at", s.expires_at}}.dump());
    res.headers.emplace_back("Set-Cookie", cookie(*r, s.token, r->accounts.session_minutes() * 60LL));
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
  });
  routes.add("GET", "/v1/session", [r](const Request& req) {
    SessionInfo s = r->accounts.describe(r->pool, required_session(req));
    Response res =
        http::json_response(200, json{{"user", person(*r, s.actor)}, {"csrf_token", s.csrf_token}, {"expires_at", s.expires_at}}.dump());
    res.headers.emplace_back("Cache-Control", "no-store");
    return res;
  });
  routes.add("DELETE", "/v1/session", [r](const Request& req) {
    const std::string session = required_session(req);
    const Actor actor = r->accounts.authenticate(r->pool, session, req.header("x-csrf-token").value_or(""));
    r->accounts.sign_out(r->pool, session, actor);
    Response res = http::empty_response(204);
    res.headers.emplace_back("Set-Cookie", cookie(*r, "", 0));
    return res;
  });
  routes.add("PUT", "/v1/session/password", [r](const Request& req) {
    const std::string session = required_session(req);
    const Actor actor = r->accounts.authenticate(r->pool, session, req.header("x-csrf-token").value_or(""));
    const json body = http::json_body(req);
    if (!body.is_object()) throw bad_request("invalid_body", "the body is {\"current_password\": ..., \"new_password\": ...}");
    r->accounts.change_password(r->pool, session, actor, text_field(body, "current_password"), text_field(body, "new_password"));
    return http::empty_response(204);
  });
}

}  // namespace wangge::registry
