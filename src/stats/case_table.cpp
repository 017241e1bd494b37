#include "stats/case_table.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/log.hpp"
#include "pg/array.hpp"
#include "pg/bulk.hpp"

namespace wangge::stats {
namespace {

constexpr std::int64_t kDayS = 86400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// 2020-01-01 to 2040-12-31: the years whose cases a deployment reports on; others are still
// counted exactly, through the calendar.
constexpr int kFirstDay = 18262;
constexpr int kDays = 7671;

// Columns of one case (date_part: double precision, cheaper than extract's numeric for 12 million
// rows); the feedback expression differs between the full load (one grouped pass
// over the feedback events) and a few keys (one index probe per case).
constexpr const char* kColumns =
    "SELECT wg_stats_key(i.grid_code, i.hierarchy), floor(date_part('epoch', i.reported_at))::bigint, i.category, i.source, "
    "i.status, floor(date_part('epoch', i.dispatched_at))::bigint, ceil(date_part('epoch', i.deadline))::bigint, "
    "floor(date_part('epoch', i.closed_at))::bigint, i.rework_count, floor(date_part('epoch', i.verified_at))::bigint, "
    "coalesce(i.assignee, ''), ";

struct Row {
  std::string_view key, category, source, status, assignee;
  std::int64_t reported = 0;
  std::optional<std::int64_t> dispatched, deadline, closed, verified, feedback;
  long long rework = 0;
};

std::optional<std::int64_t> opt_int(const pg::Result& r, int row, int col) {
  if (r.is_null(row, col)) return std::nullopt;
  return r.integer(row, col);
}

}  // namespace

WorkClock::WorkClock(const incidents::WorkCalendar& calendar, int first_day, int days) : m_calendar(calendar), m_first_day(first_day) {
  m_before_day.resize(static_cast<std::size_t>(days) + 1);
  std::int64_t total = 0;
  for (int d = 0; d <= days; ++d) {
    m_before_day[static_cast<std::size_t>(d)] = total;
    if (d == days) break;
    const std::int64_t start = (static_cast<std::int64_t>(first_day + d) * kDayS - kOffsetS) * 1000000;
    total += calendar.working_minutes_between(start, start + kDayS * 1000000) * 60;
  }
}

std::int64_t WorkClock::working_seconds_before(std::int64_t t_s) const {
  const std::int64_t day = floor_div(t_s + kOffsetS, kDayS);
  const std::int64_t day_start = day * kDayS - kOffsetS;
  // Within one day the calendar is cheap; its minutes are whole, so seconds inside a working
  // period count through the difference of the two whole-minute totals.
  const std::int64_t whole = m_calendar.working_minutes_between(day_start * 1000000, t_s * 1000000) * 60;
  return m_before_day[static_cast<std::size_t>(day - m_first_day)] + whole;
}

std::int64_t WorkClock::working_seconds_between(std::int64_t start_s, std::int64_t end_s) const {
  if (end_s <= start_s) return 0;
  const std::int64_t first = floor_div(start_s + kOffsetS, kDayS) - m_first_day;
  const std::int64_t last = floor_div(end_s + kOffsetS, kDayS) - m_first_day;
  if (first < 0 || last >= static_cast<std::int64_t>(m_before_day.size()) - 1)
    return m_calendar.working_minutes_between(start_s * 1000000, end_s * 1000000) * 60;
  if (first == last) return m_calendar.working_minutes_between(start_s * 1000000, end_s * 1000000) * 60;
  return working_seconds_before(end_s) - working_seconds_before(start_s);
}

std::pair<std::size_t, std::size_t> CaseTable::key_range(const std::string& prefix) const {
  auto lo = std::lower_bound(keys.begin(), keys.end(), prefix);
  auto hi = lo;
  while (hi != keys.end() && hi->compare(0, prefix.size(), prefix) == 0) {
    // Jump over the run with a binary search on "starts with prefix" (true, then false).
    hi = std::partition_point(hi, keys.end(), [&](const std::string& k) { return k.compare(0, prefix.size(), prefix) == 0; });
  }
  return {static_cast<std::size_t>(lo - keys.begin()), static_cast<std::size_t>(hi - keys.begin())};
}

std::size_t CaseTable::memory_bytes() const {
  std::size_t bytes = keys.capacity() * sizeof(std::string) + cases.capacity() * sizeof(cases[0]);
  for (std::size_t k = 0; k < keys.size(); ++k)
    bytes += keys[k].capacity() + cases[k]->capacity() * sizeof(CaseRecord) + sizeof(std::vector<CaseRecord>) + 16;
  for (const auto* dict : {categories.get(), sources.get(), assignees.get()})
    for (const auto& s : *dict) bytes += sizeof(std::string) + s.capacity();
  return bytes;
}

// Turns rows into records; holds the dictionaries that a load extends (under the write mutex).
struct CaseTableCache::Reader {
  const WorkClock& clock;
  const CountRules& rules;
  std::vector<std::string> categories, sources, assignees;
  std::unordered_map<std::string, std::uint32_t> category_ids, source_ids, assignee_ids;

  static std::uint32_t id_of(std::string_view text, std::vector<std::string>& names, std::unordered_map<std::string, std::uint32_t>& ids,
                             std::uint32_t limit) {
    auto it = ids.find(std::string(text));
    if (it != ids.end()) return it->second;
    // Past the record field's range, further names share the last index (never at these sizes:
    // the categories are configured, the sources four).
    if (names.size() >= limit) return limit - 1;
    names.emplace_back(text);
    return ids.emplace(std::string(text), static_cast<std::uint32_t>(names.size() - 1)).first->second;
  }

  CaseRecord record(const Row& r) {
    CaseRecord c{};
    c.reported_min = static_cast<std::uint32_t>(std::max<std::int64_t>(0, floor_div(r.reported, 60)));
    c.category = static_cast<std::uint16_t>(id_of(r.category, categories, category_ids, 65536));
    c.source = static_cast<std::uint8_t>(id_of(r.source, sources, source_ids, 256));
    c.assignee = r.assignee.empty() ? 0 : id_of(r.assignee, assignees, assignee_ids, 0xffffffffu);
    std::uint8_t f = 0;
    if (r.status != "collect" && r.status != "cancelled") f |= kRegistered;
    if (r.dispatched) f |= kDispatched;
    if (r.status == "closed") {
      f |= kClosed;
      if (!r.deadline || !r.closed || *r.closed <= *r.deadline) f |= kClosedOnTime;
      const std::int64_t from = r.dispatched.value_or(r.reported);
      if (r.closed) c.value = static_cast<std::uint32_t>(clock.working_seconds_between(from, *r.closed) / 60);
    } else if ((r.status == "dispatch" || r.status == "handle" || r.status == "hold") && r.deadline) {
      f |= kOpenWithDeadline;
      c.value = static_cast<std::uint32_t>(std::max<std::int64_t>(0, (*r.deadline + 59) / 60));
    }
    if (r.feedback || r.verified) f |= kVerifyDue;
    if (r.verified && (!r.feedback || clock.working_seconds_between(*r.feedback, *r.verified) <= rules.verification_limit_s))
      f |= kVerifiedOnTime;
    if (r.rework > 0) f |= kReturned;
    c.flags = f;
    return c;
  }

  // Appends the records of `res` (kColumns + feedback) to `into`, by key.
  void read(const pg::Result& res, std::map<std::string, std::vector<CaseRecord>>& into) {
    std::string last_key;
    std::vector<CaseRecord>* bucket = nullptr;
    for (int i = 0; i < res.rows(); ++i) {
      Row r;
      r.key = res.get(i, 0);
      r.reported = res.integer(i, 1);
      r.category = res.get(i, 2);
      r.source = res.get(i, 3);
      r.status = res.get(i, 4);
      r.dispatched = opt_int(res, i, 5);
      r.deadline = opt_int(res, i, 6);
      r.closed = opt_int(res, i, 7);
      r.rework = res.integer(i, 8);
      r.verified = opt_int(res, i, 9);
      r.assignee = res.get(i, 10);
      r.feedback = opt_int(res, i, 11);
      if (!bucket || r.key != last_key) {
        last_key = std::string(r.key);
        bucket = &into[last_key];
      }
      bucket->push_back(record(r));
    }
  }
};

CaseTableCache::CaseTableCache(const incidents::WorkCalendar& calendar, CountRules rules)
    : m_calendar(calendar), m_rules(rules), m_clock(calendar, kFirstDay, kDays) {}

CaseTableCache::~CaseTableCache() { stop(); }

void CaseTableCache::stop() {
  if (m_listener) m_listener->stop();
}

namespace {

std::shared_ptr<const std::vector<std::string>> shared_copy(const std::vector<std::string>& v) {
  return std::make_shared<const std::vector<std::string>>(v);
}

}  // namespace

namespace {

// CPU seconds of the calling thread: the load's own cost, whatever else the machine is doing.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

void CaseTableCache::load_all(pg::Connection& conn) {
  std::lock_guard lock(m_write_mutex);
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_seconds();
  Reader reader{m_clock, m_rules, {}, {}, {}, {}, {}, {}};
  if (auto old = m_table.load()) {  // keep the indices handed out so far
    reader.categories = *old->categories;
    reader.sources = *old->sources;
    reader.assignees = *old->assignees;
    for (std::uint32_t i = 0; i < reader.categories.size(); ++i) reader.category_ids.emplace(reader.categories[i], i);
    for (std::uint32_t i = 0; i < reader.sources.size(); ++i) reader.source_ids.emplace(reader.sources[i], i);
    for (std::uint32_t i = 0; i < reader.assignees.size(); ++i) reader.assignee_ids.emplace(reader.assignees[i], i);
  }
  if (reader.assignees.empty()) reader.assignees.push_back("");  // index 0: no assignee
  std::map<std::string, std::vector<CaseRecord>> by_key;
  pg::Transaction tx(conn);
  // The cursor reads the table as of this transaction's snapshot, taken at its first statement:
  // every change committed before now() is in it, and every later one is notified.
  auto now = tx.exec("stats.now", "SELECT floor(date_part('epoch', now()))::bigint");
  tx.exec("stats.declare", std::string("DECLARE stats_cases NO SCROLL CURSOR FOR ") + kColumns +
                               "floor(date_part('epoch', f.at))::bigint FROM incidents i LEFT JOIN "
                               "(SELECT incident_id, max(at) AS at FROM incident_events WHERE action = 'feedback' GROUP BY incident_id) f "
                               "ON f.incident_id = i.id");
  while (true) {
    // Batches keep the client's memory bounded: a whole result of 12 million rows would need
    // gigabytes in libpq before the first record is made.
    auto batch = tx.exec("stats.fetch", "FETCH 50000 FROM stats_cases");
    if (batch.rows() == 0) break;
    reader.read(batch, by_key);
  }
  tx.commit();
  auto next = std::make_shared<CaseTable>();
  next->keys.reserve(by_key.size());
  next->cases.reserve(by_key.size());
  for (auto& [key, records] : by_key) {
    next->case_count += records.size();
    records.shrink_to_fit();
    next->keys.push_back(key);
    next->cases.push_back(std::make_shared<const std::vector<CaseRecord>>(std::move(records)));
  }
  next->categories = shared_copy(reader.categories);
  next->sources = shared_copy(reader.sources);
  next->assignees = shared_copy(reader.assignees);
  next->as_of_s = now.integer(0, 0);
  next->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::size_t bytes = next->memory_bytes();
  const std::size_t cases = next->case_count;
  const double seconds = next->load_seconds;
  m_table.store(std::move(next));
  log::info("case statistics loaded: " + std::to_string(cases) + " cases, " + std::to_string(by_key.size()) + " keys, " +
            std::to_string(bytes / (1024 * 1024)) + " MiB in memory, " + std::to_string(seconds) + " s (" +
            std::to_string(thread_cpu_seconds() - cpu0) + " s CPU of this thread; the database's work not included)");
}

void CaseTableCache::refresh(pg::Connection& conn, const std::vector<std::string>& keys) {
  std::lock_guard lock(m_write_mutex);
  auto old = m_table.load();
  if (!old) return;  // the first load reads them
  Reader reader{m_clock, m_rules, *old->categories, *old->sources, *old->assignees, {}, {}, {}};
  for (std::uint32_t i = 0; i < reader.categories.size(); ++i) reader.category_ids.emplace(reader.categories[i], i);
  for (std::uint32_t i = 0; i < reader.sources.size(); ++i) reader.source_ids.emplace(reader.sources[i], i);
  for (std::uint32_t i = 0; i < reader.assignees.size(); ++i) reader.assignee_ids.emplace(reader.assignees[i], i);
  std::map<std::string, std::vector<CaseRecord>> by_key;
  for (const auto& k : keys) by_key[k];  // a key whose cases are all gone becomes empty
  const std::string feedback =
      "(SELECT floor(date_part('epoch', max(e.at)))::bigint FROM incident_events e WHERE e.incident_id = i.id AND e.action = 'feedback') ";
  auto res =
      conn.exec("stats.refresh",
                std::string(kColumns) + feedback + "FROM incidents i WHERE i.grid_code = ANY($1::text[]) UNION ALL " + kColumns + feedback +
                    "FROM incidents i WHERE i.grid_code IS NULL AND wg_stats_key(i.grid_code, i.hierarchy) = ANY($1::text[])",
                {pg::array(keys)});
  reader.read(res, by_key);
  auto next = std::make_shared<CaseTable>();
  next->as_of_s = old->as_of_s;
  next->load_seconds = old->load_seconds;
  // Merge the sorted old keys with the re-read ones; untouched keys keep their records.
  std::size_t i = 0;
  auto fresh = by_key.begin();
  while (i < old->keys.size() || fresh != by_key.end()) {
    const bool take_old = fresh == by_key.end() || (i < old->keys.size() && old->keys[i] < fresh->first);
    if (take_old) {
      next->keys.push_back(old->keys[i]);
      next->cases.push_back(old->cases[i]);
      ++i;
      continue;
    }
    if (i < old->keys.size() && old->keys[i] == fresh->first) ++i;  // replaced
    if (!fresh->second.empty()) {
      next->keys.push_back(fresh->first);
      next->cases.push_back(std::make_shared<const std::vector<CaseRecord>>(std::move(fresh->second)));
    }
    ++fresh;
  }
  for (const auto& c : next->cases) next->case_count += c->size();
  next->categories = shared_copy(reader.categories);
  next->sources = shared_copy(reader.sources);
  next->assignees = shared_copy(reader.assignees);
  m_table.store(std::move(next));
}

void CaseTableCache::start_listening(const std::string& url, int timeout_ms) {
  pg::Listener::Options options;
  options.name = "case statistics";
  options.channels = {"wangge_stats"};
  options.statement_timeout_ms = timeout_ms;
  options.gather = std::chrono::milliseconds(20);
  pg::Listener::Handlers handlers;
  // The whole case table: a bulk read, on a caught-up standby when configured (pg/bulk.hpp).
  handlers.catch_up = [this, timeout_ms](pg::Connection& conn) {
    pg::bulk::load(conn, timeout_ms, [this](pg::Connection& c) { load_all(c); });
  };
  handlers.notified = [this](pg::Connection& conn, std::vector<pg::Notification>& received) {
    std::set<std::string> keys;
    bool everything = false;
    for (const auto& n : received) {
      try {
        const auto j = nlohmann::json::parse(n.payload);
        const auto& k = j.at("keys");
        if (k.is_null()) everything = true;
        for (const auto& c : k)
          if (c.is_string()) keys.insert(c.get<std::string>());
      } catch (const std::exception& e) {
        log::warn(std::string("case statistics: unreadable notification (") + e.what() + "), reloading everything");
        everything = true;
      }
    }
    if (everything)
      load_all(conn);
    else if (!keys.empty())
      refresh(conn, std::vector<std::string>(keys.begin(), keys.end()));
  };
  m_listener = std::make_unique<pg::Listener>(url, std::move(options), std::move(handlers));
}

}  // namespace wangge::stats
