// People's accounts and their browser sessions. A person signs in with a login and a password
// (stored only as an argon2id hash) and gets a session: a random value in an HttpOnly,
// SameSite=Strict cookie, plus a CSRF token that the page sends back as X-CSRF-Token on every write.
// A session acts with its person's role and area scope, exactly as an API token does, and every
// change it makes is audited under the person's login and name. API tokens (auth.hpp) stay for
// machines.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "http/gate.hpp"
#include "pg/pool.hpp"
#include "registry/auth.hpp"

namespace wangge::registry {

// argon2id (libsodium's crypto_pwhash, "interactive" cost: 64 MiB and about 0.1 s of one core).
std::string hash_password(std::string_view password);
bool password_matches(const std::string& stored_hash, std::string_view password);
// At least 8 characters, at most 128 bytes (longer ones only cost hashing time); throws 422
// `weak_password` otherwise.
void check_password_rules(std::string_view password);
// 16 characters from an alphabet without look-alikes (0/O, 1/l/I): about 80 bits.
std::string generate_password();

struct NewUser {
  std::string login;  // lower-case letters, digits, . _ -; 2 to 64 characters
  std::string name;   // the person's name as the audit log shows it, e.g. 张三
  Role role = Role::viewer;
  std::optional<std::string> scope;  // a current area's code; std::nullopt: the whole registry
  std::optional<long long> worker;   // the worker record of a grid worker's account (role worker only)
};

struct UserInfo {
  long long id = 0;
  std::string login, name, role, scope, created_at, disabled_at, locked_until;  // empty for none
  std::string worker;                                                           // the linked worker's id, empty for none
};

// The worker record an account stands for, and its name (GET /v1/session shows it).
struct LinkedWorker {
  long long id = 0;
  std::string name;
};

enum class AccountState { enabled, disabled };

// Operator actions (the `wangge user` command). Each is one transaction with its audit row, `by`
// being who did it. Changing a password or disabling an account ends the account's sessions.
long long create_user(pg::Connection& conn, const NewUser& user, std::string_view password, const std::string& by);
void set_password(pg::Connection& conn, const std::string& login, std::string_view password, const std::string& by);
void set_account_state(pg::Connection& conn, const std::string& login, AccountState state, const std::string& by);
std::vector<UserInfo> list_users(pg::Connection& conn);
// Links a grid worker's account to a worker record (std::nullopt unlinks). Refuses an account whose
// role is not worker (422 `not_a_worker_account`), an unknown worker (422 `unknown_worker`) and a
// worker already linked to another account (409 `worker_taken`).
void link_worker(pg::Connection& conn, const std::string& login, std::optional<long long> worker, const std::string& by);
// The worker record a person's account is linked to; std::nullopt for tokens and unlinked accounts.
std::optional<LinkedWorker> linked_worker(pg::Connection& conn, const Actor& actor);
// For writes a grid worker makes about a worker (a visit, a position): a linked worker account may
// act only as its own worker (403 `not_own_worker`). Returns the linked worker's id, if any, so a
// visit without a worker can be credited to it.
std::optional<long long> require_own_worker(pg::Connection& conn, const Actor& actor, std::optional<long long> worker);

// What sign-in gives the page. The cookie carries `token`; the page keeps `csrf_token`.
struct Session {
  std::string token;
  std::string csrf_token;
  std::string expires_at;  // RFC 3339, UTC
  Actor actor;
};

// What a session cookie stands for (GET /v1/session).
struct SessionInfo {
  Actor actor;
  std::string csrf_token;
  std::string expires_at;
};

class Accounts {
 public:
  explicit Accounts(const Config& config);

  // Signs a person in: refuses a locked account (429 `account_locked` with the seconds left), a
  // wrong login or password (401 `invalid_credentials`, the same answer for both so logins cannot be
  // probed; the failures counted towards the lock) and a disabled account (403 `account_disabled`,
  // only after the right password). Hashing is bounded: at most two run at once, more get 503 busy.
  Session sign_in(pg::Pool& pool, const std::string& login, std::string_view password);

  // The person behind a session cookie's value. For a request that changes something,
  // `csrf_token` must be the session's (403 `csrf_failed` otherwise; the page sends it as
  // X-CSRF-Token); pass std::nullopt for reads. Throws 401 `session_expired` for a session that
  // ended or expired, unauthorized for an unknown one.
  Actor authenticate(pg::Pool& pool, const std::string& session_token, const std::optional<std::string>& csrf_token);
  SessionInfo describe(pg::Pool& pool, const std::string& session_token);

  // Ends the session (logout). Other processes stop accepting it within their cache's 10 s.
  void sign_out(pg::Pool& pool, const std::string& session_token, const Actor& actor);
  // The person changes their own password; their other sessions end, this one stays.
  void change_password(pg::Pool& pool, const std::string& session_token, const Actor& actor, std::string_view current_password,
                       std::string_view new_password);

  int session_minutes() const { return m_session_minutes; }

 private:
  struct Resolved {
    Actor actor;
    std::string csrf_token;
    std::string expires_at;
    std::chrono::system_clock::time_point expires;
  };
  struct Entry {
    std::optional<Resolved> session;  // std::nullopt: unknown, ended or expired
    bool expired = false;             // known but ended or past its expiry
    std::chrono::steady_clock::time_point cached_until;
  };
  Resolved resolve(pg::Pool& pool, const std::string& session_token);
  void forget(const std::string& session_token);

  const int m_session_minutes;
  const int m_max_failures;
  const int m_lock_minutes;
  http::CostGate m_hashing{2};
  std::mutex m_mutex;
  std::map<std::string, Entry> m_cache;  // by the hash of the session value
};

}  // namespace wangge::registry
