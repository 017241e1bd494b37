// The machinery every toolkit operation shares: one transaction, locks, ETag checks, writing and
// closing versions, and the common finish (lineage, reassignment, estimates, audit, the report).
// Internal to the toolkit (registry/toolkit.cpp, registry/operation.cpp).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "registry/toolkit.hpp"

namespace wangge::toolkit {

// One version row of an area as the toolkit reads it.
struct AreaRow {
  std::string id;
  std::string code;
  long long version = 0;
  std::string name;
  std::string level;
  std::string parent;  // "" for a root
  std::string ewkb;    // hex EWKB, EPSG:4490
  std::optional<long long> households, population;
  std::string attributes;  // JSON text
  std::string etag() const { return registry::area_etag(code, version); }
};

// The parent of the current version of `code` ("" for a root). An area retired meanwhile is 410,
// but 412 for a request conditioned on its ETag (RFC 9110: If-Match fails without a current
// representation), so two clients racing with one ETag see 200 and 412 whatever the timing.
std::string current_parent(pg::Connection& conn, const std::string& code, const OperationOptions& o);

class Operation {
 public:
  Operation(const Toolkit& tk, pg::Connection& conn, const registry::Actor& actor, std::string kind, std::string target,
            const OperationOptions& o);

  pg::Transaction& tx() { return m_tx; }
  const std::string& now() const { return m_now; }
  const OperationOptions& options() const { return m_o; }
  const Toolkit& toolkit() const { return m_tk; }

  // Advisory locks of these parents' children, in a fixed order (no deadlocks between operations).
  void lock(std::vector<std::string> parents);
  // The current version of `code`, row-locked; 404/410 for unknown/retired codes.
  AreaRow current(const std::string& code);
  // Current children of `parent` (row-locked), in code order.
  std::vector<AreaRow> children(const std::string& parent);
  // Registers an area the operation changes; its ETag must be in If-Match.
  void touch(const AreaRow& row);
  // 428 without If-Match (a dry run may omit it), 412 naming the stale or missing ETags.
  void check_preconditions() const;
  // Refuses to retire or reshape an area that still has children of its own.
  void require_no_children(const AreaRow& row);

  // Closes a version: retired (the code ends) or superseded (a new version follows).
  void retire(const AreaRow& row);
  void supersede(const AreaRow& row);
  // Whether finish() estimates a new version's households and population from its predecessors by
  // area share, or keeps the figures it was inserted with.
  enum class Estimate { no, from_predecessors };
  // Inserts a version; returns its id.
  std::string insert(const std::string& code, long long version, const std::string& name, const std::string& level,
                     const std::string& parent, const std::string& ewkb, std::optional<long long> households,
                     std::optional<long long> population, const std::string& attributes, const std::string& change, Estimate estimate);

  // Figures of an inserted version that the request set itself: the estimate leaves them as inserted.
  void keep_figures(const std::string& id, bool households, bool population) { m_kept_figures[id] = {households, population}; }

  // Versions inserted in bulk by the caller (redistrict).
  void record_inserted(const std::string& id, Estimate estimate) {
    m_new_ids.push_back(id);
    if (estimate == Estimate::from_predecessors) m_estimate_ids.push_back(id);
  }
  // The level of the areas the operation reshapes: lineage, shares and reassignment look only at
  // new versions of this level (re-parenting also writes the two parents).
  void set_level(std::string level) { m_level = std::move(level); }

  // Next free codes under `parent` for `level` (never one used before, retired included), in order.
  std::vector<std::string> allocate_codes(const std::string& parent, const std::string& level, std::size_t count);

  // Lineage for pairs (old → new, different codes) whose share exceeds `min_share`; reassignment;
  // estimates; audit; the report. Commits unless dry run. `result` is merged into the answer.
  OperationResult finish(double min_share, nlohmann::json result);

 private:
  const Toolkit& m_tk;
  const registry::Actor& m_actor;
  std::string m_kind, m_target;
  OperationOptions m_o;
  pg::Transaction m_tx;
  std::string m_now;
  std::string m_now_rfc3339;
  std::string m_level = "grid";
  std::vector<AreaRow> m_touched;
  std::vector<AreaRow> m_closed;
  std::set<std::string> m_retired_codes;
  std::vector<std::string> m_new_ids;
  std::vector<std::string> m_estimate_ids;
  std::map<std::string, std::pair<bool, bool>> m_kept_figures;  // id → (households, population) kept
};

}  // namespace wangge::toolkit
