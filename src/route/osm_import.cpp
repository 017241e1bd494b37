#include "route/osm_import.hpp"

#include <osmium/handler.hpp>
#include <osmium/handler/node_locations_for_ways.hpp>
#include <osmium/index/map/flex_mem.hpp>
#include <osmium/io/any_input.hpp>
#include <osmium/visitor.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "core/error.hpp"
#include "pg/connection.hpp"

namespace wangge::route {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool is(const char* v, std::initializer_list<const char*> values) {
  if (!v) return false;
  for (const char* x : values)
    if (std::strcmp(v, x) == 0) return true;
  return false;
}

// Highway classes someone can travel on; the profiles narrow them (speed_kmh). Left out: indoor
// corridors, platforms, construction and proposed roads, raceways, bus guideways.
bool routable_class(const char* h) {
  return is(h,
            {"motorway",   "motorway_link", "trunk",        "trunk_link",  "primary",       "primary_link", "secondary", "secondary_link",
             "tertiary",   "tertiary_link", "unclassified", "residential", "living_street", "service",      "road",      "track",
             "pedestrian", "footway",       "path",         "cycleway",    "steps",         "bridleway"});
}

// An access value that keeps the profile out.
bool denies(const char* v) {
  return is(
      v, {"no", "private", "agricultural", "forestry", "emergency", "military", "restricted", "use_sidepath", "dismount", "discouraged"});
}

// Whether a profile may use a way: the most specific access tag present decides; with none, the
// highway class. The general `access` tag can close a class but not open one the profile is kept
// off (access=yes on a footway does not let cars in); a profile's own tag can (bicycle=yes).
bool allowed(Profile p, const std::string& highway, const std::function<const char*(const char*)>& tag) {
  static const std::vector<const char*> foot = {"access", "foot"};
  static const std::vector<const char*> ebike = {"access", "vehicle", "bicycle"};  // an e-bike (电动自行车) rides as a bicycle
  static const std::vector<const char*> car = {"access", "vehicle", "motor_vehicle", "motorcar"};
  const auto& chain = p == Profile::foot ? foot : p == Profile::ebike ? ebike : car;
  const bool by_class = speed_kmh(p, highway) > 0;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const char* v = tag(*it);
    if (!v) continue;
    if (denies(v)) return false;
    if (by_class) return true;
    // Only the profile's own tags open a closed class.
    if (std::strcmp(*it, "access") != 0 && !(p == Profile::car && std::strcmp(*it, "vehicle") == 0)) return true;
  }
  return by_class;
}

void append_number(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form
  out.append(buf, r.ptr);
}

struct WayRecord {
  long long id = 0;
  WayRules rules;
  std::string name, name_zh;
  std::vector<long long> refs;
  std::vector<LonLat> points;
  std::vector<bool> located;
};

struct RawRestriction {
  RoadRestriction r;
  bool usable = true;
};

class Collector : public osmium::handler::Handler {
 public:
  std::vector<WayRecord> ways;
  std::vector<RawRestriction> restrictions;
  RoadReadStats stats;
  Progress progress;
  Clock::time_point started = Clock::now();

  // A line now and then, so a province-sized file shows it is moving.
  void node(const osmium::Node&) {
    if (++stats.nodes % 5000000 == 0 && progress)
      progress("read " + std::to_string(stats.nodes) + " nodes (" + std::to_string(since(started)).substr(0, 5) + " s)");
  }

  void way(const osmium::Way& w) {
    if (stats.ways++ == 0 && progress)
      progress("read " + std::to_string(stats.nodes) + " nodes in " + std::to_string(since(started)).substr(0, 5) + " s");
    else if (stats.ways % 1000000 == 0 && progress)
      progress("read " + std::to_string(stats.ways) + " ways (" + std::to_string(since(started)).substr(0, 5) + " s)");
    const auto& tags = w.tags();
    auto rules = way_rules([&tags](const char* k) { return tags[k]; });
    if (!rules) return;
    ++stats.routable_ways;
    WayRecord rec;
    rec.id = w.id();
    rec.rules = std::move(*rules);
    if (const char* n = tags["name"]) rec.name = n;
    if (const char* n = tags["name:zh"]) rec.name_zh = n;
    for (const auto& nr : w.nodes()) {
      rec.refs.push_back(nr.ref());
      const bool ok = nr.location().valid();
      rec.located.push_back(ok);
      rec.points.push_back(ok ? LonLat{nr.location().lon(), nr.location().lat()} : LonLat{0, 0});
    }
    if (rec.rules.reverse) {
      std::reverse(rec.refs.begin(), rec.refs.end());
      std::reverse(rec.points.begin(), rec.points.end());
      std::vector<bool> located(rec.located.rbegin(), rec.located.rend());
      rec.located = std::move(located);
    }
    ways.push_back(std::move(rec));
  }

  void relation(const osmium::Relation& rel) {
    ++stats.relations;
    const auto& tags = rel.tags();
    if (!is(tags["type"], {"restriction"})) return;
    const char* value = tags["restriction"];
    if (!value) value = tags["restriction:motorcar"];
    if (!value) value = tags["restriction:motor_vehicle"];
    RawRestriction raw;
    raw.r.osm_id = rel.id();
    if (!value || (std::strncmp(value, "no_", 3) != 0 && std::strncmp(value, "only_", 5) != 0)) {
      ++stats.restrictions_skipped;
      return;
    }
    if (const char* except = tags["except"]; except && std::strstr(except, "motorcar")) {
      ++stats.restrictions_skipped;
      return;
    }
    raw.r.only = std::strncmp(value, "only_", 5) == 0;
    raw.r.tag = value;
    int from = 0, via = 0, to = 0;
    for (const auto& m : rel.members()) {
      const std::string_view role = m.role();
      if (role == "from") {
        ++from;
        raw.usable = raw.usable && m.type() == osmium::item_type::way;
        raw.r.from_way = m.ref();
      } else if (role == "via") {
        ++via;
        raw.usable = raw.usable && m.type() == osmium::item_type::node;  // via ways: not supported
        raw.r.via_node = m.ref();
      } else if (role == "to") {
        ++to;
        raw.usable = raw.usable && m.type() == osmium::item_type::way;
        raw.r.to_way = m.ref();
      }
    }
    raw.usable = raw.usable && from == 1 && via == 1 && to == 1;
    if (!raw.usable) {
      ++stats.restrictions_skipped;
      return;
    }
    restrictions.push_back(std::move(raw));
  }
};

}  // namespace

std::optional<WayRules> way_rules(const std::function<const char*(const char*)>& tag) {
  const char* highway = tag("highway");
  if (!routable_class(highway)) return std::nullopt;
  if (is(tag("area"), {"yes"})) return std::nullopt;  // a pedestrian square's outline is not a street
  WayRules r;
  r.highway = highway;
  // Vehicles' direction: +1 forward only, -1 backward only, 0 both.
  int dir = 0;
  const char* oneway = tag("oneway");
  if (is(oneway, {"yes", "1", "true"}))
    dir = 1;
  else if (is(oneway, {"-1", "reverse"}))
    dir = -1;
  else if (is(oneway, {"no", "0", "false"}))
    dir = 0;
  else if (is(tag("junction"), {"roundabout", "circular"}) || is(highway, {"motorway", "motorway_link"}))
    dir = 1;  // implied
  r.reverse = dir < 0;
  r.oneway = dir != 0;
  const std::uint8_t both = kForward | kBackward;
  const std::uint8_t vehicle = dir == 0 ? both : kForward;
  // Bicycles (and so e-bikes) may be let both ways on a one-way street.
  const bool ebike_contraflow =
      is(tag("oneway:bicycle"), {"no", "0", "false"}) || is(tag("cycleway"), {"opposite", "opposite_lane", "opposite_track"});
  std::uint8_t ebike = ebike_contraflow ? both : vehicle;
  if (is(tag("oneway:bicycle"), {"yes", "1", "true"})) ebike = kForward;
  const std::uint8_t foot = is(tag("oneway:foot"), {"yes", "1", "true"}) ? kForward : both;
  r.access[static_cast<std::size_t>(Profile::foot)] = allowed(Profile::foot, r.highway, tag) ? foot : 0;
  r.access[static_cast<std::size_t>(Profile::ebike)] = allowed(Profile::ebike, r.highway, tag) ? ebike : 0;
  r.access[static_cast<std::size_t>(Profile::car)] = allowed(Profile::car, r.highway, tag) ? vehicle : 0;
  if (r.access == std::array<std::uint8_t, 3>{}) return std::nullopt;
  return r;
}

RoadNetwork read_osm_roads(const std::string& path, const Progress& progress) {
  using Index = osmium::index::map::FlexMem<osmium::unsigned_object_id_type, osmium::Location>;
  Collector c;
  c.progress = progress;
  try {
    osmium::io::File file(path);
    osmium::io::Reader reader(file, osmium::osm_entity_bits::node | osmium::osm_entity_bits::way | osmium::osm_entity_bits::relation);
    Index index;
    osmium::handler::NodeLocationsForWays<Index> locations(index);
    locations.ignore_errors();  // a clipped extract's ways refer to nodes it does not hold
    osmium::apply(reader, locations, c);
    reader.close();
  } catch (const std::exception& e) {
    // The message names the file and what libosmium could not read; no database detail is involved.
    throw bad_request("invalid_osm_file", "cannot read " + path + " as OSM data: " + e.what());
  }
  RoadNetwork net;
  net.stats = c.stats;

  // Split points: every occurrence in a routable way counts, so a node twice in one way (a loop)
  // splits it too.
  std::unordered_map<long long, int> uses;
  for (const auto& w : c.ways)
    for (long long ref : w.refs) ++uses[ref];
  for (const auto& w : c.ways) {
    RoadEdge piece;
    auto finish = [&] {
      if (piece.points.size() >= 2 && piece.points.front() != piece.points.back())
        net.edges.push_back(piece);
      else if (piece.points.size() >= 3)
        net.edges.push_back(piece);  // a closed loop of its own
      piece.points.clear();
    };
    auto start = [&](std::size_t i) {
      piece = RoadEdge{w.id, w.refs[i], w.refs[i], {w.points[i]}, w.rules.highway, w.name, w.name_zh, w.rules.oneway, w.rules.access};
    };
    bool open = false;
    for (std::size_t i = 0; i < w.refs.size(); ++i) {
      if (!w.located[i]) {
        ++net.stats.missing_nodes;
        if (open) finish();
        open = false;
        continue;
      }
      if (!open) {
        start(i);
        open = true;
        continue;
      }
      if (w.refs[i] == w.refs[i - 1]) continue;  // a repeated node
      piece.points.push_back(w.points[i]);
      piece.to_node = w.refs[i];
      if (uses[w.refs[i]] >= 2 && i + 1 < w.refs.size()) {
        finish();
        start(i);
      }
    }
    if (open) finish();
  }
  // Restrictions whose ways are not routable (e.g. not for cars) would be dropped by the router;
  // keep only the ones that can matter.
  std::unordered_map<long long, bool> car_way;
  for (const auto& w : c.ways) car_way[w.id] = w.rules.access[static_cast<std::size_t>(Profile::car)] != 0;
  for (auto& raw : c.restrictions) {
    auto f = car_way.find(raw.r.from_way), t = car_way.find(raw.r.to_way);
    if (f == car_way.end() || t == car_way.end() || !f->second || !t->second) {
      ++net.stats.restrictions_skipped;
      continue;
    }
    net.restrictions.push_back(raw.r);
  }
  net.stats.ways = c.stats.ways;
  net.stats.seconds = since(c.started);
  if (progress)
    progress("read " + std::to_string(net.stats.nodes) + " nodes, " + std::to_string(net.stats.ways) + " ways (" +
             std::to_string(net.stats.routable_ways) + " routable), " + std::to_string(net.stats.relations) + " relations; " +
             std::to_string(net.edges.size()) + " edges, " + std::to_string(net.restrictions.size()) + " turn restrictions (" +
             std::to_string(net.stats.restrictions_skipped) + " skipped), " + std::to_string(net.stats.missing_nodes) +
             " missing way nodes; " + std::to_string(net.stats.seconds).substr(0, 5) + " s");
  return net;
}

std::vector<Street> streets_of(const RoadNetwork& net) {
  std::vector<Street> out;
  out.reserve(net.edges.size());
  for (const auto& e : net.edges) {
    Street s{e.points, e.highway, e.oneway};
    s.access = e.access;
    s.osm_id = e.osm_id;
    s.from_node = e.from_node;
    s.to_node = e.to_node;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<TurnRestriction> restrictions_of(const RoadNetwork& net) {
  std::vector<TurnRestriction> out;
  for (const auto& r : net.restrictions) out.push_back({r.only, r.from_way, r.via_node, r.to_way});
  return out;
}

RoadImportStats import_osm_roads(pg::Connection& conn, const std::string& path, const RoadImportOptions& options,
                                 const Progress& progress) {
  if (options.source.empty()) throw bad_request("invalid_parameter", "the source name is empty");
  RoadNetwork net = read_osm_roads(path, progress);
  RoadImportStats stats;
  stats.read = net.stats;
  const auto started = Clock::now();
  pg::Transaction tx(conn);
  // Every source (--replace) or this one; the count is what the progress line reports.
  const std::string where = options.replace_all ? "" : " WHERE source = $1";
  const std::vector<pg::Param> params = options.replace_all ? std::vector<pg::Param>{} : std::vector<pg::Param>{options.source};
  stats.removed = static_cast<std::size_t>(
      tx.exec("roads.delete_streets", "WITH d AS (DELETE FROM streets" + where + " RETURNING 1) SELECT count(*) FROM d", params)
          .integer(0, 0));
  tx.exec("roads.delete_restrictions", "DELETE FROM street_restrictions" + where, params);
  auto flag = [](bool b) { return b ? "t\t" : "f\t"; };
  auto text = [](std::string& out, const std::string& v) {
    if (v.empty())
      out += "\\N";
    else
      pg::append_copy_field(out, v);
    out += '\t';
  };
  std::size_t i = 0;
  tx.connection().copy_in("roads.copy_streets",
                          "COPY streets (source, osm_id, name, name_zh, highway, oneway, from_node, to_node, foot_fwd, foot_bwd, "
                          "ebike_fwd, ebike_bwd, car_fwd, car_bwd, geom) FROM STDIN",
                          [&](std::string& out) {
                            while (i < net.edges.size() && out.size() < (1 << 20)) {
                              const RoadEdge& e = net.edges[i++];
                              text(out, options.source);
                              out += std::to_string(e.osm_id) + '\t';
                              text(out, e.name);
                              text(out, e.name_zh);
                              text(out, e.highway);
                              out += flag(e.oneway);
                              out += std::to_string(e.from_node) + '\t' + std::to_string(e.to_node) + '\t';
                              for (std::uint8_t bits : e.access) out += flag(bits & kForward), out += flag(bits & kBackward);
                              out += "SRID=4490;LINESTRING(";
                              for (std::size_t k = 0; k < e.points.size(); ++k) {
                                if (k) out += ',';
                                append_number(out, e.points[k].lon);
                                out += ' ';
                                append_number(out, e.points[k].lat);
                              }
                              out += ")\n";
                            }
                            return i < net.edges.size();
                          });
  std::size_t j = 0;
  tx.connection().copy_in(
      "roads.copy_restrictions", "COPY street_restrictions (source, osm_id, kind, tag, from_way, via_node, to_way) FROM STDIN",
      [&](std::string& out) {
        while (j < net.restrictions.size() && out.size() < (1 << 20)) {
          const RoadRestriction& r = net.restrictions[j++];
          text(out, options.source);
          out += std::to_string(r.osm_id) + '\t' + (r.only ? "only\t" : "no\t");
          text(out, r.tag);
          out += std::to_string(r.from_way) + '\t' + std::to_string(r.via_node) + '\t' + std::to_string(r.to_way) + '\n';
        }
        return j < net.restrictions.size();
      });
  tx.commit();
  stats.edges = net.edges.size();
  stats.restrictions = net.restrictions.size();
  stats.write_seconds = since(started);
  if (progress)
    progress("wrote " + std::to_string(stats.edges) + " edges and " + std::to_string(stats.restrictions) + " turn restrictions (source " +
             options.source + ", replacing " + std::to_string(stats.removed) + " streets) in " +
             std::to_string(stats.write_seconds).substr(0, 5) + " s");
  return stats;
}

}  // namespace wangge::route
