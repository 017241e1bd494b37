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

Locator::Locator(Options options) : m_options(options) {
  m_consolidate = std::thread([this] { consolidate_loop(); });
}

Locator::~Locator() {
  {
    std::lock_guard lock(m_consolidate_mutex);
    m_stop = true;
  }
  m_consolidate_cv.notify_all();
  if (m_consolidate.joinable()) m_consolidate.join();
  if (m_watch) m_watch->stop();
}

void Locator::attach(registry::AreaCache& cache) {
  cache.subscribe([this](pg::Connection& conn, const std::vector<std::string>& codes) { on_change(conn, codes); });
}

void Locator::on_change(pg::Connection& conn, const std::vector<std::string>& codes) {
  std::lock_guard lock(m_build_mutex);
  auto before = m_index.load();
  std::shared_ptr<const LocateIndex> next;
  if (codes.empty() || !before) {
    next = LocateIndex::build(read_areas(conn, std::nullopt), m_options);
    // A full load follows a (re)connection, when assignment changes may have been missed too.
    auto workers = std::make_shared<const WorkerDirectory>(read_workers(conn, std::nullopt));
    m_workers.store(std::move(workers));
  } else {
    auto sources = apply_changes(before->sources(), codes, read_areas(conn, std::nullopt, &codes));
    next = LocateIndex::patch(before, codes, sources);
    if (!next) next = LocateIndex::build(std::move(sources), m_options);
  }
  const auto& st = next->stats();
  char msg[240];
  if (next->patched()) {
    std::snprintf(msg, sizeof msg, "locator index patched: %zu changed areas (%zu since the last full build) in %.3f s", codes.size(),
                  next->patched_codes(), st.build_seconds);
  } else {
    std::snprintf(msg, sizeof msg, "locator index built: %zu areas (%zu grids, %zu micro-grids, %zu admin) in %.3f s, %.0f MB", st.areas,
                  st.grids, st.microgrids, st.admin, st.build_seconds, st.memory_bytes / 1048576.0);
  }
  log::info(msg);
  const bool patched = next->patched();
  m_index.store(std::move(next));
  ++m_generation;
  {
    std::lock_guard clock(m_consolidate_mutex);
    m_last_change = std::chrono::steady_clock::now();
    if (m_background_build) {
      m_changed_during_build.insert(m_changed_during_build.end(), codes.begin(), codes.end());
      if (codes.empty()) m_reloaded_during_build = true;
    }
  }
  if (patched) m_consolidate_cv.notify_all();
}

void Locator::consolidate_loop() {
  std::unique_lock lock(m_consolidate_mutex);
  while (!m_stop) {
    auto current = m_index.load();
    if (!current || !current->patched()) {
      m_consolidate_cv.wait(lock);
      continue;
    }
    const auto quiet_until = m_last_change + std::chrono::milliseconds(consolidate_after_ms);
    if (std::chrono::steady_clock::now() < quiet_until) {
      m_consolidate_cv.wait_until(lock, quiet_until);
      continue;
    }
    // Build from the current snapshot's areas without holding any lock readers or writers need;
    // the changes that arrive meanwhile are patched onto the new base before it is installed.
    m_background_build = true;
    m_reloaded_during_build = false;
    m_changed_during_build.clear();
    lock.unlock();
    std::shared_ptr<const LocateIndex> full;
    try {
      full = LocateIndex::build(current->sources(), m_options);
    } catch (const std::exception& e) {
      log::warn(std::string("locator background build failed: ") + e.what());
    }
    {
      std::lock_guard build(m_build_mutex);
      lock.lock();
      m_background_build = false;
      if (full) {
        // What changed since `current` must be on top of the new base too; after a full reload
        // meanwhile (a reconnection) the new base is stale and dropped.
        auto now = m_index.load();
        std::shared_ptr<const LocateIndex> next = full;
        if (m_reloaded_during_build)
          next = nullptr;
        else if (now != current && !m_changed_during_build.empty())
          next = LocateIndex::patch(full, m_changed_during_build, now->sources());
        if (next) {
          char msg[160];
          std::snprintf(msg, sizeof msg, "locator index rebuilt in the background: %zu areas in %.3f s", full->stats().areas,
                        full->stats().build_seconds);
          log::info(msg);
          m_index.store(std::move(next));
          ++m_generation;
        }
      }
      m_changed_during_build.clear();
    }
    if (!full) m_consolidate_cv.wait_for(lock, std::chrono::seconds(10));
  }
}

void Locator::install(std::shared_ptr<const LocateIndex> index, std::shared_ptr<const WorkerDirectory> workers) {
  const bool patched = index && index->patched();
  if (workers) m_workers.store(std::move(workers));
  m_index.store(std::move(index));
  ++m_generation;
  if (patched) {
    {
      std::lock_guard lock(m_consolidate_mutex);
      m_last_change = std::chrono::steady_clock::now();
    }
    m_consolidate_cv.notify_all();
  }
}

void Locator::reload_workers(pg::Connection& conn) {
  long long ticket = 0;
  {
    std::lock_guard lock(m_reload_mutex);
    ticket = ++m_reloads_begun;
  }
  auto workers = std::make_shared<const WorkerDirectory>(read_workers(conn, std::nullopt));
  m_workers.store(std::move(workers));
  {
    std::lock_guard lock(m_reload_mutex);
    m_reloads_done = std::max(m_reloads_done, ticket);
  }
  m_reload_cv.notify_all();
}

bool Locator::wait_for_worker_reload(std::chrono::milliseconds limit) {
  std::unique_lock lock(m_reload_mutex);
  // A reload already running may have read the tables before the write committed: only the next
  // one to begin is sure to see it.
  const long long wanted = m_reloads_begun + 1;
  return m_reload_cv.wait_for(lock, limit, [&] { return m_reloads_done >= wanted; });
}

void Locator::start_worker_watch(const std::string& url, int timeout_ms, int interval_ms) {
  // Assignment and worker writes send NOTIFY wangge_workers (migration 0007): reload when one
  // arrives. The fingerprint, checked every `interval_ms` as well, catches a database whose
  // writers bypass the triggers; a new connection reloads, since notifications may have been lost.
  pg::Listener::Options options;
  options.name = "locator worker watch";
  options.channels = {"wangge_workers"};
  options.statement_timeout_ms = timeout_ms;
  options.poll = std::chrono::milliseconds(100);
  options.tick_every = std::chrono::milliseconds(interval_ms);
  pg::Listener::Handlers handlers;
  auto reload = [this](pg::Connection& conn) {
    m_workers_seen = workers_fingerprint(conn);
    reload_workers(conn);
  };
  handlers.catch_up = reload;
  handlers.notified = [reload](pg::Connection& conn, std::vector<pg::Notification>&) { reload(conn); };
  handlers.tick = [this](pg::Connection& conn) {
    std::string now = workers_fingerprint(conn);
    if (now != m_workers_seen) reload_workers(conn);
    m_workers_seen = std::move(now);
  };
  m_watch = std::make_unique<pg::Listener>(url, std::move(options), std::move(handlers));
}

}  // namespace wangge::locate
