// Statistics and evaluation (统计分析, 考核评价) as the routes see them: the case figures of an area
// rolled up over its hierarchy and grouped one way, the grid workers' patrol and case work, and a
// ranked evaluation of an area's children (and of departments, where the database has them) with
// weights from geodata/evaluation.json. Every answer is a JSON document and a Table for exports.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "registry/auth.hpp"
#include "stats/case_table.hpp"
#include "stats/table.hpp"

namespace wangge::stats {

// One component of an evaluation score: a rate, its weight and whether a high rate is good.
struct ScoreItem {
  std::string name;  // closure_rate, on_time_close_rate, timely_verification_rate, rework_rate, overdue_rate
  double weight = 0;
  bool higher_is_better = true;
};

struct EvaluationRules {
  CountRules counting;
  std::vector<ScoreItem> items;
  // Parses geodata/evaluation.json; throws std::runtime_error naming what is wrong.
  static EvaluationRules parse(const std::string& json);
};

struct Answer {
  nlohmann::json body;
  Table table;
};

// The parameters as the client sent them; the service checks them (400 invalid_parameter).
struct CasesRequest {
  std::optional<std::string> area, from, to, group_by, level;
  // The server's in-memory registry snapshot, when the caller has one: the area and its group
  // areas are then read from the database once per snapshot (every registry change swaps in a
  // new one), not on every request.
  std::shared_ptr<const void> registry_snapshot;
};

struct AreaMemo;
struct WorkersRequest {
  std::optional<std::string> area, from, to;
};
struct EvaluationRequest {
  std::optional<std::string> area, period;
  std::optional<std::string> table;  // the exported table: areas (default) or departments
};

class StatsService {
 public:
  StatsService(CaseTableCache& cases, EvaluationRules rules) : m_cases(cases), m_rules(std::move(rules)) {}

  Answer cases(pg::Connection& conn, const registry::Actor& actor, const CasesRequest& request) const;
  Answer workers(pg::Connection& conn, const registry::Actor& actor, const WorkersRequest& request) const;
  Answer evaluation(pg::Connection& conn, const registry::Actor& actor, const EvaluationRequest& request) const;
  const EvaluationRules& rules() const { return m_rules; }

 private:
  CaseTableCache& m_cases;
  EvaluationRules m_rules;
  // Areas and group areas as of m_memo_snapshot (cleared when the registry moves on; held, so
  // that its address is not reused by a later snapshot).
  mutable std::mutex m_memo_mutex;
  mutable std::shared_ptr<const void> m_memo_snapshot;
  mutable std::map<std::string, std::shared_ptr<const AreaMemo>> m_memo;
};

}  // namespace wangge::stats
