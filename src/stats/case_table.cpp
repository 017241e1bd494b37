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
#include "stats/figures.hpp"

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
  int working_day = -1;
  for (int d = 0; d <= days; ++d) {
    m_before_day[static_cast<std::size_t>(d)] = total;
    if (d == days) break;
    const std::int64_t start = (static_cast<std::int64_t>(first_day + d) * kDayS - kOffsetS) * 1000000;
    const std::int64_t minutes = calendar.working_minutes_between(start, start + kDayS * 1000000);
    if (minutes > 0 && working_day < 0) working_day = first_day + d;
    total += minutes * 60;
  }
  // Every working day has the same working periods: one working day's minutes, counted from its
  // midnight, serve them all.
  m_minutes_before.assign(1441, 0);
  if (working_day >= 0) {
    const std::int64_t start = (static_cast<std::int64_t>(working_day) * kDayS - kOffsetS) * 1000000;
    for (int m = 1; m <= 1440; ++m)
      m_minutes_before[static_cast<std::size_t>(m)] =
          static_cast<std::int32_t>(calendar.working_minutes_between(start, start + static_cast<std::int64_t>(m) * 60000000));
  }
}

std::int64_t WorkClock::working_seconds_before(std::int64_t t_s, bool exact) const {
  const std::int64_t day = floor_div(t_s + kOffsetS, kDayS);
  const std::size_t d = static_cast<std::size_t>(day - m_first_day);
  if (m_before_day[d + 1] == m_before_day[d]) return m_before_day[d];  // a day off
  const std::int64_t in_day = t_s + kOffsetS - day * kDayS;
  const std::size_t m = static_cast<std::size_t>(in_day / 60);
  std::int64_t s = m_before_day[d] + static_cast<std::int64_t>(m_minutes_before[m]) * 60;
  // The seconds into a working minute (the calendar's minutes are whole).
  if (exact && m_minutes_before[m + 1] != m_minutes_before[m]) s += in_day % 60;
  return s;
}

std::int64_t WorkClock::working_seconds_between(std::int64_t start_s, std::int64_t end_s) const {
  if (end_s <= start_s) return 0;
  const std::int64_t first = floor_div(start_s + kOffsetS, kDayS) - m_first_day;
  const std::int64_t last = floor_div(end_s + kOffsetS, kDayS) - m_first_day;
  if (first < 0 || last >= static_cast<std::int64_t>(m_before_day.size()) - 1)
    return m_calendar.working_minutes_between(start_s * 1000000, end_s * 1000000) * 60;
  // Within one day the calendar counts the seconds between the two and rounds down to minutes;
  // across days it counts whole minutes from each day's midnight.
  if (first == last) return (working_seconds_before(end_s, true) - working_seconds_before(start_s, true)) / 60 * 60;
  return working_seconds_before(end_s, false) - working_seconds_before(start_s, false);
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
  for (const auto& b : blocks)
    for (const auto& m : b->months)
      bytes += sizeof(MonthSummary) + (m.flags.capacity() + m.hist.capacity() + m.deadlines.capacity()) * sizeof(std::uint32_t);
  for (const auto* dict : {categories.get(), sources.get(), assignees.get()})
    for (const auto& s : *dict) bytes += sizeof(std::string) + s.capacity();
  return bytes;
}

// Names to dictionary indices without building a string per lookup.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view v) const noexcept { return std::hash<std::string_view>{}(v); }
};
using IndexOf = std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>;

// Turns rows into records; holds the dictionaries that a load extends (under the write mutex).
struct CaseTableCache::Reader {
  const WorkClock& clock;
  const CountRules& rules;
  std::vector<std::string> categories, sources, assignees;
  IndexOf category_ids, source_ids, assignee_ids;

  Reader(const WorkClock& c, const CountRules& r, const CaseTable* old) : clock(c), rules(r) {
    if (old) {  // keep the indices handed out so far
      categories = *old->categories;
      sources = *old->sources;
      assignees = *old->assignees;
    }
    if (assignees.empty()) assignees.push_back("");  // index 0: no assignee
    for (std::uint32_t i = 0; i < categories.size(); ++i) category_ids.emplace(categories[i], i);
    for (std::uint32_t i = 0; i < sources.size(); ++i) source_ids.emplace(sources[i], i);
    for (std::uint32_t i = 0; i < assignees.size(); ++i) assignee_ids.emplace(assignees[i], i);
  }

  static std::uint32_t id_of(std::string_view text, std::vector<std::string>& names, IndexOf& ids, std::uint32_t limit) {
    auto it = ids.find(text);
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

  // Appends the records of `res` (kColumns + feedback, as text) to `into`, by key.
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

namespace {

// A buffer that libpq allocated (PQgetCopyData).
struct PqFree {
  void operator()(char* p) const noexcept { PQfreemem(p); }
};

// Reads COPY ... TO STDOUT (FORMAT binary): the rows come as they are stored, without a text
// rendering on the server and a parse here, and without a round trip per batch.
class BinaryCopy {
 public:
  BinaryCopy(pg::Connection& conn, const std::string& sql) : m_conn(conn) {
    pg::Result r(PQexec(conn.raw(), sql.c_str()));
    if (!r.raw() || PQresultStatus(r.raw()) != PGRES_COPY_OUT) {
      const char* state = r.raw() ? PQresultErrorField(r.raw(), PG_DIAG_SQLSTATE) : nullptr;
      throw pg::sql_error("stats.copy", state ? state : "", PQerrorMessage(conn.raw()));
    }
  }

  // The next row's fields (std::nullopt for NULL), or false at the end.
  bool next(std::vector<std::optional<std::string_view>>& fields) {
    while (true) {
      if (m_pos < m_data.size()) {
        if (!m_header) {
          // Signature (11 bytes), flags (4), header extension length (4) and extension.
          need(19);
          m_pos += 19 + static_cast<std::size_t>(int32_at(15));
          m_header = true;
          continue;
        }
        const std::int16_t n =
            static_cast<std::int16_t>((static_cast<std::uint8_t>(m_data[m_pos]) << 8) | static_cast<std::uint8_t>(m_data[m_pos + 1]));
        if (n == -1) {  // the trailer
          m_pos = m_data.size();
          continue;
        }
        std::size_t p = m_pos + 2;
        fields.clear();
        for (int i = 0; i < n; ++i) {
          const std::int32_t len = int32_at(p);
          p += 4;
          if (len < 0) {
            fields.emplace_back(std::nullopt);
          } else {
            fields.emplace_back(std::string_view(m_data.data() + p, static_cast<std::size_t>(len)));
            p += static_cast<std::size_t>(len);
          }
        }
        m_pos = p;
        return true;
      }
      if (!fetch()) return false;
    }
  }

 private:
  std::int32_t int32_at(std::size_t p) const {
    const auto* b = reinterpret_cast<const std::uint8_t*>(m_data.data() + p);
    return static_cast<std::int32_t>((std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3]);
  }
  void need(std::size_t n) const {
    if (m_data.size() - m_pos < n) throw std::runtime_error("stats.copy: truncated binary COPY data");
  }
  // One CopyData message: the server sends one per row (the first also carries the header).
  bool fetch() {
    char* buf = nullptr;
    const int n = PQgetCopyData(m_conn.raw(), &buf, 0);
    std::unique_ptr<char, PqFree> owned(buf);
    if (n > 0) {
      m_data.assign(buf, static_cast<std::size_t>(n));
      m_pos = 0;
      return true;
    }
    if (n == -2) throw pg::sql_error("stats.copy", "", PQerrorMessage(m_conn.raw()));
    // -1: done; the command's result follows.
    pg::Result r(PQgetResult(m_conn.raw()));
    if (!r.raw() || PQresultStatus(r.raw()) != PGRES_COMMAND_OK) throw pg::sql_error("stats.copy", "", PQerrorMessage(m_conn.raw()));
    while (PGresult* more = PQgetResult(m_conn.raw())) PQclear(more);
    return false;
  }

  pg::Connection& m_conn;
  std::string m_data;
  std::size_t m_pos = 0;
  bool m_header = false;
};

std::int64_t be64(std::string_view v) {
  std::uint64_t x = 0;
  for (char c : v) x = (x << 8) | static_cast<std::uint8_t>(c);
  return static_cast<std::int64_t>(x);
}

// A binary timestamptz (microseconds since 2000-01-01 UTC) in whole seconds since 1970, rounded
// down, or up for `ceil` (deadlines).
std::optional<std::int64_t> seconds_of(const std::optional<std::string_view>& v, bool ceil = false) {
  if (!v) return std::nullopt;
  if (v->size() != 8) throw std::runtime_error("stats.copy: a timestamp is not 8 bytes");
  const std::int64_t us = be64(*v);
  const std::int64_t s = floor_div(us, 1000000) + (ceil && us % 1000000 != 0 ? 1 : 0);
  return s + 946684800;
}

}  // namespace

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

// The figures find a period's records of a key by binary search: each key's records are kept in
// reporting order, at their exact size.
void in_reporting_order(std::vector<CaseRecord>& v) {
  std::stable_sort(v.begin(), v.end(), [](const CaseRecord& a, const CaseRecord& b) { return a.reported_min < b.reported_min; });
  v.shrink_to_fit();
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
  auto old = m_table.load();
  Reader reader(m_clock, m_rules, old.get());
  // Records by key index (keys in order of first appearance), sorted by key at the end.
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> key_ids;
  std::vector<std::string> keys;
  std::vector<std::vector<CaseRecord>> records;
  pg::Transaction tx(conn);
  // The COPY reads the table as of its statement's snapshot, taken after now(): every change
  // committed before now() is in it, and every later one is notified. JIT compilation would cost
  // more than it saves on this plain scan.
  auto now = tx.exec("stats.now", "SELECT floor(date_part('epoch', now()))::bigint");
  tx.exec("stats.jit", "SET LOCAL jit = off");
  BinaryCopy copy(conn,
                  "COPY (SELECT wg_stats_key(i.grid_code, i.hierarchy), i.reported_at, i.category, i.source, i.status, i.dispatched_at, "
                  "i.deadline, i.closed_at, i.rework_count, i.verified_at, coalesce(i.assignee, ''), f.at FROM incidents i LEFT JOIN "
                  "(SELECT incident_id, max(at) AS at FROM incident_events WHERE action = 'feedback' GROUP BY incident_id) f "
                  "ON f.incident_id = i.id) TO STDOUT (FORMAT binary)");
  std::vector<std::optional<std::string_view>> fields;
  std::string_view last_key;
  std::vector<CaseRecord>* bucket = nullptr;
  while (copy.next(fields)) {
    if (fields.size() != 12 || !fields[0] || !fields[1] || !fields[2] || !fields[3] || !fields[4] || !fields[8] || !fields[10] ||
        fields[8]->size() != 4)
      throw std::runtime_error("stats.copy: unexpected row");
    Row r;
    r.key = *fields[0];
    r.reported = *seconds_of(fields[1]);
    r.category = *fields[2];
    r.source = *fields[3];
    r.status = *fields[4];
    r.dispatched = seconds_of(fields[5]);
    r.deadline = seconds_of(fields[6], true);
    r.closed = seconds_of(fields[7]);
    r.rework = static_cast<std::int32_t>(be64(*fields[8]));
    r.verified = seconds_of(fields[9]);
    r.assignee = *fields[10];
    r.feedback = seconds_of(fields[11]);
    if (!bucket || r.key != last_key) {
      auto it = key_ids.find(r.key);
      if (it == key_ids.end()) {
        it = key_ids.emplace(std::string(r.key), static_cast<std::uint32_t>(keys.size())).first;
        keys.emplace_back(r.key);
        records.emplace_back();
      }
      bucket = &records[it->second];
      last_key = it->first;  // the map's copy: the row's bytes go with the next message
    }
    bucket->push_back(reader.record(r));
  }
  tx.commit();
  std::vector<std::uint32_t> order(keys.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return keys[a] < keys[b]; });
  auto next = std::make_shared<CaseTable>();
  next->keys.reserve(keys.size());
  next->cases.reserve(keys.size());
  for (const std::uint32_t k : order) {
    auto& v = records[k];
    next->case_count += v.size();
    in_reporting_order(v);
    next->keys.push_back(std::move(keys[k]));
    next->cases.push_back(std::make_shared<const std::vector<CaseRecord>>(std::move(v)));
  }
  next->categories = shared_copy(reader.categories);
  next->sources = shared_copy(reader.sources);
  next->assignees = shared_copy(reader.assignees);
  summarise(*next, old.get());
  next->as_of_s = now.integer(0, 0);
  next->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  next->memory = next->memory_bytes();
  const std::size_t bytes = next->memory;
  const std::size_t cases = next->case_count, key_count = next->keys.size();
  const double seconds = next->load_seconds;
  m_table.store(std::move(next));
  log::info("case statistics loaded: " + std::to_string(cases) + " cases, " + std::to_string(key_count) + " keys, " +
            std::to_string(bytes / (1024 * 1024)) + " MiB in memory, " + std::to_string(seconds) + " s (" +
            std::to_string(thread_cpu_seconds() - cpu0) + " s CPU of this thread; the database's work not included)");
}

void CaseTableCache::refresh(pg::Connection& conn, const std::vector<std::string>& keys) {
  std::lock_guard lock(m_write_mutex);
  auto old = m_table.load();
  if (!old) return;  // the first load reads them
  Reader reader(m_clock, m_rules, old.get());
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
      in_reporting_order(fresh->second);
      next->keys.push_back(fresh->first);
      next->cases.push_back(std::make_shared<const std::vector<CaseRecord>>(std::move(fresh->second)));
    }
    ++fresh;
  }
  for (const auto& c : next->cases) next->case_count += c->size();
  next->categories = shared_copy(reader.categories);
  next->sources = shared_copy(reader.sources);
  next->assignees = shared_copy(reader.assignees);
  summarise(*next, old.get());
  next->memory = next->memory_bytes();
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
