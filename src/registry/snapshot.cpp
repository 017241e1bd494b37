#include "registry/snapshot.hpp"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "registry/areas.hpp"

namespace wangge::registry {
namespace {

// One definition of what a cached area is, for the full load and the refresh.
const char* kSelect =
    "SELECT a.code, a.level, coalesce(a.parent_code, ''), a.version, wg_area_feature(a, 4490)::text, "
    "a.id, a.name, a.parent_code IS NOT NULL, a.households::text, a.population::text, "
    "to_char(a.valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), a.changed_by, a.attributes::text "
    "FROM areas a WHERE a.valid_to IS NULL";

// Where wg_area_feature's text holds the geometry: json_build_object writes `"geometry" : ` and
// then ST_AsGeoJSON's text unchanged, followed by `, "properties" : `.
void locate_geometry(AreaEntry& e) {
  static constexpr std::string_view kKey = "\"geometry\" : ";
  static constexpr std::string_view kNext = ", \"properties\" : ";
  const std::size_t key = e.feature.find(kKey);
  if (key == std::string::npos) return;
  const std::size_t start = key + kKey.size();
  const std::size_t end = e.feature.find(kNext, start);
  if (end == std::string::npos || end == start || e.feature.compare(start, 4, "null") == 0) return;
  e.geometry_at = start;
  e.geometry_length = end - start;
}

std::shared_ptr<const AreaEntry> entry_of(const pg::Result& r, int i) {
  auto e = std::make_shared<AreaEntry>();
  e->code = r.str(i, 0);
  e->level = r.str(i, 1);
  e->parent = r.str(i, 2);
  e->version = r.integer(i, 3);
  e->feature = r.str(i, 4);
  e->etag = area_etag(e->code, e->version);
  e->id = r.integer(i, 5);
  e->name = r.str(i, 6);
  e->has_parent = r.get(i, 7) == std::string_view("t");
  if (!r.is_null(i, 8)) e->households = r.str(i, 8);
  if (!r.is_null(i, 9)) e->population = r.str(i, 9);
  e->valid_from = r.str(i, 10);
  e->valid_from_us = parse_rfc3339(e->valid_from).value_or(0);
  e->changed_by = r.str(i, 11);
  e->attributes = r.str(i, 12);
  locate_geometry(*e);
  return e;
}

}  // namespace

AreaSnapshot::AreaSnapshot() : shards(kShards, std::make_shared<const Shard>()) {}

std::shared_ptr<const AreaEntry> AreaSnapshot::find(const std::string& code) const {
  const Shard& shard = *shards[shard_of(code)];
  auto it = shard.find(code);
  return it == shard.end() ? nullptr : it->second;
}

AreaCache::~AreaCache() { stop(); }

void AreaCache::stop() {
  if (m_listener) m_listener->stop();
}

std::shared_ptr<const AreaEntry> AreaCache::find(const std::string& code) const { return current()->find(code); }

bool AreaCache::complete() const { return m_complete.load(); }

LoadStats AreaCache::load_all(pg::Connection& conn) {
  std::unique_lock lock(m_write_mutex);  // the swap only; the subscribers run unlocked (see refresh)
  const auto t0 = std::chrono::steady_clock::now();
  auto next = std::make_shared<AreaSnapshot>();
  // One consistent view: the revision and the rows come from the same snapshot of the database.
  pg::Transaction tx(conn);
  tx.exec("snapshot.isolation", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
  next->revision = tx.exec("snapshot.revision", "SELECT last_value FROM registry_revision").integer(0, 0);
  auto r = tx.exec("snapshot.load", kSelect);
  tx.commit();
  std::vector<AreaSnapshot::Shard> shards(AreaSnapshot::kShards);
  LoadStats stats{0, 0};
  for (int i = 0; i < r.rows(); ++i) {
    auto e = entry_of(r, i);
    const std::size_t k = AreaSnapshot::shard_of(e->code);
    stats.areas += shards[k].emplace(e->code, std::move(e)).second ? 1 : 0;
  }
  for (std::size_t k = 0; k < AreaSnapshot::kShards; ++k)
    next->shards[k] = std::make_shared<const AreaSnapshot::Shard>(std::move(shards[k]));
  m_snapshot.store(std::move(next));
  m_ready = true;
  {
    std::lock_guard pending(m_pending_mutex);
    m_failed.clear();
    m_complete = true;
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  lock.unlock();
  notify(conn, {});
  return stats;
}

void AreaCache::refresh(pg::Connection& conn, const std::vector<std::string>& codes, Subscribers subscribers) {
  if (codes.empty()) return;
  // The write lock covers the read-modify-swap of the snapshot only, never the subscribers: they
  // rebuild for seconds at province scale, and a writer refreshing its own change must not wait
  // for the rebuild of an earlier one.
  std::unique_lock lock(m_write_mutex);
  nlohmann::json list = codes;
  std::optional<pg::Result> read;
  try {
    read.emplace(
        conn.exec("snapshot.refresh", std::string(kSelect) + " AND a.code IN (SELECT json_array_elements_text($1::json))", {list.dump()}));
  } catch (...) {
    // The change is committed but not in the snapshot: owed until a refresh of it succeeds.
    std::lock_guard pending(m_pending_mutex);
    m_failed.insert(codes.begin(), codes.end());
    m_complete = false;
    throw;
  }
  const pg::Result& r = *read;
  auto now = current();
  std::vector<std::shared_ptr<const AreaEntry>> fresh;
  for (int i = 0; i < r.rows(); ++i) fresh.push_back(entry_of(r, i));
  bool changed = false;
  std::set<std::string> present;
  for (const auto& e : fresh) {
    present.insert(e->code);
    auto old = now->find(e->code);
    changed = changed || !old || old->version != e->version || old->feature != e->feature;
  }
  for (const auto& code : codes) changed = changed || (!present.count(code) && now->find(code));
  if (changed) {
    // Copy-on-write per shard: only the shards of the changed codes are copied.
    auto next = std::make_shared<AreaSnapshot>(*now);
    std::map<std::size_t, AreaSnapshot::Shard> touched;
    auto shard = [&](const std::string& code) -> AreaSnapshot::Shard& {
      const std::size_t k = AreaSnapshot::shard_of(code);
      auto it = touched.find(k);
      if (it == touched.end()) it = touched.emplace(k, *now->shards[k]).first;
      return it->second;
    };
    for (const auto& code : codes) shard(code).erase(code);
    for (auto& e : fresh) {
      const std::string code = e->code;  // the key, before the entry moves into the map
      shard(code).insert_or_assign(code, std::move(e));
    }
    for (auto& [k, m] : touched) next->shards[k] = std::make_shared<const AreaSnapshot::Shard>(std::move(m));
    m_snapshot.store(std::move(next));
  }
  // Marked before the write lock goes, so a refresh of the same codes that finds nothing changed
  // (the writer's own, or the listener's for its NOTIFY) still sees that the subscribers are owed.
  {
    std::lock_guard pending(m_pending_mutex);
    if (changed) {
      ++m_pending_mark;
      for (const auto& code : codes) m_pending[code] = m_pending_mark;
    }
    if (!m_failed.empty()) {
      for (const auto& code : codes) m_failed.erase(code);
      m_complete = m_failed.empty();
    }
  }
  if (subscribers == Subscribers::leave_to_listener) return;
  lock.unlock();
  // A write is seen twice (its own refresh, then its NOTIFY): the subscribers hear of it once.
  bool owed = false;
  std::uint64_t mark = 0;
  {
    std::lock_guard pending(m_pending_mutex);
    for (const auto& code : codes) owed = owed || m_pending.count(code) > 0;
    mark = m_pending_mark;
  }
  if (owed) notify(conn, codes);
  // Only now are the codes done: a writer waiting for them must not go before the subscribers
  // have. Marks made while they ran stay (their NOTIFY will run the subscribers again).
  {
    std::lock_guard pending(m_pending_mutex);
    for (const auto& code : codes)
      if (auto it = m_pending.find(code); it != m_pending.end() && it->second <= mark) m_pending.erase(it);
  }
  m_pending_cv.notify_all();
}

bool AreaCache::wait_for_subscribers(const std::vector<std::string>& codes, std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_pending_mutex);
  return m_pending_cv.wait_for(lock, timeout, [&] {
    for (const auto& code : codes)
      if (m_pending.count(code)) return false;
    return true;
  });
}

void AreaCache::notify(pg::Connection& conn, const std::vector<std::string>& codes) {
  for (const auto& listener : m_listeners) {
    try {
      listener(conn, codes);
    } catch (const std::exception& e) {
      log::warn(std::string("a registry listener failed: ") + e.what());
    }
  }
}

void AreaCache::start_listening(const std::string& url, int timeout_ms) {
  pg::Listener::Options options;
  options.name = "area cache listener";
  options.channels = {"wangge_areas"};
  options.statement_timeout_ms = timeout_ms;
  pg::Listener::Handlers handlers;
  // Every connection reloads everything: whatever ended the previous one may have swallowed
  // notifications, and on the first one the snapshot may predate LISTEN.
  handlers.catch_up = [this](pg::Connection& conn) {
    auto stats = load_all(conn);
    char msg[160];
    std::snprintf(msg, sizeof msg, "area cache loaded: %zu areas in %.3f s", stats.areas, stats.seconds);
    log::info(msg);
  };
  handlers.notified = [this](pg::Connection& conn, std::vector<pg::Notification>& received) {
    std::set<std::string> codes;
    for (const auto& n : received) {
      auto payload = nlohmann::json::parse(n.payload, nullptr, false);
      if (payload.is_object() && payload.contains("code") && payload["code"].is_string()) codes.insert(payload["code"].get<std::string>());
    }
    if (!codes.empty()) refresh(conn, std::vector<std::string>(codes.begin(), codes.end()));
  };
  m_listener = std::make_unique<pg::Listener>(url, std::move(options), std::move(handlers));
}

}  // namespace wangge::registry
