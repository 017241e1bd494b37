// Handling departments (处置部门: 城管, 住建, 市场监管 ...): who a case can be dispatched to besides
// a grid worker. A department serves a set of areas (each code covers its subtree) and handles a
// set of case categories; both decide whether a case may be dispatched to it and which department
// a new case suggests. Retired rather than deleted, so old cases keep naming them.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "registry/auth.hpp"

namespace wangge::incidents {

struct Department {
  long long id = 0;
  std::string name;
  std::vector<std::string> scope, categories;
  bool serves(const std::string& category) const;
  // How closely the department's scope fits the code: the length of the longest scope code's
  // prefix that covers it, or std::nullopt when none does.
  std::optional<std::size_t> fit(const std::string& code) const;
};

class DepartmentStore {
 public:
  // Body {"name", "scope": [area codes], "categories": [names], "phone"?}. Admins and managers,
  // inside their scope; audited as department.create.
  nlohmann::json create(pg::Connection& conn, const registry::Actor& actor, const nlohmann::json& body) const;
  nlohmann::json get(pg::Connection& conn, const registry::Actor& actor, long long id) const;
  // Current departments whose scope meets the actor's (and `area`'s) subtree, optionally handling `category`.
  nlohmann::json list(pg::Connection& conn, const registry::Actor& actor, const std::optional<std::string>& area,
                      const std::optional<std::string>& category) const;
  // Replaces the given properties; `if_match` as for cases. Audited as department.update.
  nlohmann::json update(pg::Connection& conn, const registry::Actor& actor, long long id, const nlohmann::json& body,
                        const std::vector<std::string>& if_match) const;
  // Retires the department; refused (409 department_in_use) while open cases are assigned to it.
  void retire(pg::Connection& conn, const registry::Actor& actor, long long id, const std::vector<std::string>& if_match) const;
};

// The current (not retired) department with this id, if any.
std::optional<Department> current_department(pg::Connection& conn, long long id);
// The current departments that handle `category`.
std::vector<Department> departments_for(pg::Connection& conn, const std::string& category);
// Every current department, by id (one read for the suggestions of a page of cases).
std::vector<Department> current_departments(pg::Connection& conn);
std::string department_etag(long long id, long long version);

}  // namespace wangge::incidents
