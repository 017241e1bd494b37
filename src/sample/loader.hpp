// Writes a generated jurisdiction into an empty registry, in one transaction, with COPY.
#pragma once

#include <functional>
#include <string>

#include "core/time.hpp"
#include "pg/connection.hpp"
#include "sample/generator.hpp"

namespace wangge::sample {

struct LoadCounts {
  long long areas = 0, streets = 0, workers = 0, incidents = 0, checkpoints = 0, positions = 0;
};

// The deadline of a case of `category` dispatched at `dispatched`: its time limit in working time.
using DeadlineRule = std::function<Micros(const std::string& category, Micros dispatched)>;

bool registry_is_empty(pg::Connection& conn);
// Throws std::runtime_error when the registry already holds areas.
// The live part (positions, recent cases) is placed relative to the database's clock at loading;
// `deadline` is needed when the jurisdiction has recent cases.
LoadCounts load(pg::Connection& conn, const Jurisdiction& j, const DeadlineRule& deadline = {});

}  // namespace wangge::sample
