// The grid managers' toolkit: operations that reshape several areas at once while keeping the
// partition rule (the children of a parent cover it without gaps and without overlaps: 不留空白、
// 不交叉重叠), and the reports that go with them.
//
// It lives in the registry (and its library) rather than beside it: every operation is a registry
// edit under the registry's topology rules (the gap check, the parent locks, versions and history,
// the code rules, the audit log) and needs the areas table's shape at every step. Kept outside, it
// would either duplicate those rules or need most of the registry's SQL exported; inside, one module
// owns the table and every rule on it. Its routes stay in the HTTP layer.
//
// Every operation is one transaction: it takes the advisory locks of the parents it touches, checks
// the ETags of every area it touches (If-Match, comma-separated), does the geometry work in PostGIS
// (the source of truth), writes new versions and closes old ones (history), records lineage
// (predecessor → successor with the share of area), reassigns what lies in the changed grids,
// writes one area_operations row and one audit_log row per area, and answers with an impact
// report. A dry run does all of that and rolls back, so it answers exactly what a real run would.
//
// Reassignment rules (documented in api/openapi.yaml too):
// - open incidents and checkpoints whose grid changed go to the new grid that covers their location
//   (several cover a point on a shared boundary: the lowest code); a location in none of them (it was
//   already outside its grid) goes to the nearest one;
// - workers have no position: a worker of a retired grid goes to the successor that received the
//   largest share of the retired grid's area; workers of grids that keep their code stay;
// - households and population have no positions either: a new version's figures are estimated from
//   its predecessors by area share (Σ households_old × share); the report lists the estimated moves.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "pg/connection.hpp"
#include "registry/areas.hpp"
#include "registry/auth.hpp"
#include "registry/codes.hpp"

namespace wangge::toolkit {

struct OperationOptions {
  int srid = 4490;                    // CRS of geometries in the request and in the answer
  bool repair = false;                // MakeValid on invalid input geometries (redraw, redistrict)
  bool dry_run = false;               // do everything, answer, roll back
  std::vector<std::string> if_match;  // required unless dry_run; "*" skips the check
};

struct OperationResult {
  nlohmann::json body;               // the answer (result + impact report)
  std::vector<std::string> changed;  // codes whose current version changed (for the caches)
};

// Which open incident statuses count as closed for reassignment: closed cases keep the grid that
// handled them (their record), open ones follow the new grids.
extern const std::vector<std::string> kClosedIncidentStatuses;

class Toolkit {
 public:
  Toolkit(const Config& config, const registry::CodeRules& rules, const registry::AreaStore& areas)
      : m_config(config), m_rules(rules), m_areas(areas) {}

  // PATCH /v1/areas/{code}?adjust=neighbours|none with {"geometry": ..., "properties"?: {...}}. With
  // neighbours, siblings lose what the new geometry takes and gain what it releases (each released
  // piece goes to the neighbour sharing the longest boundary with it); without, a gap or overlap is
  // refused (409). Properties go into the same new version, merged as a PATCH merges them
  // (registry::apply_area_fields); households or population they set are not estimated.
  OperationResult redraw(pg::Connection& conn, const registry::Actor& actor, const std::string& code, const nlohmann::json& body,
                         const OperationOptions& o, bool adjust_neighbours) const;
  // POST /v1/areas/{code}/split {"line": LineString|MultiLineString, "names"?: [...]}.
  OperationResult split(pg::Connection& conn, const registry::Actor& actor, const std::string& code, const nlohmann::json& body,
                        const OperationOptions& o) const;
  // POST /v1/areas/merge {"codes": [...], "name"?: text}.
  OperationResult merge(pg::Connection& conn, const registry::Actor& actor, const nlohmann::json& body, const OperationOptions& o) const;
  // POST /v1/areas/{code}/reparent {"parent": code, "adjust_parents"?: bool}.
  OperationResult reparent(pg::Connection& conn, const registry::Actor& actor, const std::string& code, const nlohmann::json& body,
                           const OperationOptions& o) const;
  // PUT /v1/areas/{code}/children with a FeatureCollection: the parent's whole new set of children.
  OperationResult redistrict(pg::Connection& conn, const registry::Actor& actor, const std::string& parent, const nlohmann::json& body,
                             const OperationOptions& o) const;

  // GET /v1/areas/{code}/coverage: gaps and overlaps among the current children.
  nlohmann::json coverage(pg::Connection& conn, const std::string& code, int srid) const;
  // GET /v1/areas/{code}/lineage: predecessors and successors through every operation, over time.
  nlohmann::json lineage(pg::Connection& conn, const std::string& code) const;

  double tolerance_m2() const { return m_config.overlap_tolerance_m2; }

 private:
  friend class Operation;
  const Config& m_config;
  const registry::CodeRules& m_rules;
  const registry::AreaStore& m_areas;
};

}  // namespace wangge::toolkit
