// Batch locate bodies sent as text/csv (locate/batch_csv.hpp): any bytes either give the points of
// their "lon,lat" lines or are refused with a wangge::Error (400 invalid_batch, 413 past the batch
// limit); never anything else, never more points than the limit.
#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "locate/batch_csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // A small limit from the first byte, so the 413 path is reached as often as the others.
  const std::size_t max_points = 1 + data[0] % 16;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    const auto xy = wangge::locate::csv_points(body, max_points);
    if (xy.size() % 2 != 0 || xy.size() / 2 > max_points) __builtin_trap();
    // Each point is one line: no more points than lines.
    std::size_t lines = 1;
    for (char c : body) lines += c == '\n';
    if (xy.size() / 2 > lines) __builtin_trap();
  } catch (const wangge::Error& e) {
    if (e.status() != 400 && e.status() != 413) __builtin_trap();
    if (e.status() == 413 && e.code() != "too_many_points") __builtin_trap();
  }
  return 0;
}
