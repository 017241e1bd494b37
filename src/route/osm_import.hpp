// OpenStreetMap roads into the routable street network: read a .osm.pbf, .osm or .osm.gz with
// libosmium, keep the ways a profile may use, cut them at intersections (nodes shared by two or more
// routable ways, and way ends), derive per-profile access in each direction (one-way, access tags),
// keep `type=restriction` relations (from way, via node, to way), and replace one source's rows in
// `streets` / `street_restrictions` in one transaction.
//
// Coordinates: OSM is WGS 84 (EPSG:4326); they are stored unchanged as EPSG:4490 lon/lat. The two
// frames differ by well under a metre, below OSM's own accuracy.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "route/router.hpp"

namespace wangge::pg {
class Connection;
}

namespace wangge::route {

// How one OSM way may be used, from its tags alone (none: not a routable way).
struct WayRules {
  std::string highway;
  bool reverse = false;                  // oneway=-1: the way is stored reversed, so forward is the traffic's direction
  bool oneway = false;                   // cars only forward (after `reverse`)
  std::array<std::uint8_t, 3> access{};  // kForward | kBackward per Profile (after `reverse`)
};
// `tag(key)` is the value of a tag, or null when the way does not have it.
std::optional<WayRules> way_rules(const std::function<const char*(const char*)>& tag);

// One piece of a way between two intersections.
struct RoadEdge {
  long long osm_id = 0;
  long long from_node = 0, to_node = 0;
  std::vector<LonLat> points;
  std::string highway, name, name_zh;
  bool oneway = false;
  std::array<std::uint8_t, 3> access{};
};

struct RoadRestriction {
  long long osm_id = 0;
  bool only = false;
  std::string tag;  // e.g. no_left_turn
  long long from_way = 0, via_node = 0, to_way = 0;
};

struct RoadReadStats {
  std::size_t nodes = 0, ways = 0, routable_ways = 0, relations = 0;
  std::size_t restrictions_skipped = 0;  // via a way, several from/to members, or ways not routable
  std::size_t missing_nodes = 0;         // way nodes not in the file (a clipped extract): the way is cut there
  double seconds = 0;
};

struct RoadNetwork {
  std::vector<RoadEdge> edges;
  std::vector<RoadRestriction> restrictions;
  RoadReadStats stats;
};

using Progress = std::function<void(const std::string& line)>;

// Reads and splits a file (format from its name: .osm.pbf, .osm, .osm.gz, .osm.bz2). Throws
// wangge::bad_request("invalid_osm_file") when the file cannot be read or parsed.
RoadNetwork read_osm_roads(const std::string& path, const Progress& progress = {});

// The network as the router's input (for tests and tools that need no database).
std::vector<Street> streets_of(const RoadNetwork& net);
std::vector<TurnRestriction> restrictions_of(const RoadNetwork& net);

struct RoadImportOptions {
  std::string source;        // rows of this source are replaced
  bool replace_all = false;  // remove every street of every source (including the sample's) first
};

struct RoadImportStats {
  RoadReadStats read;
  std::size_t edges = 0, restrictions = 0, removed = 0;
  double write_seconds = 0;
};

// Reads the file, then in one transaction deletes the source's rows (or all with replace_all) and
// writes the new ones; the commit notifies `wangge_streets` listeners. Nothing changes on failure.
RoadImportStats import_osm_roads(pg::Connection& conn, const std::string& path, const RoadImportOptions& options,
                                 const Progress& progress = {});

}  // namespace wangge::route
