// The figures of a set of cases, counted from the in-memory case table (case_table.hpp): one scan
// of the records of an area's run of keys within the reporting period, grouped one way.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "stats/case_table.hpp"

namespace wangge::stats {

// What is counted for a set of cases (all counts are of cases reported in the period).
struct Figures {
  std::uint64_t reported = 0, registered = 0, dispatched = 0, closed = 0, closed_on_time = 0, overdue_now = 0, returned = 0,
                verification_due = 0, verified_on_time = 0;
  std::uint64_t handling_minutes = 0;        // sum over the closed cases, working minutes
  std::optional<std::uint32_t> p90_minutes;  // nearest rank; exact below 512 minutes, within 1/64 above
  // Rates are std::nullopt when nothing is there to rate (no closed case, no verification due).
  std::optional<double> on_time_close_rate() const;        // 按期结案率: closed on time / closed
  std::optional<double> rework_rate() const;               // 返工率: returned / verification due
  std::optional<double> timely_verification_rate() const;  // 及时核查率: verified on time / verification due
  std::optional<double> average_handling_hours() const;
  std::optional<double> p90_handling_hours() const;
  // Counts, hours and rates by their API names (the columns of every export, in that order).
  nlohmann::json to_json() const;
  static const std::vector<std::string>& column_names();
};

enum class GroupBy { none, keys, category, source, assignee, day, week, month };

struct CaseQuery {
  std::string prefix;                     // the area's code prefix; "" for every case
  std::int64_t from_day = 0, to_day = 0;  // local days since 1970-01-01, both counted
  std::int64_t now_s = 0;                 // what "overdue now" is measured against
  GroupBy by = GroupBy::none;
  std::vector<std::string> group_prefixes;  // GroupBy::keys: the code prefix of each group area
};

struct Group {
  std::string key;  // area code, category, source, assignee, YYYY-MM-DD (day; week: its Monday), YYYY-MM
  Figures figures;
};

struct CaseAnswer {
  Figures total;
  std::vector<Group> groups;  // GroupBy::keys: one per group area, in their order; else only the non-empty, in key order
};

CaseAnswer count_cases(const CaseTable& table, const CaseQuery& query);

// Fills table.blocks from the table's records; a block whose keys and records are those of
// `before` (the same record vectors) is shared with it rather than counted again.
void summarise(CaseTable& table, const CaseTable* before);

// "YYYY-MM-DD" of a local day number.
std::string format_day(std::int64_t day);

}  // namespace wangge::stats
