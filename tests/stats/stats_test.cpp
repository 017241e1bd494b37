// The statistics' parts that need no database: the working-time clock against the calendar it
// summarises, and the figures of hand-made case tables (rates, p90, roll-up by key prefix).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "stats/case_table.hpp"
#include "stats/figures.hpp"
#include "stats/table.hpp"

namespace wangge::stats {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(WorkClock, AgreesWithTheCalendarOnRandomIntervals) {
  const auto calendar = incidents::WorkCalendar::parse(read_file(std::string(WANGGE_SOURCE_DIR) + "/geodata/calendar.json"));
  const WorkClock clock(calendar, 18262, 7671);
  std::mt19937_64 rng(15);
  // 2025-01-01 .. 2027-01-01 in seconds; spans from a minute to two months, across holidays and
  // make-up working days.
  std::uniform_int_distribution<std::int64_t> start(1735660800, 1798732800), span(60, 60LL * 86400);
  for (int i = 0; i < 20000; ++i) {
    const std::int64_t a = start(rng) / 60 * 60, b = a + span(rng) / 60 * 60;
    ASSERT_EQ(clock.working_seconds_between(a, b), calendar.working_minutes_between(a * 1000000, b * 1000000) * 60)
        << "from " << a << " to " << b;
  }
}

CaseRecord closed_case(std::uint32_t reported_min, std::uint32_t minutes, bool on_time) {
  return CaseRecord{reported_min,
                    minutes,
                    0,
                    0,
                    0,
                    static_cast<std::uint8_t>(kRegistered | kDispatched | kClosed | (on_time ? kClosedOnTime : 0) | kVerifyDue)};
}

CaseTable table_of(std::vector<std::pair<std::string, std::vector<CaseRecord>>> keys) {
  CaseTable t;
  for (auto& [k, records] : keys) {
    // The table keeps each key's records in reporting order.
    std::stable_sort(records.begin(), records.end(),
                     [](const CaseRecord& a, const CaseRecord& b) { return a.reported_min < b.reported_min; });
    t.keys.push_back(k);
    t.case_count += records.size();
    t.cases.push_back(std::make_shared<const std::vector<CaseRecord>>(std::move(records)));
  }
  t.categories = std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"c"});
  t.sources = std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"hotline"});
  t.assignees = std::make_shared<const std::vector<std::string>>(std::vector<std::string>{""});
  return t;
}

TEST(Figures, RollUpByPrefixWithRatesAndNearestRankP90) {
  // 2026-03-02 09:00 +08:00 in minutes since the epoch.
  const std::uint32_t t = 1772413200 / 60;
  std::vector<CaseRecord> a, b, other;
  for (std::uint32_t m = 1; m <= 10; ++m) a.push_back(closed_case(t, m * 10, m <= 6));  // 10..100 minutes
  b.push_back(closed_case(t, 1000, false));
  b.push_back(CaseRecord{t, 0, 0, 0, 0, kRegistered});
  other.push_back(closed_case(t, 5, true));
  const CaseTable table = table_of({{"330102001001001", a}, {"330102001002001", b}, {"330102002001001", other}});
  CaseQuery q;
  q.prefix = "330102001";
  q.from_day = 20514;  // 2026-03-02
  q.to_day = 20514;
  q.by = GroupBy::keys;
  q.group_prefixes = {"330102001001", "330102001002"};
  const CaseAnswer r = count_cases(table, q);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].figures.closed, 10u);
  EXPECT_EQ(r.groups[0].figures.p90_minutes, 90u);  // nearest rank 9 of 10
  EXPECT_DOUBLE_EQ(*r.groups[0].figures.on_time_close_rate(), 0.6);
  EXPECT_EQ(r.groups[1].figures.reported, 2u);
  EXPECT_EQ(r.total.reported, 12u);  // the third key lies outside the prefix
  EXPECT_EQ(r.total.closed, 11u);
  EXPECT_EQ(r.total.handling_minutes, 550u + 1000u);
  EXPECT_EQ(r.total.p90_minutes, 100u);  // rank 10 of 11
  q.from_day = q.to_day = 20515;         // the next day: nothing reported
  EXPECT_EQ(count_cases(table, q).total.reported, 0u);
}

// The month summaries of blocks of keys give the figures a scan of the records gives, for whole
// and partial months, whole and partial blocks, and areas that split a block.
TEST(Figures, MonthSummariesAgreeWithTheRecords) {
  std::mt19937_64 rng(7);
  std::vector<std::pair<std::string, std::vector<CaseRecord>>> keys;
  const std::uint32_t year = 1735660800 / 60;  // 2025-01-01 00:00 UTC in minutes
  for (int k = 0; k < 1500; ++k) {
    char code[32];
    std::snprintf(code, sizeof code, "3301%02d%03d%03d", k / 300, (k / 30) % 10, k % 30);
    std::vector<CaseRecord> records;
    for (int i = 0; i < 20; ++i) {
      const std::uint64_t x = rng();
      CaseRecord r{static_cast<std::uint32_t>(year + x % (366 * 1440)), 0, 0, static_cast<std::uint16_t>(x >> 40 & 1), 0,
                   static_cast<std::uint8_t>(kRegistered | kDispatched)};
      if (x >> 20 & 1) {
        r.flags |= kClosed | (x >> 21 & 1 ? kClosedOnTime : 0);
        r.value = static_cast<std::uint32_t>(x >> 24 & 4095);
      } else {
        r.flags |= kOpenWithDeadline;
        r.value = r.reported_min + 2880;
      }
      records.push_back(r);
    }
    keys.emplace_back(code, records);
  }
  const CaseTable plain = table_of(keys);
  CaseTable summed = table_of(keys);
  summarise(summed, nullptr);
  ASSERT_EQ(summed.blocks.size(), 3u);
  for (const auto& [from, to] : std::vector<std::pair<int, int>>{{20089, 20453}, {20100, 20300}, {20120, 20148}, {20089, 20119}}) {
    for (const GroupBy by : {GroupBy::none, GroupBy::month, GroupBy::keys}) {
      CaseQuery q;
      q.prefix = "3301";
      q.from_day = from;
      q.to_day = to;
      q.now_s = (year + 200 * 1440) * 60LL;
      q.by = by;
      // "33010" holds every key (whole blocks in one group); "330104" takes the last 300 from it.
      if (by == GroupBy::keys) q.group_prefixes = {"33010", "330104", "3301020"};
      const CaseAnswer a = count_cases(plain, q), b = count_cases(summed, q);
      ASSERT_EQ(a.groups.size(), b.groups.size());
      for (std::size_t g = 0; g <= a.groups.size(); ++g) {
        const Figures& x = g < a.groups.size() ? a.groups[g].figures : a.total;
        const Figures& y = g < b.groups.size() ? b.groups[g].figures : b.total;
        EXPECT_EQ(x.to_json(), y.to_json()) << "days " << from << ".." << to << ", group " << g;
      }
    }
  }
  EXPECT_GT(count_cases(summed, CaseQuery{"3301", 20089, 20453, 0, GroupBy::none, {}}).total.reported, 29000u);
}

TEST(Table, CsvQuotesAndLeavesNullsEmpty) {
  Table t{"x", {"a", "b"}, {nlohmann::json{{"a", "x,\"y\""}, {"b", nullptr}}, nlohmann::json{{"a", 1}, {"b", 0.5}}}};
  EXPECT_EQ(to_csv(t),
            "\xEF\xBB\xBF"
            "a,b\r\n\"x,\"\"y\"\"\",\r\n1,0.5\r\n");
}

}  // namespace
}  // namespace wangge::stats
