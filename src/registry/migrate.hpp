// Ordered schema migrations, compiled into the executable from geodata/migrations.
#pragma once

#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace wangge::registry {

struct Migration {
  const char* name;  // file name, e.g. "0001_registry.sql"; order is the order of the list
  const char* sql;
};

const std::vector<Migration>& embedded_migrations();

// Applies the migrations not yet recorded in schema_migrations, each in its own transaction, under
// an advisory lock so concurrent starts do not race. Returns the names applied now.
std::vector<std::string> migrate(pg::Connection& conn);

}  // namespace wangge::registry
