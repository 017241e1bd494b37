#include "tiles/feed.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/log.hpp"

namespace wangge::tiles {

void TileFeed::start(const std::string& url, int timeout_ms) {
  m_thread = std::thread([this, url, timeout_ms] { loop(url, timeout_ms); });
}

void TileFeed::stop() {
  m_stop = true;
  if (m_thread.joinable()) m_thread.join();
}

void TileFeed::loop(std::string url, int timeout_ms) {
  while (!m_stop) {
    try {
      pg::Connection conn(url, timeout_ms);
      conn.exec("tiles.listen", "LISTEN wangge_tiles");
      // Whatever was written while this process was not listening (start, reconnection) is in a
      // fresh load of both layers; the tiles cached meanwhile may show it wrongly: drop them all.
      // Until the tiles' first load, which reads both layers after this LISTEN, nothing is owed.
      bool owed_everything = m_tiles.ready();
      while (!m_stop) {
        if (owed_everything && m_tiles.ready()) {
          m_tiles.refresh_points(conn, true, true, {Box{-180, -85.06, 180, 85.06}});
          owed_everything = false;
        }
        auto payloads = conn.notifications(200);
        if (payloads.empty()) continue;
        if (!m_tiles.ready()) continue;  // the first load is still to come, or running: it reads after this
        // A burst (one per statement, many statements per transaction) is handled at once.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        for (auto& more : conn.notifications(0)) payloads.push_back(std::move(more));
        bool incidents = false, checkpoints = false;
        std::vector<Box> boxes;
        for (const auto& text : payloads) {
          try {
            const auto j = nlohmann::json::parse(text);
            const std::string table = j.value("table", "");
            incidents = incidents || table == "incidents";
            checkpoints = checkpoints || table == "checkpoints";
            const auto& b = j.at("box");
            boxes.push_back(Box{b.at(0).get<double>(), b.at(1).get<double>(), b.at(2).get<double>(), b.at(3).get<double>()});
          } catch (const std::exception& e) {
            // Not ours or malformed: reload both layers and drop every cached tile rather than guess.
            log::warn(std::string("tiles: unreadable notification (") + e.what() + "), refreshing everything");
            incidents = checkpoints = true;
            boxes.push_back(Box{-180, -85.06, 180, 85.06});
          }
        }
        m_tiles.refresh_points(conn, incidents, checkpoints, boxes);
      }
    } catch (const std::exception& e) {
      log::warn(std::string("tile feed: ") + e.what() + "; reconnecting");
    }
    for (int i = 0; i < 10 && !m_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace wangge::tiles
