// CQL2 (OGC API - Features Part 3) filters: the text and JSON encodings parsed into one syntax
// tree, checked against a layer's queryables and compiled to a SQL condition whose every value is a
// $n parameter. Property names never reach SQL: each one is looked up in the queryables, and the
// column expression written there is what the SQL holds. No HTTP here; the routes turn
// filter_error into a 400 problem with the position.
//
// Supported: comparisons (=, <>, <, <=, >, >=), [NOT] LIKE, [NOT] IN, [NOT] BETWEEN, IS [NOT] NULL,
// AND/OR/NOT, TRUE/FALSE; S_INTERSECTS, S_WITHIN, S_CONTAINS, S_DISJOINT with WKT/BBOX (text) or
// GeoJSON/bbox (JSON) literals; T_INTERSECTS, T_BEFORE, T_AFTER, T_DISJOINT on instants and
// intervals (TIMESTAMP, DATE, INTERVAL, datetime properties; INTERVAL(p1, p2) of two properties).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace wangge::exchange::cql2 {

// What a client may send: larger filters are refused before they are parsed further.
struct Limits {
  std::size_t max_length = 16384;  // bytes of filter text
  int max_depth = 24;              // nesting of predicates, parentheses and JSON
  int max_nodes = 400;             // predicates, operands and literals
  int max_coordinates = 5000;      // positions in all geometry literals together
};

// A malformed or unsupported filter. `position`: byte offset in the CQL2 text (0-based) or a JSON
// pointer into the CQL2 JSON document ("/args/1").
struct filter_error : bad_request {
  filter_error(const std::string& detail, const std::string& position);
  std::string position;
};

enum class Type { text, number, datetime, geometry, boolean };

// A property a filter (and sortby) may name, and the SQL expression it stands for (written by the
// layer, never by a client).
struct Queryable {
  std::string name;
  Type type;
  std::string column;
  std::string description;
};

enum class Kind {
  and_,
  or_,
  not_,
  compare,   // op: = <> < <= > >=; args: two scalars
  like,      // args: scalar, pattern string; negated: NOT LIKE
  in,        // args: scalar, then the list
  between,   // args: scalar, low, high
  is_null,   // args: scalar
  spatial,   // op: s_intersects ...; args: two geometry operands
  temporal,  // op: t_intersects ...; args: two temporal operands
  boolean,   // text: "true" / "false"
  property,  // text: the name
  string,
  number,     // text: the digits as written (checked)
  timestamp,  // text: RFC 3339, normalised to UTC
  date,       // text: YYYY-MM-DD
  interval,   // args: two of timestamp/date/property, or open ("..")
  open,       // ".." end of an interval
  geometry,   // text: GeoJSON geometry
};

struct Node {
  Kind kind;
  std::string op;
  std::string text;
  bool negated = false;
  std::vector<std::unique_ptr<Node>> args;
  std::string position;  // where it starts (for errors found after parsing)
};
using Expr = std::unique_ptr<Node>;

Expr parse_text(std::string_view text, const Limits& limits = {});
Expr parse_json(std::string_view text, const Limits& limits = {});
// `lang`: "cql2-text" (also when empty; "cql-text", its draft name, too) or "cql2-json"; throws filter_error otherwise.
Expr parse(std::string_view text, std::string_view lang, const Limits& limits = {});

// The coordinate system of geometry literals: srid and whether positions are lat/lon (northing
// first), as for bbox-crs.
struct LiteralCrs {
  int srid = 4326;
  bool lat_first = false;
};

// A SQL condition with its parameters, rendered with numbers that follow whatever the enclosing
// query already holds: pieces[0] $a pieces[1] $b ... (pieces.size() == params.size() + 1).
struct Fragment {
  std::vector<std::string> pieces;
  std::vector<std::optional<std::string>> params;
  // Appends the parameters to `out` and returns the SQL that numbers them from out's old size + 1.
  std::string render(std::vector<std::optional<std::string>>& out) const;
};

// The first string of digits past every string that starts with `digits` ("3309" -> "331",
// "99" -> none): with `>= digits` it bounds a prefix match as a range, the same in byte order and
// in any collation that orders digit strings digit by digit.
std::optional<std::string> digits_upper_bound(std::string_view digits);

// Type-checks `e` against `queryables` and compiles it. Throws filter_error (unknown property,
// wrong type). Geometry literals are transformed from `crs` to EPSG:4490.
Fragment compile(const Node& e, const std::vector<Queryable>& queryables, const LiteralCrs& crs);

// sortby: "name,-population,+code" → (column expression, descending). Only non-geometry
// queryables; throws bad_request("invalid_parameter") naming the unknown one.
std::vector<std::pair<std::string, bool>> parse_sortby(std::string_view text, const std::vector<Queryable>& queryables);

}  // namespace wangge::exchange::cql2
