#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "app/commands.hpp"
#include "app/common.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "http/resources.hpp"
#include "registry/migrate.hpp"

namespace wangge::app {

std::string resource_or_file(const char* variable, const char* resource) {
  if (const char* path = std::getenv(variable); path && *path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(std::string("cannot read the ") + variable + " file " + path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  return std::string(*http::resource(resource));
}

pg::Connection connect_with_retry(const Config& config, int wait_seconds) {
  if (config.database_url.empty())
    throw std::runtime_error(
        "WANGGE_DATABASE_URL is not set and there is no embedded cluster under $WANGGE_VAR_DIR/pg (tools/run starts one)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (true) {
    try {
      return pg::Connection(config.database_url, config.statement_timeout_ms);
    } catch (const unavailable&) {
      if (std::chrono::steady_clock::now() >= deadline) throw std::runtime_error("the database at WANGGE_DATABASE_URL cannot be reached");
      log::warn("waiting for the database...");
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

bool print_help(const Args& args, const char* text) {
  if (!args.has("help")) return false;
  std::fputs(text, stdout);
  return true;
}

int command_db(const Args& args) {
  const char* help =
      "usage: wangge db migrate\n\n"
      "Applies the schema migrations compiled into this executable that the database (WANGGE_DATABASE_URL)\n"
      "has not seen yet, in order, each in one transaction. Safe to run again: applied ones are skipped.\n";
  if (print_help(args, help)) return 0;
  if (args.words.size() != 1 || args.words[0] != "migrate") {
    std::fputs(help, stderr);
    return 2;
  }
  auto config = Config::from_environment();
  auto conn = connect_with_retry(config, 30);
  auto applied = registry::migrate(conn);
  if (applied.empty()) std::printf("database is up to date\n");
  for (const auto& name : applied) std::printf("applied %s\n", name.c_str());
  return 0;
}

}  // namespace wangge::app
