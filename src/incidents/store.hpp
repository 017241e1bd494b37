// Incidents (cases): located on creation with the locator's answer (grid, hierarchy, method,
// workers), moved through the lifecycle of docs/domain.md ("Cases") with every step logged, timed
// against per-category limits in working time, and re-assigned when the registry changes.
// Who handles a case: dispatch names an assignee (a department or a worker, "department:<id>" /
// "worker:<id>"), re-dispatch and return keep the chain in the events; feedback is verified on the
// ground by another worker of the grid (verify, or rework, counted); late cases can be urged, and
// an urging nobody answers climbs the area hierarchy; photos before/after are kept with the case.
#pragma once

#include <nlohmann/json.hpp>
#include <array>
#include <cstddef>
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

// Settings of case handling, read from the environment.
struct CaseSettings {
  // WANGGE_ESCALATE_AFTER_MINUTES: an urging the case has not answered (by moving on) goes to the
  // area above the grid after this long, and one level further up after each further period. A
  // day by default: urged in the afternoon, still untouched the next afternoon, the village (and
  // then the township) is told. Fractions are allowed (tests use seconds).
  double escalate_after_minutes = 24 * 60;
  // WANGGE_MAX_ATTACHMENT_KB: one photo. 10 MiB by default: a phone's full-resolution JPEG is 2-6 MB.
  std::size_t max_attachment_bytes = 10u << 20;
  static CaseSettings from_environment();
};

struct IncidentQuery {
  std::optional<std::string> area, status, category, assignee, source;
  std::optional<std::array<double, 4>> bbox;
  std::optional<Micros> from, to;
  bool overdue = false;
  bool open = false;         // only cases not closed or cancelled
  bool by_deadline = false;  // the page in deadline order (none last), then reported_at; else by id
  int limit = 100;
  long long offset = 0;
  // The members each case of the page carries (`id` always): a case board asks for the dozen it
  // shows instead of the whole case (a third of the bytes). Empty: every member.
  std::vector<std::string> fields;
};

// The members a case of GET /v1/incidents has, as `fields=` may name them.
const std::vector<std::string>& incident_list_fields();

// The lifecycle: which action leads from which states to which state.
struct Transition {
  const char* action;
  std::vector<const char*> from;
  const char* to;  // nullptr: stays (extend) or back to the held state (resume)
};
const std::vector<Transition>& lifecycle();
// Whether `status` is a state of the lifecycle (a case's `status`).
bool is_status(std::string_view status);
// Whether `source` is one a case may come from (hotline, app, worker, video).
bool is_source(std::string_view source);

class IncidentStore {
 public:
  // The settings default to the environment's, so that every process serving cases reads the same.
  explicit IncidentStore(CaseRules rules, CaseSettings settings = CaseSettings::from_environment())
      : m_rules(std::move(rules)), m_settings(settings) {}

  nlohmann::json create(pg::Connection& conn, const registry::Actor& actor, const nlohmann::json& body, const locate::Locator::View& view,
                        const std::string& crs_param) const;
  nlohmann::json get(pg::Connection& conn, const registry::Actor& actor, long long id) const;
  // {"incidents": [...], "numberMatched": n}
  nlohmann::json list(pg::Connection& conn, const registry::Actor& actor, const IncidentQuery& q) const;
  // Body {"action": one of lifecycle(), "note"?, "working_hours"?|"working_days"? (extend),
  //       "assignee" (dispatch, redispatch), "worker" (verify, rework: the verifying worker's id),
  //       "attachments"? (verify: ids of the case's attachments or http(s) URLs)}.
  nlohmann::json transition(pg::Connection& conn, const registry::Actor& actor, long long id, const nlohmann::json& body,
                            const std::vector<std::string>& if_match) const;
  // After registry changes: open incidents in or assigned to the changed areas are located again;
  // those whose grid changed are updated and the move is logged. Returns how many moved.
  int reassign(pg::Connection& conn, const std::vector<std::string>& codes, const locate::Locator& locator) const;
  const CaseRules& rules() const { return m_rules; }
  const CaseSettings& settings() const { return m_settings; }

  // Photos before/after handling (attachments.cpp). `kind` is before|after; the bytes must be a
  // JPEG, PNG or WebP (sniffed, whatever the request declares) of at most max_attachment_bytes.
  nlohmann::json attach(pg::Connection& conn, const registry::Actor& actor, long long id, const std::string& kind,
                        const std::string& declared_type, const std::string& bytes) const;
  nlohmann::json attachments(pg::Connection& conn, const registry::Actor& actor, long long id) const;
  struct Attachment {
    std::string content_type, sha256, bytes;
  };
  Attachment attachment(pg::Connection& conn, const registry::Actor& actor, long long id, long long attachment_id) const;

  // Throws incident_not_found or outside_scope; returns the case's status.
  std::string require_access(pg::Connection& conn, const registry::Actor& actor, long long id) const;

 private:
  // Records the escalation steps of the case's unanswered urgings that are due (lazily, see store.cpp).
  void escalate_due(pg::Connection& conn, long long id) const;
  nlohmann::json decorate(pg::Connection& conn, long long id, nlohmann::json incident) const;

  CaseRules m_rules;
  CaseSettings m_settings;
};

}  // namespace wangge::incidents
