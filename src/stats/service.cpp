#include "stats/service.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/error.hpp"
#include "core/level.hpp"
#include "core/time.hpp"
#include "incidents/calendar.hpp"
#include "registry/codes.hpp"
#include "registry/queries.hpp"
#include "stats/figures.hpp"

namespace wangge::stats {
namespace {

using nlohmann::json;

constexpr std::int64_t kLocalOffsetS = 8 * 3600;
constexpr std::int64_t kMaxDays = 3660;  // ten years: the longest period one request counts

struct AreaRef {
  std::string code, name, level;  // code "": every case (an actor without scope, no area asked)
  json to_json() const {
    if (code.empty()) return json();
    return {{"code", code}, {"name", name}, {"level", level}};
  }
  std::string prefix() const { return code.empty() ? "" : registry::code_prefix(code); }
};

// The code of the area a statistic is about: the one asked for (inside the actor's scope), else
// the scope; std::nullopt for every case.
std::optional<std::string> checked_area(const registry::Actor& actor, std::optional<std::string> area) {
  if (!area) {
    if (!actor.scope) return std::nullopt;
    area = *actor.scope;
  }
  if (area->empty() || area->size() > 64 || area->find_first_not_of("0123456789") != std::string::npos)
    throw bad_request("invalid_parameter", "area must be an area code (digits)");
  // Scope before existence: outside its scope a token learns nothing about which codes exist.
  if (!actor.covers(*area)) throw forbidden("outside_scope", "the area " + *area + " lies outside this token's scope " + *actor.scope);
  return area;
}

AreaRef resolve_area(pg::Connection& conn, const registry::Actor& actor, std::optional<std::string> area) {
  const auto code = checked_area(actor, std::move(area));
  if (!code) return {};
  auto r = registry::current_area_row(conn, *code);
  if (r.rows() == 0) throw not_found("area_not_found", "no current area has the code " + *code);
  return {r.str(0, 0), r.str(0, 1), r.str(0, 2)};
}

std::int64_t today_local() { return (now_utc() / 1000000 + kLocalOffsetS) / 86400; }

std::int64_t day_param(const std::optional<std::string>& text, const char* name, std::int64_t fallback) {
  if (!text) return fallback;
  try {
    return incidents::parse_day(*text);
  } catch (const std::exception&) {
    throw bad_request("invalid_parameter", std::string(name) + " must be a date YYYY-MM-DD");
  }
}

// [from, to] in local days, both counted; by default the year up to today.
std::pair<std::int64_t, std::int64_t> period_of(const std::optional<std::string>& from, const std::optional<std::string>& to) {
  const std::int64_t t = day_param(to, "to", today_local());
  const std::int64_t f = day_param(from, "from", t - 364);
  if (f > t) throw bad_request("invalid_parameter", "from must not be after to");
  if (t - f + 1 > kMaxDays) throw bad_request("invalid_parameter", "a period spans at most 3660 days");
  return {f, t};
}

// "2026-03" (a month), "2026-Q1" (a quarter), "2026" (a year) → [first day, last day].
std::pair<std::int64_t, std::int64_t> evaluation_period(const std::optional<std::string>& text) {
  if (!text) throw bad_request("invalid_parameter", "period is required: YYYY-MM, YYYY-Qn or YYYY");
  const std::string& p = *text;
  auto bad = [] { return bad_request("invalid_parameter", "period must be YYYY-MM, YYYY-Qn or YYYY"); };
  if (p.size() < 4 || p.find_first_not_of("0123456789", 0) < 4) throw bad();
  const std::string year = p.substr(0, 4);
  int first_month = 1, months = 12;
  if (p.size() == 4) {
  } else if (p.size() == 7 && p[4] == '-' && p[5] == 'Q' && p[6] >= '1' && p[6] <= '4') {
    first_month = (p[6] - '1') * 3 + 1;
    months = 3;
  } else if (p.size() == 7 && p[4] == '-' && std::isdigit(static_cast<unsigned char>(p[5])) &&
             std::isdigit(static_cast<unsigned char>(p[6]))) {
    first_month = std::stoi(p.substr(5, 2));
    months = 1;
    if (first_month < 1 || first_month > 12) throw bad();
  } else {
    throw bad();
  }
  auto month_start = [&](int y, int m) {
    const std::string mm = m < 10 ? "0" + std::to_string(m) : std::to_string(m);
    return static_cast<std::int64_t>(incidents::parse_day(std::to_string(y) + "-" + mm + "-01"));
  };
  const int y = std::stoi(year);
  const int end_month = first_month + months;  // exclusive, may be 13
  const std::int64_t first = month_start(y, first_month);
  const std::int64_t last = (end_month > 12 ? month_start(y + 1, 1) : month_start(y, end_month)) - 1;
  return {first, last};
}

GroupBy parse_group_by(const std::optional<std::string>& text) {
  if (!text || *text == "none") return GroupBy::none;
  static const std::vector<std::pair<std::string, GroupBy>> names = {
      {"level", GroupBy::keys},        {"area", GroupBy::keys}, {"category", GroupBy::category}, {"source", GroupBy::source},
      {"assignee", GroupBy::assignee}, {"day", GroupBy::day},   {"week", GroupBy::week},         {"month", GroupBy::month}};
  for (const auto& [name, by] : names)
    if (*text == name) return by;
  throw bad_request("invalid_parameter", "group_by must be level, area, category, source, assignee, day, week or month");
}

std::shared_ptr<const CaseTable> table_or_busy(const CaseTableCache& cache) {
  auto t = cache.current();
  if (!t) throw unavailable("stats_loading", "the case statistics are still loading; retry shortly");
  return t;
}

json table_info(const CaseTable& t) {
  return {{"cases", t.case_count},
          {"keys", t.keys.size()},
          {"memory_bytes", t.memory},
          {"load_seconds", t.load_seconds},
          {"loaded_at", format_rfc3339(t.as_of_s * 1000000)}};
}

json figures_row(const std::string& group, const std::string& name, const Figures& f) {
  json row = {{"group", group}, {"name", name}};
  row.update(f.to_json());
  return row;
}

std::vector<std::string> figure_columns(std::vector<std::string> first) {
  for (const auto& c : Figures::column_names()) first.push_back(c);
  return first;
}

// The child areas (or the areas of one level) that a statistic is grouped into.
struct AreaGroups {
  std::vector<std::string> codes, names, prefixes;
};
AreaGroups area_groups(pg::Connection& conn, const AreaRef& area, const std::optional<std::string>& level) {
  pg::Result r;
  if (level) {
    auto l = parse_level(*level);
    if (!l || *l == Level::province)
      throw bad_request("invalid_parameter", "level must be city, county, township, village, grid or microgrid");
    if (!area.code.empty() && static_cast<int>(*l) <= static_cast<int>(*parse_level(area.level)))
      throw bad_request("invalid_parameter", "level must lie below the area's level " + area.level);
    r = registry::current_areas_under(conn, area.prefix(), *level);
  } else {
    r = registry::current_children(conn, area.code);
  }
  AreaGroups g;
  for (int i = 0; i < r.rows(); ++i) {
    g.codes.push_back(r.str(i, 0));
    g.names.push_back(r.str(i, 1));
    g.prefixes.push_back(registry::code_prefix(g.codes.back()));
  }
  return g;
}

std::optional<double> ratio(std::uint64_t a, std::uint64_t b) {
  if (b == 0) return std::nullopt;
  return static_cast<double>(a) / static_cast<double>(b);
}

// The rates an evaluation scores, by ScoreItem name.
std::optional<double> rate_of(const Figures& f, const std::string& name) {
  if (name == "closure_rate") return ratio(f.closed, f.registered);
  if (name == "on_time_close_rate") return f.on_time_close_rate();
  if (name == "timely_verification_rate") return f.timely_verification_rate();
  if (name == "rework_rate") return f.rework_rate();
  if (name == "overdue_rate") return ratio(f.overdue_now, f.dispatched);
  return std::nullopt;
}

// Score 0..100: the weighted mean of the item scores that have a rate (an item with nothing to
// rate, say no case closed, drops out rather than counting as 0 or 100).
json score_row(const EvaluationRules& rules, const std::string& code, const std::string& name, const Figures& f) {
  json row = {{"code", code}, {"name", name}};
  double sum = 0, weights = 0;
  for (const auto& item : rules.items) {
    auto r = rate_of(f, item.name);
    row[item.name] = r ? json(*r) : json();
    if (!r) continue;
    sum += item.weight * (item.higher_is_better ? *r : 1.0 - *r);
    weights += item.weight;
  }
  row["score"] = weights > 0 ? json(std::round(sum / weights * 10000.0) / 100.0) : json();
  for (const char* k : {"reported", "registered", "dispatched", "closed", "closed_on_time", "overdue_now", "returned", "verification_due",
                        "verified_on_time"})
    row[k] = f.to_json()[k];
  return row;
}

// Ranks rows by score, best first; equal scores share a rank (1, 2, 2, 4); no score ranks last.
void rank(std::vector<json>& rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
    if (a["score"].is_null() != b["score"].is_null()) return b["score"].is_null();
    if (a["score"].is_null()) return false;
    return a["score"].get<double>() > b["score"].get<double>();
  });
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0 && rows[i]["score"] == rows[i - 1]["score"])
      rows[i]["rank"] = rows[i - 1]["rank"];
    else
      rows[i]["rank"] = i + 1;
  }
}

std::vector<std::string> evaluation_columns(const EvaluationRules& rules) {
  std::vector<std::string> c = {"rank", "code", "name", "score"};
  for (const auto& item : rules.items) c.push_back(item.name);
  for (const char* k : {"reported", "registered", "dispatched", "closed", "closed_on_time", "overdue_now", "returned", "verification_due",
                        "verified_on_time"})
    c.push_back(k);
  return c;
}

}  // namespace

EvaluationRules EvaluationRules::parse(const std::string& text) {
  auto j = json::parse(text);
  EvaluationRules r;
  const double hours = j.value("verification_limit_working_hours", 4.0);
  if (!(hours > 0 && hours <= 1000)) throw std::runtime_error("evaluation: verification_limit_working_hours must be in (0, 1000]");
  r.counting.verification_limit_s = static_cast<std::int64_t>(hours * 3600);
  static const std::vector<std::pair<std::string, bool>> known = {{"closure_rate", true},
                                                                  {"on_time_close_rate", true},
                                                                  {"timely_verification_rate", true},
                                                                  {"rework_rate", false},
                                                                  {"overdue_rate", false}};
  for (const auto& [name, higher] : known) {
    if (!j.at("weights").contains(name)) continue;
    const double w = j["weights"][name].get<double>();
    if (!(w >= 0 && w <= 1000)) throw std::runtime_error("evaluation: the weight of " + name + " must be in [0, 1000]");
    r.items.push_back({name, w, higher});
  }
  for (auto it = j["weights"].begin(); it != j["weights"].end(); ++it)
    if (std::none_of(known.begin(), known.end(), [&](const auto& k) { return k.first == it.key(); }))
      throw std::runtime_error("evaluation: unknown weight " + it.key());
  if (r.items.empty()) throw std::runtime_error("evaluation: no weights");
  return r;
}

// An area and its group areas as the registry had them at one revision.
struct AreaMemo {
  std::string code, name, level;
  std::vector<std::string> codes, names, prefixes;
};

Answer StatsService::cases(pg::Connection& conn, const registry::Actor& actor, const CasesRequest& req) const {
  const GroupBy by = parse_group_by(req.group_by);
  if (req.level && (!req.group_by || *req.group_by != "level")) throw bad_request("invalid_parameter", "level goes with group_by=level");
  if (req.group_by && *req.group_by == "level" && !req.level)
    throw bad_request("invalid_parameter", "group_by=level needs level= (city, county, township, village, grid, microgrid)");
  const auto [from, to] = period_of(req.from, req.to);
  const auto code = checked_area(actor, req.area);
  const std::string memo_key = code.value_or("") + "|" + (by == GroupBy::keys ? req.level.value_or("") + "|groups" : "");
  std::shared_ptr<const AreaMemo> memo;
  if (req.registry_snapshot) {
    std::lock_guard lock(m_memo_mutex);
    if (m_memo_snapshot == req.registry_snapshot) {
      auto it = m_memo.find(memo_key);
      if (it != m_memo.end()) memo = it->second;
    }
  }
  if (!memo) {
    const AreaRef a = resolve_area(conn, actor, code);
    auto fresh = std::make_shared<AreaMemo>();
    fresh->code = a.code;
    fresh->name = a.name;
    fresh->level = a.level;
    if (by == GroupBy::keys) {
      AreaGroups g = area_groups(conn, a, req.level);
      fresh->codes = std::move(g.codes);
      fresh->names = std::move(g.names);
      fresh->prefixes = std::move(g.prefixes);
    }
    memo = fresh;
    if (req.registry_snapshot) {
      std::lock_guard lock(m_memo_mutex);
      // A registry change (or a memo grown past a few thousand areas) starts the memo afresh.
      if (m_memo_snapshot != req.registry_snapshot || m_memo.size() >= 4096) {
        m_memo.clear();
        m_memo_snapshot = req.registry_snapshot;
      }
      m_memo[memo_key] = memo;
    }
  }
  const AreaRef area{memo->code, memo->name, memo->level};
  CaseQuery q;
  q.prefix = area.prefix();
  q.from_day = from;
  q.to_day = to;
  q.now_s = now_utc() / 1000000;
  q.by = by;
  AreaGroups groups;
  if (by == GroupBy::keys) {
    groups = AreaGroups{memo->codes, memo->names, memo->prefixes};
    q.group_prefixes = groups.prefixes;
  }
  auto table = table_or_busy(m_cases);
  const CaseAnswer counted = count_cases(*table, q);

  Answer out;
  out.table.name = "cases";
  out.table.columns = figure_columns({"group", "name"});
  json rows = json::array();
  for (std::size_t g = 0; g < counted.groups.size(); ++g) {
    const std::string& key = counted.groups[g].key;
    std::string name = key;
    if (by == GroupBy::keys) name = groups.names[g];
    if (by == GroupBy::assignee && key.empty()) name = "(unassigned)";
    json row = figures_row(by == GroupBy::keys ? groups.codes[g] : key, name, counted.groups[g].figures);
    out.table.rows.push_back(row);
    rows.push_back(std::move(row));
  }
  out.table.rows.push_back(figures_row("total", area.code.empty() ? "" : area.name, counted.total));
  out.body = {{"area", area.to_json()},
              {"from", format_day(from)},
              {"to", format_day(to)},
              {"group_by", req.group_by.value_or("none")},
              {"level", req.level ? json(*req.level) : json()},
              {"totals", counted.total.to_json()},
              {"groups", rows},
              {"table", table_info(*table)}};
  return out;
}

Answer StatsService::evaluation(pg::Connection& conn, const registry::Actor& actor, const EvaluationRequest& req) const {
  const std::string exported = req.table.value_or("areas");
  if (exported != "areas" && exported != "departments") throw bad_request("invalid_parameter", "table must be areas or departments");
  const auto [from, to] = evaluation_period(req.period);
  const AreaRef area = resolve_area(conn, actor, req.area);
  const AreaGroups groups = area_groups(conn, area, std::nullopt);
  auto table = table_or_busy(m_cases);
  CaseQuery q;
  q.prefix = area.prefix();
  q.from_day = from;
  q.to_day = to;
  q.now_s = now_utc() / 1000000;
  q.by = GroupBy::keys;
  q.group_prefixes = groups.prefixes;
  const CaseAnswer counted = count_cases(*table, q);
  std::vector<json> rows;
  for (std::size_t g = 0; g < counted.groups.size(); ++g)
    rows.push_back(score_row(m_rules, groups.codes[g], groups.names[g], counted.groups[g].figures));
  rank(rows);

  // Departments are evaluated on the cases assigned to them, when the database has departments
  // (the case-handling workflow's table); the assignee names a department by its id, as
  // "department:<id>", or by its name.
  json departments;
  std::string departments_note;
  // A departments table without the columns id and name is reported, not failed on: the
  // evaluation of the areas stands on its own.
  if (conn.exec("stats.has_departments",
                "SELECT count(*) = 2 FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = 'departments' AND column_name IN ('id', 'name')")
          .boolean(0, 0)) {
    auto d = conn.exec("stats.departments", "SELECT id::text, name FROM departments ORDER BY id");
    q.by = GroupBy::assignee;
    q.group_prefixes.clear();
    const CaseAnswer by_assignee = count_cases(*table, q);
    std::vector<json> drows;
    for (int i = 0; i < d.rows(); ++i) {
      Figures sum;
      std::vector<std::string> names = {d.str(i, 0), "department:" + d.str(i, 0), d.str(i, 1)};
      for (const auto& g : by_assignee.groups) {
        if (std::find(names.begin(), names.end(), g.key) == names.end()) continue;
        const Figures& f = g.figures;
        sum.reported += f.reported;
        sum.registered += f.registered;
        sum.dispatched += f.dispatched;
        sum.closed += f.closed;
        sum.closed_on_time += f.closed_on_time;
        sum.overdue_now += f.overdue_now;
        sum.returned += f.returned;
        sum.verification_due += f.verification_due;
        sum.verified_on_time += f.verified_on_time;
        sum.handling_minutes += f.handling_minutes;
      }
      drows.push_back(score_row(m_rules, d.str(i, 0), d.str(i, 1), sum));
    }
    rank(drows);
    departments = drows;
  } else {
    departments_note = "this database has no departments table (with id and name): only areas are evaluated";
  }

  json weights = json::object();
  for (const auto& item : m_rules.items) weights[item.name] = {{"weight", item.weight}, {"higher_is_better", item.higher_is_better}};
  Answer out;
  out.table.name = "evaluation";
  out.table.columns = evaluation_columns(m_rules);
  out.table.rows = rows;
  // An office reads each ranking as its own sheet; the departments' rows have the areas' columns
  // (code is the department's id). No departments table: an empty sheet, as the JSON's null says.
  if (exported == "departments") {
    out.table.name = "evaluation_departments";
    out.table.rows.clear();
    if (departments.is_array())
      for (const auto& d : departments) out.table.rows.push_back(d);
  }
  out.body = {{"area", area.to_json()}, {"period", *req.period}, {"from", format_day(from)},   {"to", format_day(to)},
              {"weights", weights},     {"areas", rows},         {"departments", departments}, {"table", table_info(*table)}};
  if (!departments_note.empty()) out.body["departments_note"] = departments_note;
  return out;
}

Answer StatsService::workers(pg::Connection& conn, const registry::Actor& actor, const WorkersRequest& req) const {
  const auto [from, to] = period_of(req.from, req.to);
  const AreaRef area = resolve_area(conn, actor, req.area);
  // The workers of the area's grids (current assignments) and those registered in it. A
  // checkpoint is due once per period of its frequency (daily 1, weekly 7, monthly 30 days, or
  // every n days) counted from `from`; a period counts as visited when the worker recorded a
  // visit in it. Patrol distance and time add the steps between a worker's consecutive positions
  // that lie at most 30 minutes apart (a longer gap is a break, not a walk).
  auto r = conn.exec(
      "stats.workers",
      "WITH p AS (SELECT $2::date AS d0, $3::date AS d1, ($3::date - $2::date + 1) AS days), "
      "w AS (SELECT wk.id, wk.name, wk.area_code FROM workers wk WHERE left(wk.area_code, length($1)) = $1 "
      "  OR EXISTS (SELECT 1 FROM worker_assignments a WHERE a.worker_id = wk.id AND a.unassigned_at IS NULL "
      "             AND left(a.grid_code, length($1)) = $1)), "
      "cp AS (SELECT w.id AS worker_id, c.id, CASE c.frequency WHEN 'daily' THEN 1 WHEN 'weekly' THEN 7 WHEN 'monthly' THEN 30 "
      "         ELSE c.every_days END AS period "
      "       FROM w JOIN worker_assignments a ON a.worker_id = w.id AND a.unassigned_at IS NULL "
      "       JOIN checkpoints c ON c.grid_code = a.grid_code), "
      "due AS (SELECT cp.worker_id, sum(ceil(p.days::numeric / cp.period))::bigint AS due, "
      "  sum((SELECT count(DISTINCT ((v.visited_at AT TIME ZONE 'Asia/Shanghai')::date - p.d0) / cp.period) "
      "       FROM checkpoint_visits v WHERE v.checkpoint_id = cp.id AND v.worker_id = cp.worker_id "
      "       AND (v.visited_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN p.d0 AND p.d1))::bigint AS visited "
      "  FROM cp, p GROUP BY cp.worker_id), "
      "steps AS (SELECT wp.worker_id, wp.at - lag(wp.at) OVER s AS dt, "
      "  ST_Distance(wp.location::geography, (lag(wp.location) OVER s)::geography) AS metres "
      "  FROM worker_positions wp, p WHERE wp.worker_id IN (SELECT id FROM w) "
      "  AND (wp.at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN p.d0 AND p.d1 WINDOW s AS (PARTITION BY wp.worker_id ORDER BY wp.at, "
      "wp.id)), "
      "patrol AS (SELECT worker_id, coalesce(sum(metres) FILTER (WHERE dt <= interval '30 minutes'), 0) AS metres, "
      "  coalesce(extract(epoch FROM sum(dt) FILTER (WHERE dt <= interval '30 minutes')), 0) AS seconds FROM steps GROUP BY worker_id), "
      "reported AS (SELECT w.id AS worker_id, count(i.id) AS n FROM w JOIN incidents i ON i.source = 'worker' "
      "  AND i.reporter IN (w.id::text, 'worker:' || w.id, w.name), p "
      "  WHERE (i.reported_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN p.d0 AND p.d1 GROUP BY w.id), "
      "handled AS (SELECT w.id AS worker_id, count(i.id) AS n FROM w JOIN incidents i ON i.status = 'closed' "
      "  AND i.assignee IN (w.id::text, 'worker:' || w.id), p "
      "  WHERE (i.closed_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN p.d0 AND p.d1 GROUP BY w.id), "
      "verified AS (SELECT w.id AS worker_id, count(e.id) AS n FROM w JOIN incident_events e ON e.action = 'verify' "
      "  AND coalesce(e.detail->>'verifier', e.detail->>'worker') IN (w.id::text, 'worker:' || w.id), p "
      "  WHERE (e.at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN p.d0 AND p.d1 GROUP BY w.id) "
      "SELECT w.id, w.name, w.area_code, coalesce(due.due, 0), coalesce(due.visited, 0), "
      "  round(coalesce(patrol.metres, 0)::numeric, 1), round(coalesce(patrol.seconds, 0)::numeric / 3600, 3), "
      "  coalesce(reported.n, 0), coalesce(handled.n, 0), coalesce(verified.n, 0) "
      "FROM w LEFT JOIN due ON due.worker_id = w.id LEFT JOIN patrol ON patrol.worker_id = w.id "
      "LEFT JOIN reported ON reported.worker_id = w.id LEFT JOIN handled ON handled.worker_id = w.id "
      "LEFT JOIN verified ON verified.worker_id = w.id ORDER BY w.id",
      {area.prefix(), format_day(from), format_day(to)});
  Answer out;
  out.table.name = "workers";
  out.table.columns = {
      "worker",        "name",         "area",           "checkpoints_due", "checkpoints_visited", "patrol_completion_rate",
      "patrol_metres", "patrol_hours", "cases_reported", "cases_handled",   "verifications"};
  json rows = json::array();
  for (int i = 0; i < r.rows(); ++i) {
    const long long due = r.integer(i, 3), visited = r.integer(i, 4);
    json row = {{"worker", r.integer(i, 0)},
                {"name", r.str(i, 1)},
                {"area", r.str(i, 2)},
                {"checkpoints_due", due},
                {"checkpoints_visited", visited},
                {"patrol_completion_rate", due > 0 ? json(static_cast<double>(visited) / static_cast<double>(due)) : json()},
                {"patrol_metres", r.number(i, 5)},
                {"patrol_hours", r.number(i, 6)},
                {"cases_reported", r.integer(i, 7)},
                {"cases_handled", r.integer(i, 8)},
                {"verifications", r.integer(i, 9)}};
    out.table.rows.push_back(row);
    rows.push_back(std::move(row));
  }
  out.body = {{"area", area.to_json()}, {"from", format_day(from)}, {"to", format_day(to)}, {"workers", rows}};
  return out;
}

}  // namespace wangge::stats
