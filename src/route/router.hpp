// Shortest paths on the street network, in memory. A Network (nodes at exact shared endpoints, one
// edge per street with its geometry, a grid index for snapping) is shared by one Graph per profile
// (foot, ebike, car), each a CSR adjacency of directed arcs weighted by travel time.
//
// A Router is an immutable snapshot; RouterCache (router_cache.hpp) swaps in a new one when the
// `streets` change. Searches run over arcs (the state is the arc a node was entered by), so the car
// graph can honour turn restrictions at their via nodes; the other profiles ignore them.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/lonlat.hpp"

namespace wangge::pg {
class Connection;
}

namespace wangge::route {

using wangge::LonLat;  // EPSG:4490

enum class Profile { foot, ebike, car };
inline constexpr Profile kProfiles[] = {Profile::foot, Profile::ebike, Profile::car};
std::optional<Profile> parse_profile(std::string_view name);
const char* profile_name(Profile p);
// Speed in km/h on a street of this highway class, or 0 when the profile may not use it by default.
double speed_kmh(Profile p, std::string_view highway);
// Speed in km/h on a street of this class when the profile may use it (access tags can open a
// class that speed_kmh() closes, e.g. a footway with bicycle=yes).
double travel_speed_kmh(Profile p, std::string_view highway);

// Per-profile access bits of a street.
inline constexpr std::uint8_t kForward = 1;   // from the first point to the last
inline constexpr std::uint8_t kBackward = 2;  // from the last point to the first

struct Street {
  std::vector<LonLat> points;  // at least two
  std::string highway;
  bool oneway = false;  // traffic only from the first point to the last
  // Access bits per profile (indexed by Profile); none: by class (speed_kmh) and `oneway`, which
  // walkers ignore.
  std::optional<std::array<std::uint8_t, 3>> access = std::nullopt;
  long long osm_id = 0;                  // the OSM way this street was cut from; 0: none
  long long from_node = 0, to_node = 0;  // OSM node ids of its first and last point; 0: none
  std::int64_t id = 0;                   // streets.id, for callers that name streets (coverage)
};

// A turn restriction (OSM type=restriction, from way, via node, to way); cars only. `only`: at the
// via node, coming from `from_way`, the only way on is `to_way`; otherwise turning into it is banned.
struct TurnRestriction {
  bool only = false;
  long long from_way = 0, via_node = 0, to_way = 0;
};

// Metres between two nearby points on the CGCS2000 ellipsoid (local radii of curvature at the mid
// latitude: within millimetres of the geodesic for street segments).
double distance_m(const LonLat& a, const LonLat& b);

// A position along an edge: `offset_m` metres from its first point.
struct Snap {
  std::uint32_t edge = 0;
  double offset_m = 0;
  double distance_m = 0;  // from the query point to `point`
  LonLat point{};
};

struct Path {
  std::vector<LonLat> coordinates;
  double distance_m = 0;
  double duration_s = 0;
};

struct Cost {
  double distance_m = 0;
  double duration_s = 0;
};

class Network;

class Graph {
 public:
  Graph(std::shared_ptr<const Network> net, Profile profile);
  Profile profile() const { return m_profile; }
  // Nearest position on an edge this profile may use, within `max_m`; none when too far.
  std::optional<Snap> snap(const LonLat& p, double max_m) const;
  // Fastest path; none when `to` cannot be reached from `from`.
  std::optional<Path> route(const Snap& from, const Snap& to) const;
  // Fastest costs from one position to many (one search); none for the ones not reachable.
  std::vector<std::optional<Cost>> costs(const Snap& from, const std::vector<std::optional<Snap>>& to) const;

  std::size_t nodes() const;
  std::size_t arcs() const { return m_arc_to.size(); }

  // The edges as this profile sees them, for algorithms that need the graph itself (coverage).
  struct EdgeView {
    std::int64_t street_id;
    std::uint32_t from, to;     // nodes
    double length_m, speed_ms;  // speed 0: the profile may not use the edge
    bool forward, backward;     // may travel from -> to, to -> from
  };
  std::size_t edge_count() const;
  EdgeView edge(std::uint32_t e) const;
  // The way an edge is walked: forward from its `from` node to its `to` node, or backward.
  enum class Direction { forward, backward };
  // Appends edge e's geometry (EPSG:4490) in travel order, not repeating the last point of `out`.
  void append_edge(std::uint32_t e, Direction direction, std::vector<LonLat>& out) const;

 private:
  struct Search;
  Search search(const Snap& from, const std::vector<const Snap*>& targets) const;
  bool usable(std::uint32_t edge) const { return m_speed_ms[edge] > 0; }
  // May a search that entered node `node` along `in_edge` leave it along `out_edge`? kNone on
  // either side (standing on the node) always may.
  bool turn_allowed(std::uint32_t node, std::uint32_t in_edge, std::uint32_t out_edge) const;

  std::shared_ptr<const Network> m_net;
  Profile m_profile;
  std::vector<double> m_speed_ms;  // per edge; 0: not allowed
  std::vector<bool> m_forward;     // per edge: may travel first -> last point
  std::vector<bool> m_backward;
  // CSR: arcs leaving node n are [m_first[n], m_first[n + 1]).
  std::vector<std::uint32_t> m_first;
  std::vector<std::uint32_t> m_arc_to;
  std::vector<std::uint32_t> m_arc_edge;
  std::vector<bool> m_arc_forward;
  bool m_turns = false;  // honours the network's turn restrictions (car)
};

class Router {
 public:
  explicit Router(const std::vector<Street>& streets, const std::vector<TurnRestriction>& restrictions = {});
  // Reads every street and turn restriction once, from one snapshot of the database.
  static std::unique_ptr<Router> load(pg::Connection& conn);
  const Graph& graph(Profile p) const { return m_graphs[static_cast<std::size_t>(p)]; }
  std::size_t edges() const;
  std::size_t nodes() const;
  // Turns banned at via nodes after resolving the restrictions against the streets; restrictions
  // whose ways do not meet at their via node are dropped.
  std::size_t restricted_turns() const;
  long long revision() const { return m_revision; }  // streets_revision when loaded; 0: not from a database

  static constexpr double kMaxSnapM = 500;  // farther from every street: not routable

 private:
  std::shared_ptr<const Network> m_net;
  std::vector<Graph> m_graphs;  // indexed by Profile
  long long m_revision = 0;
};

}  // namespace wangge::route
