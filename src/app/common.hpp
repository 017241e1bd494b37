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
// Prints `text` and returns true when --help was given.
struct Args;
bool print_help(const Args& args, const char* text);

}  // namespace wangge::app
