#include "stats/figures.hpp"

#include <algorithm>
#include <array>
#include <map>

namespace wangge::stats {
namespace {

constexpr std::int64_t kOffsetMin = 480;  // UTC+8: local days start at 16:00 UTC
// Exact buckets below 512 minutes, then 64 per power of two: a p90 off by at most 1/64 (1.6 %)
// from a histogram of 8 KB, whatever the number of cases.
constexpr std::uint32_t kExact = 512;
constexpr std::size_t kBuckets = 512 + 23 * 64;

std::uint32_t bucket_of(std::uint32_t m) {
  if (m < kExact) return m;
  const int e = 31 - __builtin_clz(m);
  return kExact + static_cast<std::uint32_t>(e - 9) * 64 + ((m >> (e - 6)) & 63);
}

std::uint32_t bucket_floor(std::uint32_t b) {
  if (b < kExact) return b;
  const std::uint32_t e = (b - kExact) / 64 + 9, sub = (b - kExact) % 64;
  return (64 + sub) << (e - 6);
}

// The nearest-rank position of the 90th percentile among n values (1-based).
std::uint64_t p90_rank(std::uint64_t n) { return (n * 9 + 9) / 10; }

// Counters of one group. Handling times go to a histogram, or, when there are many groups (a
// province by grid), to a list of values: 85,000 histograms would take 700 MB.
struct Acc {
  std::array<std::uint64_t, 9> n{};
  std::uint64_t minutes = 0;
  std::vector<std::uint32_t> hist;
  std::vector<std::uint32_t> values;

  inline void add(const CaseRecord& r, std::uint32_t now_min, bool use_hist) {
    const std::uint8_t f = r.flags;
    ++n[0];
    n[1] += f & kRegistered ? 1 : 0;
    n[2] += f & kDispatched ? 1 : 0;
    n[4] += f & kClosedOnTime ? 1 : 0;
    n[5] += (f & kOpenWithDeadline) && r.value <= now_min ? 1 : 0;
    n[6] += f & kReturned ? 1 : 0;
    n[7] += f & kVerifyDue ? 1 : 0;
    n[8] += f & kVerifiedOnTime ? 1 : 0;
    if (f & kClosed) {
      ++n[3];
      minutes += r.value;
      if (use_hist) {
        if (hist.empty()) hist.assign(kBuckets, 0);
        ++hist[bucket_of(r.value)];
      } else {
        values.push_back(r.value);
      }
    }
  }

  void merge_into(Acc& total) const {
    for (std::size_t i = 0; i < n.size(); ++i) total.n[i] += n[i];
    total.minutes += minutes;
    if (total.hist.empty()) total.hist.assign(kBuckets, 0);
    for (std::size_t b = 0; b < hist.size(); ++b) total.hist[b] += hist[b];
    for (auto v : values) ++total.hist[bucket_of(v)];
  }

  Figures figures() {
    Figures f;
    f.reported = n[0];
    f.registered = n[1];
    f.dispatched = n[2];
    f.closed = n[3];
    f.closed_on_time = n[4];
    f.overdue_now = n[5];
    f.returned = n[6];
    f.verification_due = n[7];
    f.verified_on_time = n[8];
    f.handling_minutes = minutes;
    if (n[3] > 0) {
      const std::uint64_t rank = p90_rank(n[3]);
      if (!values.empty()) {
        std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank - 1), values.end());
        f.p90_minutes = values[rank - 1];
      } else {
        std::uint64_t seen = 0;
        for (std::size_t b = 0; b < hist.size(); ++b) {
          seen += hist[b];
          if (seen >= rank) {
            f.p90_minutes = bucket_floor(static_cast<std::uint32_t>(b));
            break;
          }
        }
      }
    }
    return f;
  }
};

// Civil date of a day number (Howard Hinnant's days_from_civil, inverted).
void civil(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400) + (m <= 2);
}

std::string two(unsigned v) { return std::string(1, static_cast<char>('0' + v / 10)) + static_cast<char>('0' + v % 10); }

std::string format_month(std::int64_t day) {
  int y;
  unsigned m, d;
  civil(day, y, m, d);
  return std::to_string(y) + "-" + two(m);
}

}  // namespace

std::string format_day(std::int64_t day) {
  int y;
  unsigned m, d;
  civil(day, y, m, d);
  return std::to_string(y) + "-" + two(m) + "-" + two(d);
}

std::optional<double> Figures::on_time_close_rate() const {
  if (closed == 0) return std::nullopt;
  return static_cast<double>(closed_on_time) / static_cast<double>(closed);
}
std::optional<double> Figures::rework_rate() const {
  if (verification_due == 0) return std::nullopt;
  return static_cast<double>(returned) / static_cast<double>(verification_due);
}
std::optional<double> Figures::timely_verification_rate() const {
  if (verification_due == 0) return std::nullopt;
  return static_cast<double>(verified_on_time) / static_cast<double>(verification_due);
}
std::optional<double> Figures::average_handling_hours() const {
  if (closed == 0) return std::nullopt;
  return static_cast<double>(handling_minutes) / static_cast<double>(closed) / 60.0;
}
std::optional<double> Figures::p90_handling_hours() const {
  if (!p90_minutes) return std::nullopt;
  return *p90_minutes / 60.0;
}

const std::vector<std::string>& Figures::column_names() {
  static const std::vector<std::string> names = {"reported",
                                                 "registered",
                                                 "dispatched",
                                                 "closed",
                                                 "closed_on_time",
                                                 "overdue_now",
                                                 "returned",
                                                 "verification_due",
                                                 "verified_on_time",
                                                 "avg_handling_working_hours",
                                                 "p90_handling_working_hours",
                                                 "on_time_close_rate",
                                                 "rework_rate",
                                                 "timely_verification_rate"};
  return names;
}

nlohmann::json Figures::to_json() const {
  auto opt = [](std::optional<double> v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  return {{"reported", reported},
          {"registered", registered},
          {"dispatched", dispatched},
          {"closed", closed},
          {"closed_on_time", closed_on_time},
          {"overdue_now", overdue_now},
          {"returned", returned},
          {"verification_due", verification_due},
          {"verified_on_time", verified_on_time},
          {"avg_handling_working_hours", opt(average_handling_hours())},
          {"p90_handling_working_hours", opt(p90_handling_hours())},
          {"on_time_close_rate", opt(on_time_close_rate())},
          {"rework_rate", opt(rework_rate())},
          {"timely_verification_rate", opt(timely_verification_rate())}};
}

CaseAnswer count_cases(const CaseTable& table, const CaseQuery& q) {
  const auto [k0, k1] = table.key_range(q.prefix);
  const std::int64_t from_min = q.from_day * 1440 - kOffsetMin, to_min = (q.to_day + 1) * 1440 - kOffsetMin;
  const std::uint32_t lo = static_cast<std::uint32_t>(std::clamp<std::int64_t>(from_min, 0, UINT32_MAX));
  const std::uint32_t hi = static_cast<std::uint32_t>(std::clamp<std::int64_t>(to_min, 0, UINT32_MAX));
  const std::uint32_t now_min = static_cast<std::uint32_t>(std::clamp<std::int64_t>(q.now_s / 60, 0, UINT32_MAX));

  // The group of a record, as a table lookup: per key (areas), per local day (calendar groups)
  // or the record's dictionary index; -1 for a record in no group.
  std::vector<std::int32_t> by_key, by_day;
  std::vector<std::string> labels;
  std::size_t groups = 1;
  switch (q.by) {
    case GroupBy::none:
      labels = {""};
      break;
    case GroupBy::keys: {
      by_key.assign(k1 - k0, -1);
      for (std::size_t g = 0; g < q.group_prefixes.size(); ++g) {
        auto [a, b] = table.key_range(q.group_prefixes[g]);
        for (std::size_t k = std::max(a, k0); k < std::min(b, k1); ++k) by_key[k - k0] = static_cast<std::int32_t>(g);
      }
      groups = q.group_prefixes.size();
      labels = q.group_prefixes;
      break;
    }
    case GroupBy::category:
      labels = *table.categories;
      groups = labels.size();
      break;
    case GroupBy::source:
      labels = *table.sources;
      groups = labels.size();
      break;
    case GroupBy::assignee:
      labels = *table.assignees;
      groups = labels.size();
      break;
    case GroupBy::day:
    case GroupBy::week:
    case GroupBy::month: {
      std::map<std::string, std::int32_t> ids;
      for (std::int64_t d = q.from_day; d <= q.to_day; ++d) {
        std::string label;
        if (q.by == GroupBy::day) label = format_day(d);
        if (q.by == GroupBy::week) label = format_day(d - ((d + 3) % 7 + 7) % 7);  // its Monday (1970-01-01 was a Thursday)
        if (q.by == GroupBy::month) label = format_month(d);
        auto [it, fresh] = ids.emplace(label, static_cast<std::int32_t>(labels.size()));
        if (fresh) labels.push_back(label);
        by_day.push_back(it->second);
      }
      groups = labels.size();
      break;
    }
  }
  const bool use_hist = groups <= 256;
  std::vector<Acc> acc(groups + 1);  // the last: records in no group (areas without a group)
  const std::int32_t none = static_cast<std::int32_t>(groups);
  for (std::size_t k = k0; k < k1; ++k) {
    const std::int32_t key_group = q.by == GroupBy::keys ? (by_key[k - k0] < 0 ? none : by_key[k - k0]) : 0;
    for (const CaseRecord& r : *table.cases[k]) {
      if (r.reported_min < lo || r.reported_min >= hi) continue;
      std::int32_t g = 0;
      switch (q.by) {
        case GroupBy::none:
          break;
        case GroupBy::keys:
          g = key_group;
          break;
        case GroupBy::category:
          g = r.category;
          break;
        case GroupBy::source:
          g = r.source;
          break;
        case GroupBy::assignee:
          g = static_cast<std::int32_t>(r.assignee);
          break;
        case GroupBy::day:
        case GroupBy::week:
        case GroupBy::month:
          g = by_day[static_cast<std::size_t>((static_cast<std::int64_t>(r.reported_min) + kOffsetMin) / 1440 - q.from_day)];
          break;
      }
      acc[static_cast<std::size_t>(g)].add(r, now_min, use_hist);
    }
  }
  CaseAnswer answer;
  Acc total;
  for (auto& a : acc) a.merge_into(total);
  answer.total = total.figures();
  for (std::size_t g = 0; g < groups; ++g) {
    if (q.by != GroupBy::keys && acc[g].n[0] == 0) continue;
    answer.groups.push_back(Group{labels[g], acc[g].figures()});
  }
  if (q.by == GroupBy::none) answer.groups.clear();
  return answer;
}

}  // namespace wangge::stats
