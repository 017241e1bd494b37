#include "registry/accounts.hpp"

#include <sodium.h>

#include <regex>
#include <stdexcept>

#include "core/error.hpp"
#include "registry/audit.hpp"
#include "registry/codes.hpp"
#include "registry/queries.hpp"

namespace wangge::registry {
namespace {

// libsodium must be initialised once before use; sodium_init() is safe to call from many threads.
void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium could not be initialised");
}

std::string random_hex(std::size_t bytes) {
  ensure_sodium();
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

constexpr std::size_t kMaxPasswordBytes = 128;
constexpr const char* kTime = "YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"";

std::string utc(const std::string& column) { return "to_char(" + column + " AT TIME ZONE 'UTC', '" + kTime + "')"; }

void check_login(const std::string& login) {
  static const std::regex pattern("^[a-z0-9][a-z0-9._-]{1,63}$");
  if (!std::regex_match(login, pattern))
    throw unprocessable("invalid_login", "a login is 2 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");
}

// A hash that no password produces quickly, checked when the login is unknown so that the answer
// takes as long as for a known login (the timing would otherwise tell which logins exist).
const std::string& decoy_hash() {
  static const std::string hash = hash_password(random_hex(16));
  return hash;
}

Error invalid_credentials() { return Error(401, "invalid_credentials", "the login or the password is wrong"); }
Error session_expired() { return Error(401, "session_expired", "the session has ended or expired; sign in again"); }

// Ends every open session of the user (but `except_hash`'s), on the caller's transaction.
void end_sessions(pg::Connection& conn, long long user_id, const std::string& except_hash = {}) {
  conn.exec("accounts.end_sessions",
            "UPDATE user_sessions SET ended_at = clock_timestamp() WHERE user_id = $1 AND ended_at IS NULL AND token_hash <> $2",
            {std::to_string(user_id), except_hash});
}

}  // namespace

std::string hash_password(std::string_view password) {
  ensure_sodium();
  char out[crypto_pwhash_argon2id_STRBYTES];
  if (crypto_pwhash_argon2id_str(out, password.data(), password.size(), crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) != 0)
    throw std::runtime_error("password hashing ran out of memory");
  return out;
}

bool password_matches(const std::string& stored_hash, std::string_view password) {
  ensure_sodium();
  return crypto_pwhash_argon2id_str_verify(stored_hash.c_str(), password.data(), password.size()) == 0;
}

void check_password_rules(std::string_view password) {
  std::size_t characters = 0;
  for (unsigned char c : password)
    if ((c & 0xC0) != 0x80) ++characters;  // count UTF-8 characters, not bytes
  if (characters < 8) throw unprocessable("weak_password", "a password has at least 8 characters");
  if (password.size() > kMaxPasswordBytes)
    throw unprocessable("weak_password", "a password has at most " + std::to_string(kMaxPasswordBytes) + " bytes");
}

std::string generate_password() {
  ensure_sodium();
  static constexpr char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out;
  for (int i = 0; i < 16; ++i) out += alphabet[randombytes_uniform(sizeof alphabet - 1)];
  return out;
}

namespace {

// Inside the caller's transaction: links the account `login` to worker `worker`, with its audit row.
void set_worker(pg::Transaction& tx, const std::string& login, long long worker, const std::string& by) {
  const std::string id = std::to_string(worker);
  if (tx.exec("accounts.link.worker", "SELECT 1 FROM workers WHERE id = $1", {id}).rows() == 0)
    throw unprocessable("unknown_worker", "no worker has the id " + id);
  auto other = tx.exec("accounts.link.other", "SELECT login FROM users WHERE worker_id = $1 AND login <> $2", {id, login});
  if (other.rows() > 0) throw conflict("worker_taken", "worker " + id + " already has the account " + other.str(0, 0));
  tx.exec("accounts.link", "UPDATE users SET worker_id = $2 WHERE login = $1", {login, id});
  audit::record(tx.connection(), by, "user.link_worker", {"user", login, std::nullopt, std::nullopt, {{"worker", worker}}});
}

}  // namespace

long long create_user(pg::Connection& conn, const NewUser& user, std::string_view password, const std::string& by) {
  check_login(user.login);
  if (user.name.empty() || user.name.size() > 200) throw unprocessable("invalid_name", "a person's name has 1 to 200 bytes");
  check_password_rules(password);
  if (user.scope && !is_current(conn, *user.scope)) throw unprocessable("unknown_area", "no current area has the code " + *user.scope);
  if (user.worker && user.role != Role::worker)
    throw unprocessable("not_a_worker_account", "only an account with the role worker can stand for a worker record");
  const std::string hash = hash_password(password);
  pg::Transaction tx(conn);
  auto r = tx.exec("accounts.create",
                   "INSERT INTO users (login, name, role, scope_code, password_hash) VALUES ($1, $2, $3, $4, $5) "
                   "ON CONFLICT (login) DO NOTHING RETURNING id",
                   {user.login, user.name, std::string(role_name(user.role)), user.scope, hash});
  if (r.rows() == 0) throw conflict("login_taken", "the login " + user.login + " is taken");
  audit::record(tx.connection(), by, "user.create",
                {"user",
                 user.login,
                 std::nullopt,
                 std::nullopt,
                 {{"name", user.name}, {"role", role_name(user.role)}, {"scope", user.scope.value_or("")}}});
  if (user.worker) set_worker(tx, user.login, *user.worker, by);
  tx.commit();
  return r.integer(0, 0);
}

void link_worker(pg::Connection& conn, const std::string& login, std::optional<long long> worker, const std::string& by) {
  pg::Transaction tx(conn);
  auto u = tx.exec("accounts.link.read", "SELECT role FROM users WHERE login = $1 FOR UPDATE", {login});
  if (u.rows() == 0) throw not_found("unknown_user", "no account has the login " + login);
  if (worker && u.str(0, 0) != role_name(Role::worker))
    throw unprocessable("not_a_worker_account", "only an account with the role worker can stand for a worker record");
  if (worker) {
    set_worker(tx, login, *worker, by);
  } else {
    tx.exec("accounts.unlink", "UPDATE users SET worker_id = NULL WHERE login = $1", {login});
    audit::record(tx.connection(), by, "user.unlink_worker", {"user", login, std::nullopt, std::nullopt, nlohmann::json::object()});
  }
  tx.commit();
}

std::optional<LinkedWorker> linked_worker(pg::Connection& conn, const Actor& actor) {
  if (actor.user_id == 0) return std::nullopt;
  auto r = conn.exec("accounts.linked_worker", "SELECT w.id, w.name FROM users u JOIN workers w ON w.id = u.worker_id WHERE u.id = $1",
                     {std::to_string(actor.user_id)});
  if (r.rows() == 0) return std::nullopt;
  return LinkedWorker{r.integer(0, 0), r.str(0, 1)};
}

std::optional<long long> require_own_worker(pg::Connection& conn, const Actor& actor, std::optional<long long> worker) {
  if (actor.role != Role::worker) return std::nullopt;
  const auto own = linked_worker(conn, actor);
  if (!own) return std::nullopt;
  if (worker && *worker != own->id)
    throw forbidden("not_own_worker", "this account stands for worker " + std::to_string(own->id) + " (" + own->name +
                                          ") and may record visits and positions only as that worker");
  return own->id;
}

void set_password(pg::Connection& conn, const std::string& login, std::string_view password, const std::string& by) {
  check_password_rules(password);
  const std::string hash = hash_password(password);
  pg::Transaction tx(conn);
  auto r = tx.exec("accounts.set_password",
                   "UPDATE users SET password_hash = $2, password_set_at = clock_timestamp(), failed_logins = 0, locked_until = NULL "
                   "WHERE login = $1 RETURNING id",
                   {login, hash});
  if (r.rows() == 0) throw not_found("unknown_user", "no account has the login " + login);
  end_sessions(tx.connection(), r.integer(0, 0));
  audit::record(tx.connection(), by, "user.password", {"user", login, std::nullopt, std::nullopt, nlohmann::json::object()});
  tx.commit();
}

void set_account_state(pg::Connection& conn, const std::string& login, AccountState state, const std::string& by) {
  pg::Transaction tx(conn);
  auto r = tx.exec("accounts.set_state",
                   "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, clock_timestamp()) END, "
                   "failed_logins = 0, locked_until = NULL WHERE login = $1 RETURNING id",
                   {login, std::string(state == AccountState::disabled ? "true" : "false")});
  if (r.rows() == 0) throw not_found("unknown_user", "no account has the login " + login);
  if (state == AccountState::disabled) end_sessions(tx.connection(), r.integer(0, 0));
  audit::record(tx.connection(), by, state == AccountState::disabled ? "user.disable" : "user.enable",
                {"user", login, std::nullopt, std::nullopt, nlohmann::json::object()});
  tx.commit();
}

std::vector<UserInfo> list_users(pg::Connection& conn) {
  auto r = conn.exec("accounts.list", "SELECT id, login, name, role, coalesce(scope_code, ''), " + utc("created_at") + ", coalesce(" +
                                          utc("disabled_at") + ", ''), coalesce(CASE WHEN locked_until > clock_timestamp() THEN " +
                                          utc("locked_until") + " END" + ", ''), coalesce(worker_id::text, '') FROM users ORDER BY login");
  std::vector<UserInfo> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back(
        {r.integer(i, 0), r.str(i, 1), r.str(i, 2), r.str(i, 3), r.str(i, 4), r.str(i, 5), r.str(i, 6), r.str(i, 7), r.str(i, 8)});
  return out;
}

Accounts::Accounts(const Config& config)
    : m_session_minutes(config.session_minutes), m_max_failures(config.login_max_failures), m_lock_minutes(config.login_lock_minutes) {}

Session Accounts::sign_in(pg::Pool& pool, const std::string& login, std::string_view password) {
  if (login.empty() || login.size() > 64 || password.size() > kMaxPasswordBytes) throw invalid_credentials();
  auto conn = pool.acquire();
  auto u = conn->exec("accounts.sign_in.read",
                      "SELECT id, name, role, scope_code, password_hash, disabled_at IS NOT NULL, "
                      "  ceil(extract(epoch FROM locked_until - clock_timestamp()))::bigint "
                      "FROM users WHERE login = $1",
                      {login});
  const bool known = u.rows() == 1;
  if (known && !u.is_null(0, 6) && u.integer(0, 6) > 0) {
    const long long seconds = u.integer(0, 6);
    throw Error(429, "account_locked",
                "too many wrong passwords: this account is locked for " + std::to_string((seconds + 59) / 60) + " more minute(s)",
                "{\"retry_after\":" + std::to_string(seconds) + "}");
  }
  bool matches = false;
  {
    auto pass = m_hashing.enter("the sign-in");
    matches = password_matches(known ? u.str(0, 4) : decoy_hash(), password);
  }
  if (!known) throw invalid_credentials();
  const long long user_id = u.integer(0, 0);
  if (!matches) {
    pg::Transaction tx(*conn);
    // Counting and locking in one statement: concurrent wrong guesses all count.
    auto f = tx.exec("accounts.sign_in.failure",
                     "UPDATE users SET failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END, "
                     "  locked_until = CASE WHEN failed_logins + 1 >= $2 THEN clock_timestamp() + make_interval(mins => $3) "
                     "                 ELSE locked_until END "
                     "WHERE id = $1 RETURNING locked_until IS NOT NULL AND locked_until > clock_timestamp()",
                     {std::to_string(user_id), std::to_string(m_max_failures), std::to_string(m_lock_minutes)});
    const bool locked = f.rows() == 1 && f.boolean(0, 0);
    audit::record(tx.connection(), login, locked ? "session.locked" : "session.failure",
                  {"user", login, std::nullopt, std::nullopt, nlohmann::json::object()});
    tx.commit();
    if (locked)
      throw Error(429, "account_locked",
                  "too many wrong passwords: this account is locked for " + std::to_string(m_lock_minutes) + " minute(s)",
                  "{\"retry_after\":" + std::to_string(m_lock_minutes * 60) + "}");
    throw invalid_credentials();
  }
  if (u.boolean(0, 5)) throw Error(403, "account_disabled", "this account is disabled; ask an administrator");

  Session s;
  s.token = "ws_" + random_hex(32);
  s.csrf_token = random_hex(16);
  pg::Transaction tx(*conn);
  tx.exec("accounts.sign_in.success", "UPDATE users SET failed_logins = 0 WHERE id = $1", {std::to_string(user_id)});
  auto r = tx.exec("accounts.sign_in.session",
                   "INSERT INTO user_sessions (user_id, token_hash, csrf_token, expires_at) "
                   "VALUES ($1, $2, $3, clock_timestamp() + make_interval(mins => $4)) RETURNING " +
                       utc("expires_at"),
                   {std::to_string(user_id), sha256_hex(s.token), s.csrf_token, std::to_string(m_session_minutes)});
  s.expires_at = r.str(0, 0);
  s.actor.user_id = user_id;
  s.actor.login = login;
  s.actor.name = u.str(0, 1);
  s.actor.role = parse_role(u.get(0, 2)).value_or(Role::viewer);
  s.actor.scope = u.opt(0, 3);
  audit::record(tx.connection(), s.actor.label(), "session.create", {"user", login, std::nullopt, std::nullopt, nlohmann::json::object()});
  tx.commit();
  return s;
}

Accounts::Resolved Accounts::resolve(pg::Pool& pool, const std::string& session_token) {
  if (session_token.empty() || session_token.size() > 100) throw unauthorized("the session cookie is not valid");
  const std::string hash = sha256_hex(session_token);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(m_mutex);
    auto it = m_cache.find(hash);
    if (it != m_cache.end() && it->second.cached_until > now) {
      if (it->second.expired) throw session_expired();
      if (!it->second.session) throw unauthorized("the session cookie is not valid");
      if (it->second.session->expires > std::chrono::system_clock::now()) return *it->second.session;
      throw session_expired();
    }
  }
  auto conn = pool.acquire();
  auto r = conn->exec("accounts.session",
                      "SELECT u.id, u.login, u.name, u.role, u.scope_code, s.csrf_token, " + utc("s.expires_at") +
                          ", extract(epoch FROM s.expires_at)::bigint, "
                          "  s.ended_at IS NULL AND s.expires_at > clock_timestamp() AND u.disabled_at IS NULL "
                          "FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
                      {hash});
  Entry entry;
  entry.cached_until = now + std::chrono::seconds(10);
  if (r.rows() == 1) {
    if (r.boolean(0, 8)) {
      Resolved s;
      s.actor.user_id = r.integer(0, 0);
      s.actor.login = r.str(0, 1);
      s.actor.name = r.str(0, 2);
      s.actor.role = parse_role(r.get(0, 3)).value_or(Role::viewer);
      s.actor.scope = r.opt(0, 4);
      s.csrf_token = r.str(0, 5);
      s.expires_at = r.str(0, 6);
      s.expires = std::chrono::system_clock::time_point(std::chrono::seconds(r.integer(0, 7)));
      entry.session = s;
    } else {
      entry.expired = true;
    }
  }
  std::lock_guard lock(m_mutex);
  if (m_cache.size() > 10000) m_cache.clear();  // bounded: made-up cookies must not grow it forever
  m_cache[hash] = entry;
  if (entry.expired) throw session_expired();
  if (!entry.session) throw unauthorized("the session cookie is not valid");
  return *entry.session;
}

Actor Accounts::authenticate(pg::Pool& pool, const std::string& session_token, const std::optional<std::string>& csrf_token) {
  Resolved s = resolve(pool, session_token);
  if (csrf_token &&
      (csrf_token->size() != s.csrf_token.size() || sodium_memcmp(csrf_token->data(), s.csrf_token.data(), s.csrf_token.size()) != 0))
    throw forbidden("csrf_failed", "a change made with a session cookie needs the session's X-CSRF-Token header");
  return s.actor;
}

SessionInfo Accounts::describe(pg::Pool& pool, const std::string& session_token) {
  Resolved s = resolve(pool, session_token);
  return {s.actor, s.csrf_token, s.expires_at};
}

void Accounts::forget(const std::string& session_token) {
  std::lock_guard lock(m_mutex);
  m_cache.erase(sha256_hex(session_token));
}

void Accounts::sign_out(pg::Pool& pool, const std::string& session_token, const Actor& actor) {
  auto conn = pool.acquire();
  pg::Transaction tx(*conn);
  tx.exec("accounts.sign_out", "UPDATE user_sessions SET ended_at = clock_timestamp() WHERE token_hash = $1 AND ended_at IS NULL",
          {sha256_hex(session_token)});
  audit::record(tx.connection(), actor.label(), "session.end", {"user", actor.login, std::nullopt, std::nullopt, nlohmann::json::object()});
  tx.commit();
  forget(session_token);
}

void Accounts::change_password(pg::Pool& pool, const std::string& session_token, const Actor& actor, std::string_view current_password,
                               std::string_view new_password) {
  check_password_rules(new_password);
  auto conn = pool.acquire();
  auto u = conn->exec("accounts.password.read", "SELECT password_hash FROM users WHERE id = $1", {std::to_string(actor.user_id)});
  if (u.rows() != 1) throw session_expired();
  std::string hash;
  {
    auto pass = m_hashing.enter("the password change");
    if (!password_matches(u.str(0, 0), current_password))
      throw Error(403, "wrong_password", "the current password is wrong; the password was not changed");
    hash = hash_password(new_password);
  }
  pg::Transaction tx(*conn);
  tx.exec("accounts.password.write", "UPDATE users SET password_hash = $2, password_set_at = clock_timestamp() WHERE id = $1",
          {std::to_string(actor.user_id), hash});
  end_sessions(tx.connection(), actor.user_id, sha256_hex(session_token));
  audit::record(tx.connection(), actor.label(), "user.password",
                {"user", actor.login, std::nullopt, std::nullopt, nlohmann::json::object()});
  tx.commit();
}

}  // namespace wangge::registry
