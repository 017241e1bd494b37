// Incidents (cases): located on creation with the locator's answer (grid, hierarchy, method,
// workers), moved through the lifecycle of docs/domain.md ("Cases") with every step logged, timed
// against per-category limits in working time, and re-assigned when the registry changes.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "incidents/calendar.hpp"
#include "locate/service.hpp"
#include "pg/connection.hpp"
#include "registry/auth.hpp"

namespace wangge::incidents {

struct CaseRules {
  WorkCalendar calendar;
  nlohmann::json categories;  // geodata/case_categories.json
  // The time limit of a category in working minutes.
  long long limit_minutes(const std::string& category) const;
  static CaseRules parse(const std::string& calendar_json, const std::string& categories_json);
};

struct IncidentQuery {
  std::optional<std::string> area, status, category;
  std::optional<std::array<double, 4>> bbox;
  std::optional<Micros> from, to;
  bool overdue = false;
  int limit = 100;
  long long offset = 0;
};

// The lifecycle: which action leads from which states to which state.
struct Transition {
  const char* action;
  std::vector<const char*> from;
  const char* to;  // nullptr: stays (extend) or back to the held state (resume)
};
const std::vector<Transition>& lifecycle();
// Whether `status` is a state of the lifecycle (a case's `status`).
bool is_status(std::string_view status);

class IncidentStore {
 public:
  explicit IncidentStore(CaseRules rules) : m_rules(std::move(rules)) {}

  nlohmann::json create(pg::Connection& conn, const registry::Actor& actor, const nlohmann::json& body, const locate::Locator::View& view,
                        const std::string& crs_param) const;
  nlohmann::json get(pg::Connection& conn, const registry::Actor& actor, long long id) const;
  // {"incidents": [...], "numberMatched": n}
  nlohmann::json list(pg::Connection& conn, const registry::Actor& actor, const IncidentQuery& q) const;
  // Body {"action": "register"|"cancel"|"dispatch"|"handle"|"feedback"|"close"|"return"|"hold"|"resume"|"extend",
  //       "note"?, "working_hours"?|"working_days"? (extend)}.
  nlohmann::json transition(pg::Connection& conn, const registry::Actor& actor, long long id, const nlohmann::json& body,
                            const std::vector<std::string>& if_match) const;
  // After registry changes: open incidents in or assigned to the changed areas are located again;
  // those whose grid changed are updated and the move is logged. Returns how many moved.
  int reassign(pg::Connection& conn, const std::vector<std::string>& codes, const locate::Locator& locator) const;
  const CaseRules& rules() const { return m_rules; }

 private:
  CaseRules m_rules;
};

}  // namespace wangge::incidents
