#include "locate/past.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

#include "geom/wkb.hpp"
#include "locate/database.hpp"
#include "registry/queries.hpp"

namespace wangge::locate {
namespace {

// The point positions of an int[] literal such as {0,4,7}.
template <typename F>
void each_position(std::string_view text, std::size_t n_points, F&& f) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') throw std::runtime_error("locate: malformed point list");
  text = text.substr(1, text.size() - 2);
  while (!text.empty()) {
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || v >= n_points) throw std::runtime_error("locate: malformed point list");
    f(v);
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    if (!text.empty() && text.front() == ',') text.remove_prefix(1);
  }
}

}  // namespace

PastAnswers PastAnswers::read(pg::Connection& conn, Micros at, const Pt* points, std::size_t n, const Options& options) {
  PastAnswers out;
  out.m_points.assign(points, points + n);
  std::vector<std::array<double, 4>> rows(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Pt reach = reach_degrees(points[i], options.nearest_m);
    rows[i] = {points[i].x, points[i].y, reach.x, reach.y};
  }
  auto r = registry::areas_deciding_points_at(conn, at, rows);

  Sources sources;
  sources.reserve(static_cast<std::size_t>(r.rows()));
  WorkerDirectory::Builder workers;
  for (int i = 0; i < r.rows(); ++i) {
    auto a = area_from_row(r, i);
    if (!r.is_null(i, 6))
      for (const auto& w : nlohmann::json::parse(r.get(i, 6))) workers.add(a->code, w.at(0).get<long long>(), w.at(1).get<std::string>());
    sources.push_back(std::move(a));
  }
  Options small = options;
  small.fast = false;  // a few areas: the fast grid would cost more to build than it saves
  out.m_index = LocateIndex::build(std::move(sources), small);
  out.m_workers = std::make_shared<const WorkerDirectory>(std::move(workers).build());

  // The index numbers its areas in code order.
  const LocateIndex& index = *out.m_index;
  const auto n_areas = static_cast<std::int32_t>(index.stats().areas);
  auto index_of = [&](std::string_view code) {
    std::int32_t lo = 0, hi = n_areas;
    while (lo < hi) {
      const std::int32_t mid = lo + (hi - lo) / 2;
      if (index.area(mid).code < code)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == n_areas || index.area(lo).code != code) throw std::runtime_error("locate: an area read is missing from its index");
    return lo;
  };
  std::vector<std::pair<std::size_t, std::int32_t>> covering;  // (point, admin area)
  for (int i = 0; i < r.rows(); ++i) {
    if (r.is_null(i, 5)) continue;
    const std::int32_t area = index_of(r.get(i, 0));
    each_position(r.get(i, 5), n, [&](std::size_t point) { covering.emplace_back(point, area); });
  }
  std::sort(covering.begin(), covering.end());
  out.m_admin_start.assign(n + 1, 0);
  out.m_admins.reserve(covering.size());
  for (const auto& [point, area] : covering) {
    ++out.m_admin_start[point + 1];
    out.m_admins.push_back(area);
  }
  for (std::size_t i = 0; i < n; ++i) out.m_admin_start[i + 1] += out.m_admin_start[i];
  return out;
}

Location PastAnswers::locate(std::size_t i) const {
  const std::size_t begin = m_admin_start[i], end = m_admin_start[i + 1];
  return m_index->locate_given_admins(m_points[i], m_admins.data() + begin, end - begin);
}

}  // namespace wangge::locate
