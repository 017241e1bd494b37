// Street coverage (patrols that walk every street of a grid): the Chinese and rural postman
// problems on an abstract edge list, then an Euler circuit. No HTTP, no database, no geometry:
// src/patrol/routes_coverage.cpp feeds it the edges of a route::Graph and draws the answer.
//
// Three modes, chosen by the caller from the profile (see README, "Patrols"):
//  - undirected: every required edge once in either direction. Deadheads pair the odd-degree
//    vertices by a minimum-weight perfect matching on shortest-path costs: exact by dynamic
//    programming over subsets up to kExactMatchingLimit odd vertices. Above it, the better of
//    greedy + 2-opt and (up to 400 points) the cycles of a minimum assignment + 2-opt, reported
//    with a lower bound — the larger of each odd vertex's nearest-neighbour cost halved and half
//    the minimum assignment — so the possible gap is stated in the answer.
//  - directed: every required arc once (a two-way street for cars is two arcs: both kerbs).
//    Imbalances are settled by a min-cost flow on the street network: exact.
//  - mixed: one-way required edges are arcs; two-way ones are oriented the way an Euler walk of
//    the undirected problem (odd vertices paired, one-way rules ignored) takes them, then solved as
//    directed. A heuristic (the mixed postman problem is NP-hard).
// When the required edges form several components (rural postman), components are first joined by
// shortest paths along a minimum spanning tree over the component distances (Frederickson's
// heuristic); with one component the answer is exact for the undirected and directed modes (up to
// the matching limit).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wangge::route {

struct PostmanEdge {
  std::uint32_t from = 0, to = 0;        // nodes
  double cost = 0;                       // >= 0, any unit (the API uses seconds)
  bool forward = true, backward = true;  // may travel from -> to, to -> from; neither: unusable
};

enum class PostmanMode { undirected, directed, mixed };

struct Traversal {
  std::uint32_t edge = 0;
  bool forward = true;   // from -> to
  bool service = false;  // the traversal that covers a required edge (arc); others are deadhead
};

struct PostmanResult {
  std::vector<Traversal> circuit;  // closed walk, starting and ending at `start`
  std::uint32_t start = 0;
  double cost = 0, service_cost = 0, deadhead_cost = 0;
  std::size_t components = 0;                  // of the required edges before joining
  std::string method;                          // "exact_matching", "heuristic_matching", "min_cost_flow", "none"
  std::optional<double> matching_lower_bound;  // heuristic matching only: a bound on matching_cost
  double matching_cost = 0;
};

enum class PostmanFailure { nothing_required, unusable_required_edge, unreachable };

struct PostmanOutcome {
  std::optional<PostmanResult> result;
  PostmanFailure failure = PostmanFailure::nothing_required;  // when no result
};

inline constexpr std::size_t kExactMatchingLimit = 20;

// `required`: indices into `edges`. `start_rank(node)`: the circuit starts at the node of the
// route with the smallest rank (e.g. its distance to the user's start point).
// Deadheads may use every usable edge in its allowed directions.
PostmanOutcome postman(std::size_t node_count, const std::vector<PostmanEdge>& edges, const std::vector<std::uint32_t>& required,
                       PostmanMode mode, const std::function<double(std::uint32_t)>& start_rank,
                       std::size_t exact_matching_limit = kExactMatchingLimit);

// Minimum-weight perfect matching of an even number of points by DP over subsets (exact; n <= 24).
// cost(i, j) may be infinite. Returns pairs, or none when no finite perfect matching exists.
std::optional<std::vector<std::pair<std::size_t, std::size_t>>> exact_matching(std::size_t n,
                                                                               const std::function<double(std::size_t, std::size_t)>& cost);

}  // namespace wangge::route
