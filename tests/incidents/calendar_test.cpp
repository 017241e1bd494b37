#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/time.hpp"
#include "incidents/calendar.hpp"

using namespace wangge;
using namespace wangge::incidents;

namespace {

WorkCalendar shipped() {
  std::ifstream in(WANGGE_SOURCE_DIR "/geodata/calendar.json");
  std::stringstream text;
  text << in.rdbuf();
  return WorkCalendar::parse(text.str());
}

Micros at(const char* rfc3339) { return *parse_rfc3339(rfc3339); }

}  // namespace

TEST(WorkCalendar, HoursRunOverTheWeekend) {
  auto c = shipped();
  // Friday 16:00 in Zhejiang + 4 working hours: 1.5 h on Friday, 2.5 h on Monday morning.
  EXPECT_EQ(format_rfc3339(c.add_working_minutes(at("2026-11-27T16:00:00+08:00"), 240)), "2026-11-30T03:00:00Z");
}

TEST(WorkCalendar, LunchBreakIsNotWorkingTime) {
  auto c = shipped();
  EXPECT_EQ(format_rfc3339(c.add_working_minutes(at("2026-11-26T11:30:00+08:00"), 60)), "2026-11-26T06:00:00Z");
}

TEST(WorkCalendar, MakeUpWorkdayCounts) {
  auto c = shipped();
  // Saturday 2026-02-14 is a make-up working day before the Spring Festival.
  EXPECT_EQ(format_rfc3339(c.add_working_minutes(at("2026-02-13T17:00:00+08:00"), 120)), "2026-02-14T02:00:00Z");
}

TEST(WorkCalendar, HolidaysDoNotCount) {
  auto c = shipped();
  // National Day week: from 30 September 17:00 one working hour ends on 8 October.
  EXPECT_EQ(format_rfc3339(c.add_working_minutes(at("2026-09-30T17:00:00+08:00"), 60)), "2026-10-08T01:00:00Z");
  EXPECT_FALSE(c.is_working_day(parse_day("2026-10-05")));
  EXPECT_TRUE(c.is_working_day(parse_day("2026-10-10")));   // a Saturday, made a working day
  EXPECT_FALSE(c.is_working_day(parse_day("2026-11-29")));  // an ordinary Sunday
}

TEST(WorkCalendar, MinutesBetweenIsTheInverse) {
  auto c = shipped();
  const Micros start = at("2026-11-27T16:00:00+08:00");
  for (long long m : {1LL, 30LL, 240LL, 450LL, 5 * 450LL}) {
    EXPECT_EQ(c.working_minutes_between(start, c.add_working_minutes(start, m)), m);
  }
  EXPECT_EQ(c.minutes_per_day(), 450);
  EXPECT_THROW(WorkCalendar::parse(R"({"work_periods": [["12:00", "08:00"]]})"), std::runtime_error);
}
