#include "http/metrics.hpp"

namespace wangge::http {

std::size_t RequestMetrics::slot_of(int status) {
  for (std::size_t i = 0; i < kStatuses.size(); ++i)
    if (kStatuses[i] == status) return i;
  if (status >= 501 && status <= 504) return kStatuses.size() + static_cast<std::size_t>(status - 501);
  return kStatusSlots - 1;
}

int RequestMetrics::status_of_slot(std::size_t slot) {
  if (slot < kStatuses.size()) return kStatuses[slot];
  if (slot < kStatusSlots - 1) return 501 + static_cast<int>(slot - kStatuses.size());
  return 0;  // "other"
}

void RequestMetrics::attach(const RouteTable& routes) {
  for (std::size_t i = 0; i < routes.size(); ++i) {
    m_methods.push_back(routes.method_at(i));
    m_patterns.push_back(routes.pattern_at(i));
  }
  m_methods.emplace_back("");
  m_patterns.emplace_back("(none)");
  for (const auto& [method, path] : routes.inline_paths())
    for (std::size_t i = 0; i < routes.size(); ++i)
      if (routes.method_at(i) == method && routes.pattern_at(i) == path) m_inline.emplace_back(method + " " + path, static_cast<int>(i));
  const std::size_t cells = m_patterns.size() * kStatusSlots;
  m_stride = (cells + 7) / 8 * 8;  // whole cache lines per shard
  m_counts = std::make_unique<std::atomic<std::uint64_t>[]>(m_stride * metrics::kShards);
  for (std::size_t i = 0; i < m_stride * metrics::kShards; ++i) m_counts[i].store(0, std::memory_order_relaxed);
  for (std::size_t i = 0; i < m_patterns.size(); ++i) m_latency.push_back(std::make_unique<metrics::Histogram>(metrics::latency_buckets()));

  auto route_labels = [this](std::size_t r) {
    std::string l = metrics::label("route", m_patterns[r]);
    if (!m_methods[r].empty()) l += "," + metrics::label("method", m_methods[r]);
    return l;
  };
  m_registrations.push_back(metrics::add(
      "wangge_http_requests_total", metrics::Type::kCounter, "HTTP requests answered, by route pattern, method and status",
      [this, route_labels](metrics::Family& f) {
        for (std::size_t r = 0; r < m_patterns.size(); ++r) {
          for (std::size_t slot = 0; slot < kStatusSlots; ++slot) {
            std::uint64_t n = 0;
            for (std::size_t s = 0; s < metrics::kShards; ++s)
              n += m_counts[s * m_stride + r * kStatusSlots + slot].load(std::memory_order_relaxed);
            if (n == 0) continue;  // a route's unused statuses would only make noise
            const int status = status_of_slot(slot);
            f.value(route_labels(r) + "," + metrics::label("status", status ? std::to_string(status) : "other"), static_cast<double>(n));
          }
        }
      }));
  m_registrations.push_back(metrics::add("wangge_http_request_duration_seconds", metrics::Type::kHistogram,
                                         "Time from a request's arrival to its answer's hand-over to the socket, by route",
                                         [this, route_labels](metrics::Family& f) {
                                           for (std::size_t r = 0; r < m_patterns.size(); ++r) {
                                             auto totals = m_latency[r]->totals();
                                             if (totals.count == 0) continue;
                                             f.histogram(route_labels(r), totals, m_latency[r]->bounds());
                                           }
                                         }));
}

void RequestMetrics::record(int route, int status, double seconds) {
  if (!m_counts) return;  // not attached (a server without metrics)
  const std::size_t r =
      route >= 0 && static_cast<std::size_t>(route) < m_patterns.size() - 1 ? static_cast<std::size_t>(route) : m_patterns.size() - 1;
  m_counts[metrics::this_shard() * m_stride + r * kStatusSlots + slot_of(status)].fetch_add(1, std::memory_order_relaxed);
  m_latency[r]->observe(seconds);
}

int RequestMetrics::inline_route(std::string_view method, std::string_view path) const {
  for (const auto& [key, index] : m_inline)
    if (key.size() == method.size() + 1 + path.size() && key.compare(0, method.size(), method) == 0 &&
        key.compare(method.size() + 1, std::string::npos, path) == 0)
      return index;
  return -1;
}

}  // namespace wangge::http
