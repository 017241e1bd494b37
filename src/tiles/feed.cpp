#include "tiles/feed.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/log.hpp"

namespace wangge::tiles {
namespace {

// The whole Web Mercator world: what "reload and redraw everything" covers.
const Box kWorld{-180, -85.06, 180, 85.06};

}  // namespace

void TileFeed::start(const std::string& url, int timeout_ms) {
  pg::Listener::Options options;
  options.name = "tile feed";
  // Assignments change the areas' worker counts (migration 0007 sends wangge_workers).
  options.channels = {"wangge_tiles", "wangge_workers"};
  options.statement_timeout_ms = timeout_ms;
  // A burst (one per statement, many statements per transaction) is handled at once.
  options.gather = std::chrono::milliseconds(20);
  // The catch-up waits for the tiles' first load: the feed looks again at every poll.
  options.tick_every = options.poll;
  pg::Listener::Handlers handlers;
  handlers.catch_up = [this](pg::Connection& conn) {
    m_owed_everything = true;
    catch_up(conn);
  };
  handlers.notified = [this](pg::Connection& conn, std::vector<pg::Notification>& received) {
    catch_up(conn);
    // Before the first load the notifications are dropped: the catch-up that follows it covers them.
    if (m_tiles.ready()) apply(conn, received);
  };
  handlers.tick = [this](pg::Connection& conn) { catch_up(conn); };
  m_listener = std::make_unique<pg::Listener>(url, std::move(options), std::move(handlers));
}

void TileFeed::stop() {
  if (m_listener) m_listener->stop();
}

void TileFeed::catch_up(pg::Connection& conn) {
  // Whatever was written before LISTEN took effect (start-up, a reconnection) is caught by one
  // reload and recount (dropping every cached tile) as soon as the tiles are loaded: their first
  // load may have read its rows just before that moment, with nothing heard in between.
  if (!m_owed_everything || !m_tiles.ready()) return;
  m_tiles.refresh_points(conn, {.incidents = true, .checkpoints = true}, {kWorld});
  m_tiles.refresh_counts(conn, std::nullopt);
  m_owed_everything = false;
}

void TileFeed::apply(pg::Connection& conn, const std::vector<pg::Notification>& received) {
  bool incidents = false, checkpoints = false, recount_all = false;
  std::vector<Box> boxes;
  std::vector<std::string> case_grids;  // grids whose open-case counts may have changed
  for (const auto& n : received) {
    if (n.channel == "wangge_workers") {
      recount_all = true;
      continue;
    }
    try {
      const auto j = nlohmann::json::parse(n.payload);
      const std::string table = j.value("table", "");
      incidents = incidents || table == "incidents";
      checkpoints = checkpoints || table == "checkpoints";
      const auto& b = j.at("box");
      boxes.push_back(Box{b.at(0).get<double>(), b.at(1).get<double>(), b.at(2).get<double>(), b.at(3).get<double>()});
      if (table == "incidents") {
        const auto& codes = j.at("codes");
        if (codes.is_null()) recount_all = true;  // too many to list
        for (const auto& c : codes)
          if (c.is_string()) case_grids.push_back(c.get<std::string>());
      }
    } catch (const std::exception& e) {
      // Not ours or malformed: reload and recount everything rather than guess.
      log::warn(std::string("tiles: unreadable notification (") + e.what() + "), refreshing everything");
      incidents = checkpoints = recount_all = true;
      boxes.push_back(kWorld);
    }
  }
  m_tiles.refresh_points(conn, {.incidents = incidents, .checkpoints = checkpoints}, boxes);
  if (recount_all)
    m_tiles.refresh_counts(conn, std::nullopt);
  else if (!case_grids.empty())
    m_tiles.refresh_counts(conn, case_grids);
}

}  // namespace wangge::tiles
