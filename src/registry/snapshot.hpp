// The current areas in memory: an immutable snapshot swapped atomically, so readers never wait and
// never see a half-applied change. Built from PostGIS at start; changes reach it through the
// database (LISTEN wangge_areas, sent by a trigger on every write), so several server processes on
// one database stay in step, and a process's own writes are applied before it answers them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <set>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/snapshot.hpp"
#include "pg/connection.hpp"
#include "pg/listener.hpp"

namespace wangge::registry {

struct AreaEntry {
  std::string code;
  std::string level;
  std::string parent;  // empty for a root
  long long version = 0;
  std::string feature;  // GeoJSON Feature in EPSG:4490, as served
  std::string etag;
  // The columns an OGC items page writes beyond the feature (exchange/ogc_memory.cpp serves pages of
  // current areas from memory): values as PostgreSQL's text, so a page from memory is byte for byte
  // the page of the SQL path. The geometry is not kept twice: it is the part of `feature` at
  // geometry_at (ST_AsGeoJSON's text, which the feature embeds unchanged).
  long long id = 0;  // the version row's id (an OGC feature id)
  std::string name;
  bool has_parent = false;      // parent_code IS NOT NULL
  std::string households;       // integer text; empty: NULL
  std::string population;       // integer text; empty: NULL
  std::string valid_from;       // RFC 3339 text in UTC with microseconds
  long long valid_from_us = 0;  // the same instant in microseconds since 1970
  std::string changed_by;
  std::string attributes;           // jsonb's text
  std::size_t geometry_at = 0;      // offset of the geometry's text in `feature`
  std::size_t geometry_length = 0;  // 0: no geometry found (never for a stored area)
};

// The current areas by code. The map is cut into kShards shards by hash, and snapshots share the
// shards they have in common: a change copies the 4,096 shard pointers and the few shards it
// touches (about 140 entries each at province scale), not the whole map. A refresh that copied
// all 557,000 entries took 0.16-0.49 s per registry write (query included), most of a committed
// edit's time.
struct AreaSnapshot {
  using Shard = std::unordered_map<std::string, std::shared_ptr<const AreaEntry>>;
  static constexpr std::size_t kShards = 4096;
  static std::size_t shard_of(const std::string& code) { return std::hash<std::string>{}(code) % kShards; }

  AreaSnapshot();
  std::shared_ptr<const AreaEntry> find(const std::string& code) const;

  std::vector<std::shared_ptr<const Shard>> shards;  // kShards, never null
  long long revision = 0;                            // registry_revision when the snapshot was read
};

struct LoadStats {
  std::size_t areas = 0;
  double seconds = 0;
};

class AreaCache {
 public:
  AreaCache() : m_snapshot(std::make_shared<const AreaSnapshot>()) {}
  ~AreaCache();

  std::shared_ptr<const AreaSnapshot> current() const { return m_snapshot.load(); }
  std::shared_ptr<const AreaEntry> find(const std::string& code) const;

  // Reads every current area (the start-up load).
  LoadStats load_all(pg::Connection& conn);
  // Who tells the subscribers of a refresh: refresh() itself, or the listener thread, which hands
  // them the codes when their NOTIFY arrives, so that a request that wrote never pays for
  // rebuilding the locator or the tiles of a whole province.
  enum class Subscribers { notify_now, leave_to_listener };
  // Re-reads the given codes (a retired one disappears) and swaps in a new snapshot.
  void refresh(pg::Connection& conn, const std::vector<std::string>& codes, Subscribers subscribers = Subscribers::notify_now);
  // Waits until the subscribers have seen `codes` (true) or `timeout` passed (false).
  bool wait_for_subscribers(const std::vector<std::string>& codes, std::chrono::milliseconds timeout);
  // Starts the thread that LISTENs for changes on its own connection and applies them, batched;
  // after a lost connection it reconnects and reloads everything, since notifications may be lost.
  void start_listening(const std::string& database_url, int statement_timeout_ms);
  bool ready() const { return m_ready.load(); }
  // False while a change may be missing from the snapshot: a refresh failed (its codes stay owed
  // until a later refresh of them, or a full load, succeeds). Readers that must show a process's
  // own writes (OGC pages from memory) read the database instead while this is false.
  bool complete() const;
  // Stops the listener thread (waits for it); call before the subscribers go away.
  void stop();

  // Other in-memory views of the registry (the locator, the tile cache) follow the same changes:
  // `listener(conn, codes)` runs after every swap, on the thread that made it, with the codes that
  // changed, or with no codes after a full load. Register before start_listening().
  using Listener = std::function<void(pg::Connection& conn, const std::vector<std::string>& codes)>;
  void subscribe(Listener listener) { m_listeners.push_back(std::move(listener)); }

 private:
  Snapshot<AreaSnapshot> m_snapshot;
  std::mutex m_write_mutex;  // one writer at a time builds the next snapshot
  std::atomic<bool> m_ready{false};
  std::vector<Listener> m_listeners;
  // Codes swapped in but not yet handed to the subscribers, with the mark they got (a counter):
  // a subscriber run clears only the marks made before it started, so a change swapped in while
  // the subscribers were busy with an earlier one stays owed.
  std::map<std::string, std::uint64_t> m_pending;
  std::uint64_t m_pending_mark = 0;
  std::set<std::string> m_failed;  // codes of failed refreshes (guarded by m_pending_mutex)
  std::atomic<bool> m_complete{true};
  std::mutex m_pending_mutex;
  std::condition_variable m_pending_cv;
  void notify(pg::Connection& conn, const std::vector<std::string>& codes);
  std::unique_ptr<pg::Listener> m_listener;  // last: stopped first, before what its handlers use
};

}  // namespace wangge::registry
