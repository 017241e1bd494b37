// TSPLIB95 instances (G. Reinelt, "TSPLIB 95", Universität Heidelberg; DOC.pdf in the TSPLIB set):
// the header, node coordinates or an explicit matrix, and the distance functions of section 2
// exactly as specified (nint rounding; GEO with PI = 3.141592 and RRR = 6378.388).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "route/tour.hpp"

namespace wangge::route {

struct tsplib_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TsplibInstance {
  std::string name;
  std::string edge_weight_type;                           // EUC_2D, CEIL_2D, ATT, GEO, EXPLICIT
  std::string edge_weight_format;                         // for EXPLICIT: FULL_MATRIX, UPPER_ROW, LOWER_DIAG_ROW, ...
  std::vector<std::array<double, 2>> coords;              // NODE_COORD_SECTION, empty for EXPLICIT
  CostMatrix matrix;                                      // the instance's distances, node i of the file at i - 1
  std::vector<std::array<std::uint32_t, 2>> fixed_edges;  // FIXED_EDGES_SECTION: edges every tour must use
};

// The TSPLIB distance between two coordinate pairs. Throws tsplib_error for other types.
double tsplib_distance(const std::string& edge_weight_type, const std::array<double, 2>& a, const std::array<double, 2>& b);

// Reads a .tsp file of TYPE TSP. Throws tsplib_error naming the file and what is wrong.
TsplibInstance read_tsplib(const std::string& path);

// A .tour file (TOUR_SECTION, 1-based, ends at -1) as 0-based nodes.
Tour read_tsplib_tour(const std::string& path);

// bestSolutions.txt: "name : length" per line.
std::map<std::string, double> read_best_solutions(const std::string& path);

}  // namespace wangge::route
