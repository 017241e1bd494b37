// The phases of route::postman (route/coverage.hpp), one function each, so that each step can be
// tested on its own: take the required traversals, orient the two-way ones (mixed mode), join the
// components of the required edges, add the deadheads that make every node even (undirected:
// matching) or balanced (directed: min-cost flow), then walk the Euler circuit from the start.
// Used by coverage.cpp and its tests only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "route/coverage.hpp"

namespace wangge::route::postman_phases {

// Whether an edge may be walked either way, or only the way its flags (or its step) say.
enum class Directions { as_given, either_way };

struct Arc {
  std::uint32_t to, edge;
  bool forward;
  double cost;
};
using DeadheadGraph = std::vector<std::vector<Arc>>;  // the arcs out of each node

// The graph deadheads may use: every usable edge in its allowed directions (both for either_way).
DeadheadGraph deadhead_graph(std::size_t node_count, const std::vector<PostmanEdge>& edges, Directions directions);

// One traversal of the multigraph being made Eulerian, from u to v (either way when undirected).
struct Step {
  std::uint32_t u, v;
  Traversal t;
};
Step step_of(const std::vector<PostmanEdge>& edges, const Traversal& t);

// The service traversals of the required edges (duplicates taken once): undirected, each edge
// forward; directed, each allowed direction (a two-way street is two arcs); mixed, each edge in
// its one allowed direction, a two-way one forward for now. std::nullopt when a required edge is
// unusable.
std::optional<std::vector<Step>> service_steps(const std::vector<PostmanEdge>& edges, const std::vector<std::uint32_t>& required,
                                               PostmanMode mode);

// Mixed mode: turns each two-way step the way an Euler walk of the undirected problem takes it
// (odd nodes paired greedily + 2-opt by paths that ignore one-way rules, the walk taken, the paths
// dropped). One-way steps keep their direction; the directed balancing repairs what they upset.
void orient_two_way_steps(std::vector<Step>& steps, std::size_t node_count, const std::vector<PostmanEdge>& edges);

// The nodes of odd degree in the steps (each step counts at both ends), in node order.
std::vector<std::uint32_t> odd_nodes(const std::vector<Step>& steps, std::size_t node_count);

// The connected components of the steps: the nodes of each, in node order; components ordered by
// their smallest node.
std::vector<std::vector<std::uint32_t>> components(const std::vector<Step>& steps, std::size_t node_count);

// Joins the components by deadhead shortest paths along a minimum spanning tree over the distances
// between components (a link goes the cheaper way), appending them to `steps`. False when some
// component cannot be reached from another.
bool join_components(const std::vector<std::vector<std::uint32_t>>& comps, const DeadheadGraph& graph,
                     const std::vector<PostmanEdge>& edges, std::vector<Step>& steps);

struct Matching {
  std::string method;  // "exact_matching", "heuristic_matching", "none" (no odd node)
  double cost = 0;
  std::optional<double> lower_bound;  // heuristic matching only
};
// Undirected: pairs the odd nodes by a minimum-weight perfect matching on shortest-path costs (exact
// up to `exact_limit` nodes, heuristic above) and appends the pairs' deadhead paths to `steps`.
// std::nullopt when some odd node cannot reach its partner.
std::optional<Matching> pair_odd_nodes(std::vector<Step>& steps, std::size_t node_count, const DeadheadGraph& graph,
                                       const std::vector<PostmanEdge>& edges, std::size_t exact_limit);

// Directed: makes in = out at every node by a min-cost flow on the street network, appending one
// deadhead step per unit of flow. Returns the deadheads' cost, or std::nullopt when the imbalance
// cannot be settled.
std::optional<double> balance_by_flow(std::vector<Step>& steps, std::size_t node_count, const DeadheadGraph& graph);

// The node of the steps with the smallest rank (the first in step order on ties).
std::uint32_t start_node(const std::vector<Step>& steps, const std::function<double(std::uint32_t)>& start_rank);

// Hierholzer from `start` over the steps not yet `used`; a step walked v -> u (either_way only) is
// flipped in place so that it records the direction taken. Returns the traversals in walk order.
std::vector<Traversal> euler_walk(std::vector<Step>& steps, std::size_t node_count, std::uint32_t start, Directions directions,
                                  std::vector<char>& used);

// The closed walk over every step from `start`, into r.circuit, with its costs: service is the
// first traversal of each required edge (directed: of each required arc), the rest deadhead.
void walk_circuit(PostmanResult& r, std::vector<Step>& steps, std::size_t node_count, std::uint32_t start, PostmanMode mode,
                  const std::vector<PostmanEdge>& edges);

}  // namespace wangge::route::postman_phases
