#include "locate/batch_csv.hpp"

#include <charconv>
#include <string>

#include "core/error.hpp"

namespace wangge::locate {

void check_batch_size(const std::vector<double>& xy, std::size_t max_points) {
  if (xy.size() / 2 >= max_points)
    throw Error(413, "too_many_points", "a batch may have at most " + std::to_string(max_points) + " points (WANGGE_MAX_BATCH_POINTS)",
                "{\"limit\":" + std::to_string(max_points) + "}");
}

// A "lon,lat" line with a few more columns (an id, an address) is far shorter; a longer one is
// not a point list, and is refused before it is scanned.
constexpr std::size_t kMaxCsvLineBytes = 4096;

std::vector<double> csv_points(std::string_view b, std::size_t max_points) {
  std::vector<double> out;
  std::size_t pos = 0, line_no = 0;
  while (pos < b.size()) {
    std::size_t eol = b.find('\n', pos);
    if (eol == std::string_view::npos) eol = b.size();
    std::string_view line(b.data() + pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (line.size() > kMaxCsvLineBytes)
      throw bad_request("invalid_batch",
                        "CSV line " + std::to_string(line_no) + " is longer than " + std::to_string(kMaxCsvLineBytes) + " bytes");
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t comma = line.find(',');
    double x = 0, y = 0;
    bool ok = comma != std::string_view::npos;
    if (ok) {
      std::string_view a = line.substr(0, comma), c = line.substr(comma + 1);
      while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
      while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
      const std::size_t comma2 = c.find(',');  // further columns are ignored
      if (comma2 != std::string_view::npos) c = c.substr(0, comma2);
      auto r1 = std::from_chars(a.data(), a.data() + a.size(), x);
      auto r2 = std::from_chars(c.data(), c.data() + c.size(), y);
      ok = r1.ec == std::errc() && r1.ptr == a.data() + a.size() && r2.ec == std::errc() && r2.ptr == c.data() + c.size();
    }
    if (!ok) {
      if (line_no == 1 && out.empty()) continue;  // a header such as "lon,lat"
      throw bad_request("invalid_batch", "CSV line " + std::to_string(line_no) + " is not 'lon,lat'");
    }
    check_batch_size(out, max_points);
    out.push_back(x);
    out.push_back(y);
  }
  return out;
}

}  // namespace wangge::locate
