// The area registry: reads (current or as of a time), writes with the geometry and topology rules,
// history and the audit log. Every write is one transaction; all SQL uses $n parameters.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/time.hpp"
#include "pg/connection.hpp"
#include "registry/auth.hpp"
#include "registry/codes.hpp"

namespace wangge::registry {

struct AreaQuery {
  std::optional<std::string> level;
  std::optional<std::string> parent;
  std::optional<std::array<double, 4>> bbox;  // min lon, min lat, max lon, max lat in EPSG:4490
  std::optional<Micros> at;
  int limit = 100;
  long long offset = 0;
  int srid = 4490;                   // output CRS
  std::optional<std::string> scope;  // restrict to this subtree
  std::optional<std::string> text;   // name contains it, or code starts with it (the console's search box)
};

struct AreaPage {
  std::string features;  // JSON array text
  long long matched = 0;
  int returned = 0;
};

struct AreaDocument {
  std::string feature;  // GeoJSON Feature text
  std::string etag;     // "\"<code>-v<version>\""
  std::string code;
};

struct WriteOptions {
  int srid = 4490;                    // CRS of the geometry in the request and of the response
  bool repair = false;                // apply MakeValid to invalid input instead of refusing it
  std::vector<std::string> if_match;  // ETags sent by the client (required for updates)
};

struct WriteResult {
  AreaDocument area;
  nlohmann::json report = nlohmann::json::object();  // e.g. {"repair": {...}}
};

// The parent code of the current version of `code` (std::nullopt for a root); throws
// not_found("area_not_found") for an unknown code and Error 410 "area_retired" for a retired one.
std::optional<std::string> require_current(pg::Connection& conn, const std::string& code);

// The advisory lock (transaction-scoped) that serialises writes among the children of one parent
// ("" for roots). Every writer of areas takes it for the parents it touches.
void lock_children_of(pg::Transaction& tx, const std::string& parent);

// An area's name: 1 to 300 bytes of text (every writer: create, update, split, merge, redistrict).
bool valid_area_name(std::string_view name);
// The properties a write sets, as a request names them: each member unset when absent.
struct AreaFields {
  std::optional<std::string> code, name, level;
  std::optional<std::optional<std::string>> parent;  // set, possibly to null
  std::optional<std::optional<long long>> households, population;
  std::optional<nlohmann::json> attributes;
};
// Reads a request's properties by the registry's rules (every writer: update, the toolkit's
// redraw): unknown_property for one a client may not write, invalid_property for a bad value
// (a name of 0 or more than 300 bytes, a negative count, attributes not an object); echoes of the
// server's own properties are ignored.
AreaFields read_area_fields(const nlohmann::json& properties);

// The properties of an area's version that a write may change.
struct AreaProperties {
  std::string name;
  std::optional<long long> households, population;
  nlohmann::json attributes = nlohmann::json::object();
};
// The properties of the new version of `code` when `f` is written over `current`: PATCH
// (replace=false) keeps what `f` omits and merges attributes (RFC 7396: null removes a key); PUT
// (replace=true) clears the optional ones it omits. Throws immutable_property when `f` names
// another code, level or parent than the area has, missing_property for a PUT without a name.
AreaProperties apply_area_fields(const AreaFields& f, const std::string& code, const std::string& level, const std::string& parent,
                                 const AreaProperties& current, bool replace);

// Properties of an area the server sets (version, validity, who changed it, its ETag): clients may
// echo them back from a GET and they are ignored.
bool is_server_property(std::string_view key);
// Decimal digits of GeoJSON coordinates written in `srid`: 9 for degrees (0.1 mm), 3 for metres (1 mm).
int output_digits(int srid);

// ETag of a version: strong, names the code so several can travel in one If-Match.
std::string area_etag(std::string_view code, long long version);
// Splits an If-Match header into entity tags (W/ prefixes dropped).
std::vector<std::string> parse_if_match(std::string_view header);

// Whether a grid or micro-grid of this area and mean width is below the minimum (false for other levels).
bool below_minimum_size(const Config& config, Level level, double area_m2, double width_m);
// The SQL expression of a geometry's mean width in metres (2 × area / perimeter), for `geom` in EPSG:4490.
std::string mean_width_sql(const std::string& geom);

class AreaStore {
 public:
  AreaStore(const Config& config, const CodeRules& rules) : m_config(config), m_rules(rules) {}

  AreaPage list(pg::Connection& conn, const AreaQuery& q) const;
  // Throws not_found("area_not_found"), or Error 410 "area_retired" when it existed but is retired.
  AreaDocument get(pg::Connection& conn, const std::string& code, std::optional<Micros> at, int srid) const;
  // {"versions": [Feature...]} newest first.
  std::string history(pg::Connection& conn, const std::string& code, int srid) const;

  WriteResult create(pg::Connection& conn, const Actor& actor, const nlohmann::json& feature, const WriteOptions& o) const;
  // PATCH (replace=false): only the given properties and/or geometry change.
  // PUT (replace=true): the body is the whole new Feature; omitted optional properties are cleared.
  WriteResult update(pg::Connection& conn, const Actor& actor, const std::string& code, const nlohmann::json& body, const WriteOptions& o,
                     bool replace) const;
  // Retires the area: its current version gets valid_to; history stays. Answers what the
  // retirement does (the workers it unassigns, the checkpoints it leaves without a grid); with
  // dry_run nothing is written and no If-Match is needed (the answer's "touched" names the ETag
  // the real run needs).
  nlohmann::json retire(pg::Connection& conn, const Actor& actor, const std::string& code, const WriteOptions& o,
                        bool dry_run = false) const;

  // Shared with the toolkit (registry/toolkit.hpp), which runs the same checks inside its own transactions.
  struct PreparedGeometry {
    std::string ewkb;       // hex EWKB, MultiPolygon in EPSG:4490
    nlohmann::json repair;  // null unless repaired
  };
  PreparedGeometry prepare_geometry(pg::Transaction& tx, const nlohmann::json& geometry, const WriteOptions& o) const;
  // Whether check_topology also requires the area's current children to stay inside the new
  // geometry (a reshape does; a new area has none yet).
  enum class Children { unchecked, must_stay_inside };
  void check_topology(pg::Transaction& tx, const std::string& code, Level level, const std::string& parent, const std::string& ewkb,
                      Children children, int srid) const;
  // Throws conflict("gap_opened") with the gap geometry when the new geometry gives up ground of
  // the parent that no sibling covers.
  void check_no_gap(pg::Transaction& tx, const std::string& code, Level level, const std::string& parent, const std::string& old_ewkb,
                    const std::string& new_ewkb, int srid) const;
  // The smallest grid or micro-grid a write may leave (docs/domain.md, partition rules): at least
  // WANGGE_MIN_AREA_M2 and a mean width (2 × area / perimeter) of WANGGE_MIN_WIDTH_M. Other levels
  // are not checked. Throws unprocessable("area_too_small") for the area written itself.
  void check_size(pg::Transaction& tx, const std::string& code, Level level, const std::string& ewkb) const;
  // The same rule for a sibling that an edit of `code` reshapes: conflict("neighbour_too_small")
  // naming the neighbour, since the request is fine in itself but collides with the neighbour.
  void check_neighbour_size(pg::Transaction& tx, const std::string& code, const std::string& neighbour, Level level,
                            const std::string& ewkb) const;

 private:
  const Config& m_config;
  const CodeRules& m_rules;
};

}  // namespace wangge::registry
