// A grid worker's checkpoint tour on the street graph: the travel-time matrix from the Graph, the
// tour from route/tour.hpp, shift cap and time windows, the street geometry of the legs. All
// coordinates are EPSG:4490 lon/lat; all times are seconds from the start of the shift.
//
// Rules:
// - A checkpoint more than Router::kMaxSnapM from every street the profile may use, or that cannot
//   be reached from the start or cannot reach the end, is reported (too_far_from_street,
//   unreachable) and left out; the others are planned.
// - When the tour through all of them fits the shift (`max_s`) and meets every time window, all are
//   visited in the best order found (exact up to 15 stops, else local search).
// - Otherwise a subset is chosen (orienteering): repeated cheapest feasible insertion by
//   priority / added seconds, then the order of the chosen ones is re-optimised and insertion tried
//   again, until nothing changes. Left-out checkpoints say why: time_window when even a visit on its
//   own cannot meet the window or when there is no shift cap, else shift.
// - Arriving before a window opens means waiting; service starts inside the window.
// - `vary` multiplies every travel time by a seeded factor in [1, 1.3) before solving, so the tour
//   differs from day to day: a near-best tour, at most 30 % longer than the tour found without it
//   in theory and a few per cent in practice; lower_bound and the gap are on the true times.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "route/router.hpp"

namespace wangge::route {

struct Checkpoint {
  LonLat location{};
  double service_s = 0;
  double priority = 1;                          // higher: chosen first when not all fit
  std::optional<std::array<double, 2>> window;  // service starts within [open, close] s
};

struct PatrolRequest {
  std::vector<Checkpoint> checkpoints;
  LonLat start{};
  std::optional<LonLat> end;  // none: back to the start
  double max_s = std::numeric_limits<double>::infinity();
  std::optional<std::uint64_t> vary;
  double time_limit_s = 0;  // local search budget, 0: automatic (0.25 ms per checkpoint, at most 0.25 s)
};

struct PatrolStop {
  std::size_t checkpoint = 0;  // index into PatrolRequest::checkpoints
  LonLat snapped{};
  double arrival_s = 0, start_s = 0, departure_s = 0;
};

struct PatrolSkip {
  std::size_t checkpoint = 0;
  std::string reason;  // too_far_from_street, unreachable, time_window, shift
};

struct PatrolPlan {
  // Set when the start or end is off the network: "start"/"end" and too_far_from_street.
  std::optional<std::array<std::string, 2>> failure;
  std::vector<PatrolStop> stops;
  std::vector<PatrolSkip> skipped;
  double distance_m = 0;
  double duration_s = 0;     // start to end, with service and waiting
  double lower_bound_s = 0;  // no tour through the same stops takes less
  bool exact = false;        // the order is optimal for these stops
  std::vector<LonLat> geometry;
  double matrix_seconds = 0, solve_seconds = 0;
};

// Travel costs between all positions, rows in parallel on `threads` threads (one Dijkstra per row).
std::vector<std::vector<std::optional<Cost>>> cost_matrix(const Graph& g, const std::vector<std::optional<Snap>>& points,
                                                          unsigned threads = 2);

PatrolPlan plan_patrol(const Graph& g, const PatrolRequest& req);

}  // namespace wangge::route
