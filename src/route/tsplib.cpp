#include "route/tsplib.hpp"

#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

namespace wangge::route {
namespace {

// TSPLIB's nint: round half up (all distances here are non-negative).
double nint(double x) { return static_cast<double>(static_cast<long long>(x + 0.5)); }

// GEO coordinates are DDD.MM (degrees and minutes). DOC.pdf writes `deg = nint(x)`, but its
// reference code and every published optimum (checked against the .opt.tour files in
// tests/route/tsplib_test.cpp) take the integer part: minutes run to .59, and rounding would turn
// 16.57 into 17 degrees minus 43 minutes.
double geo_radians(double x) {
  constexpr double kPi = 3.141592;
  const double deg = std::trunc(x);
  const double min = x - deg;
  return kPi * (deg + 5.0 * min / 3.0) / 180.0;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

double tsplib_distance(const std::string& type, const std::array<double, 2>& a, const std::array<double, 2>& b) {
  const double dx = a[0] - b[0], dy = a[1] - b[1];
  if (type == "EUC_2D") return nint(std::sqrt(dx * dx + dy * dy));
  if (type == "CEIL_2D") return std::ceil(std::sqrt(dx * dx + dy * dy));
  if (type == "ATT") {  // pseudo-Euclidean
    const double r = std::sqrt((dx * dx + dy * dy) / 10.0);
    const double t = nint(r);
    return t < r ? t + 1 : t;
  }
  if (type == "GEO") {
    constexpr double kRRR = 6378.388;
    const double lat_a = geo_radians(a[0]), lon_a = geo_radians(a[1]);
    const double lat_b = geo_radians(b[0]), lon_b = geo_radians(b[1]);
    const double q1 = std::cos(lon_a - lon_b), q2 = std::cos(lat_a - lat_b), q3 = std::cos(lat_a + lat_b);
    return static_cast<double>(static_cast<long long>(kRRR * std::acos(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)) + 1.0));
  }
  throw tsplib_error("unsupported EDGE_WEIGHT_TYPE " + type);
}

TsplibInstance read_tsplib(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw tsplib_error(path + ": cannot open");
  auto fail = [&](const std::string& what) -> tsplib_error { return tsplib_error(path + ": " + what); };
  TsplibInstance inst;
  std::size_t n = 0;
  std::string line, type;
  std::vector<double> weights;
  bool have_weights = false;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty()) continue;
    if (line == "EOF") break;
    if (line.rfind("NODE_COORD_SECTION", 0) == 0) {
      if (n == 0) throw fail("NODE_COORD_SECTION before DIMENSION");
      inst.coords.assign(n, {0, 0});
      for (std::size_t k = 0; k < n; ++k) {
        std::size_t id = 0;
        double x = 0, y = 0;
        if (!(in >> id >> x >> y) || id < 1 || id > n) throw fail("bad node " + std::to_string(k + 1) + " in NODE_COORD_SECTION");
        inst.coords[id - 1] = {x, y};
      }
      continue;
    }
    if (line.rfind("EDGE_WEIGHT_SECTION", 0) == 0) {
      double w = 0;
      // Read numbers until the next keyword.
      while (in >> std::ws && in.peek() != EOF && (std::isdigit(in.peek()) || in.peek() == '-' || in.peek() == '.')) {
        if (!(in >> w)) throw fail("bad number in EDGE_WEIGHT_SECTION");
        weights.push_back(w);
      }
      have_weights = true;
      continue;
    }
    if (line.rfind("FIXED_EDGES_SECTION", 0) == 0) {
      long long a = 0, b = 0;
      while (in >> a && a != -1) {
        if (!(in >> b) || a < 1 || b < 1 || (n > 0 && (static_cast<std::size_t>(a) > n || static_cast<std::size_t>(b) > n)))
          throw fail("bad edge in FIXED_EDGES_SECTION");
        inst.fixed_edges.push_back({static_cast<std::uint32_t>(a - 1), static_cast<std::uint32_t>(b - 1)});
      }
      continue;
    }
    if (line.rfind("DISPLAY_DATA_SECTION", 0) == 0) {  // drawing coordinates only
      for (std::size_t k = 0; k < n; ++k) {
        double id = 0, x = 0, y = 0;
        if (!(in >> id >> x >> y)) throw fail("bad DISPLAY_DATA_SECTION");
      }
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) throw fail("unexpected line: " + line.substr(0, 40));
    const std::string key = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (key == "NAME")
      inst.name = value;
    else if (key == "TYPE")
      type = value;
    else if (key == "DIMENSION")
      n = std::stoul(value);
    else if (key == "EDGE_WEIGHT_TYPE")
      inst.edge_weight_type = value;
    else if (key == "EDGE_WEIGHT_FORMAT")
      inst.edge_weight_format = value;
  }
  if (type.rfind("TSP", 0) != 0) throw fail("TYPE " + type + " is not TSP");
  if (n < 1) throw fail("no DIMENSION");
  inst.matrix = CostMatrix(n);
  CostMatrix& m = inst.matrix;
  if (inst.edge_weight_type == "EXPLICIT") {
    if (!have_weights) throw fail("EXPLICIT without EDGE_WEIGHT_SECTION");
    const std::string& f = inst.edge_weight_format;
    std::size_t k = 0;
    auto next = [&]() {
      if (k >= weights.size()) throw fail("EDGE_WEIGHT_SECTION too short for " + f);
      return weights[k++];
    };
    auto both = [&](std::size_t i, std::size_t j, double w) { m.at(i, j) = w, m.at(j, i) = w; };
    // Symmetric: a column-wise upper triangle is the row-wise lower one, and so on.
    if (f == "FULL_MATRIX") {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) m.at(i, j) = next();
    } else if (f == "UPPER_ROW" || f == "LOWER_COL") {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j) both(i, j, next());
    } else if (f == "LOWER_ROW" || f == "UPPER_COL") {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < i; ++j) both(i, j, next());
    } else if (f == "UPPER_DIAG_ROW" || f == "LOWER_DIAG_COL") {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i; j < n; ++j) both(i, j, next());
    } else if (f == "LOWER_DIAG_ROW" || f == "UPPER_DIAG_COL") {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j <= i; ++j) both(i, j, next());
    } else {
      throw fail("unsupported EDGE_WEIGHT_FORMAT " + f);
    }
    if (k != weights.size()) throw fail("EDGE_WEIGHT_SECTION has " + std::to_string(weights.size() - k) + " numbers too many for " + f);
  } else {
    if (inst.coords.size() != n) throw fail("no NODE_COORD_SECTION");
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j) {
        const double d = tsplib_distance(inst.edge_weight_type, inst.coords[i], inst.coords[j]);
        m.at(i, j) = d, m.at(j, i) = d;
      }
  }
  for (std::size_t i = 0; i < n; ++i) m.at(i, i) = 0;
  return inst;
}

Tour read_tsplib_tour(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw tsplib_error(path + ": cannot open");
  std::string line;
  while (std::getline(in, line) && trim(line).rfind("TOUR_SECTION", 0) != 0) {
  }
  Tour t;
  long long v = 0;
  while (in >> v && v != -1) {
    if (v < 1) throw tsplib_error(path + ": bad node in TOUR_SECTION");
    t.push_back(static_cast<std::uint32_t>(v - 1));
  }
  if (t.empty()) throw tsplib_error(path + ": no TOUR_SECTION");
  return t;
}

std::map<std::string, double> read_best_solutions(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw tsplib_error(path + ": cannot open");
  std::map<std::string, double> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string value = trim(line.substr(colon + 1));
    out[trim(line.substr(0, colon))] = std::stod(value.substr(0, value.find_first_of(" \t(")));
  }
  return out;
}

}  // namespace wangge::route
