// Bulk import of areas already read from a file (src/exchange reads GIS files; this writes them):
// staging in a temporary table, every check against the file itself and the registry (codes,
// parents, validity, overlaps, children left outside, the parent's coverage), and the write with
// history and audit, all in one transaction.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "pg/connection.hpp"
#include "registry/auth.hpp"
#include "registry/codes.hpp"

namespace wangge::registry {

// insert: every feature is a new area (a code that exists or existed is a problem).
// upsert: a feature whose code is a current area of the same level and parent becomes its next
//   version (name and geometry; unchanged ones are left alone), the others are inserted.
// replace-children: the file is the parent's whole new set of children, swapped in as a
//   redistricting (PUT /v1/areas/{parent}/children): missing children are retired, lineage and
//   reassignment of incidents, checkpoints and workers follow; a gap in the parent is a problem.
enum class ImportMode { insert, upsert, replace_children };

struct ImportRow {
  int n;                                    // feature number in the file, from 1
  std::string code, name, parent, wkb_hex;  // parent "" for none; ISO WKB in EPSG:4490
};

struct ImportSettings {
  Level level = Level::grid;
  std::string parent;           // every row's parent, or "" (roots, or parents per row)
  bool parent_per_row = false;  // each row names its parent
  ImportMode mode = ImportMode::insert;
  bool dry_run = false;
  std::string file_name, mode_name;                  // for the audit rows
  std::function<void(const std::string&)> progress;  // may be empty
  std::function<void(const std::string&)> written;   // each area code written, after the commit; may be empty
};

// Checks `rows` and, for insert and upsert, writes them unless dry_run; appends problems and counts
// to `report` ("problems", "valid", "written", "inserted", "updated", "unchanged", "gap_m2",
// "updated_or_unchanged"). Throws unprocessable("import_invalid", ..., {"report"}) when a real
// import finds problems (nothing is written). For replace-children without problems it writes
// nothing and returns the rows as a redistricting plan (a FeatureCollection) for the toolkit;
// otherwise std::nullopt (the report is final).
std::optional<nlohmann::json> import_rows(pg::Connection& conn, const Actor& actor, const Config& config,
                                          const std::vector<ImportRow>& rows, const ImportSettings& settings, nlohmann::json& report);

}  // namespace wangge::registry
