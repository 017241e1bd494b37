// Bearer tokens, roles and scopes. A token acts only inside the subtree of its scope area.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pg/pool.hpp"

namespace wangge::registry {

enum class Role { admin, manager, dispatcher, analyst, worker, viewer };
std::optional<Role> parse_role(std::string_view name);
const char* role_name(Role role);

// Who is making a request.
struct Actor {
  long long token_id = 0;  // the API token, or 0 for a person's session
  long long user_id = 0;   // the person signed in (accounts.hpp), or 0 for a token
  std::string login;       // the person's login; empty for a token
  Role role = Role::viewer;
  std::optional<std::string> scope;  // std::nullopt: the whole registry
  std::string name;

  // "admin#1 (ops desk)" for a token, "zhangsan (张三)" for a person: what history and the audit
  // log record as the author of a change.
  std::string label() const;
  bool covers(std::string_view code) const;
  bool may_edit_areas() const { return role == Role::admin || role == Role::manager; }
  // Throws forbidden when the role may not edit or the code lies outside the scope.
  void require_edit(std::string_view code) const;
  // The role check alone, before a request body is even looked at.
  void require_edit_role() const;
  void require_read(std::string_view code) const;
};

struct NewToken {
  std::string token;  // shown once; only its hash is stored
  long long id;
};

std::string sha256_hex(std::string_view data);
NewToken create_token(pg::Connection& conn, Role role, const std::optional<std::string>& scope, const std::string& name);
bool any_token_exists(pg::Connection& conn);

// What an operator may see of the tokens: never the token itself (only its hash is stored).
struct TokenInfo {
  long long id = 0;
  std::string role, scope, name, created_at, revoked_at;  // scope, revoked_at: empty for none
};
std::vector<TokenInfo> list_tokens(pg::Connection& conn);
// Revokes the current tokens with these ids and/or this name (one statement, audited as
// token.revoke by `by`); returns the ids revoked. Servers stop accepting them within their token
// cache's lifetime (TokenCache, 10 s).
std::vector<long long> revoke_tokens(pg::Connection& conn, const std::vector<long long>& ids, const std::optional<std::string>& name,
                                     const std::string& by);

// Resolves tokens to actors, remembering answers for a short time so a busy server does not ask the
// database on every request. Revocations take effect within `ttl`.
class TokenCache {
 public:
  explicit TokenCache(std::chrono::seconds ttl = std::chrono::seconds(10));
  // Throws unauthorized for an unknown or revoked token.
  Actor authenticate(pg::Pool& pool, const std::string& token);
  // True when a fresh answer in the cache says the token is valid; never asks the database.
  bool valid_in_cache(const std::string& token);

 private:
  struct Entry {
    std::optional<Actor> actor;
    std::chrono::steady_clock::time_point expires;
  };
  std::chrono::seconds m_ttl;
  const unsigned long long m_instance;  // tells this cache's entries apart in valid_in_cache's thread memo
  std::mutex m_mutex;
  std::map<std::string, Entry> m_entries;  // by token hash
};

}  // namespace wangge::registry
