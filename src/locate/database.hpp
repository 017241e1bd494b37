// Reading the locator's inputs from PostGIS: areas as WKB (one query) and worker assignments,
// current or as of a time.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "locate/index.hpp"
#include "pg/connection.hpp"

namespace wangge::locate {

// Parses ISO WKB (Polygon or MultiPolygon, 2D) into rings. Throws std::runtime_error when malformed.
void parse_wkb(std::string_view wkb, SourceArea& out);

// One area of a registry row: code, name, level and parent in columns 0-3, the outline as hex WKB
// in column 4 (NULL: an area read without its outline). Throws for a level the locator does not know.
std::shared_ptr<SourceArea> area_from_row(const pg::Result& r, int row);

// Current areas (at = nullopt) or the versions valid at `at`; `codes` limits the read to those codes.
Sources read_areas(pg::Connection& conn, std::optional<Micros> at, const std::vector<std::string>* codes = nullptr);
// Workers assigned now, or at `at`.
WorkerDirectory read_workers(pg::Connection& conn, std::optional<Micros> at);
// Changes whenever an assignment is made or ended (rows are never deleted).
std::string workers_fingerprint(pg::Connection& conn);

}  // namespace wangge::locate
