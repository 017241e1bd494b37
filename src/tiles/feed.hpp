// Keeps the point layers of the tiles (incidents, checkpoints) and the areas' worker and open-case
// counts in step with the database in every
// server process: a thread LISTENs on wangge_tiles (sent once per statement by the triggers of
// migration 0009, with the rows' lon/lat extent) and hands each burst of notifications to
// TileService::refresh_points, which reloads the layer and drops the cached tiles around the rows.
// Area changes take the area cache's path (TileService::apply_changes), roads the street graph's.
#pragma once

#include <atomic>
#include <string>
#include <thread>

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
  void loop(std::string url, int timeout_ms);
  TileService& m_tiles;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

}  // namespace wangge::tiles
