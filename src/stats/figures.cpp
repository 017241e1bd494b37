#include "stats/figures.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <thread>

namespace wangge::stats {
namespace {

constexpr std::int64_t kOffsetMin = 480;  // UTC+8: local days start at 16:00 UTC
// Exact buckets below 512 minutes, then 64 per power of two: a p90 off by at most 1/64 (1.6 %)
// from a histogram of 8 KB, whatever the number of cases.
constexpr std::uint32_t kExact = 512;
constexpr std::size_t kBuckets = 512 + 23 * 64;
// From this many records on, an area is counted on two threads (below, a thread costs more than
// it saves).
constexpr std::size_t kParallelRecords = 1'000'000;

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

// The counters of every group of one count, in flat arrays (a group's counters are a slice), so
// that the scan's inner loop is a few increments at computed addresses and nothing else: no
// allocation, no lookup, no branch that the data decides.
//
// Dense (few groups: a period by month, a city by category): per group a count per flag byte
// (256 counters, so one increment counts all eight flags of a case) and a histogram of the
// handling times. Sparse (many groups: a province by grid, by assignee): per group a count per flag
// bit and the list of handling times; 85,000 dense groups would take 850 MB.
class Counters {
 public:
  Counters(std::size_t groups, bool dense) : m_groups(groups), m_dense(dense), m_reported(groups), m_overdue(groups), m_minutes(groups) {
    if (dense) {
      m_flags.assign(groups * 256, 0);
      m_hist.assign(groups * kBuckets, 0);
    } else {
      m_bits.assign(groups * 8, 0);
      m_values.resize(groups);
    }
  }

  // Counts the records [b, e), all of group g.
  void add_run(std::size_t g, const CaseRecord* b, const CaseRecord* e, std::uint32_t now_min) {
    if (b == e) return;
    m_reported[g] += static_cast<std::uint64_t>(e - b);
    std::uint64_t overdue = 0, minutes = 0;
    if (m_dense) {
      std::uint64_t* flags = m_flags.data() + g * 256;
      std::uint32_t* hist = m_hist.data() + g * kBuckets;
      for (const CaseRecord* r = b; r != e; ++r) {
        const unsigned f = r->flags;
        ++flags[f];
        overdue += ((f & kOpenWithDeadline) != 0) & (r->value <= now_min);
        if (f & kClosed) {
          minutes += r->value;
          ++hist[bucket_of(r->value)];
        }
      }
    } else {
      std::uint64_t* bits = m_bits.data() + g * 8;
      std::vector<std::uint32_t>& values = m_values[g];
      for (const CaseRecord* r = b; r != e; ++r) {
        const unsigned f = r->flags;
        for (unsigned i = 0; i < 8; ++i) bits[i] += (f >> i) & 1u;
        overdue += ((f & kOpenWithDeadline) != 0) & (r->value <= now_min);
        if (f & kClosed) {
          minutes += r->value;
          values.push_back(r->value);
        }
      }
    }
    m_overdue[g] += overdue;
    m_minutes[g] += minutes;
  }

  // Adds a month's summary to group g (dense counters only).
  void add_summary(std::size_t g, const MonthSummary& m, std::uint32_t now_min) {
    m_reported[g] += m.reported;
    m_minutes[g] += m.minutes;
    m_overdue[g] += static_cast<std::uint64_t>(std::upper_bound(m.deadlines.begin(), m.deadlines.end(), now_min) - m.deadlines.begin());
    std::uint64_t* flags = m_flags.data() + g * 256;
    for (std::size_t f = 0; f < 256; ++f) flags[f] += m.flags[f];
    std::uint32_t* hist = m_hist.data() + g * kBuckets;
    for (std::size_t b = 0; b < kBuckets; ++b) hist[b] += m.hist[b];
  }

  // Counts the records [b, e), each in the group group_of(record) (a dictionary index < groups).
  template <class GroupOf>
  void add_each(const CaseRecord* b, const CaseRecord* e, std::uint32_t now_min, GroupOf group_of) {
    for (const CaseRecord* r = b; r != e; ++r) add_run(group_of(*r), r, r + 1, now_min);
  }

  std::uint64_t reported(std::size_t g) const { return m_reported[g]; }

  // Adds another count's counters of the same groups (a part of the keys counted elsewhere).
  void merge(const Counters& other) {
    auto add = [](auto& into, const auto& from) {
      for (std::size_t i = 0; i < into.size(); ++i) into[i] += from[i];
    };
    add(m_reported, other.m_reported);
    add(m_overdue, other.m_overdue);
    add(m_minutes, other.m_minutes);
    add(m_flags, other.m_flags);
    add(m_hist, other.m_hist);
    add(m_bits, other.m_bits);
    for (std::size_t g = 0; g < m_values.size(); ++g)
      m_values[g].insert(m_values[g].end(), other.m_values[g].begin(), other.m_values[g].end());
  }

  // The figures of group g; p90 exact from the values (sparse) or from the histogram (dense).
  Figures figures(std::size_t g) {
    Figures f;
    const auto bits = bit_counts(g);
    fill(f, m_reported[g], bits, m_overdue[g], m_minutes[g]);
    if (f.closed == 0) return f;
    if (m_dense) {
      f.p90_minutes = p90_of_hist(m_hist.data() + g * kBuckets, f.closed);
    } else {
      auto& v = m_values[g];
      const std::uint64_t rank = p90_rank(f.closed);
      std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank - 1), v.end());
      f.p90_minutes = v[rank - 1];
    }
    return f;
  }

  // The figures of every group together (records in no group included); p90 from a histogram.
  Figures total() const {
    std::array<std::uint64_t, 8> bits{};
    std::uint64_t reported = 0, overdue = 0, minutes = 0;
    std::vector<std::uint32_t> hist(kBuckets, 0);
    for (std::size_t g = 0; g < m_groups; ++g) {
      const auto b = bit_counts(g);
      for (std::size_t i = 0; i < 8; ++i) bits[i] += b[i];
      reported += m_reported[g];
      overdue += m_overdue[g];
      minutes += m_minutes[g];
      if (m_dense) {
        const std::uint32_t* h = m_hist.data() + g * kBuckets;
        for (std::size_t k = 0; k < kBuckets; ++k) hist[k] += h[k];
      } else {
        for (auto v : m_values[g]) ++hist[bucket_of(v)];
      }
    }
    Figures f;
    fill(f, reported, bits, overdue, minutes);
    if (f.closed > 0) f.p90_minutes = p90_of_hist(hist.data(), f.closed);
    return f;
  }

 private:
  // Cases with each flag bit (bit i = flag 1 << i) in group g.
  std::array<std::uint64_t, 8> bit_counts(std::size_t g) const {
    std::array<std::uint64_t, 8> bits{};
    if (m_dense) {
      const std::uint64_t* flags = m_flags.data() + g * 256;
      for (unsigned f = 0; f < 256; ++f)
        if (flags[f] != 0)
          for (unsigned i = 0; i < 8; ++i)
            if (f & (1u << i)) bits[i] += flags[f];
    } else {
      std::copy_n(m_bits.data() + g * 8, 8, bits.begin());
    }
    return bits;
  }

  static void fill(Figures& f, std::uint64_t reported, const std::array<std::uint64_t, 8>& bits, std::uint64_t overdue,
                   std::uint64_t minutes) {
    auto bit = [&](CaseFlag flag) { return bits[static_cast<std::size_t>(__builtin_ctz(flag))]; };
    f.reported = reported;
    f.registered = bit(kRegistered);
    f.dispatched = bit(kDispatched);
    f.closed = bit(kClosed);
    f.closed_on_time = bit(kClosedOnTime);
    f.overdue_now = overdue;
    f.returned = bit(kReturned);
    f.verification_due = bit(kVerifyDue);
    f.verified_on_time = bit(kVerifiedOnTime);
    f.handling_minutes = minutes;
  }

  static std::uint32_t p90_of_hist(const std::uint32_t* hist, std::uint64_t closed) {
    const std::uint64_t rank = p90_rank(closed);
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      seen += hist[b];
      if (seen >= rank) return bucket_floor(static_cast<std::uint32_t>(b));
    }
    return 0;  // unreachable: the histogram holds every closed case
  }

  std::size_t m_groups;
  bool m_dense;
  std::vector<std::uint64_t> m_reported, m_overdue, m_minutes;
  std::vector<std::uint64_t> m_flags;                // dense: groups x 256
  std::vector<std::uint32_t> m_hist;                 // dense: groups x kBuckets
  std::vector<std::uint64_t> m_bits;                 // sparse: groups x 8
  std::vector<std::vector<std::uint32_t>> m_values;  // sparse
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

// Day number of a civil date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// The local month containing minute `m` (since the epoch), as [begin, end) in minutes.
std::pair<std::int64_t, std::int64_t> month_of_minute(std::int64_t m) {
  const std::int64_t day = (m + kOffsetMin) / 1440 - ((m + kOffsetMin) % 1440 < 0 ? 1 : 0);
  int y;
  unsigned mo, d;
  civil(day, y, mo, d);
  const std::int64_t begin = days_from_civil(y, mo, 1) * 1440 - kOffsetMin;
  const std::int64_t end = (mo == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, mo + 1, 1)) * 1440 - kOffsetMin;
  return {begin, end};
}

}  // namespace

void summarise(CaseTable& t, const CaseTable* before) {
  const bool same_keys = before && before->keys == t.keys && before->blocks.size() * kBlockKeys >= t.keys.size();
  t.blocks.clear();
  for (std::size_t first = 0; first < t.keys.size(); first += kBlockKeys) {
    const std::size_t last = std::min(first + kBlockKeys, t.keys.size());
    const std::size_t b = first / kBlockKeys;
    if (same_keys && std::equal(t.cases.begin() + static_cast<std::ptrdiff_t>(first), t.cases.begin() + static_cast<std::ptrdiff_t>(last),
                                before->cases.begin() + static_cast<std::ptrdiff_t>(first))) {
      t.blocks.push_back(before->blocks[b]);  // no record of the block changed
      continue;
    }
    auto block = std::make_shared<KeyBlock>();
    block->first = first;
    block->last = last;
    std::map<std::int64_t, MonthSummary> months;
    for (std::size_t k = first; k < last; ++k) {
      MonthSummary* cur = nullptr;
      for (const CaseRecord& r : *t.cases[k]) {
        if (!cur || r.reported_min >= cur->end_min) {  // records are in reporting order
          const auto [begin, end] = month_of_minute(r.reported_min);
          cur = &months[begin];
          if (cur->flags.empty()) {
            cur->begin_min = begin;
            cur->end_min = end;
            cur->flags.assign(256, 0);
            cur->hist.assign(kBuckets, 0);
          }
        }
        ++cur->reported;
        ++cur->flags[r.flags];
        if (r.flags & kClosed) {
          cur->minutes += r.value;
          ++cur->hist[bucket_of(r.value)];
        } else if (r.flags & kOpenWithDeadline) {
          cur->deadlines.push_back(r.value);
        }
      }
    }
    for (auto& [begin, m] : months) {
      std::sort(m.deadlines.begin(), m.deadlines.end());
      block->months.push_back(std::move(m));
    }
    t.blocks.push_back(std::move(block));
  }
}

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

  // The groups: per key (areas), per dictionary index, or per run of local days (calendar
  // groups, each starting at bounds[g] in minutes; bounds[groups] = hi).
  std::vector<std::int32_t> by_key;
  std::vector<std::uint32_t> bounds;
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
      // Each label's days are consecutive, so a group is a run of minutes.
      for (std::int64_t d = q.from_day; d <= q.to_day; ++d) {
        std::string label;
        if (q.by == GroupBy::day) label = format_day(d);
        if (q.by == GroupBy::week) label = format_day(d - ((d + 3) % 7 + 7) % 7);  // its Monday (1970-01-01 was a Thursday)
        if (q.by == GroupBy::month) label = format_month(d);
        if (!labels.empty() && labels.back() == label) continue;
        labels.push_back(label);
        bounds.push_back(static_cast<std::uint32_t>(std::clamp<std::int64_t>(d * 1440 - kOffsetMin, 0, UINT32_MAX)));
      }
      bounds.push_back(hi);
      groups = labels.size();
      break;
    }
  }
  const bool dense = groups <= 256;
  const std::size_t none = groups;  // the last group: records in no group (keys outside every group area)
  const auto before = [](const CaseRecord& r, std::uint32_t m) { return r.reported_min < m; };
  // Counts the records of keys [from_key, to_key) reported in [wlo, whi).
  const auto scan = [&](Counters& counters, std::size_t from_key, std::size_t to_key, std::uint32_t wlo, std::uint32_t whi) {
    if (wlo >= whi) return;
    for (std::size_t k = from_key; k < to_key; ++k) {
      // A key's records are in reporting order: the period is one run of them.
      const std::vector<CaseRecord>& records = *table.cases[k];
      const CaseRecord* b = std::lower_bound(records.data(), records.data() + records.size(), wlo, before);
      const CaseRecord* e = std::lower_bound(b, records.data() + records.size(), whi, before);
      switch (q.by) {
        case GroupBy::none:
          counters.add_run(0, b, e, now_min);
          break;
        case GroupBy::keys:
          counters.add_run(by_key[k - k0] < 0 ? none : static_cast<std::size_t>(by_key[k - k0]), b, e, now_min);
          break;
        case GroupBy::category:
          counters.add_each(b, e, now_min, [](const CaseRecord& r) { return static_cast<std::size_t>(r.category); });
          break;
        case GroupBy::source:
          counters.add_each(b, e, now_min, [](const CaseRecord& r) { return static_cast<std::size_t>(r.source); });
          break;
        case GroupBy::assignee:
          counters.add_each(b, e, now_min, [](const CaseRecord& r) { return static_cast<std::size_t>(r.assignee); });
          break;
        case GroupBy::day:
        case GroupBy::week:
        case GroupBy::month: {
          std::size_t g = 0;
          for (const CaseRecord* r = b; r != e;) {
            while (bounds[g + 1] <= r->reported_min) ++g;
            const CaseRecord* run = r;
            while (run != e && run->reported_min < bounds[g + 1]) ++run;
            counters.add_run(g, r, run, now_min);
            r = run;
          }
          break;
        }
      }
    }
  };
  // The whole local months inside the period, [c0, c1), come from the blocks' summaries when the
  // groups are whole months (none, month, or areas holding whole blocks); the records before c0
  // and from c1 on are scanned.
  std::int64_t c0 = 0, c1 = 0;
  const bool summaries = dense && !table.blocks.empty() && (q.by == GroupBy::none || q.by == GroupBy::month || q.by == GroupBy::keys);
  if (summaries) {
    const auto [b0, e0] = month_of_minute(lo);
    c0 = b0 == lo ? b0 : e0;
    c1 = month_of_minute(hi).first;
  }
  const bool covered = summaries && c0 < c1;
  const auto count_keys = [&](Counters& counters, std::size_t from_key, std::size_t to_key) {
    std::size_t k = from_key;
    while (k < to_key) {
      const std::size_t b = k / kBlockKeys;
      const std::size_t block_end = std::min(to_key, (b + 1) * kBlockKeys);
      if (covered && b < table.blocks.size() && table.blocks[b]->first == k && table.blocks[b]->last <= to_key) {
        const KeyBlock& block = *table.blocks[b];
        std::size_t g = 0;
        bool one_group = true;
        if (q.by == GroupBy::keys) {
          const std::int32_t g0 = by_key[k - k0];
          for (std::size_t kk = block.first; kk < block.last && one_group; ++kk) one_group = by_key[kk - k0] == g0;
          g = g0 < 0 ? none : static_cast<std::size_t>(g0);
        }
        if (one_group) {
          for (const MonthSummary& m : block.months) {
            if (m.begin_min < c0 || m.end_min > c1) continue;
            std::size_t mg = g;
            if (q.by == GroupBy::month)  // the group whose first minute is the month's
              mg = static_cast<std::size_t>(std::upper_bound(bounds.begin(), bounds.end() - 1, static_cast<std::uint32_t>(m.begin_min)) -
                                            bounds.begin() - 1);
            counters.add_summary(mg, m, now_min);
          }
          scan(counters, block.first, block.last, lo, static_cast<std::uint32_t>(c0));
          scan(counters, block.first, block.last, static_cast<std::uint32_t>(c1), hi);
          k = block.last;
          continue;
        }
      }
      scan(counters, k, block_end, lo, hi);
      k = block_end;
    }
  };
  Counters counters(groups + 1, dense);
  // A large area's records, when they are scanned, are counted in two halves at once (the
  // machine's cores are there for the question being asked; a township is counted on the
  // request's thread alone).
  std::size_t records = 0, split = k1;
  if (!covered && k1 - k0 >= 1000) {
    for (std::size_t k = k0; k < k1; ++k) records += table.cases[k]->size();
    if (records >= kParallelRecords) {
      std::size_t seen = 0;
      for (split = k0; split < k1 && seen < records / 2; ++split) seen += table.cases[split]->size();
    }
  }
  if (split < k1) {
    Counters second(groups + 1, dense);
    std::jthread other([&] { count_keys(second, split, k1); });
    count_keys(counters, k0, split);
    other.join();
    counters.merge(second);
  } else {
    count_keys(counters, k0, k1);
  }
  CaseAnswer answer;
  answer.total = counters.total();
  if (q.by == GroupBy::none) return answer;
  for (std::size_t g = 0; g < groups; ++g) {
    if (q.by != GroupBy::keys && counters.reported(g) == 0) continue;
    answer.groups.push_back(Group{labels[g], counters.figures(g)});
  }
  return answer;
}

}  // namespace wangge::stats
