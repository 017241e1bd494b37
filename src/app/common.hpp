// Helpers shared by the subcommands.
#pragma once

#include <string>

#include "core/config.hpp"
#include "pg/connection.hpp"

namespace wangge::app {

// Connects to WANGGE_DATABASE_URL, retrying for up to `wait_seconds` while the server starts.
pg::Connection connect_with_retry(const Config& config, int wait_seconds);
// On the very first start there is no way to call the API at all: writes an admin token to
// $WANGGE_VAR_DIR/admin-token (0600) when the registry has none. True when it made one.
bool ensure_admin_token(pg::Connection& conn, const Config& config);
// A configuration document (calendar, case categories, tile layers, evaluation rules): the file
// named by the environment variable when it is set, else the copy built into the executable.
// Throws std::runtime_error when the named file cannot be read.
std::string resource_or_file(const char* variable, const char* resource);
// Prints `text` and returns true when --help was given.
struct Args;
bool print_help(const Args& args, const char* text);

}  // namespace wangge::app
