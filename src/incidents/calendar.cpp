#include "incidents/calendar.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace wangge::incidents {
namespace {

constexpr Micros kMinute = 60LL * 1000000;
constexpr Micros kDay = 1440 * kMinute;

int parse_hhmm(const std::string& s) {
  if (s.size() != 5 || s[2] != ':') throw std::runtime_error("calendar: time of day must be HH:MM, got " + s);
  int h = std::stoi(s.substr(0, 2)), m = std::stoi(s.substr(3, 2));
  if (h > 24 || m > 59) throw std::runtime_error("calendar: bad time of day " + s);
  return h * 60 + m;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

int parse_day(const std::string& text) {
  auto t = parse_rfc3339(text + "T00:00:00Z");
  if (!t || text.size() != 10) throw std::runtime_error("calendar: a day is YYYY-MM-DD, got " + text);
  return static_cast<int>(*t / kDay);
}

WorkCalendar WorkCalendar::parse(const std::string& text) {
  auto j = nlohmann::json::parse(text);
  WorkCalendar c;
  c.m_offset_minutes = j.value("utc_offset_minutes", 480);
  for (const auto& p : j.at("work_periods")) {
    int a = parse_hhmm(p.at(0).get<std::string>()), b = parse_hhmm(p.at(1).get<std::string>());
    if (b <= a) throw std::runtime_error("calendar: a work period must end after it starts");
    c.m_periods.emplace_back(a, b);
  }
  std::sort(c.m_periods.begin(), c.m_periods.end());
  if (c.m_periods.empty()) throw std::runtime_error("calendar: no work periods");
  const std::vector<std::string> names = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
  for (const auto& d : j.value("weekend", nlohmann::json::array())) {
    auto it = std::find(names.begin(), names.end(), d.get<std::string>());
    if (it == names.end()) throw std::runtime_error("calendar: unknown weekday " + d.get<std::string>());
    c.m_weekend.insert(static_cast<int>(it - names.begin()));
  }
  for (const auto& d : j.value("holidays", nlohmann::json::array())) c.m_holidays.insert(parse_day(d.get<std::string>()));
  for (const auto& d : j.value("make_up_workdays", nlohmann::json::array())) c.m_workdays.insert(parse_day(d.get<std::string>()));
  return c;
}

bool WorkCalendar::is_working_day(int day) const {
  if (m_workdays.count(day)) return true;
  if (m_holidays.count(day)) return false;
  const int weekday = static_cast<int>(((day % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  return !m_weekend.count(weekday);
}

int WorkCalendar::minutes_per_day() const {
  int n = 0;
  for (const auto& [a, b] : m_periods) n += b - a;
  return n;
}

Micros WorkCalendar::add_working_minutes(Micros start, long long minutes) const {
  const Micros offset = m_offset_minutes * kMinute;
  Micros local = start + offset;
  std::int64_t day = floor_div(local, kDay);
  Micros in_day = local - day * kDay;
  Micros left = minutes * kMinute;
  for (int guard = 0; guard < 100000; ++guard) {
    if (is_working_day(static_cast<int>(day))) {
      for (const auto& [a, b] : m_periods) {
        const Micros pa = a * kMinute, pb = b * kMinute;
        if (in_day >= pb) continue;
        const Micros from = std::max(in_day, pa);
        if (from + left <= pb) return day * kDay + from + left - offset;
        left -= pb - from;
        in_day = pb;
      }
    }
    ++day;
    in_day = 0;
  }
  throw std::runtime_error("calendar: no working time found within 270 years");
}

long long WorkCalendar::working_minutes_between(Micros start, Micros end) const {
  if (end <= start) return 0;
  const Micros offset = m_offset_minutes * kMinute;
  std::int64_t day = floor_div(start + offset, kDay), last = floor_div(end + offset, kDay);
  Micros total = 0;
  for (; day <= last; ++day) {
    if (!is_working_day(static_cast<int>(day))) continue;
    for (const auto& [a, b] : m_periods) {
      const Micros pa = day * kDay + a * kMinute - offset, pb = day * kDay + b * kMinute - offset;
      const Micros lo = std::max(pa, start), hi = std::min(pb, end);
      if (hi > lo) total += hi - lo;
    }
  }
  return total / kMinute;
}

}  // namespace wangge::incidents
