// The audit log's one writer. Every module that records who changed what goes through here, so the
// row shape (actor, action, target, versions, detail) and its SQL live in one place. Rows are
// written on the caller's connection, so they commit or roll back with the change they describe
// (pass the connection of the open transaction).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace wangge::registry::audit {

struct Entry {
  std::string target_type;  // area, worker, checkpoint, token, registry
  std::string target;       // the code or id
  std::optional<long long> version_before, version_after;
  nlohmann::json detail = nlohmann::json::object();
};

// One row.
void record(pg::Connection& conn, const std::string& actor, const std::string& action, const Entry& entry);
// Many rows of one action in one statement (a toolkit operation or an import touches thousands).
void record_all(pg::Connection& conn, const std::string& actor, const std::string& action, const std::vector<Entry>& entries);

}  // namespace wangge::registry::audit
