#include "registry/operation.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "pg/array.hpp"
#include "registry/audit.hpp"

namespace wangge::toolkit {
namespace {

using nlohmann::json;
using pg::Param;

const char* kRowColumns =
    "id, code, version, name, level, coalesce(parent_code, ''), ST_AsHEXEWKB(geom), households, population, "
    "attributes::text";

AreaRow read_row(const pg::Result& r, int i) {
  AreaRow a;
  a.id = r.str(i, 0);
  a.code = r.str(i, 1);
  a.version = r.integer(i, 2);
  a.name = r.str(i, 3);
  a.level = r.str(i, 4);
  a.parent = r.str(i, 5);
  a.ewkb = r.str(i, 6);
  if (!r.is_null(i, 7)) a.households = r.integer(i, 7);
  if (!r.is_null(i, 8)) a.population = r.integer(i, 8);
  a.attributes = r.str(i, 9);
  return a;
}

Param opt_number(const std::optional<long long>& v) {
  if (!v) return std::nullopt;
  return std::to_string(*v);
}

struct Pair {
  std::string from, to;
  long long from_version = 0, to_version = 0;
  double share = 0;  // of the predecessor's area
};

}  // namespace

const std::vector<std::string> kClosedIncidentStatuses = {"closed", "cancelled", "evaluated", "invalid"};

std::string current_parent(pg::Connection& conn, const std::string& code, const OperationOptions& o) {
  try {
    return registry::require_current(conn, code).value_or("");
  } catch (const Error& e) {
    const bool conditional = !o.if_match.empty() && std::find(o.if_match.begin(), o.if_match.end(), "*") == o.if_match.end();
    if (e.status() != 410 || !conditional) throw;
    throw Error(412, "precondition_failed", std::string(e.what()) + "; the ETag sent is stale",
                json({{"stale_codes", {code}}, {"current_etags", {{code, nullptr}}}}).dump());
  }
}

Operation::Operation(const Toolkit& tk, pg::Connection& conn, const registry::Actor& actor, std::string kind, std::string target,
                     const OperationOptions& o)
    : m_tk(tk), m_actor(actor), m_kind(std::move(kind)), m_target(std::move(target)), m_o(o), m_tx(conn) {
  // One instant for every version the operation closes and opens, so history has no seams.
  auto t = m_tx.exec("toolkit.now",
                     "SELECT t::text, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
                     "FROM clock_timestamp() AS t");
  m_now = t.str(0, 0);
  m_now_rfc3339 = t.str(0, 1);
}

void Operation::lock(std::vector<std::string> parents) {
  std::sort(parents.begin(), parents.end());
  parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  for (const auto& p : parents) registry::lock_children_of(m_tx, p);
}

AreaRow Operation::current(const std::string& code) {
  auto r = m_tx.exec("toolkit.current",
                     std::string("SELECT ") + kRowColumns + " FROM areas WHERE code = $1 AND valid_to IS NULL FOR UPDATE", {code});
  if (r.rows() == 0) {
    current_parent(m_tx.connection(), code, m_o);  // throws 404, 410 or 412
    throw not_found("area_not_found", "no area has the code " + code);
  }
  return read_row(r, 0);
}

std::vector<AreaRow> Operation::children(const std::string& parent) {
  auto r = m_tx.exec(
      "toolkit.children",
      std::string("SELECT ") + kRowColumns + " FROM areas WHERE parent_code = $1 AND valid_to IS NULL ORDER BY code FOR UPDATE", {parent});
  std::vector<AreaRow> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_row(r, i));
  return out;
}

void Operation::touch(const AreaRow& row) {
  m_actor.require_edit(row.code);
  for (const auto& t : m_touched)
    if (t.code == row.code) return;
  m_touched.push_back(row);
}

void Operation::check_preconditions() const {
  if (m_o.if_match.empty()) {
    if (m_o.dry_run) return;  // a dry run tells the client which ETags the real run needs
    throw Error(428, "precondition_required",
                "this operation needs an If-Match header with the ETags of every area it touches (comma-separated); "
                "a dry run (dry_run=true) lists them under \"touched\"");
  }
  if (std::find(m_o.if_match.begin(), m_o.if_match.end(), "*") != m_o.if_match.end()) return;
  json stale = json::array();
  json current = json::object();
  for (const auto& t : m_touched) {
    current[t.code] = t.etag();
    if (std::find(m_o.if_match.begin(), m_o.if_match.end(), t.etag()) == m_o.if_match.end()) stale.push_back(t.code);
  }
  if (!stale.empty())
    throw Error(412, "precondition_failed", "If-Match lacks the current ETag of " + stale.dump() + " (changed since read, or not sent)",
                json({{"stale_codes", stale}, {"current_etags", current}}).dump());
}

void Operation::require_no_children(const AreaRow& row) {
  auto r = m_tx.exec("toolkit.children_count", "SELECT count(*) FROM areas WHERE parent_code = $1 AND valid_to IS NULL", {row.code});
  if (r.integer(0, 0) > 0)
    throw conflict("has_children", "area " + row.code + " has " + r.str(0, 0) + " current children; redistrict or retire them first");
}

void Operation::retire(const AreaRow& row) {
  m_tx.exec("toolkit.retire", "UPDATE areas SET valid_to = $2::timestamptz, retired_by = $3 WHERE id = $1",
            {row.id, m_now, m_actor.label()});
  m_closed.push_back(row);
  m_retired_codes.insert(row.code);
}

void Operation::supersede(const AreaRow& row) {
  m_tx.exec("toolkit.supersede", "UPDATE areas SET valid_to = $2::timestamptz WHERE id = $1", {row.id, m_now});
  m_closed.push_back(row);
}

std::string Operation::insert(const std::string& code, long long version, const std::string& name, const std::string& level,
                              const std::string& parent, const std::string& ewkb, std::optional<long long> households,
                              std::optional<long long> population, const std::string& attributes, const std::string& change,
                              Estimate estimate) {
  auto r = m_tx.exec("toolkit.insert",
                     "INSERT INTO areas (code, version, name, level, parent_code, geom, households, population, attributes, "
                     "  valid_from, changed_by, change) "
                     "VALUES ($1, $2::int, $3, $4, $5, ST_Multi($6::geometry), $7::int, $8::int, $9::jsonb, $10::timestamptz, $11, $12) "
                     "RETURNING id",
                     {code, std::to_string(version), name, level, parent.empty() ? Param() : Param(parent), ewkb, opt_number(households),
                      opt_number(population), attributes, m_now, m_actor.label(), change});
  m_new_ids.push_back(r.str(0, 0));
  if (estimate == Estimate::from_predecessors) m_estimate_ids.push_back(r.str(0, 0));
  return r.str(0, 0);
}

std::vector<std::string> Operation::allocate_codes(const std::string& parent, const std::string& level, std::size_t count) {
  // Every code ever used under the parent counts, retired ones included: codes are never reused.
  auto r = m_tx.exec("toolkit.max_sequence",
                     "SELECT coalesce(max(substr(code, length($1) + 1)::bigint), 0) FROM areas "
                     "WHERE left(code, length($1)) = $1 AND level = $2 AND length(code) > length($1) "
                     "  AND substr(code, length($1) + 1) ~ '^[0-9]+$'",
                     {parent, level});
  long long next = r.integer(0, 0) + 1;
  const auto lvl = *registry::parse_level(level);
  std::vector<std::string> out;
  while (out.size() < count) {
    std::string seq = std::to_string(next++);
    if (seq.size() < 3) seq.insert(0, 3 - seq.size(), '0');
    std::string code = parent + seq;
    try {
      m_tk.m_rules.validate(code, lvl, parent);
    } catch (const Error&) {
      throw conflict("codes_exhausted", "no free " + level + " code is left under " + parent + " (sequence " + seq +
                                            " breaks the code pattern; retired codes are never reused)");
    }
    auto used = m_tx.exec("toolkit.code_used", "SELECT 1 FROM areas WHERE code = $1 LIMIT 1", {code});
    if (used.rows() == 0) out.push_back(code);
  }
  return out;
}

OperationResult Operation::finish(double min_share, json result) {
  auto& tx = m_tx;
  const std::string srid = std::to_string(m_o.srid);
  auto op = tx.exec("toolkit.operation",
                    "INSERT INTO area_operations (kind, at, actor, target) VALUES ($1, $2::timestamptz, $3, $4) RETURNING id",
                    {m_kind, m_now, m_actor.label(), m_target});
  const std::string op_id = op.str(0, 0);

  std::vector<std::string> old_ids;
  std::map<std::string, const AreaRow*> old_by_code;
  for (const auto& c : m_closed) {
    old_ids.push_back(c.id);
    old_by_code[c.code] = &c;
  }
  const std::string old_arr = pg::array(old_ids);
  const std::string new_arr = pg::array(m_new_ids);

  // Who received what: the share of each old version's area inside each new version.
  auto pr = tx.exec("toolkit.pairs",
                    "SELECT o.code, o.version, n.code, n.version, "
                    "  ST_Area(wg_to_metric(ST_Intersection(o.geom, n.geom))) / NULLIF(ST_Area(wg_to_metric(o.geom)), 0) "
                    "FROM areas o JOIN areas n ON o.geom && n.geom "
                    "WHERE o.id = ANY($1::bigint[]) AND n.id = ANY($2::bigint[]) AND o.level = $3 AND n.level = $3 "
                    "ORDER BY 1, 3",
                    {old_arr, new_arr, m_level});
  std::vector<Pair> pairs;
  for (int i = 0; i < pr.rows(); ++i) {
    if (pr.is_null(i, 4)) continue;
    Pair p{pr.str(i, 0), pr.str(i, 2), pr.integer(i, 1), pr.integer(i, 3), pr.number(i, 4)};
    if (p.share > 1e-9) pairs.push_back(p);
  }

  // Estimates of households and population for the new versions that asked for them.
  if (!m_estimate_ids.empty()) {
    std::map<std::string, std::string> code_of_new;
    auto nc = tx.exec("toolkit.new_codes", "SELECT id, code, households, population FROM areas WHERE id = ANY($1::bigint[])",
                      {pg::array(m_estimate_ids)});
    std::vector<std::string> ids;
    std::vector<std::optional<long long>> hh, pop;
    for (int i = 0; i < nc.rows(); ++i) {
      const std::string code = nc.str(i, 1);
      double h = 0, p = 0;
      bool any_h = false, any_p = false;
      for (const auto& pair : pairs) {
        if (pair.to != code) continue;
        const AreaRow* o = old_by_code[pair.from];
        if (o->households) {
          h += static_cast<double>(*o->households) * pair.share;
          any_h = true;
        }
        if (o->population) {
          p += static_cast<double>(*o->population) * pair.share;
          any_p = true;
        }
      }
      ids.push_back(nc.str(i, 0));
      hh.push_back(any_h ? std::optional<long long>(std::llround(h)) : std::nullopt);
      pop.push_back(any_p ? std::optional<long long>(std::llround(p)) : std::nullopt);
      if (auto kept = m_kept_figures.find(nc.str(i, 0)); kept != m_kept_figures.end()) {
        if (kept->second.first) hh.back() = nc.is_null(i, 2) ? std::nullopt : std::optional<long long>(nc.integer(i, 2));
        if (kept->second.second) pop.back() = nc.is_null(i, 3) ? std::nullopt : std::optional<long long>(nc.integer(i, 3));
      }
    }
    tx.exec("toolkit.estimates",
            "UPDATE areas a SET households = v.h, population = v.p "
            "FROM unnest($1::bigint[], $2::int[], $3::int[]) AS v(id, h, p) WHERE a.id = v.id",
            {pg::array(ids), pg::array(hh), pg::array(pop)});
  }

  // Lineage: predecessor → successor across codes.
  json successors = json::object();
  {
    std::vector<std::string> from, to, fv, tv, share;
    for (const auto& p : pairs) {
      if (p.from == p.to || p.share <= min_share) continue;
      from.push_back(p.from);
      to.push_back(p.to);
      fv.push_back(std::to_string(p.from_version));
      tv.push_back(std::to_string(p.to_version));
      share.push_back(std::to_string(p.share));
      successors[p.from].push_back({{"code", p.to}, {"share", p.share}});
    }
    if (!from.empty())
      tx.exec("toolkit.lineage",
              "INSERT INTO area_lineage (operation_id, kind, at, predecessor, predecessor_version, successor, "
              "  successor_version, share) "
              "SELECT $1::bigint, $2, $3::timestamptz, f, fv, t, tv, s "
              "FROM unnest($4::text[], $5::int[], $6::text[], $7::int[], $8::float8[]) AS u(f, fv, t, tv, s)",
              {op_id, m_kind, m_now, pg::array(from), pg::array(fv), pg::array(to), pg::array(tv), pg::array(share)});
  }

  // Open incidents and checkpoints follow their location into the new grids.
  std::vector<std::string> old_codes;
  for (const auto& [code, row] : old_by_code) old_codes.push_back(code);
  const std::string old_codes_arr = pg::array(old_codes);
  // `bump`: more SET items, e.g. a version (a moved checkpoint's ETag must change: a client holding
  // the old one would otherwise overwrite the move).
  auto move_located = [&](const char* context, const std::string& table, const std::string& type, const std::string& filter,
                          const std::string& bump = "") {
    auto r =
        tx.exec(context,
                "WITH cand AS (SELECT x.id, x.grid_code AS from_grid, x.location FROM " + table +
                    " x "
                    "  WHERE x.grid_code = ANY($1::text[])" +
                    filter +
                    "), "
                    "pick AS (SELECT c.id, c.from_grid, coalesce("
                    "  (SELECT n.code FROM areas n WHERE n.id = ANY($2::bigint[]) AND n.level = $5 AND ST_Covers(n.geom, c.location) ORDER "
                    "BY n.code LIMIT 1), "
                    "  (SELECT n.code FROM areas n WHERE n.id = ANY($2::bigint[]) AND n.level = $5 ORDER BY ST_Distance(n.geom, "
                    "c.location), n.code LIMIT 1)"
                    ") AS to_grid FROM cand c), "
                    "upd AS (UPDATE " +
                    table + " x SET grid_code = p.to_grid" + bump +
                    " FROM pick p "
                    "  WHERE x.id = p.id AND p.to_grid IS NOT NULL AND p.to_grid <> p.from_grid RETURNING x.id, p.from_grid, p.to_grid), "
                    "rec AS (INSERT INTO grid_reassignments (operation_id, object_type, object_id, from_grid, to_grid) "
                    "  SELECT $3::bigint, '" +
                    type +
                    "', id, from_grid, to_grid FROM upd) "
                    "SELECT id, from_grid, to_grid FROM upd ORDER BY id",
                {old_codes_arr, new_arr, op_id, pg::array(kClosedIncidentStatuses), m_level});
    json ids = json::array(), changes = json::array();
    for (int i = 0; i < r.rows(); ++i) {
      ids.push_back(r.integer(i, 0));
      changes.push_back({{"id", r.integer(i, 0)}, {"from", r.str(i, 1)}, {"to", r.str(i, 2)}});
    }
    return json{{"count", r.rows()}, {"ids", ids}, {"changes", changes}};
  };
  json incidents = move_located("toolkit.move_incidents", "incidents", "incident", " AND x.status <> ALL($4::text[])");
  json checkpoints =
      move_located("toolkit.move_checkpoints", "checkpoints", "checkpoint", " AND $4::text[] IS NOT NULL", ", version = x.version + 1");

  // Workers of retired grids go to the successor with the largest share.
  json workers = {{"count", 0}, {"ids", json::array()}, {"changes", json::array()}};
  {
    std::vector<std::string> from;
    std::vector<std::string> to;
    for (const auto& code : m_retired_codes) {
      const Pair* best = nullptr;
      for (const auto& p : pairs)
        if (p.from == code && p.to != code && (!best || p.share > best->share)) best = &p;
      from.push_back(code);
      to.push_back(best ? best->to : "");
    }
    if (!from.empty()) {
      auto r = tx.exec("toolkit.move_workers",
                       "WITH m AS (SELECT f AS from_grid, nullif(t, '') AS to_grid FROM unnest($1::text[], $2::text[]) AS u(f, t)), "
                       "closed AS (UPDATE worker_assignments w SET unassigned_at = $3::timestamptz FROM m "
                       "  WHERE w.grid_code = m.from_grid AND w.unassigned_at IS NULL RETURNING w.worker_id, m.from_grid, m.to_grid), "
                       "ins AS (INSERT INTO worker_assignments (grid_code, worker_id, assigned_at, assigned_by) "
                       "  SELECT DISTINCT to_grid, worker_id, $3::timestamptz, $4 FROM closed WHERE to_grid IS NOT NULL "
                       "  ON CONFLICT (grid_code, worker_id) WHERE unassigned_at IS NULL DO NOTHING), "
                       "rec AS (INSERT INTO grid_reassignments (operation_id, object_type, object_id, from_grid, to_grid) "
                       "  SELECT $5::bigint, 'worker', worker_id, from_grid, to_grid FROM closed) "
                       "SELECT worker_id, from_grid, to_grid FROM closed ORDER BY 1, 2",
                       {pg::array(from), pg::array(to), m_now, m_actor.label(), op_id});
      std::set<long long> distinct;
      for (int i = 0; i < r.rows(); ++i) {
        distinct.insert(r.integer(i, 0));
        workers["changes"].push_back(
            {{"id", r.integer(i, 0)}, {"from", r.str(i, 1)}, {"to", r.is_null(i, 2) ? json(nullptr) : json(r.str(i, 2))}});
      }
      for (long long id : distinct) workers["ids"].push_back(id);
      workers["count"] = distinct.size();
    }
  }

  // Households have no positions: the estimate moves them with the area.
  json households = {{"count", 0}, {"estimated", true}, {"changes", json::array()}};
  {
    long long total = 0;
    for (const auto& p : pairs) {
      if (p.from == p.to) continue;
      const AreaRow* o = old_by_code[p.from];
      if (!o->households) continue;
      const long long moved = std::llround(static_cast<double>(*o->households) * p.share);
      if (moved == 0) continue;
      total += moved;
      households["changes"].push_back({{"from", p.from}, {"to", p.to}, {"households", moved}, {"share", p.share}});
    }
    households["count"] = total;
  }

  // The answer: what is current now (or would be), what ended, and the impact.
  auto nf = tx.exec("toolkit.new_features",
                    "SELECT code, version, wg_area_feature(a, $2::int)::text FROM areas a WHERE id = ANY($1::bigint[]) "
                    "ORDER BY code",
                    {new_arr, srid});
  std::set<std::string> new_codes;
  json features = json::array();
  json etags = json::object();
  std::vector<std::string> changed;
  for (int i = 0; i < nf.rows(); ++i) {
    new_codes.insert(nf.str(i, 0));
    features.push_back(json::parse(nf.get(i, 2)));
    etags[nf.str(i, 0)] = registry::area_etag(nf.str(i, 0), nf.integer(i, 1));
    changed.push_back(nf.str(i, 0));
  }
  json retired = json::array();
  for (const auto& code : m_retired_codes) {
    retired.push_back(code);
    changed.push_back(code);
  }
  json touched = json::object();
  for (const auto& t : m_touched) touched[t.code] = t.etag();

  json impact = {{"incidents", incidents}, {"checkpoints", checkpoints}, {"workers", workers}, {"households", households}};
  json body = {{"operation", m_kind},    {"operation_id", m_o.dry_run ? json(nullptr) : json(std::stoll(op_id))},
               {"dry_run", m_o.dry_run}, {"at", m_now_rfc3339},
               {"target", m_target},     {"touched", touched},
               {"retired", retired},     {"areas", {{"type", "FeatureCollection"}, {"features", features}}},
               {"etags", etags},         {"successors", successors},
               {"impact", impact}};
  for (auto it = result.begin(); it != result.end(); ++it) body[it.key()] = it.value();

  // Audit: one row per area, before → after version.
  {
    std::vector<registry::audit::Entry> entries;
    const long long operation_id = std::stoll(op_id);
    std::map<std::string, long long> new_version;
    for (int i = 0; i < nf.rows(); ++i) new_version[nf.str(i, 0)] = nf.integer(i, 1);
    std::set<std::string> seen;
    for (const auto& c : m_closed) {
      seen.insert(c.code);
      auto it = new_version.find(c.code);
      entries.push_back({"area",
                         c.code,
                         c.version,
                         it == new_version.end() ? std::nullopt : std::optional<long long>(it->second),
                         {{"operation_id", operation_id}, {"role", m_retired_codes.count(c.code) ? "retired" : "changed"}}});
    }
    for (const auto& [code, version] : new_version) {
      if (seen.count(code)) continue;
      entries.push_back({"area", code, std::nullopt, version, {{"operation_id", operation_id}, {"role", "created"}}});
    }
    registry::audit::record_all(tx.connection(), m_actor.label(), "area." + m_kind, entries);
  }
  tx.exec("toolkit.operation_detail", "UPDATE area_operations SET detail = $2::jsonb WHERE id = $1",
          {op_id,
           json({{"touched", touched}, {"retired", retired}, {"created_or_changed", etags}, {"successors", successors}, {"impact", impact}})
               .dump()});
  if (!m_o.dry_run) {
    tx.commit();
  } else {
    changed.clear();  // the destructor rolls everything back
  }
  return OperationResult{std::move(body), std::move(changed)};
}

}  // namespace wangge::toolkit
