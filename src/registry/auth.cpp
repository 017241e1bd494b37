#include "registry/auth.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <memory>

#include "core/error.hpp"
#include "registry/audit.hpp"
#include "registry/codes.hpp"

namespace wangge::registry {
namespace {
constexpr std::array<const char*, 6> kRoleNames = {"admin", "manager", "dispatcher", "analyst", "worker", "viewer"};

std::string hex(const unsigned char* data, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}
}  // namespace

std::optional<Role> parse_role(std::string_view name) {
  for (std::size_t i = 0; i < kRoleNames.size(); ++i)
    if (name == kRoleNames[i]) return static_cast<Role>(i);
  return std::nullopt;
}
const char* role_name(Role role) { return kRoleNames[static_cast<std::size_t>(role)]; }

std::string Actor::label() const {
  if (user_id != 0) return login + " (" + name + ")";
  std::string s = std::string(role_name(role)) + "#" + std::to_string(token_id);
  if (!name.empty()) s += " (" + name + ")";
  return s;
}

bool Actor::covers(std::string_view code) const { return !scope || code_within(code, *scope); }

void Actor::require_edit_role() const {
  if (!may_edit_areas()) throw forbidden("role_forbidden", std::string("role ") + role_name(role) + " may not change areas or workers");
}

void Actor::require_edit(std::string_view code) const {
  require_edit_role();
  if (!covers(code)) throw forbidden("outside_scope", "area " + std::string(code) + " is outside this token's scope " + scope.value_or(""));
}

void Actor::require_read(std::string_view code) const {
  if (!covers(code)) throw forbidden("outside_scope", "area " + std::string(code) + " is outside this token's scope " + scope.value_or(""));
}

namespace {
struct MdFree {
  void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
};
}  // namespace

std::string sha256_hex(std::string_view data) {
  // Fetched once: with EVP_sha256() OpenSSL 3 looks the implementation up again on every digest,
  // a measurable part of a cheap request (every authenticated request hashes its token).
  static const std::unique_ptr<EVP_MD, MdFree> fetched(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, fetched ? fetched.get() : EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return hex(md, len);
}

NewToken create_token(pg::Connection& conn, Role role, const std::optional<std::string>& scope, const std::string& name) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no randomness for a token");
  std::string token = "wg_" + hex(raw, sizeof raw);
  auto r = conn.exec("tokens.create", "INSERT INTO api_tokens (token_hash, role, scope_code, name) VALUES ($1, $2, $3, $4) RETURNING id",
                     {sha256_hex(token), std::string(role_name(role)), scope, name});
  return {token, r.integer(0, 0)};
}

bool any_token_exists(pg::Connection& conn) {
  return conn.exec("tokens.any", "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE revoked_at IS NULL)").boolean(0, 0);
}

std::vector<TokenInfo> list_tokens(pg::Connection& conn) {
  auto r = conn.exec("tokens.list",
                     "SELECT id, role, coalesce(scope_code, ''), name, to_char(created_at AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), coalesce(to_char(revoked_at AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') FROM api_tokens ORDER BY id");
  std::vector<TokenInfo> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.integer(i, 0), r.str(i, 1), r.str(i, 2), r.str(i, 3), r.str(i, 4), r.str(i, 5)});
  return out;
}

std::vector<long long> revoke_tokens(pg::Connection& conn, const std::vector<long long>& ids, const std::optional<std::string>& name,
                                     const std::string& by) {
  std::string id_list = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) id_list += (i ? "," : "") + std::to_string(ids[i]);
  id_list += "]";
  // The revocation and its audit rows commit together.
  pg::Transaction tx(conn);
  auto r = tx.exec("tokens.revoke",
                   "WITH revoked AS (UPDATE api_tokens SET revoked_at = clock_timestamp() WHERE revoked_at IS NULL "
                   "  AND (id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) OR name = $2) RETURNING id) "
                   "SELECT id FROM revoked ORDER BY id",
                   {id_list, name ? pg::Param(*name) : pg::Param()});
  std::vector<long long> out;
  std::vector<audit::Entry> entries;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back(r.integer(i, 0));
    entries.push_back({"token", r.str(i, 0), std::nullopt, std::nullopt, nlohmann::json::object()});
  }
  audit::record_all(tx.connection(), by, "token.revoke", entries);
  tx.commit();
  return out;
}

namespace {
std::atomic<unsigned long long> g_token_caches{0};
}  // namespace

TokenCache::TokenCache(std::chrono::seconds ttl) : m_ttl(ttl), m_instance(++g_token_caches) {}

bool TokenCache::valid_in_cache(const std::string& token) {
  // The last token this thread found valid here, until its entry's own expiry: the requests a
  // thread serves mostly carry the same token, and this skips the hash and the lock. An entry
  // only changes when it expires, so the answer is the one the cache would give.
  struct Memo {
    unsigned long long instance = 0;
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };
  thread_local Memo memo;
  const auto now = std::chrono::steady_clock::now();
  if (memo.instance == m_instance && memo.expires > now && memo.token == token) return true;
  const std::string hash = sha256_hex(token);
  std::lock_guard lock(m_mutex);
  auto it = m_entries.find(hash);
  if (it == m_entries.end() || !(it->second.expires > now) || !it->second.actor) return false;
  memo.instance = m_instance, memo.token = token, memo.expires = it->second.expires;
  return true;
}

namespace {
// While the database is unavailable (a failover takes seconds), a token accepted less than the
// cache's lifetime plus this long ago stays accepted.
constexpr std::chrono::minutes kStaleWhileUnavailable{5};
}  // namespace

Actor TokenCache::authenticate(pg::Pool& pool, const std::string& token) {
  const std::string hash = sha256_hex(token);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(m_mutex);
    auto it = m_entries.find(hash);
    if (it != m_entries.end() && it->second.expires > now) {
      if (!it->second.actor) throw unauthorized("the bearer token is not valid");
      return *it->second.actor;
    }
  }
  std::optional<pg::Result> found;
  try {
    auto conn = pool.acquire();
    found = conn->exec("tokens.lookup", "SELECT id, role, scope_code, name FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
                       {hash});
  } catch (const unavailable&) {
    // While the database cannot answer (a failover takes seconds), a token it accepted within the
    // stale limit still is: reads from memory (tiles, locate) go on; writes fail on their own.
    std::lock_guard lock(m_mutex);
    auto it = m_entries.find(hash);
    if (it != m_entries.end() && it->second.actor && it->second.expires + kStaleWhileUnavailable > now) return *it->second.actor;
    throw;
  }
  const pg::Result& r = *found;
  std::optional<Actor> actor;
  if (r.rows() == 1) {
    Actor a;
    a.token_id = r.integer(0, 0);
    a.role = parse_role(r.get(0, 1)).value_or(Role::viewer);
    a.scope = r.opt(0, 2);
    a.name = r.str(0, 3);
    actor = a;
  }
  std::lock_guard lock(m_mutex);
  if (m_entries.size() > 10000) m_entries.clear();  // bounded: unknown tokens must not grow it forever
  m_entries[hash] = Entry{actor, now + m_ttl};
  if (!actor) throw unauthorized("the bearer token is not valid");
  return *actor;
}

}  // namespace wangge::registry
