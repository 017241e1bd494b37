// Travelling-salesman tours on a cost matrix: exact (Held-Karp dynamic programming) up to
// kExactMaxNodes nodes, above that iterated local search (2-opt and Or-opt with neighbour lists and
// don't-look bits, local double-bridge kicks), and a lower bound with every tour. No HTTP, no
// database: the matrix may come from the street graph (seconds, possibly asymmetric because of
// one-way streets) or from a TSPLIB instance (integers, symmetric).
//
// A tour is closed: node 0 first, back to node 0 at the end. A path with a fixed start s and end e
// is the closed tour on a matrix whose node 0 leaves like s and arrives like e (see patrol.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace wangge::route {

// Row-major n x n costs; c(i, j) is the cost of going from i to j. The diagonal is ignored.
class CostMatrix {
 public:
  CostMatrix() = default;
  explicit CostMatrix(std::size_t n, double fill = 0) : m_n(n), m_c(n * n, fill) {}
  std::size_t size() const { return m_n; }
  double operator()(std::size_t i, std::size_t j) const { return m_c[i * m_n + j]; }
  double& at(std::size_t i, std::size_t j) { return m_c[i * m_n + j]; }
  // True when c(i, j) == c(j, i) for every pair (exactly: TSPLIB costs are integers).
  bool symmetric() const;

 private:
  std::size_t m_n = 0;
  std::vector<double> m_c;
};

using Tour = std::vector<std::uint32_t>;  // a permutation of 0..n-1 starting with 0

struct TourOptions {
  std::uint64_t seed = 1;
  // Wall-clock budget of the local search in seconds; 0: automatic, 1.3 ms per node between
  // 0.02 s and 1.3 s (1,000 nodes: 1.3 s). The lower bound takes at most 0.24 s more.
  double time_limit_s = 0;
  // Kicks without improvement after which the search stops early; 0: automatic (grows with n).
  std::size_t max_stall = 0;
  // Neighbour list length for the local search moves.
  std::size_t neighbours = 10;
};

struct TourResult {
  Tour order;
  double length = 0;
  double lower_bound = 0;  // never above the optimum (and so never above `length`)
  bool exact = false;      // `length` is the optimum (Held-Karp DP)
  std::size_t kicks = 0;   // local-search perturbations tried
  double seconds = 0;      // tour and bound together
};

inline constexpr std::size_t kExactMaxNodes = 16;  // 15 stops plus the depot

double tour_length(const CostMatrix& c, const Tour& t);

// The optimum by dynamic programming over subsets: O(2^n n^2) time, O(2^n n) memory.
// @pre 1 <= c.size() <= 20
Tour held_karp_exact(const CostMatrix& c);

// Iterated local search from a nearest-neighbour tour: 2-opt and Or-opt with neighbour lists and
// don't-look bits, local double-bridge kicks. Asymmetric matrices are handled exactly: a 2-opt
// reversal is priced with the changed cost of every arc it turns around.
Tour local_search_tour(const CostMatrix& c, const TourOptions& options, std::size_t* kicks = nullptr);

// Lower bound on the shortest closed tour. Symmetric: the Held-Karp 1-tree bound by subgradient
// ascent (`upper` is a known tour length, which steers the step size). Asymmetric: the larger of
// the assignment bound (n <= 600) and the 1-tree bound of the symmetric twin with 2n nodes
// (Jonker-Volgenant transformation; above 1,000 nodes the 1-tree on min(c(i,j), c(j,i))). `iterations`: subgradient steps
// per 1-tree bound; 0: as many as fit a time budget of 0.12 ms per node (at most 0.12 s, hard limit
// twice that), which makes the bound depend on the machine's load.
double tour_lower_bound(const CostMatrix& c, double upper, std::size_t iterations = 0);

// Exact when c.size() <= kExactMaxNodes, else local search; then the lower bound.
TourResult solve_tour(const CostMatrix& c, const TourOptions& options = {});

}  // namespace wangge::route
