#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "registry/auth.hpp"
#include "registry/codes.hpp"
#include "registry/queries.hpp"

namespace wangge::app {

// On the very first start there is no way to call the API at all; leave an admin token where only
// the owner of var/ can read it.
bool ensure_admin_token(pg::Connection& conn, const Config& config) {
  if (registry::any_token_exists(conn)) return false;
  auto token = registry::create_token(conn, registry::Role::admin, std::nullopt, "first start");
  std::filesystem::create_directories(config.var_dir);
  const auto path = std::filesystem::path(config.var_dir) / "admin-token";
  {
    std::ofstream out(path, std::ios::trunc);
    out << token.token << "\n";
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }
  ::chmod(path.c_str(), 0600);
  log::info("created the first admin token in " + std::filesystem::absolute(path).string());
  return true;
}

int command_token(const Args& args) {
  const char* help =
      "usage: wangge token create --role ROLE [--scope CODE] [--name TEXT]\n"
      "       wangge token list\n"
      "       wangge token revoke [ID ...] [--name TEXT]\n"
      "       wangge token init\n\n"
      "create: makes an API token and prints it once (only its hash is stored).\n"
      "list: every token's id, role, scope, name, creation and revocation time (never the token).\n"
      "revoke: revokes the tokens with these ids and/or this name (audited as token.revoke); running\n"
      "servers refuse them within 10 s (their token cache). Exits 1 when no current token matched.\n"
      "init: when the registry has no token yet, writes a first admin token to $WANGGE_VAR_DIR/admin-token\n"
      "(mode 0600), as `serve` does on its first start.\n"
      "  --role   admin | manager | dispatcher | analyst | worker | viewer\n"
      "  --scope  area code the token acts inside (its whole subtree); omitted: everything\n"
      "  --name   who or what the token is for; recorded in history and the audit log\n";
  if (print_help(args, help)) return 0;
  if (args.words.size() == 1 && args.words[0] == "init") {
    auto config = Config::from_environment();
    auto conn = connect_with_retry(config, 10);
    if (!ensure_admin_token(conn, config))
      std::printf("tokens exist already; the first admin token is in %s/admin-token\n", config.var_dir.c_str());
    return 0;
  }
  if (!args.words.empty() && args.words[0] == "list" && args.words.size() == 1) {
    auto config = Config::from_environment();
    auto conn = connect_with_retry(config, 10);
    std::printf("%-6s %-10s %-16s %-21s %-21s %s\n", "id", "role", "scope", "created", "revoked", "name");
    for (const auto& t : registry::list_tokens(conn))
      std::printf("%-6lld %-10s %-16s %-21s %-21s %s\n", t.id, t.role.c_str(), t.scope.empty() ? "-" : t.scope.c_str(),
                  t.created_at.c_str(), t.revoked_at.empty() ? "-" : t.revoked_at.c_str(), t.name.c_str());
    return 0;
  }
  if (!args.words.empty() && args.words[0] == "revoke") {
    std::vector<long long> ids;
    for (std::size_t i = 1; i < args.words.size(); ++i) {
      const std::string& w = args.words[i];
      if (w.empty() || w.find_first_not_of("0123456789") != std::string::npos) {
        std::fprintf(stderr, "'%s' is not a token id (see `wangge token list`)\n", w.c_str());
        return 2;
      }
      ids.push_back(std::stoll(w));
    }
    const auto name = args.get("name");
    if (ids.empty() && !name) {
      std::fputs("revoke needs token ids or --name\n", stderr);
      return 2;
    }
    auto config = Config::from_environment();
    auto conn = connect_with_retry(config, 10);
    const auto revoked = registry::revoke_tokens(conn, ids, name, "cli");
    if (revoked.empty()) {
      std::fputs("no current token matched; nothing was revoked\n", stderr);
      return 1;
    }
    for (long long id : revoked) std::printf("revoked token %lld\n", id);
    return 0;
  }
  if (args.words.size() != 1 || args.words[0] != "create" || !args.get("role")) {
    std::fputs(help, stderr);
    return 2;
  }
  auto role = registry::parse_role(*args.get("role"));
  if (!role) {
    std::fprintf(stderr, "unknown role '%s'\n", args.get("role")->c_str());
    return 2;
  }
  auto scope = args.get("scope");
  auto config = Config::from_environment();
  auto conn = connect_with_retry(config, 10);
  if (scope) {
    if (!registry::is_current(conn, *scope)) {
      std::fprintf(stderr, "no current area has the code %s\n", scope->c_str());
      return 1;
    }
  }
  auto token = registry::create_token(conn, *role, scope, args.get("name").value_or(""));
  std::printf("%s\n", token.token.c_str());
  return 0;
}

}  // namespace wangge::app
