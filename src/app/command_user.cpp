// `wangge user`: people's accounts (the console's sign-in). Passwords are typed at a prompt that
// does not echo, read from stdin for scripts (--password-stdin), or generated and printed once.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <iostream>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "core/config.hpp"
#include "registry/accounts.hpp"

namespace wangge::app {
namespace {

const char* kHelp =
    "usage: wangge user create --login LOGIN --name NAME --role ROLE [--scope CODE] [--worker ID] [--password-stdin]\n"
    "       wangge user link LOGIN --worker ID | --worker none\n"
    "       wangge user passwd LOGIN [--password-stdin]\n"
    "       wangge user disable LOGIN | enable LOGIN\n"
    "       wangge user list\n\n"
    "create: an account for a person, who signs in to the console with LOGIN and the password.\n"
    "passwd: sets a new password (and ends the account's sessions, and any lock).\n"
    "disable: the account can no longer sign in and its sessions end; enable undoes it.\n"
    "link: a grid worker's account stands for a worker record (role worker only; one account per worker):\n"
    "      the phone view opens on that worker's grids, and visits and positions are recorded only as it.\n"
    "list: every account (never a password).\n"
    "The password is asked twice at the terminal without echo; with --password-stdin it is the first\n"
    "line of stdin; without a terminal and without the flag one is generated and printed once.\n"
    "  --login  2-64 lower-case letters, digits, '.', '_', '-' (e.g. zhangsan)\n"
    "  --name   the person's name as history and the audit log show it (e.g. 张三)\n"
    "  --role   admin | manager | dispatcher | analyst | worker | viewer\n"
    "  --scope  area code the person acts inside (its whole subtree); omitted: everything\n"
    "  --worker the worker record's id (GET /v1/workers) for an account with the role worker\n";

// --worker ID, or none (only where unlinking means something): throws for anything else.
std::optional<long long> worker_option(const std::string& text, bool none_allowed) {
  if (none_allowed && text == "none") return std::nullopt;
  char* end = nullptr;
  const long long id = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || id <= 0)
    throw std::runtime_error("--worker takes a worker id" + std::string(none_allowed ? " or none" : ""));
  return id;
}

// Reads a line from the terminal with echo off; the terminal's mode is restored however this ends.
std::string read_hidden(const char* prompt) {
  std::fputs(prompt, stderr);
  termios saved{};
  const bool tty = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  struct Restore {
    bool active;
    termios mode;
    ~Restore() {
      if (active) ::tcsetattr(STDIN_FILENO, TCSANOW, &mode);
    }
  } restore{tty, saved};
  if (tty) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  std::fputs("\n", stderr);
  return line;
}

// The new password, and whether it was generated (then it is printed once).
std::pair<std::string, bool> new_password(const Args& args) {
  if (args.has("password-stdin")) {
    std::string line;
    std::getline(std::cin, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return {line, false};
  }
  if (::isatty(STDIN_FILENO)) {
    std::string first = read_hidden("password: ");
    std::string second = read_hidden("again: ");
    if (first != second) throw std::runtime_error("the two passwords differ; nothing was changed");
    return {first, false};
  }
  return {registry::generate_password(), true};
}

}  // namespace

int command_user(const Args& args) {
  if (print_help(args, kHelp)) return 0;
  const std::string verb = args.words.empty() ? "" : args.words[0];
  if (verb == "list" && args.words.size() == 1) {
    auto config = Config::from_environment();
    auto conn = connect_with_retry(config, 10);
    std::printf("%-20s %-12s %-16s %-10s %-21s %-8s %s\n", "login", "role", "scope", "state", "created", "worker", "name");
    for (const auto& u : registry::list_users(conn)) {
      const std::string state = !u.disabled_at.empty() ? "disabled" : !u.locked_until.empty() ? "locked" : "active";
      std::printf("%-20s %-12s %-16s %-10s %-21s %-8s %s\n", u.login.c_str(), u.role.c_str(), u.scope.empty() ? "-" : u.scope.c_str(),
                  state.c_str(), u.created_at.c_str(), u.worker.empty() ? "-" : u.worker.c_str(), u.name.c_str());
    }
    return 0;
  }
  if (verb == "create" && args.words.size() == 1) {
    const auto login = args.get("login"), name = args.get("name"), role_text = args.get("role");
    if (!login || !name || !role_text) {
      std::fputs(kHelp, stderr);
      return 2;
    }
    const auto role = registry::parse_role(*role_text);
    if (!role) {
      std::fprintf(stderr, "unknown role '%s'\n", role_text->c_str());
      return 2;
    }
    const auto worker_text = args.get("worker");
    const std::optional<long long> worker = worker_text ? worker_option(*worker_text, false) : std::nullopt;
    auto config = Config::from_environment();
    auto conn = connect_with_retry(config, 10);
    auto [password, generated] = new_password(args);
    registry::create_user(conn, {*login, *name, *role, args.get("scope"), worker}, password, "cli");
    if (generated) std::printf("password for %s: %s\n", login->c_str(), password.c_str());
    std::fprintf(stderr, "created %s (%s), role %s\n", login->c_str(), name->c_str(), role_text->c_str());
    return 0;
  }
  if (verb == "link" && args.words.size() == 2) {
    const auto worker_text = args.get("worker");
    if (!worker_text) {
      std::fputs(kHelp, stderr);
      return 2;
    }
    const auto worker = worker_option(*worker_text, true);
    auto config = Config::from_environment();
    auto conn = connect_with_retry(config, 10);
    registry::link_worker(conn, args.words[1], worker, "cli");
    std::fprintf(stderr, "link: %s now stands for %s\n", args.words[1].c_str(),
                 worker ? ("worker " + std::to_string(*worker)).c_str() : "no worker");
    return 0;
  }
  if ((verb == "passwd" || verb == "disable" || verb == "enable") && args.words.size() == 2) {
    const std::string& login = args.words[1];
    auto config = Config::from_environment();
    auto conn = connect_with_retry(config, 10);
    if (verb == "passwd") {
      auto [password, generated] = new_password(args);
      registry::set_password(conn, login, password, "cli");
      if (generated) std::printf("password for %s: %s\n", login.c_str(), password.c_str());
    } else {
      registry::set_account_state(conn, login, verb == "disable" ? registry::AccountState::disabled : registry::AccountState::enabled,
                                  "cli");
    }
    std::fprintf(stderr, "%s: done for %s\n", verb.c_str(), login.c_str());
    return 0;
  }
  std::fputs(kHelp, stderr);
  return 2;
}

}  // namespace wangge::app
