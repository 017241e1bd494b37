#include "registry/bulk_import.hpp"

#include <functional>
#include <set>

#include "core/error.hpp"
#include "pg/array.hpp"
#include "registry/areas.hpp"
#include "registry/audit.hpp"

namespace wangge::registry {

using nlohmann::json;

std::optional<json> import_rows(pg::Connection& conn, const Actor& actor, const Config& config, const std::vector<ImportRow>& rows,
                                const ImportSettings& s, json& report) {
  const std::string level = level_name(s.level);
  const std::string& parent = s.parent;
  const auto say = [&](const std::string& line) {
    if (s.progress) s.progress(line);
  };
  pg::Transaction tx(conn);
  // A whole county of grids takes longer than an API statement may; the import holds one
  // connection for at most this long.
  tx.exec("import.timeout", "SET LOCAL statement_timeout = '15min'");
  if (!parent.empty()) {
    auto p = tx.exec("import.parent", "SELECT level FROM areas WHERE code = $1 AND valid_to IS NULL", {parent});
    if (p.rows() == 0) throw unprocessable("parent_not_found", "parent " + parent + " does not exist (or is retired)");
    auto want = registry::parent_level(s.level);
    if (!want || p.str(0, 0) != registry::level_name(*want))
      throw unprocessable("parent_level_mismatch", "the parent of a " + level + " cannot be a " + p.str(0, 0));
  } else if (s.level > registry::Level::county && !s.parent_per_row) {
    throw unprocessable("missing_parent", "a " + level + " needs a parent: send parent=CODE or parent_field=FIELD");
  }
  // Writers of one parent's children take its lock (in code order: no deadlock between imports).
  {
    std::set<std::string> parents;
    for (const auto& r : rows) parents.insert(r.parent);
    if (parents.empty()) parents.insert(parent);
    for (const auto& p : parents) lock_children_of(tx, p);
  }
  tx.exec("import.temp", "CREATE TEMP TABLE import_raw (n int, code text, name text, parent text, geom geometry) ON COMMIT DROP");
  std::size_t next = 0;
  tx.connection().copy_in("import.copy", "COPY import_raw (n, code, name, parent, geom) FROM STDIN", [&](std::string& chunk) {
    for (; next < rows.size() && chunk.size() < (1u << 20); ++next) {
      const ImportRow& r = rows[next];
      chunk += std::to_string(r.n) + '\t';
      pg::append_copy_field(chunk, r.code);
      chunk += '\t';
      pg::append_copy_field(chunk, r.name);
      chunk += '\t';
      if (r.parent.empty())
        chunk += "\\N";
      else
        pg::append_copy_field(chunk, r.parent);
      chunk += '\t' + r.wkb_hex + '\n';
    }
    return next < rows.size();
  });
  // Validity once per row (the pair checks below would otherwise repeat it per pair); JIT costs
  // more than it saves on these short statements.
  say("checking geometries");
  // upsert and replace-children: a code that is a current area of the same level and parent is
  // that area's next version. The checked table is written once and indexed after: an index built
  // in this transaction after an UPDATE (broken HOT chains) would be invisible to the transaction
  // itself, and the pair checks would compare every row with every other.
  tx.exec("import.rows",
          "CREATE TEMP TABLE import_rows ON COMMIT DROP AS SELECT n, code, name, parent, g AS geom, ST_IsValid(g) AS ok, "
          "  $2 AND EXISTS (SELECT 1 FROM areas a WHERE a.code = r.code AND a.valid_to IS NULL AND a.level = $1 "
          "  AND a.parent_code IS NOT DISTINCT FROM r.parent) AS existing "
          "FROM (SELECT n, code, name, parent, ST_SetSRID(geom, 4490) AS g FROM import_raw) r",
          {level, s.mode == ImportMode::insert ? "false" : "true"});
  tx.exec("import.jit", "SET LOCAL jit = off");
  // The overlap checks join the rows with themselves and with the registry: index them first.
  tx.exec("import.index", "CREATE INDEX ON import_rows USING gist (geom)");
  // The checks against the registry ask "is this code in the file?" per candidate row.
  tx.exec("import.code_index", "CREATE INDEX ON import_rows (code)");
  tx.exec("import.analyze", "ANALYZE import_rows");
  auto add = [&](const pg::Result& r, const char* problem, const std::function<json(const pg::Result&, int)>& extra) {
    for (int i = 0; i < r.rows(); ++i) {
      json p = {{"feature", r.integer(i, 0)}, {"code", r.str(i, 1)}, {"problem", problem}};
      p.update(extra(r, i));
      report["problems"].push_back(p);
    }
  };
  if (s.parent_per_row) {
    const auto want = registry::parent_level(s.level);
    add(tx.exec("import.parents",
                "SELECT i.n, i.code, i.parent, p.level FROM import_rows i LEFT JOIN areas p ON p.code = i.parent AND p.valid_to IS NULL "
                "WHERE p.code IS NULL OR p.level IS DISTINCT FROM $1 ORDER BY i.n",
                {want ? pg::Param(registry::level_name(*want)) : pg::Param()}),
        "parent_not_found", [&](const pg::Result& r, int i) {
          if (r.is_null(i, 3))
            return json{{"parent", r.str(i, 2)}, {"detail", "the parent " + r.str(i, 2) + " does not exist (or is retired)"}};
          return json{{"parent", r.str(i, 2)},
                      {"problem", "parent_level_mismatch"},
                      {"detail", "the parent of a " + level + " cannot be a " + r.str(i, 3)}};
        });
  }
  say("checking codes");
  {
    auto used = tx.exec("import.code_used",
                        "SELECT i.n, i.code, bool_or(a.valid_to IS NULL) FROM import_rows i JOIN areas a ON a.code = i.code "
                        "WHERE NOT i.existing GROUP BY i.n, i.code ORDER BY i.n");
    for (int i = 0; i < used.rows(); ++i) {
      const bool current = used.boolean(i, 2);
      json p = {{"feature", used.integer(i, 0)}, {"code", used.str(i, 1)}};
      if (s.mode == ImportMode::insert) {
        p.update({{"problem", "code_taken"},
                  {"detail",
                   "an area with this code exists or existed; codes are never reused"
                   " (mode=upsert updates current areas)"}});
      } else if (current) {
        p.update({{"problem", "code_taken"}, {"detail", "an area with this code exists at another level or under another parent"}});
      } else {
        p.update({{"problem", "code_retired"}, {"detail", "this code belonged to a retired area; codes are never reused"}});
      }
      report["problems"].push_back(p);
    }
  }
  say("checking validity and overlaps");
  add(tx.exec("import.invalid",
              "SELECT i.n, i.code, d.reason, ST_AsGeoJSON(d.location, 9, 0) FROM import_rows i, "
              "ST_IsValidDetail(i.geom) d WHERE NOT i.ok ORDER BY i.n"),
      "invalid_geometry", [](const pg::Result& r, int i) {
        return json{{"detail", r.str(i, 2)}, {"location", r.is_null(i, 3) ? json(nullptr) : json::parse(r.str(i, 3))["coordinates"]}};
      });
  if (s.level == Level::grid || s.level == Level::microgrid)
    add(tx.exec("import.too_small",
                "SELECT n, code, a, w FROM (SELECT n, code, ST_Area(wg_to_metric(geom)) AS a, " + mean_width_sql("geom") +
                    " AS w FROM import_rows WHERE ok) s WHERE a < $1::float8 OR w < $2::float8 ORDER BY n",
                {std::to_string(config.min_area_m2), std::to_string(config.min_width_m)}),
        "area_too_small", [&](const pg::Result& r, int i) {
          return json{{"area_m2", r.number(i, 2)},
                      {"width_m", r.number(i, 3)},
                      {"detail", "below the minimum size of a " + level + " (" + std::to_string(config.min_area_m2) + " m², " +
                                     std::to_string(config.min_width_m) + " m wide)"}};
        });
  const std::string tol = std::to_string(config.overlap_tolerance_m2);
  add(tx.exec("import.overlaps",
              // Neighbours that only touch share no interior: drop them before measuring anything
              // (MATERIALIZED keeps the planner from measuring first).
              "WITH pairs AS MATERIALIZED (SELECT a.n, a.code, b.code AS other, a.geom AS ga, b.geom AS gb "
              "FROM import_rows a JOIN import_rows b ON a.n < b.n AND a.geom && b.geom AND a.ok AND b.ok "
              "AND ST_Relate(a.geom, b.geom, '2********')) "
              "SELECT n, code, other, ST_Area(wg_to_metric(x)) AS m2, ST_AsGeoJSON(x, 9, 0) FROM (SELECT n, code, other, "
              "ST_CollectionExtract(ST_Intersection(ga, gb), 3) AS x FROM pairs) s WHERE ST_Area(wg_to_metric(x)) > $1::float8 ORDER BY n",
              {tol}),
      "overlap", [](const pg::Result& r, int i) {
        return json{{"with", r.str(i, 2)},
                    {"area_m2", r.number(i, 3)},
                    {"geometry", json::parse(r.str(i, 4))},
                    {"detail", "overlaps another feature of the file"}};
      });
  // Existing siblings the file replaces do not count: all of them with replace-children, the
  // updated ones with upsert.
  if (s.mode != ImportMode::replace_children)
    add(tx.exec("import.overlaps_existing",
                "SELECT i.n, i.code, a.code, ST_AsGeoJSON(ST_CollectionExtract(ST_Intersection(a.geom, i.geom), 3), 9, 0) "
                "FROM import_rows i JOIN areas a ON a.valid_to IS NULL AND a.level = $1 "
                "AND a.parent_code IS NOT DISTINCT FROM i.parent AND a.geom && i.geom AND i.ok "
                "AND NOT EXISTS (SELECT 1 FROM import_rows r WHERE r.existing AND r.code = a.code) "
                "AND ST_Relate(a.geom, i.geom, '2********') "
                "WHERE ST_Area(wg_to_metric(ST_Intersection(a.geom, i.geom))) > $2::float8 ORDER BY i.n",
                {level, tol}),
        "overlaps_sibling", [](const pg::Result& r, int i) {
          return json{{"with", r.str(i, 2)},
                      {"geometry", json::parse(r.str(i, 3))},
                      {"detail", "overlaps an existing area of the same level and parent"}};
        });
  // An updated area must still hold its own children.
  add(tx.exec("import.children_outside",
              "SELECT i.n, i.code, count(*) FROM import_rows i JOIN areas c ON c.parent_code = i.code AND c.valid_to IS NULL "
              "WHERE i.existing AND i.ok AND NOT ST_CoveredBy(c.geom, i.geom) AND NOT ST_IsEmpty(ST_Difference(wg_to_metric(c.geom), "
              "  ST_Buffer(ST_Transform(i.geom, ST_SRID(wg_to_metric(c.geom))), $1::float8))) GROUP BY i.n, i.code ORDER BY i.n",
              {std::to_string(config.parent_tolerance_m)}),
      "children_outside", [](const pg::Result& r, int i) {
        return json{{"children", r.integer(i, 2)}, {"detail", "the new geometry leaves some of this area's children outside"}};
      });
  if (s.mode == ImportMode::replace_children) {
    auto orphans =
        tx.exec("import.retired_with_children",
                "SELECT a.code, count(*) FROM areas a JOIN areas c ON c.parent_code = a.code AND c.valid_to IS NULL "
                "WHERE a.parent_code = $1 AND a.valid_to IS NULL AND NOT EXISTS (SELECT 1 FROM import_rows i WHERE i.code = a.code) "
                "GROUP BY a.code ORDER BY a.code",
                {parent});
    for (int i = 0; i < orphans.rows(); ++i)
      report["problems"].push_back({{"feature", nullptr},
                                    {"code", orphans.str(i, 0)},
                                    {"problem", "has_children"},
                                    {"detail", "this child of " + parent + " is not in the file, so it would be retired, but it has " +
                                                   orphans.str(i, 1) + " children of its own"}});
  }
  add(tx.exec("import.outside",
              "SELECT i.n, i.code, ST_Area(wg_to_metric(ST_Difference(i.geom, p.geom))), i.parent, "
              "ST_AsGeoJSON(ST_CollectionExtract(ST_Difference(i.geom, p.geom), 3), 9, 0) FROM import_rows i "
              "JOIN areas p ON p.code = i.parent AND p.valid_to IS NULL WHERE i.ok AND NOT ST_CoveredBy(i.geom, p.geom) "
              "AND NOT ST_IsEmpty(ST_Difference(wg_to_metric(i.geom), ST_Buffer(ST_Transform(p.geom, ST_SRID(wg_to_metric(i.geom))), "
              "$1::float8))) "
              "ORDER BY i.n",
              {std::to_string(config.parent_tolerance_m)}),
      "outside_parent", [&](const pg::Result& r, int i) {
        return json{{"outside_m2", r.number(i, 2)},
                    {"geometry", json::parse(r.str(i, 4))},
                    {"detail", "reaches outside the parent " + r.str(i, 3)}};
      });
  if (!parent.empty()) {
    say("checking the parent's coverage");
    // The parent's part covered by neither the file nor the siblings it keeps.
    auto gap = tx.exec("import.gap",
                       "SELECT ST_Area(wg_to_metric(ST_Difference(p.geom, ST_Union(c.geom)))) FROM "
                       "(SELECT geom FROM areas WHERE code = $1 AND valid_to IS NULL) p, "
                       "(SELECT geom FROM import_rows WHERE ok UNION ALL SELECT a.geom FROM areas a "
                       " WHERE a.parent_code = $1 AND a.valid_to IS NULL AND NOT $2 "
                       " AND NOT EXISTS (SELECT 1 FROM import_rows r WHERE r.existing AND r.code = a.code)) c GROUP BY p.geom",
                       {parent, s.mode == ImportMode::replace_children ? "true" : "false"});
    if (gap.rows() == 1 && !gap.is_null(0, 0)) {
      report["gap_m2"] = gap.number(0, 0);  // uncovered part of the parent
      // A partial insert may leave the rest for later; a whole new set of children may not.
      if (s.mode == ImportMode::replace_children && gap.number(0, 0) > config.overlap_tolerance_m2)
        report["problems"].push_back({{"feature", nullptr},
                                      {"code", parent},
                                      {"problem", "gap"},
                                      {"gap_m2", gap.number(0, 0)},
                                      {"detail", "the file leaves part of " + parent + " uncovered"}});
    }
  }
  report["valid"] = report["problems"].empty();
  report["written"] = 0;
  if (!report["problems"].empty()) {
    if (s.dry_run) return std::nullopt;  // the transaction rolls back: a dry run writes nothing
    throw unprocessable("import_invalid",
                        "the file has " + std::to_string(report["problems"].size()) + " problems; nothing was written (see problems)",
                        json({{"report", report}}).dump());
  }
  if (s.mode == ImportMode::replace_children) {
    return json::parse(tx.exec("import.plan",
                               "SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object("
                               "  'type', 'Feature', 'properties', json_build_object('code', code, 'name', name), "
                               "  'geometry', ST_AsGeoJSON(geom, 9)::json) ORDER BY n))::text FROM import_rows")
                           .str(0, 0));
  } else {
    const auto existing =
        tx.exec("import.count_existing", "SELECT count(*) FILTER (WHERE existing), count(*) FILTER (WHERE NOT existing) FROM import_rows");
    if (s.dry_run) {
      report["updated_or_unchanged"] = existing.integer(0, 0);
      report["inserted"] = existing.integer(0, 1);
      return std::nullopt;  // rolls back
    }
    say("writing");
    // upsert: close the current version of every changed area and write the next one; an area whose
    // name and geometry are the same stays as it is (re-importing a file changes nothing).
    auto closed = tx.exec("import.close",
                          "UPDATE areas a SET valid_to = clock_timestamp() FROM import_rows i WHERE i.existing AND a.code = i.code "
                          "AND a.valid_to IS NULL AND NOT (a.name = i.name AND ST_Equals(a.geom, ST_Multi(i.geom))) RETURNING a.id");
    std::string ids = "{";
    for (int i = 0; i < closed.rows(); ++i) ids += (i ? "," : "") + closed.str(i, 0);
    ids += "}";
    auto updated = tx.exec("import.update",
                           "INSERT INTO areas (code, version, name, level, parent_code, geom, households, population, attributes, "
                           "  valid_from, changed_by, change) "
                           "SELECT a.code, a.version + 1, i.name, a.level, a.parent_code, ST_Multi(i.geom), a.households, a.population, "
                           "  a.attributes, a.valid_to, $2, 'import' FROM areas a JOIN import_rows i ON i.code = a.code "
                           "WHERE a.id = ANY($1::bigint[]) ORDER BY i.n RETURNING code, version",
                           {ids, actor.label()});
    auto inserted = tx.exec("import.insert",
                            "INSERT INTO areas (code, version, name, level, parent_code, geom, valid_from, changed_by, change) "
                            "SELECT code, 1, name, $1, parent, ST_Multi(geom), clock_timestamp(), $2, 'import' FROM import_rows "
                            "WHERE NOT existing ORDER BY n RETURNING code, version",
                            {level, actor.label()});
    std::vector<audit::Entry> entries;
    const json detail = {{"file", s.file_name}, {"mode", s.mode_name}};
    for (const auto* r : {&updated, &inserted})
      for (int i = 0; i < r->rows(); ++i) entries.push_back({"area", r->str(i, 0), std::nullopt, r->integer(i, 1), detail});
    audit::record_all(tx.connection(), actor.label(), "area.import", entries);
    tx.commit();
    if (s.written)
      for (const auto* r : {&updated, &inserted})
        for (int i = 0; i < r->rows(); ++i) s.written(r->str(i, 0));
    report["inserted"] = inserted.rows();
    report["updated"] = updated.rows();
    report["unchanged"] = existing.integer(0, 0) - updated.rows();
    report["written"] = inserted.rows() + updated.rows();
    say("wrote " + std::to_string(inserted.rows()) + " new areas and " + std::to_string(updated.rows()) + " new versions");
    return std::nullopt;
  }
}

}  // namespace wangge::registry
