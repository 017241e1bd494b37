// Working time for case time limits: working periods of a day, weekends, public holidays and the
// make-up working days (调休) that turn a weekend day into a working day. Local time is a fixed UTC
// offset (China has one time zone and no daylight saving).
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/time.hpp"

namespace wangge::incidents {

class WorkCalendar {
 public:
  // Parses geodata/calendar.json; throws std::runtime_error naming what is wrong.
  static WorkCalendar parse(const std::string& json);

  // The instant reached after `minutes` of working time from `start` (counting begins at the next
  // working moment when `start` is outside working time).
  Micros add_working_minutes(Micros start, long long minutes) const;
  // Working minutes between two instants (0 when end <= start).
  long long working_minutes_between(Micros start, Micros end) const;
  bool is_working_day(int days_since_epoch_local) const;
  int minutes_per_day() const;

 private:
  int m_offset_minutes = 480;
  std::vector<std::pair<int, int>> m_periods;  // minutes after local midnight, [begin, end)
  std::set<int> m_weekend;                     // 0 = Sunday ... 6 = Saturday
  std::set<int> m_holidays, m_workdays;        // local days since 1970-01-01
};

// Days since 1970-01-01 of a "YYYY-MM-DD"; throws std::runtime_error for anything else.
int parse_day(const std::string& text);

}  // namespace wangge::incidents
