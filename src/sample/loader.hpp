// Writes a generated jurisdiction into an empty registry, in one transaction, with COPY.
#pragma once

#include "pg/connection.hpp"
#include "sample/generator.hpp"

namespace wangge::sample {

struct LoadCounts {
  long long areas = 0, streets = 0, workers = 0, incidents = 0, checkpoints = 0;
};

bool registry_is_empty(pg::Connection& conn);
// Throws std::runtime_error when the registry already holds areas.
LoadCounts load(pg::Connection& conn, const Jurisdiction& j);

}  // namespace wangge::sample
