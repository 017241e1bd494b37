#include "sample/loader.hpp"

#include <cstdio>
#include <stdexcept>

#include "registry/audit.hpp"
#include "registry/queries.hpp"

namespace wangge::sample {
namespace {

constexpr std::size_t kChunk = 1 << 20;

// Feeds rows to COPY in chunks of about a megabyte. `row(i, out)` appends row i with its newline.
template <typename Row>
void copy_rows(pg::Connection& conn, const char* context, const std::string& sql, std::size_t n, Row row) {
  std::size_t i = 0;
  conn.copy_in(context, sql, [&](std::string& chunk) {
    while (i < n && chunk.size() < kChunk) row(i++, chunk);
    return i < n;
  });
}

void field(std::string& out, std::string_view v, char sep = '\t') {
  pg::append_copy_field(out, v);
  out += sep;
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9f", v);
  return buf;
}

}  // namespace

bool registry_is_empty(pg::Connection& conn) { return registry::is_empty(conn); }

LoadCounts load(pg::Connection& conn, const Jurisdiction& j) {
  pg::Transaction tx(conn);
  if (!registry_is_empty(conn)) throw std::runtime_error("the registry already holds areas; the sample loads only into an empty one");
  const std::string now = tx.exec("sample.now", "SELECT clock_timestamp()::text").str(0, 0);
  std::size_t next_area = 0;
  registry::copy_in_areas(conn, [&](std::string& out) {
    for (; next_area < j.areas.size() && out.size() < kChunk; ++next_area) {
      const Area& a = j.areas[next_area];
      field(out, a.code);
      field(out, "1");
      field(out, a.name);
      field(out, a.level);
      if (a.parent_code.empty())
        out += "\\N\t";
      else
        field(out, a.parent_code);
      out += "SRID=4490;";
      field(out, a.wkt);
      field(out, std::to_string(a.households));
      field(out, std::to_string(a.population));
      field(out, now);
      field(out, "sample");
      field(out, "sample", '\n');
    }
    return next_area < j.areas.size();
  });
  copy_rows(conn, "sample.streets", "COPY streets (name, highway, oneway, geom) FROM STDIN", j.streets.size(),
            [&](std::size_t i, std::string& out) {
              const Street& s = j.streets[i];
              field(out, s.name);
              field(out, s.highway);
              field(out, s.oneway ? "t" : "f");
              out += "SRID=4490;";
              field(out, s.wkt, '\n');
            });
  // Workers get ids 1..n here (the table is empty), so assignments can refer to them in the same COPY pass.
  const long long worker_base = tx.exec("sample.worker_base", "SELECT coalesce(max(id), 0) FROM workers").integer(0, 0);
  copy_rows(conn, "sample.workers", "COPY workers (id, name, phone, area_code, created_by) FROM STDIN", j.workers.size(),
            [&](std::size_t i, std::string& out) {
              const Worker& w = j.workers[i];
              field(out, std::to_string(worker_base + 1 + static_cast<long long>(i)));
              field(out, w.name);
              field(out, w.phone);
              field(out, w.grid_code);
              field(out, "sample", '\n');
            });
  copy_rows(conn, "sample.assignments", "COPY worker_assignments (grid_code, worker_id, assigned_at, assigned_by) FROM STDIN",
            j.workers.size(), [&](std::size_t i, std::string& out) {
              field(out, j.workers[i].grid_code);
              field(out, std::to_string(worker_base + 1 + static_cast<long long>(i)));
              field(out, now);
              field(out, "sample", '\n');
            });
  tx.exec("sample.worker_seq", "SELECT setval('workers_id_seq', greatest(1, (SELECT max(id) FROM workers)))");
  copy_rows(conn, "sample.incidents",
            "COPY incidents (location, category, source, status, description, reporter, grid_code, reported_at, assignee) FROM STDIN",
            j.incidents.size(), [&](std::size_t i, std::string& out) {
              const Incident& n = j.incidents[i];
              field(out, "SRID=4490;POINT(" + number(n.lon) + " " + number(n.lat) + ")");
              field(out, n.category);
              field(out, n.source);
              field(out, n.status);
              field(out, n.description);
              field(out, n.reporter);
              out += "\\N\t";  // grid assignment is the locator's job, not the generator's
              field(out, n.reported_at);
              if (n.assignee_worker < 0)
                out += "\\N\n";
              else
                field(out, "worker:" + std::to_string(worker_base + 1 + n.assignee_worker), '\n');
            });
  copy_rows(conn, "sample.checkpoints", "COPY checkpoints (grid_code, name, kind, location, frequency) FROM STDIN", j.checkpoints.size(),
            [&](std::size_t i, std::string& out) {
              const Checkpoint& c = j.checkpoints[i];
              field(out, c.grid_code);
              field(out, c.name);
              field(out, c.kind);
              field(out, "SRID=4490;POINT(" + number(c.lon) + " " + number(c.lat) + ")");
              field(out, c.frequency, '\n');
            });
  registry::assign_incident_grids(tx.connection());
  registry::audit::record(tx.connection(), "sample", "sample.load",
                          {"registry", "*", std::nullopt, std::nullopt, {{"areas", j.areas.size()}}});
  tx.commit();
  registry::analyze(conn);
  return LoadCounts{static_cast<long long>(j.areas.size()), static_cast<long long>(j.streets.size()),
                    static_cast<long long>(j.workers.size()), static_cast<long long>(j.incidents.size()),
                    static_cast<long long>(j.checkpoints.size())};
}

}  // namespace wangge::sample
