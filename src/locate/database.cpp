#include "locate/database.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "geom/wkb.hpp"
#include "registry/queries.hpp"

namespace wangge::locate {
namespace {}  // namespace

void parse_wkb(std::string_view wkb, SourceArea& out) {
  // The locator keeps one flat vertex list; an empty ring adds no end.
  struct Rings {
    SourceArea& area;
    void polygon(std::uint32_t) {}
    void ring(const geom::WkbPoints& points) {
      for (std::uint32_t i = 0; i < points.size(); ++i) {
        const geom::XY p = points[i];
        area.vertices.push_back({p.x, p.y});
      }
      if (!points.empty()) area.ring_ends.push_back(static_cast<std::uint32_t>(area.vertices.size()));
    }
  };
  geom::read_polygonal(wkb, Rings{out});
}

Sources read_areas(pg::Connection& conn, std::optional<Micros> at, const std::vector<std::string>* codes) {
  auto r = registry::read_shapes(conn, at, codes);
  Sources out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(area_from_row(r, i));
  return out;
}

std::shared_ptr<SourceArea> area_from_row(const pg::Result& r, int row) {
  auto a = std::make_shared<SourceArea>();
  a->code = r.str(row, 0);
  a->name = r.str(row, 1);
  auto level = parse_level(r.get(row, 2));
  if (!level) throw std::runtime_error("unknown area level in the registry");
  a->level = *level;
  a->parent = r.str(row, 3);
  if (!r.is_null(row, 4)) parse_wkb(geom::wkb_from_hex(r.get(row, 4)), *a);
  return a;
}

WorkerDirectory read_workers(pg::Connection& conn, std::optional<Micros> at) {
  std::string sql = "SELECT a.grid_code, w.id, w.name FROM worker_assignments a JOIN workers w ON w.id = a.worker_id WHERE ";
  std::vector<pg::Param> params;
  if (at) {
    sql += "a.assigned_at <= $1::timestamptz AND (a.unassigned_at IS NULL OR a.unassigned_at > $1::timestamptz)";
    params.push_back(format_rfc3339(*at));
  } else {
    sql += "a.unassigned_at IS NULL";
  }
  sql += " ORDER BY a.grid_code, w.id";
  auto r = conn.exec("locate.workers", sql, params);
  WorkerDirectory::Builder dir;
  for (int i = 0; i < r.rows(); ++i) dir.add(r.str(i, 0), r.integer(i, 1), r.get(i, 2));
  return std::move(dir).build();
}

std::string workers_fingerprint(pg::Connection& conn) {
  auto r = conn.exec("locate.workers_fingerprint",
                     "SELECT coalesce(max(id), 0), count(*) FILTER (WHERE unassigned_at IS NULL) FROM worker_assignments");
  return r.str(0, 0) + "/" + r.str(0, 1);
}

}  // namespace wangge::locate
