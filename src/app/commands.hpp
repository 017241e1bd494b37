// The `wangge` subcommands; one file each (command_<name>.cpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace wangge::app {

// Options of the form --name value or --flag; positional words are kept in order.
struct Args {
  std::vector<std::string> words;
  std::map<std::string, std::string> options;
  bool has(const std::string& name) const { return options.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  long long number(const std::string& name, long long fallback) const;
};

Args parse_args(int argc, char** argv, int first);

int command_serve(const Args& args);
int command_db(const Args& args);
int command_sample(const Args& args);
int command_token(const Args& args);
int command_user(const Args& args);
int command_bench(const Args& args);
int command_export(const Args& args);
int command_import(const Args& args);
int command_import_roads(const Args& args);

}  // namespace wangge::app
