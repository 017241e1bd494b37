// Keeps the point layers of the tiles (incidents, checkpoints) and the areas' worker and open-case
// counts in step with the database in every
// server process: a thread LISTENs on wangge_tiles (sent once per statement by the triggers of
// migration 0009, with the rows' lon/lat extent) and hands each burst of notifications to
// TileService::refresh_points, which reloads the layer and drops the cached tiles around the rows.
// Area changes take the area cache's path (TileService::apply_changes), roads the street graph's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pg/listener.hpp"
#include "tiles/service.hpp"

namespace wangge::tiles {

class TileFeed {
 public:
  explicit TileFeed(TileService& tiles) : m_tiles(tiles) {}
  ~TileFeed() { stop(); }
  TileFeed(const TileFeed&) = delete;
  TileFeed& operator=(const TileFeed&) = delete;

  void start(const std::string& database_url, int statement_timeout_ms);
  void stop();

 private:
  void catch_up(pg::Connection& conn);
  void apply(pg::Connection& conn, const std::vector<pg::Notification>& received);

  TileService& m_tiles;
  // Set by every connection, cleared by the full reload that follows once the tiles are loaded.
  // Only the listener's thread touches it.
  bool m_owed_everything = false;
  std::unique_ptr<pg::Listener> m_listener;
};

}  // namespace wangge::tiles
