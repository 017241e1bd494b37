// The cases as the statistics count them, in memory: one 16-byte record per case, grouped by the
// case's key (its grid, or for a case in a gap between grids the lowest area its location answer
// found) with the keys in code order. Because a child's code extends its parent's code prefix
// (registry/codes.hpp), the cases of any area are the records of one contiguous run of keys, so an
// area's figures are a scan of that run: a province's 12 million cases in tens of milliseconds,
// with no index per question and nothing precomputed per area that a registry change could stale.
//
// The table is an immutable value swapped whole (Snapshot); a change re-reads only the keys it
// touched (NOTIFY wangge_stats, migration 0013) and shares every other key's records with the
// snapshot before it. After a (re)connection the listener reloads everything.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/snapshot.hpp"
#include "incidents/calendar.hpp"
#include "pg/connection.hpp"
#include "pg/listener.hpp"

namespace wangge::stats {

// Working time as a running total: the working seconds from a fixed origin to any instant, so the
// working time between two instants is one subtraction (the calendar walks the days between them,
// too slow for 12 million cases at start-up). Exact for the years it was built for; outside them
// it asks the calendar.
class WorkClock {
 public:
  // Covers the local days [first_day, first_day + days).
  WorkClock(const incidents::WorkCalendar& calendar, int first_day, int days);
  // Working seconds between two instants given in seconds since the epoch (0 when end <= start).
  std::int64_t working_seconds_between(std::int64_t start_s, std::int64_t end_s) const;

 private:
  // From the start of first_day to t_s; whole minutes within t_s's day unless `exact`.
  std::int64_t working_seconds_before(std::int64_t t_s, bool exact) const;
  const incidents::WorkCalendar& m_calendar;
  int m_first_day;
  std::vector<std::int64_t> m_before_day;             // working seconds from first_day's start to each day's start
  std::vector<std::int32_t> m_minutes_before;         // working minutes of a working day before each minute of it (0..1440)
  static constexpr std::int64_t kOffsetS = 8 * 3600;  // China's one time zone (calendar.json's utc_offset)
};

// What the figures are counted against.
struct CountRules {
  // A verification is timely when it comes within this much working time of the handler's last
  // feedback (geodata/evaluation.json "verification_limit_working_hours").
  std::int64_t verification_limit_s = 4 * 3600;
};

// One case. `value` is the handling time in working minutes (dispatch to close) of a closed case,
// the deadline (minutes since the epoch, rounded up) of an open dispatched case, 0 otherwise.
struct CaseRecord {
  std::uint32_t reported_min;  // minutes since 1970-01-01 UTC
  std::uint32_t value;
  std::uint32_t assignee;  // index into CaseTable::assignees; 0 = none
  std::uint16_t category;  // index into CaseTable::categories
  std::uint8_t source;     // index into CaseTable::sources
  std::uint8_t flags;      // kRegistered | kDispatched | ...
};
static_assert(sizeof(CaseRecord) == 16);

enum CaseFlag : std::uint8_t {
  kRegistered = 1,         // admitted (立案) and not cancelled: every state but collect and cancelled
  kDispatched = 2,         // has been dispatched (dispatched_at set)
  kClosed = 4,             // status closed
  kClosedOnTime = 8,       // closed no later than its deadline
  kOpenWithDeadline = 16,  // dispatch/handle/hold with a deadline: overdue once `value` has passed
  kVerifyDue = 32,         // reached verification: a feedback was given (or a verification done)
  kVerifiedOnTime = 64,    // verified within CountRules::verification_limit_s of the last feedback
  kReturned = 128,         // sent back for rework (返工) at least once
};

// The cases of a block of consecutive keys reported in one local month, counted ahead, so that a
// province's months are a few hundred additions instead of a scan of 12 million records. What
// depends on the question's time (overdue now) is kept as the open cases' deadlines.
struct MonthSummary {
  std::int64_t begin_min = 0, end_min = 0;  // the local month, in minutes since the epoch
  std::uint64_t reported = 0, minutes = 0;  // cases; working minutes of the closed ones
  std::vector<std::uint32_t> flags;         // cases by their flag byte (256)
  std::vector<std::uint32_t> hist;          // the closed cases' handling times, in the figures' histogram buckets
  std::vector<std::uint32_t> deadlines;     // of the open cases with a deadline (kOpenWithDeadline), sorted
};
struct KeyBlock {
  std::size_t first = 0, last = 0;   // keys [first, last) of the table
  std::vector<MonthSummary> months;  // in time order; only months with cases
};
constexpr std::size_t kBlockKeys = 512;

struct CaseTable {
  std::vector<std::string> keys;                                      // sorted (byte order), unique
  std::vector<std::shared_ptr<const std::vector<CaseRecord>>> cases;  // per key, never null, by reported_min
  // Dictionaries: append-only while the process runs, so an index never changes meaning.
  std::shared_ptr<const std::vector<std::string>> categories, sources, assignees;
  std::size_t case_count = 0;
  std::int64_t as_of_s = 0;  // database time at which the last full load started
  double load_seconds = 0;   // how long the last full load took
  std::size_t memory = 0;    // memory_bytes() when the table was made (a walk over every key)
  // blocks[b] summarises keys [b * kBlockKeys, (b + 1) * kBlockKeys); empty: no summaries.
  std::vector<std::shared_ptr<const KeyBlock>> blocks;
  // The first key >= prefix and the first key past every key that starts with prefix.
  std::pair<std::size_t, std::size_t> key_range(const std::string& prefix) const;
  std::size_t memory_bytes() const;
};

class CaseTableCache {
 public:
  CaseTableCache(const incidents::WorkCalendar& calendar, CountRules rules);
  ~CaseTableCache();
  CaseTableCache(const CaseTableCache&) = delete;
  CaseTableCache& operator=(const CaseTableCache&) = delete;

  // Null until the first load finished.
  std::shared_ptr<const CaseTable> current() const { return m_table.load(); }
  // Reads every case (the start-up load, and after a reconnection).
  void load_all(pg::Connection& conn);
  // Re-reads the cases of `keys` and swaps in a table sharing every other key's records.
  void refresh(pg::Connection& conn, const std::vector<std::string>& keys);
  // LISTENs for wangge_stats on its own connection; the first load runs on that thread.
  void start_listening(const std::string& database_url, int statement_timeout_ms);
  void stop();

 private:
  struct Reader;
  Snapshot<CaseTable> m_table;
  const incidents::WorkCalendar& m_calendar;
  CountRules m_rules;
  WorkClock m_clock;
  std::mutex m_write_mutex;
  std::unique_ptr<pg::Listener> m_listener;  // last: stopped first
};

}  // namespace wangge::stats
