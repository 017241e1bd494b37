// The CQL2 tree compiled to SQL. What a client wrote reaches the SQL text only as $n parameters;
// the text is made of fixed operators, casts, and the column expressions of the queryables.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "exchange/cql2.hpp"
#include "geom/crs.hpp"

namespace wangge::exchange::cql2 {
namespace {

// A client's name in a message, quoted; bytes that are not UTF-8 are replaced rather than thrown
// about (the routes see UTF-8 only, but this library takes any bytes).
std::string quote_name(std::string_view name) {
  return nlohmann::json(std::string(name)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const char* type_name(Type t) {
  switch (t) {
    case Type::text:
      return "a string";
    case Type::number:
      return "a number";
    case Type::datetime:
      return "a timestamp";
    case Type::geometry:
      return "a geometry";
    case Type::boolean:
      return "a boolean";
  }
  return "";
}

class Compiler {
 public:
  Compiler(const std::vector<Queryable>& queryables, const LiteralCrs& crs) : m_queryables(queryables), m_crs(crs) {
    m_out.pieces.emplace_back();
  }

  Fragment take() && { return std::move(m_out); }

  void condition(const Node& n) {
    switch (n.kind) {
      case Kind::and_:
      case Kind::or_: {
        sql("(");
        for (std::size_t i = 0; i < n.args.size(); ++i) {
          if (i) sql(n.kind == Kind::and_ ? " AND " : " OR ");
          condition(*n.args[i]);
        }
        sql(")");
        return;
      }
      case Kind::not_:
        sql("(NOT ");
        condition(*n.args[0]);
        sql(")");
        return;
      case Kind::boolean:
        sql(n.text == "true" ? "TRUE" : "FALSE");
        return;
      case Kind::compare: {
        const Type a = type_of(*n.args[0]), b = type_of(*n.args[1]);
        if (a == Type::geometry) fail(*n.args[0], "geometries are compared with S_INTERSECTS and the other spatial functions");
        if (b == Type::geometry) fail(*n.args[1], "geometries are compared with S_INTERSECTS and the other spatial functions");
        // The second operand is the one to blame: usually a value compared with a property.
        if (a != b) fail(*n.args[1], std::string("cannot compare ") + type_name(a) + " with " + type_name(b));
        sql("(");
        scalar(*n.args[0]);
        sql(" " + n.op + " ");  // one of six fixed operators (checked by the parsers)
        scalar(*n.args[1]);
        sql(")");
        return;
      }
      case Kind::like: {
        if (type_of(*n.args[0]) != Type::text) fail(*n.args[0], "LIKE applies to strings");
        if (n.args[1]->kind != Kind::string) fail(*n.args[1], "a LIKE pattern is a string");
        // Backslash escapes the next character (as in CQL2 and PostgreSQL): one cannot end a pattern.
        const std::string& pattern = n.args[1]->text;
        for (std::size_t i = 0; i < pattern.size(); ++i)
          if (pattern[i] == '\\' && ++i == pattern.size()) fail(*n.args[1], "a LIKE pattern cannot end with an escaping backslash");
        sql("(");
        // A pattern that starts with digits (an area code's prefix: "330521%") also bounds the
        // column by the range of those digits, which an index scans whether the value is
        // planned or a parameter of a prepared statement's generic plan (a LIKE with a
        // parameter is not an index condition there).
        if (!n.negated && n.args[0]->kind == Kind::property) {
          const std::string digits = pattern.substr(0, pattern.find_first_not_of("0123456789"));
          if (!digits.empty() && digits.size() < pattern.size()) {
            scalar(*n.args[0]);
            sql(" >= ");
            param(digits, "::text");
            if (auto upper = digits_upper_bound(digits)) {
              sql(" AND ");
              scalar(*n.args[0]);
              sql(" < ");
              param(*upper, "::text");
            }
            sql(" AND ");
          }
        }
        scalar(*n.args[0]);
        sql(n.negated ? " NOT LIKE " : " LIKE ");
        scalar(*n.args[1]);
        sql(")");
        return;
      }
      case Kind::in: {
        const Type t = type_of(*n.args[0]);
        if (t == Type::geometry) fail(n, "IN does not apply to geometries");
        for (std::size_t i = 1; i < n.args.size(); ++i) {
          if (n.args[i]->kind == Kind::property) fail(*n.args[i], "an IN list holds values");
          if (type_of(*n.args[i]) != t) fail(*n.args[i], std::string("the IN list needs ") + type_name(t));
        }
        sql("(");
        scalar(*n.args[0]);
        sql(n.negated ? " NOT IN (" : " IN (");
        for (std::size_t i = 1; i < n.args.size(); ++i) {
          if (i > 1) sql(", ");
          scalar(*n.args[i]);
        }
        sql("))");
        return;
      }
      case Kind::between: {
        const Type t = type_of(*n.args[0]);
        if (t != Type::number && t != Type::datetime) fail(n, "BETWEEN applies to numbers and timestamps");
        for (std::size_t i = 1; i < 3; ++i)
          if (type_of(*n.args[i]) != t) fail(*n.args[i], std::string("BETWEEN needs ") + type_name(t));
        sql("(");
        scalar(*n.args[0]);
        sql(n.negated ? " NOT BETWEEN " : " BETWEEN ");
        scalar(*n.args[1]);
        sql(" AND ");
        scalar(*n.args[2]);
        sql(")");
        return;
      }
      case Kind::is_null: {
        if (n.args[0]->kind != Kind::property) fail(*n.args[0], "IS NULL applies to properties");
        sql("(" + queryable(*n.args[0]).column + (n.negated ? " IS NOT NULL)" : " IS NULL)"));
        return;
      }
      case Kind::spatial:
        spatial(n);
        return;
      case Kind::temporal:
        temporal(n);
        return;
      default:
        fail(n, "expected a condition, found a value");
    }
  }

 private:
  const std::vector<Queryable>& m_queryables;
  LiteralCrs m_crs;
  Fragment m_out;

  [[noreturn]] static void fail(const Node& n, const std::string& what) {
    const bool text_position = !n.position.empty() && n.position[0] != '/';
    throw filter_error(text_position ? what + " at position " + n.position : what, n.position);
  }

  void sql(const std::string& text) { m_out.pieces.back() += text; }
  void param(std::string value, const std::string& cast) {
    m_out.params.push_back(std::move(value));
    m_out.pieces.push_back(cast);
  }

  const Queryable& queryable(const Node& n) const {
    auto it = std::find_if(m_queryables.begin(), m_queryables.end(), [&](const Queryable& q) { return q.name == n.text; });
    if (it == m_queryables.end()) {
      std::string names;
      for (const auto& q : m_queryables) names += (names.empty() ? "" : ", ") + q.name;
      fail(n, "unknown property " + quote_name(n.text) + " (queryables: " + names + ")");
    }
    return *it;
  }

  Type type_of(const Node& n) const {
    switch (n.kind) {
      case Kind::property:
        return queryable(n).type;
      case Kind::string:
        return Type::text;
      case Kind::number:
        return Type::number;
      case Kind::timestamp:
      case Kind::date:
        return Type::datetime;
      case Kind::boolean:
        return Type::boolean;
      case Kind::geometry:
        return Type::geometry;
      default:
        fail(n, "expected a value or a property");
    }
  }

  void scalar(const Node& n) {
    switch (n.kind) {
      case Kind::property: {
        const Queryable& q = queryable(n);
        if (q.type == Type::geometry) fail(n, "the geometry is used with the spatial functions only");
        sql(q.column);
        return;
      }
      case Kind::string:
        if (n.text.find('\0') != std::string::npos) fail(n, "a string cannot hold a NUL character");
        param(n.text, "::text");
        return;
      case Kind::number:
        param(n.text, "::float8");
        return;
      case Kind::timestamp:
      case Kind::date:
        param(n.text, "::timestamptz");
        return;
      case Kind::boolean:
        param(n.text, "::boolean");
        return;
      default:
        fail(n, "expected a value or a property");
    }
  }

  // A geometry operand: the geometry queryable, or a literal read in the filter CRS and taken to
  // EPSG:4490 (4326 is taken as 4490, as bbox does: they agree within centimetres). Literals go
  // through ST_MakeValid so a self-crossing polygon is a shape, not a database error.
  void geometry(const Node& n) {
    if (n.kind == Kind::property) {
      const Queryable& q = queryable(n);
      if (q.type != Type::geometry) fail(n, "property " + q.name + " is not a geometry");
      sql(q.column);
      return;
    }
    if (n.kind != Kind::geometry) fail(n, "expected a geometry (the geometry property, WKT, GeoJSON or a bbox)");
    check_domain(n, nlohmann::json::parse(n.text));
    const bool same = m_crs.srid == 4326 || m_crs.srid == 4490;
    sql("ST_MakeValid(");
    if (!same) sql("ST_Transform(");
    sql("ST_SetSRID(");
    if (m_crs.lat_first) sql("ST_FlipCoordinates(");
    sql("ST_GeomFromGeoJSON(");
    param(n.text, "::text)");
    if (m_crs.lat_first) sql(")");
    sql(", " + std::to_string(same ? 4490 : m_crs.srid) + ")");
    if (!same) sql(", 4490)");
    sql(")");
  }

  // Positions outside the CRS's domain would be transformed wrongly (or refused by PostGIS).
  void check_domain(const Node& n, const nlohmann::json& g) const {
    if (g.is_array() && g.size() == 2 && g[0].is_number()) {
      double x = g[0], y = g[1];
      if (m_crs.lat_first) std::swap(x, y);
      if (auto d = geom::projected_domain(m_crs.srid)) {
        if (!d->contains(x, y)) fail(n, "a position lies outside the domain of filter-crs");
      } else if (x < -180 || x > 180 || y < -90 || y > 90) {
        fail(n, "a position lies outside longitude -180..180, latitude -90..90 (mind the axis order of filter-crs)");
      }
      return;
    }
    if (g.is_array()) {
      for (const auto& m : g) check_domain(n, m);
    } else if (g.is_object()) {
      if (auto c = g.find("coordinates"); c != g.end()) check_domain(n, *c);
      if (auto gs = g.find("geometries"); gs != g.end()) check_domain(n, *gs);
    }
  }

  void spatial(const Node& n) {
    static const std::pair<const char*, const char*> kFunctions[] = {{"s_intersects", "ST_Intersects("},
                                                                     {"s_within", "ST_Within("},
                                                                     {"s_contains", "ST_Contains("},
                                                                     {"s_disjoint", "NOT ST_Intersects("}};
    const char* fn = nullptr;
    for (const auto& [op, f] : kFunctions)
      if (n.op == op) fn = f;
    if (!fn) fail(n, "unsupported spatial function");
    sql(std::string("(") + fn);
    geometry(*n.args[0]);
    sql(", ");
    geometry(*n.args[1]);
    sql("))");
  }

  // A temporal operand is an instant (a datetime property or literal) or an interval; both are
  // written as its first and last instant. An interval's open end ('..'), and a property end
  // without a value (an area version still valid has no valid_to), is unbounded.
  void instant_end(const Node& n, bool start) {
    if (n.kind == Kind::open) {
      sql(start ? "'-infinity'::timestamptz" : "'infinity'::timestamptz");
      return;
    }
    if (n.kind == Kind::property) {
      const Queryable& q = queryable(n);
      if (q.type != Type::datetime) fail(n, "property " + q.name + " is not a timestamp");
      sql(std::string("coalesce(") + q.column + (start ? ", '-infinity'::timestamptz)" : ", 'infinity'::timestamptz)"));
      return;
    }
    if (n.kind != Kind::timestamp && n.kind != Kind::date) fail(n, "an interval end is a timestamp, a date, '..' or a property");
    scalar(n);
  }
  void temporal_end(const Node& n, bool start) {
    if (n.kind == Kind::interval) {
      instant_end(*n.args[start ? 0 : 1], start);
      return;
    }
    if (n.kind == Kind::property) {
      const Queryable& q = queryable(n);
      if (q.type != Type::datetime) fail(n, "property " + q.name + " is not a timestamp");
      sql(q.column);
      return;
    }
    if (n.kind != Kind::timestamp && n.kind != Kind::date) fail(n, "expected a timestamp, a date, an interval or a datetime property");
    scalar(n);
  }
  void temporal(const Node& n) {
    const Node& a = *n.args[0];
    const Node& b = *n.args[1];
    // Checked up front so that an error names the operand rather than a half-built condition.
    for (const Node* x : {&a, &b}) {
      if (x->kind == Kind::interval) continue;  // its ends are checked as they are written
      if (x->kind != Kind::timestamp && x->kind != Kind::date && !(x->kind == Kind::property && type_of(*x) == Type::datetime)) {
        fail(*x, "expected a timestamp, a date, an interval or a datetime property");
      }
    }
    auto before = [&](const Node& x, const Node& y) {  // x ends before y starts
      sql("(");
      temporal_end(x, false);
      sql(" < ");
      temporal_end(y, true);
      sql(")");
    };
    if (n.op == "t_before") {
      before(a, b);
    } else if (n.op == "t_after") {
      before(b, a);
    } else if (n.op == "t_intersects" || n.op == "t_disjoint") {
      sql(n.op == "t_intersects" ? "(NOT " : "(");
      sql("(");
      before(a, b);
      sql(" OR ");
      before(b, a);
      sql("))");
    } else {
      fail(n, "unsupported temporal function");
    }
  }
};

}  // namespace

std::string Fragment::render(std::vector<std::optional<std::string>>& out) const {
  std::string text = pieces.at(0);
  for (std::size_t i = 0; i < params.size(); ++i) {
    out.push_back(params[i]);
    text += "$" + std::to_string(out.size()) + pieces[i + 1];
  }
  return text;
}

std::optional<std::string> digits_upper_bound(std::string_view digits) {
  std::string upper(digits);
  while (!upper.empty() && upper.back() == '9') upper.pop_back();
  if (upper.empty()) return std::nullopt;
  ++upper.back();
  return upper;
}

Fragment compile(const Node& e, const std::vector<Queryable>& queryables, const LiteralCrs& crs) {
  Compiler c(queryables, crs);
  c.condition(e);
  return std::move(c).take();
}

std::vector<std::pair<std::string, bool>> parse_sortby(std::string_view text, const std::vector<Queryable>& queryables) {
  std::vector<std::pair<std::string, bool>> out;
  const std::string extra = nlohmann::json({{"parameter", "sortby"}}).dump();
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string_view key = text.substr(start, comma - start);
    bool desc = false;
    if (!key.empty() && (key[0] == '-' || key[0] == '+')) {
      desc = key[0] == '-';
      key.remove_prefix(1);
    }
    auto it = std::find_if(queryables.begin(), queryables.end(), [&](const Queryable& q) { return q.name == key; });
    if (it == queryables.end() || it->type == Type::geometry)
      throw bad_request("invalid_parameter", "sortby names " + quote_name(key) + ", which is not a sortable queryable", extra);
    if (out.size() >= 8) throw bad_request("invalid_parameter", "sortby takes at most 8 properties", extra);
    out.emplace_back(it->column, desc);
    start = comma + 1;
  }
  return out;
}

}  // namespace wangge::exchange::cql2
