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
      // Assignments change the areas' worker counts (migration 0007 sends an empty payload).
      conn.exec("tiles.listen_workers", "LISTEN wangge_workers");
      // Whatever was written before this LISTEN took effect (start-up, a reconnection) is caught by
      // one reload and recount (dropping every cached tile) as soon as the tiles are loaded: their
      // first load may have read its rows just before that moment, with nothing heard in between.
      bool owed_everything = true;
      while (!m_stop) {
        if (owed_everything && m_tiles.ready()) {
          m_tiles.refresh_points(conn, true, true, {Box{-180, -85.06, 180, 85.06}});
          m_tiles.refresh_counts(conn, std::nullopt);
          owed_everything = false;
        }
        auto payloads = conn.notifications(200);
        if (payloads.empty()) continue;
        if (!m_tiles.ready()) continue;  // owed_everything covers it once the first load is done
        // A burst (one per statement, many statements per transaction) is handled at once.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        for (auto& more : conn.notifications(0)) payloads.push_back(std::move(more));
        bool incidents = false, checkpoints = false, recount_all = false;
        std::vector<Box> boxes;
        std::vector<std::string> case_grids;  // grids whose open-case counts may have changed
        for (const auto& text : payloads) {
          if (text.empty()) {  // wangge_workers
            recount_all = true;
            continue;
          }
          try {
            const auto j = nlohmann::json::parse(text);
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
            boxes.push_back(Box{-180, -85.06, 180, 85.06});
          }
        }
        m_tiles.refresh_points(conn, incidents, checkpoints, boxes);
        if (recount_all) m_tiles.refresh_counts(conn, std::nullopt);
        else if (!case_grids.empty()) m_tiles.refresh_counts(conn, case_grids);
      }
    } catch (const std::exception& e) {
      log::warn(std::string("tile feed: ") + e.what() + "; reconnecting");
    }
    for (int i = 0; i < 10 && !m_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace wangge::tiles
