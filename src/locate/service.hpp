// The locator as the server runs it: the current LocateIndex and WorkerDirectory, each an
// immutable snapshot swapped atomically (readers never wait, never see half a change), kept in
// step with the registry by the AreaCache listener (LISTEN/NOTIFY, so several processes on one
// database follow the same changes). Past moments (`at=`) are read from PostGIS per request
// (locate/past.hpp), never indexed whole.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/snapshot.hpp"
#include "core/time.hpp"
#include "locate/index.hpp"
#include "pg/connection.hpp"
#include "pg/listener.hpp"
#include "registry/snapshot.hpp"

namespace wangge::locate {

class Locator {
 public:
  // Options from the environment: WANGGE_LOCATE_NEAREST_M (default 50).
  static Options options_from_environment();

  explicit Locator(Options options);
  ~Locator();
  Locator(const Locator&) = delete;
  Locator& operator=(const Locator&) = delete;

  // Follows the registry: call before cache.start_listening(). The first full load builds the
  // index; each change after that reads the changed rows and patches the snapshot (in about the
  // time of the change, see LocateIndex::patch), and a full build from the kept geometry follows in
  // the background once changes pause for `consolidate_after_ms`.
  void attach(registry::AreaCache& cache);
  // Follows the worker assignments on its own connection (LISTEN wangge_workers, sent by the
  // triggers of migration 0007; a cheap fingerprint query every `interval_ms` as a safety net) and
  // swaps in a new directory when they change.
  void start_worker_watch(const std::string& database_url, int statement_timeout_ms, int interval_ms = 5000);

  struct View {
    std::shared_ptr<const LocateIndex> index;
    std::shared_ptr<const WorkerDirectory> workers;
  };
  // The current snapshot; index is null until the first load finished.
  View current() const { return {m_index.load(), m_workers.load()}; }
  const Options& options() const { return m_options; }
  // Applies a registry change (no codes: everything) to the index; the AreaCache listener calls it.
  void on_change(pg::Connection& conn, const std::vector<std::string>& codes);
  void reload_workers(pg::Connection& conn);
  // Read-your-writes for worker writes of this process: returns once a reload of the worker
  // directory that began after the call has finished (the watch starts one on the write's
  // NOTIFY, within its 100 ms poll), or after `limit`. False when the limit came first.
  bool wait_for_worker_reload(std::chrono::milliseconds limit);
  // Installs a snapshot (what on_change does after a build; tests use it directly).
  void install(std::shared_ptr<const LocateIndex> index, std::shared_ptr<const WorkerDirectory> workers = nullptr);
  // Number of swaps so far (tests and logs).
  long long generation() const { return m_generation.load(); }

 private:
  // Replaces patched snapshots by full builds when changes pause (the patched lookups near edits
  // are slower, and their dirty boxes would otherwise only grow).
  void consolidate_loop();

  Options m_options;
  Snapshot<LocateIndex> m_index;
  Snapshot<WorkerDirectory> m_workers;
  std::mutex m_build_mutex;  // one rebuild at a time; readers never take it
  std::atomic<long long> m_generation{0};

  std::atomic<bool> m_stop{false};
  // The worker watch's own: the assignments' fingerprint when the directory was last read.
  std::string m_workers_seen;
  // Reloads of the worker directory begun and finished (wait_for_worker_reload).
  std::mutex m_reload_mutex;
  std::condition_variable m_reload_cv;
  long long m_reloads_begun = 0, m_reloads_done = 0;
  std::unique_ptr<pg::Listener> m_watch;

  std::mutex m_consolidate_mutex;
  std::condition_variable m_consolidate_cv;
  std::chrono::steady_clock::time_point m_last_change{};
  std::vector<std::string> m_changed_during_build;  // codes changed while a background build runs
  bool m_background_build = false;
  bool m_reloaded_during_build = false;
  std::thread m_consolidate;

 public:
  // How long changes must pause before the background full build (tests shorten it).
  int consolidate_after_ms = 2000;
};

}  // namespace wangge::locate
