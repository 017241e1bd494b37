#include <cstdio>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "core/config.hpp"
#include "registry/auth.hpp"
#include "registry/codes.hpp"

namespace wangge::app {

int command_token(const Args& args) {
  const char* help =
      "usage: wangge token create --role ROLE [--scope CODE] [--name TEXT]\n\n"
      "Creates an API token and prints it once (only its hash is stored).\n"
      "  --role   admin | manager | dispatcher | analyst | worker | viewer\n"
      "  --scope  area code the token acts inside (its whole subtree); omitted: everything\n"
      "  --name   who or what the token is for; recorded in history and the audit log\n";
  if (print_help(args, help)) return 0;
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
    auto r = conn.exec("token.scope", "SELECT 1 FROM areas WHERE code = $1 AND valid_to IS NULL", {*scope});
    if (r.rows() == 0) {
      std::fprintf(stderr, "no current area has the code %s\n", scope->c_str());
      return 1;
    }
  }
  auto token = registry::create_token(conn, *role, scope, args.get("name").value_or(""));
  std::printf("%s\n", token.token.c_str());
  return 0;
}

}  // namespace wangge::app
