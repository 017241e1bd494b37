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

// The live sample's cases get the event log the lifecycle would have written, step by step
// from the times they hold (reported, dispatched, verified, closed), so that a case opened in the
// console shows how it got where it is. Steps without a time of their own are placed between
// their neighbours: registered soon after the report, taken up early in the time it was handled,
// feedback two thirds of the way to verification (or to now), a hold half-way.
void write_case_events(pg::Connection& conn) {
  conn.exec("sample.case_events", R"SQL(
WITH c AS (
  SELECT i.id, i.status, i.grid_code, i.reported_at, i.dispatched_at, i.deadline, i.closed_at, i.verified_at,
         i.held_from, i.assignee, i.handled_by, w.name AS assignee_name,
         coalesce(i.verified_at, i.closed_at, clock_timestamp()) AS handled_until
  FROM incidents i LEFT JOIN workers w ON i.assignee = 'worker:' || w.id
  WHERE i.created_by = 'sample')
INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status, detail)
SELECT id, reported_at, 'sample', 'collect', NULL, 'collect', jsonb_build_object('grid', grid_code) FROM c
UNION ALL
SELECT id, reported_at + least(interval '20 minutes', (coalesce(dispatched_at, clock_timestamp()) - reported_at) / 3),
       'sample', 'register', 'collect', 'register', '{}' FROM c WHERE status NOT IN ('collect', 'cancelled')
UNION ALL
SELECT id, reported_at + least(interval '2 hours', (clock_timestamp() - reported_at) / 3), 'sample', 'cancel', 'collect',
       'cancelled', '{}' FROM c WHERE status = 'cancelled'
UNION ALL
SELECT id, dispatched_at, 'sample', 'dispatch', 'register', 'dispatch',
       jsonb_build_object('assignee', assignee, 'assignee_name', assignee_name, 'deadline', wg_time(deadline))
FROM c WHERE dispatched_at IS NOT NULL
UNION ALL
SELECT id, dispatched_at + (handled_until - dispatched_at) * 0.15, 'sample', 'handle', 'dispatch', 'handle', '{}'
FROM c WHERE dispatched_at IS NOT NULL AND (status IN ('handle', 'feedback', 'verified', 'closed') OR held_from = 'handle')
UNION ALL
SELECT id, coalesce(dispatched_at, reported_at) + (clock_timestamp() - coalesce(dispatched_at, reported_at)) * 0.5, 'sample',
       'hold', held_from, 'hold', '{}' FROM c WHERE status = 'hold'
UNION ALL
SELECT id, dispatched_at + (handled_until - dispatched_at) * 0.67, 'sample', 'feedback', 'handle', 'feedback',
       jsonb_build_object('handled_by', handled_by) FROM c WHERE dispatched_at IS NOT NULL AND status IN ('feedback', 'verified', 'closed')
UNION ALL
SELECT id, verified_at, 'sample', 'verify', 'feedback', 'verified', jsonb_build_object('handled_by', handled_by)
FROM c WHERE verified_at IS NOT NULL AND status IN ('verified', 'closed')
UNION ALL
SELECT id, closed_at, 'sample', 'close', 'verified', 'closed', '{}' FROM c WHERE status = 'closed' AND closed_at IS NOT NULL
)SQL");
}

}  // namespace

bool registry_is_empty(pg::Connection& conn) { return registry::is_empty(conn); }

LoadCounts load(pg::Connection& conn, const Jurisdiction& j, const DeadlineRule& deadline) {
  if (!j.recent_cases.empty() && !deadline) throw std::logic_error("sample: recent cases need a deadline rule");
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
            "COPY incidents (location, category, source, status, description, reporter, grid_code, reported_at, assignee, "
            "dispatched_at, deadline, closed_at, handled_by, verified_at) FROM STDIN",
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
              const std::string assignee = n.assignee_worker < 0 ? "" : "worker:" + std::to_string(worker_base + 1 + n.assignee_worker);
              if (assignee.empty())
                out += "\\N\t";
              else
                field(out, assignee);
              if (n.dispatch_delay_seconds < 0 || !deadline) {
                out += "\\N\t\\N\t\\N\t\\N\t\\N\n";
                return;
              }
              // A finished case of the live sample's history: dispatched, closed at its share of
              // the time allowed, verified on the ground shortly before (at most an hour).
              const Micros dispatched = *parse_rfc3339(n.reported_at) + n.dispatch_delay_seconds * 1'000'000;
              const Micros due = deadline(n.category, dispatched);
              const Micros closed = dispatched + (due - dispatched) / 100 * n.closed_at_percent_of_limit;
              const Micros verified = closed - std::min<Micros>(3600LL * 1'000'000, (closed - dispatched) / 5);
              field(out, format_rfc3339(dispatched));
              field(out, format_rfc3339(due));
              field(out, format_rfc3339(closed));
              field(out, assignee);
              field(out, format_rfc3339(verified), '\n');
            });
  // The live part: one clock reading, so that ages are exact relative to each other.
  const Micros now_us = tx.exec("sample.now_us", "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint").integer(0, 0);
  auto ago = [&](long long seconds) { return format_rfc3339(now_us - seconds * 1'000'000); };
  copy_rows(conn, "sample.recent_cases",
            "COPY incidents (location, category, source, status, description, reporter, reported_at, assignee, dispatched_at, "
            "deadline, closed_at, held_from, handled_by, verified_at) FROM STDIN",
            j.recent_cases.size(), [&](std::size_t i, std::string& out) {
              const RecentCase& c = j.recent_cases[i];
              const Incident& n = c.incident;
              field(out, "SRID=4490;POINT(" + number(n.lon) + " " + number(n.lat) + ")");
              field(out, n.category);
              field(out, n.source);
              field(out, n.status);
              field(out, n.description);
              field(out, n.reporter);
              field(out, ago(c.reported_age_seconds));
              const std::string assignee = n.assignee_worker < 0 ? "" : "worker:" + std::to_string(worker_base + 1 + n.assignee_worker);
              auto optional = [&](bool present, const std::string& v, char sep = '\t') {
                if (present)
                  field(out, v, sep);
                else
                  out += sep == '\t' ? "\\N\t" : "\\N\n";
              };
              optional(!assignee.empty(), assignee);
              const bool dispatched = c.dispatched_age_seconds >= 0;
              optional(dispatched, dispatched ? ago(c.dispatched_age_seconds) : "");
              optional(dispatched, dispatched ? format_rfc3339(deadline(n.category, now_us - c.dispatched_age_seconds * 1'000'000)) : "");
              optional(c.closed_age_seconds >= 0, c.closed_age_seconds >= 0 ? ago(c.closed_age_seconds) : "");
              optional(n.status == "hold", "handle");
              const bool handled = n.status == "feedback" || n.status == "verified" || n.status == "closed";
              optional(handled, assignee);
              const bool verified = n.status == "verified" || n.status == "closed";
              // Verified a little after the dispatch: a fifth of the way from dispatch to closure (or to now).
              const long long verified_age = c.closed_age_seconds >= 0
                                                 ? c.closed_age_seconds + (c.dispatched_age_seconds - c.closed_age_seconds) / 5
                                                 : c.dispatched_age_seconds / 5;
              optional(verified, verified ? ago(verified_age) : "", '\n');
            });
  copy_rows(conn, "sample.positions", "COPY worker_positions (worker_id, location, at, recorded_by) FROM STDIN", j.positions.size(),
            [&](std::size_t i, std::string& out) {
              const Position& p = j.positions[i];
              field(out, std::to_string(worker_base + 1 + static_cast<long long>(p.worker)));
              field(out, "SRID=4490;POINT(" + number(p.lon) + " " + number(p.lat) + ")");
              field(out, ago(p.age_seconds));
              field(out, "sample", '\n');
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
  if (!j.recent_cases.empty()) {
    // What the locator gives a case reported through the API: a case opened in the console says
    // where it is.
    registry::assign_incident_hierarchies(tx.connection(), "sample");
    write_case_events(tx.connection());
  }
  registry::audit::record(tx.connection(), "sample", "sample.load",
                          {"registry", "*", std::nullopt, std::nullopt, {{"areas", j.areas.size()}}});
  tx.commit();
  registry::analyze(conn);
  return LoadCounts{static_cast<long long>(j.areas.size()),       static_cast<long long>(j.streets.size()),
                    static_cast<long long>(j.workers.size()),     static_cast<long long>(j.incidents.size() + j.recent_cases.size()),
                    static_cast<long long>(j.checkpoints.size()), static_cast<long long>(j.positions.size())};
}

}  // namespace wangge::sample
