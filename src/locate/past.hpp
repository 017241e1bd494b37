// Answers as of a past moment (`at=`), read from PostGIS per request. An index of the whole
// registry at that moment would cost as much as the current one (seconds of CPU and 1.5 GB at
// province scale) for one answer; instead one query returns the few areas valid then that can
// decide the points (the grids and micro-grids within reach, the admin areas covering them, and
// the areas above), and a LocateIndex of just those answers with the same code as the current
// index, so the answers are the ones an index of the whole moment would give:
//   - a grid or micro-grid holding a point, or with an edge within the nearest-grid distance, has
//     its box within the point's reach (reach_degrees), so it is among the rows, with its outline;
//   - the admin areas holding a point come from ST_Covers and are handed to the index as such
//     (LocateIndex::locate_given_admins), without their outlines;
//   - the hierarchy and the workers come from the same rows.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/time.hpp"
#include "locate/index.hpp"
#include "pg/connection.hpp"

namespace wangge::locate {

class PastAnswers {
 public:
  // Reads what the points (EPSG:4490) need at `at`: one query, however many points (callers
  // bound how many at once).
  static PastAnswers read(pg::Connection& conn, Micros at, const Pt* points, std::size_t n, const Options& options);

  // The answer for point `i` of those read.
  Location locate(std::size_t i) const;
  const LocateIndex& index() const { return *m_index; }
  const WorkerDirectory& workers() const { return *m_workers; }

 private:
  std::vector<Pt> m_points;
  std::shared_ptr<const LocateIndex> m_index;
  std::shared_ptr<const WorkerDirectory> m_workers;
  // Per point, the admin areas holding it (index areas): m_admins[m_admin_start[i] ..
  // m_admin_start[i + 1]).
  std::vector<std::size_t> m_admin_start;
  std::vector<std::int32_t> m_admins;
};

}  // namespace wangge::locate
