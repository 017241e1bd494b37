// Requests counted by route pattern and status, with latency histograms per route, for /metrics.
// The route is the matched pattern ("/v1/areas/{code}"), never the path: a label per area code
// would grow without bound. Requests no pattern took (404s, answers refused before routing) count
// under route="(none)".
//
// Recording is a few relaxed increments in the calling thread's shard (core/metrics.hpp): no lock,
// no allocation, no shared cache line between threads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "http/router.hpp"

namespace wangge::http {

class RequestMetrics {
 public:
  RequestMetrics() = default;
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;

  // Sizes the counters for every route of `routes` and registers the collector. Call once, after
  // every route was added and before the server starts (routes are not added later).
  void attach(const RouteTable& routes);

  // `route`: RouteTable's index of the route that answered (Request::route), or -1.
  void record(int route, int status, double seconds);
  // The route index of an inline (event-loop) route's exact path, or -1.
  int inline_route(std::string_view method, std::string_view path) const;

 private:
  // The statuses wangge answers with, each its own counter; anything else counts under "other".
  static constexpr std::array<int, 28> kStatuses = {200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403,
                                                    404, 405, 406, 408, 409, 410, 412, 413, 415, 422, 428, 429, 431, 500};
  static constexpr std::size_t kStatusSlots = kStatuses.size() + 5;  // + 501, 502, 503, 504, other
  static std::size_t slot_of(int status);
  static int status_of_slot(std::size_t slot);

  std::vector<std::string> m_methods, m_patterns;  // per route; the last entry is "(none)"
  std::vector<std::pair<std::string, int>> m_inline;
  std::size_t m_stride = 0;  // counters per shard
  std::unique_ptr<std::atomic<std::uint64_t>[]> m_counts;
  std::vector<std::unique_ptr<metrics::Histogram>> m_latency;  // per route
  std::vector<metrics::Registration> m_registrations;
};

}  // namespace wangge::http
