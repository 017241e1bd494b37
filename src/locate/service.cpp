#include "locate/service.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "core/error.hpp"
#include "core/log.hpp"
#include "locate/database.hpp"

namespace wangge::locate {

Options Locator::options_from_environment() {
  Options o;
  if (const char* v = std::getenv("WANGGE_LOCATE_NEAREST_M"); v && *v) {
    char* end = nullptr;
    const double d = std::strtod(v, &end);
    if (end == v || *end != '\0' || !(d >= 0) || d > 10000)
      throw std::runtime_error("WANGGE_LOCATE_NEAREST_M must be a number of metres from 0 to 10000");
    o.nearest_m = d;
  }
  return o;
}

Locator::Locator(Options options) : m_options(options) {}

Locator::~Locator() {
  m_stop = true;
  if (m_watch.joinable()) m_watch.join();
}

void Locator::attach(registry::AreaCache& cache) {
  cache.subscribe([this](pg::Connection& conn, const std::vector<std::string>& codes) { on_change(conn, codes); });
}

void Locator::on_change(pg::Connection& conn, const std::vector<std::string>& codes) {
  std::lock_guard lock(m_build_mutex);
  auto before = std::atomic_load(&m_index);
  std::shared_ptr<const LocateIndex> next;
  if (codes.empty() || !before) {
    next = LocateIndex::build(read_areas(conn, std::nullopt), m_options);
    // A full load follows a (re)connection, when assignment changes may have been missed too.
    auto workers = std::make_shared<const WorkerDirectory>(read_workers(conn, std::nullopt));
    std::atomic_store(&m_workers, std::move(workers));
  } else {
    next = LocateIndex::build(apply_changes(before->sources(), codes, read_areas(conn, std::nullopt, &codes)), m_options);
  }
  const auto& st = next->stats();
  char msg[200];
  std::snprintf(msg, sizeof msg, "locator index built: %zu areas (%zu grids, %zu micro-grids, %zu admin) in %.3f s, %.0f MB",
                st.areas, st.grids, st.microgrids, st.admin, st.build_seconds, st.memory_bytes / 1048576.0);
  log::info(msg);
  std::atomic_store(&m_index, std::move(next));
  ++m_generation;
}

void Locator::install(std::shared_ptr<const LocateIndex> index, std::shared_ptr<const WorkerDirectory> workers) {
  if (workers) std::atomic_store(&m_workers, std::move(workers));
  std::atomic_store(&m_index, std::move(index));
  ++m_generation;
}

void Locator::reload_workers(pg::Connection& conn) {
  auto workers = std::make_shared<const WorkerDirectory>(read_workers(conn, std::nullopt));
  std::atomic_store(&m_workers, std::move(workers));
}

void Locator::start_worker_watch(const std::string& url, int timeout_ms, int interval_ms) {
  m_watch = std::thread([this, url, timeout_ms, interval_ms] { watch_loop(url, timeout_ms, interval_ms); });
}

void Locator::watch_loop(std::string url, int timeout_ms, int interval_ms) {
  // Assignment and worker writes send NOTIFY wangge_workers (migration 0007): reload when one
  // arrives. The fingerprint, checked every `interval_ms` as well, catches a database whose
  // writers bypass the triggers; a new connection reloads, since notifications may have been lost.
  std::string seen;
  while (!m_stop) {
    try {
      pg::Connection conn(url, timeout_ms);
      conn.exec("locate.listen_workers", "LISTEN wangge_workers");
      bool reload = true;
      auto last_check = std::chrono::steady_clock::now();
      while (!m_stop) {
        const auto now_t = std::chrono::steady_clock::now();
        if (reload || now_t - last_check >= std::chrono::milliseconds(interval_ms)) {
          std::string now = workers_fingerprint(conn);
          if (reload || now != seen) reload_workers(conn);
          seen = now;
          reload = false;
          last_check = now_t;
        }
        if (!conn.notifications(100).empty()) reload = true;
      }
    } catch (const std::exception& e) {
      log::warn(std::string("locator worker watch: ") + e.what() + "; retrying");
      seen.clear();
    }
    for (int i = 0; i < 10 && !m_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Locator::View Locator::at(pg::Connection& conn, Micros at) {
  const std::string t = format_rfc3339(at);
  // The latest change at or before `at`, and whether anything changed after it. Rows are never
  // deleted and changes are stamped with the transaction time, so a moment in the past always
  // sees the same rows: the last change before it identifies them.
  auto r = conn.exec("locate.at_key",
                     "SELECT greatest((SELECT max(valid_from) FROM areas WHERE valid_from <= $1::timestamptz),"
                     "                (SELECT max(valid_to) FROM areas WHERE valid_to <= $1::timestamptz),"
                     "                (SELECT max(assigned_at) FROM worker_assignments WHERE assigned_at <= $1::timestamptz),"
                     "                (SELECT max(unassigned_at) FROM worker_assignments WHERE unassigned_at <= $1::timestamptz))::text,"
                     " $1::timestamptz >= now() OR NOT (EXISTS (SELECT 1 FROM areas WHERE valid_from > $1::timestamptz"
                     "   OR valid_to > $1::timestamptz) OR EXISTS (SELECT 1 FROM worker_assignments"
                     "   WHERE assigned_at > $1::timestamptz OR unassigned_at > $1::timestamptz))",
                     {t});
  if (r.boolean(0, 1)) {
    View v = current();
    if (!v.index) throw unavailable("locator_not_ready", "the locator is still loading the areas; retry shortly");
    return v;
  }
  const std::string key = r.is_null(0, 0) ? std::string("before-everything") : r.str(0, 0);
  {
    std::lock_guard lock(m_history_mutex);
    for (auto it = m_history.begin(); it != m_history.end(); ++it) {
      if (it->first == key) {
        m_history.splice(m_history.begin(), m_history, it);
        return m_history.front().second;
      }
    }
  }
  View v;
  v.index = LocateIndex::build(read_areas(conn, at), m_options);
  v.workers = std::make_shared<const WorkerDirectory>(read_workers(conn, at));
  std::lock_guard lock(m_history_mutex);
  m_history.emplace_front(key, v);
  if (m_history.size() > kHistorySize) m_history.pop_back();
  return v;
}

}  // namespace wangge::locate
