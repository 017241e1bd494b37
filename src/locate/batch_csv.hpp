// Batch points sent as text/csv: apart from the routes so the parser can be tested and fuzzed
// without a server.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace wangge::locate {

// The points of a text/csv body as x0, y0, x1, y1, ...: one "lon,lat" per line, further columns
// ignored, blank lines skipped, a first line that is no point taken for a header. Throws
// bad_request("invalid_batch") for any other line that is no point, and 413 too_many_points (see
// check_batch_size) past `max_points`.
std::vector<double> csv_points(std::string_view body, std::size_t max_points);

// Refuses the point after the last one a batch may have (WANGGE_MAX_BATCH_POINTS), before it is
// stored: the answer streams, but the points are all kept until it ends.
void check_batch_size(const std::vector<double>& xy, std::size_t max_points);

}  // namespace wangge::locate
