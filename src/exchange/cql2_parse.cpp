// The two CQL2 encodings read into one tree (cql2.hpp). The text encoding by recursive descent
// over the characters (one function per grammar rule of the CQL2 BNF we support), the JSON one
// from nlohmann's document after a depth check. Both count nodes and nesting as they go, so no
// input makes them recurse or allocate without bound.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "exchange/cql2.hpp"

namespace wangge::exchange::cql2 {
namespace {

using nlohmann::json;

std::string problem_extra(const std::string& position) {
  const bool numeric = !position.empty() && std::all_of(position.begin(), position.end(), [](char c) { return c >= '0' && c <= '9'; });
  return json({{"position", numeric ? json(std::stoll(position)) : json(position)}}).dump();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_comparison(std::string_view op) { return op == "=" || op == "<>" || op == "<" || op == "<=" || op == ">" || op == ">="; }
bool is_spatial(std::string_view op) { return op == "s_intersects" || op == "s_within" || op == "s_contains" || op == "s_disjoint"; }
bool is_temporal(std::string_view op) { return op == "t_intersects" || op == "t_before" || op == "t_after" || op == "t_disjoint"; }

// A literal timestamp: any RFC 3339 date-time, kept as UTC text PostgreSQL reads unambiguously.
// Only years 1 to 9999 in UTC: PostgreSQL refuses a year 0 (which +14:00 on 0001-01-01 gives).
std::optional<std::string> timestamp_text(std::string_view s) {
  static const Micros kFirst = *parse_rfc3339("0001-01-01T00:00:00Z");
  static const Micros kLast = *parse_rfc3339("9999-12-31T23:59:59.999999Z");
  auto t = parse_rfc3339(s);
  if (!t || *t < kFirst || *t > kLast) return std::nullopt;
  return format_rfc3339(*t);
}

// A literal date (YYYY-MM-DD, a real calendar day), as the instant of its start in UTC.
std::optional<std::string> date_text(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  return timestamp_text(std::string(s) + "T00:00:00Z");
}

// Shared by both encodings: the budget of nodes and coordinates, and the GeoJSON geometry check.
class Budget {
 public:
  explicit Budget(const Limits& limits) : m_limits(limits) {}
  Expr node(Kind kind, std::string position) {
    if (++m_nodes > m_limits.max_nodes)
      throw filter_error("the filter has more than " + std::to_string(m_limits.max_nodes) + " terms", position);
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->position = std::move(position);
    return n;
  }
  void coordinate(const std::string& position) {
    if (++m_coordinates > m_limits.max_coordinates)
      throw filter_error("the filter's geometries have more than " + std::to_string(m_limits.max_coordinates) + " positions", position);
  }
  const Limits& limits() const { return m_limits; }

 private:
  const Limits& m_limits;
  int m_nodes = 0;
  int m_coordinates = 0;
};

// Checks a GeoJSON geometry object shape by shape, so that PostGIS never sees one it would refuse
// (that would be a database error, not the client's 400). Rings must be closed.
void check_position(const json& p, Budget& budget, const std::string& at) {
  if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number()) throw filter_error("a position is two numbers (x y)", at);
  if (!std::isfinite(p[0].get<double>()) || !std::isfinite(p[1].get<double>())) throw filter_error("coordinates must be finite", at);
  budget.coordinate(at);
}
void check_positions(const json& ps, std::size_t min, bool closed, Budget& budget, const std::string& at) {
  if (!ps.is_array() || ps.size() < min) throw filter_error("expected at least " + std::to_string(min) + " positions", at);
  for (std::size_t i = 0; i < ps.size(); ++i) check_position(ps[i], budget, at);
  if (closed && ps.front() != ps.back()) throw filter_error("a polygon ring must end where it starts", at);
}
void check_geometry(const json& g, Budget& budget, const std::string& at, int depth) {
  if (depth > 4) throw filter_error("geometry collections nest too deeply", at);
  const auto type = g.find("type");
  if (type == g.end() || !type->is_string()) throw filter_error("a geometry needs a type", at);
  const std::string t = *type;
  if (t == "GeometryCollection") {
    const auto gs = g.find("geometries");
    if (gs == g.end() || !gs->is_array() || gs->empty()) throw filter_error("a GeometryCollection needs geometries", at);
    for (const auto& m : *gs) {
      if (!m.is_object()) throw filter_error("a geometry is an object", at);
      check_geometry(m, budget, at, depth + 1);
    }
    return;
  }
  const auto c = g.find("coordinates");
  if (c == g.end()) throw filter_error("a " + t + " needs coordinates", at);
  if (t == "Point") {
    check_position(*c, budget, at);
  } else if (t == "MultiPoint") {
    check_positions(*c, 1, false, budget, at);
  } else if (t == "LineString") {
    check_positions(*c, 2, false, budget, at);
  } else if (t == "MultiLineString" || t == "Polygon") {
    if (!c->is_array() || c->empty()) throw filter_error("a " + t + " needs at least one part", at);
    for (const auto& part : *c) check_positions(part, t == "Polygon" ? 4 : 2, t == "Polygon", budget, at);
  } else if (t == "MultiPolygon") {
    if (!c->is_array() || c->empty()) throw filter_error("a MultiPolygon needs at least one polygon", at);
    for (const auto& poly : *c) {
      if (!poly.is_array() || poly.empty()) throw filter_error("a polygon needs at least one ring", at);
      for (const auto& ring : poly) check_positions(ring, 4, true, budget, at);
    }
  } else {
    throw filter_error("unsupported geometry type " + t, at);
  }
}

json bbox_polygon(double x1, double y1, double x2, double y2, const std::string& at) {
  if (!std::isfinite(x1) || !std::isfinite(y1) || !std::isfinite(x2) || !std::isfinite(y2) || x1 > x2 || y1 > y2)
    throw filter_error("a bbox is min, min, max, max (finite)", at);
  return {{"type", "Polygon"}, {"coordinates", json::array({json::array({{x1, y1}, {x2, y1}, {x2, y2}, {x1, y2}, {x1, y1}})})}};
}

// ---------------------------------------------------------------------------------------------
// CQL2 text

class TextParser {
 public:
  TextParser(std::string_view text, const Limits& limits) : m_s(text), m_budget(limits) {}

  Expr parse() {
    auto e = boolean_expression(0);
    skip_space();
    if (m_i != m_s.size()) fail("unexpected text after the end of the filter");
    return e;
  }

 private:
  std::string_view m_s;
  std::size_t m_i = 0;
  Budget m_budget;

  [[noreturn]] void fail(const std::string& what) const { fail_at(what, m_i); }
  [[noreturn]] void fail_at(const std::string& what, std::size_t at) const {
    throw filter_error(what + " at position " + std::to_string(at), std::to_string(at));
  }
  // Where the next token starts.
  std::string here() {
    skip_space();
    return std::to_string(m_i);
  }
  void check_depth(int depth) const {
    if (depth > m_budget.limits().max_depth) fail("the filter nests more than " + std::to_string(m_budget.limits().max_depth) + " levels");
  }

  void skip_space() {
    while (m_i < m_s.size() && (m_s[m_i] == ' ' || m_s[m_i] == '\t' || m_s[m_i] == '\n' || m_s[m_i] == '\r')) ++m_i;
  }
  bool at_end() {
    skip_space();
    return m_i >= m_s.size();
  }
  char peek() {
    skip_space();
    return m_i < m_s.size() ? m_s[m_i] : '\0';
  }
  bool accept(char c) {
    if (peek() != c) return false;
    ++m_i;
    return true;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  static bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '.'; }
  // The next bare word (identifier or keyword) without consuming it; empty when none.
  std::string_view peek_word() {
    skip_space();
    std::size_t j = m_i;
    if (j < m_s.size() && (std::isalpha(static_cast<unsigned char>(m_s[j])) || m_s[j] == '_')) {
      while (j < m_s.size() && word_char(m_s[j])) ++j;
    }
    return m_s.substr(m_i, j - m_i);
  }
  // Consumes the keyword when it is next (case-insensitive, whole word).
  bool keyword(std::string_view kw) {
    auto w = peek_word();
    if (w.empty() || lower(w) != lower(kw)) return false;
    m_i += w.size();
    return true;
  }
  void expect_keyword(std::string_view kw) {
    if (!keyword(kw)) fail("expected " + std::string(kw));
  }

  // booleanExpression = booleanTerm {OR booleanTerm}
  Expr boolean_expression(int depth) {
    check_depth(depth);
    const std::string at = here();
    auto left = boolean_term(depth);
    if (peek_keyword_is("or")) {
      auto n = m_budget.node(Kind::or_, at);
      n->args.push_back(std::move(left));
      while (keyword("or")) n->args.push_back(boolean_term(depth));
      return n;
    }
    return left;
  }
  bool peek_keyword_is(std::string_view kw) { return lower(peek_word()) == kw; }
  // booleanTerm = booleanFactor {AND booleanFactor}
  Expr boolean_term(int depth) {
    const std::string at = here();
    auto left = boolean_factor(depth);
    if (peek_keyword_is("and")) {
      auto n = m_budget.node(Kind::and_, at);
      n->args.push_back(std::move(left));
      while (keyword("and")) n->args.push_back(boolean_factor(depth));
      return n;
    }
    return left;
  }
  // booleanFactor = [NOT] booleanPrimary
  Expr boolean_factor(int depth) {
    check_depth(depth);
    const std::string at = here();
    if (keyword("not")) {
      auto n = m_budget.node(Kind::not_, at);
      n->args.push_back(boolean_factor(depth + 1));
      return n;
    }
    return boolean_primary(depth);
  }
  // booleanPrimary = predicate | "(" booleanExpression ")" | TRUE | FALSE
  Expr boolean_primary(int depth) {
    const std::string at = here();
    if (at_end()) fail("the filter ends where a condition was expected");
    if (accept('(')) {
      auto e = boolean_expression(depth + 1);
      expect(')');
      return e;
    }
    const std::string w = lower(peek_word());
    if (w == "true" || w == "false") {
      m_i += w.size();
      auto n = m_budget.node(Kind::boolean, at);
      n->text = w;
      return n;
    }
    if (is_spatial(w)) return spatial(w, at, depth);
    if (is_temporal(w)) return temporal(w, at, depth);
    return predicate(at, depth);
  }

  Expr spatial(const std::string& op, const std::string& at, int depth) {
    m_i += op.size();
    auto n = m_budget.node(Kind::spatial, at);
    n->op = op;
    expect('(');
    n->args.push_back(geometry_operand(depth));
    expect(',');
    n->args.push_back(geometry_operand(depth));
    expect(')');
    return n;
  }
  Expr geometry_operand(int depth) {
    const std::size_t start = (skip_space(), m_i);
    const std::string w = lower(peek_word());
    static const char* const kShapes[] = {"point",        "linestring",         "polygon", "multipoint", "multilinestring",
                                          "multipolygon", "geometrycollection", "bbox"};
    if (std::find(std::begin(kShapes), std::end(kShapes), w) != std::end(kShapes)) {
      auto n = m_budget.node(Kind::geometry, std::to_string(start));
      n->text = wkt(depth).dump();
      return n;
    }
    return scalar(depth);
  }

  // Well-known text into GeoJSON (2D only). BBOX(minx, miny, maxx, maxy) is a polygon.
  json wkt(int depth) {
    check_depth(depth);
    const std::size_t start = (skip_space(), m_i);
    const std::string w = lower(peek_word());
    m_i += w.size();
    const std::string at = std::to_string(start);
    if (w == "bbox") {
      expect('(');
      double v[4];
      for (int k = 0; k < 4; ++k) {
        if (k) expect(',');
        v[k] = number_value();
      }
      expect(')');
      return bbox_polygon(v[0], v[1], v[2], v[3], at);
    }
    const std::string z = lower(peek_word());
    if (z == "z" || z == "m" || z == "zm") fail("only 2D geometries are supported");
    if (z == "empty") fail("empty geometries are not supported");
    json g;
    if (w == "point") {
      expect('(');
      g = {{"type", "Point"}, {"coordinates", position()}};
      expect(')');
    } else if (w == "linestring") {
      g = {{"type", "LineString"}, {"coordinates", position_list()}};
    } else if (w == "polygon") {
      g = {{"type", "Polygon"}, {"coordinates", ring_list()}};
    } else if (w == "multipoint") {
      // MULTIPOINT((1 2), (3 4)) and MULTIPOINT(1 2, 3 4) are both in use.
      expect('(');
      json pts = json::array();
      do {
        if (accept('(')) {
          pts.push_back(position());
          expect(')');
        } else {
          pts.push_back(position());
        }
      } while (accept(','));
      expect(')');
      g = {{"type", "MultiPoint"}, {"coordinates", pts}};
    } else if (w == "multilinestring") {
      g = {{"type", "MultiLineString"}, {"coordinates", ring_list()}};
    } else if (w == "multipolygon") {
      expect('(');
      json polys = json::array();
      do polys.push_back(ring_list());
      while (accept(','));
      expect(')');
      g = {{"type", "MultiPolygon"}, {"coordinates", polys}};
    } else if (w == "geometrycollection") {
      expect('(');
      json gs = json::array();
      do gs.push_back(wkt(depth + 1));
      while (accept(','));
      expect(')');
      g = {{"type", "GeometryCollection"}, {"geometries", gs}};
    } else {
      fail_at("expected a geometry (POINT, LINESTRING, POLYGON, MULTI..., GEOMETRYCOLLECTION or BBOX)", start);
    }
    check_geometry(g, m_budget, at, 0);
    return g;
  }
  json position() {
    const double x = number_value();
    const double y = number_value();
    m_budget.coordinate(here());
    return json::array({x, y});
  }
  json position_list() {
    expect('(');
    json ps = json::array();
    do ps.push_back(position());
    while (accept(','));
    expect(')');
    return ps;
  }
  json ring_list() {
    expect('(');
    json rings = json::array();
    do rings.push_back(position_list());
    while (accept(','));
    expect(')');
    return rings;
  }
  double number_value() {
    skip_space();
    const std::size_t start = m_i;
    const std::string digits = number_digits();
    if (digits.empty()) fail_at("expected a number", start);
    double v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size() || !std::isfinite(v)) fail_at("the number is out of range", start);
    return v;
  }
  // [-+]digits[.digits][e[-+]digits]; empty when the next character starts no number.
  std::string number_digits() {
    skip_space();
    std::size_t j = m_i;
    auto digit = [&](std::size_t k) { return k < m_s.size() && std::isdigit(static_cast<unsigned char>(m_s[k])); };
    if (j < m_s.size() && (m_s[j] == '-' || m_s[j] == '+')) ++j;
    const std::size_t first = j;
    while (digit(j)) ++j;
    if (j < m_s.size() && m_s[j] == '.') {
      ++j;
      while (digit(j)) ++j;
    }
    if (j == first || (j == first + 1 && m_s[first] == '.')) return {};
    if (j < m_s.size() && (m_s[j] == 'e' || m_s[j] == 'E')) {
      std::size_t k = j + 1;
      if (k < m_s.size() && (m_s[k] == '-' || m_s[k] == '+')) ++k;
      if (digit(k)) {
        while (digit(k)) ++k;
        j = k;
      }
    }
    std::string out(m_s.substr(m_i, j - m_i));
    if (!out.empty() && out[0] == '+') out.erase(0, 1);
    m_i = j;
    return out;
  }

  Expr temporal(const std::string& op, const std::string& at, int depth) {
    m_i += op.size();
    auto n = m_budget.node(Kind::temporal, at);
    n->op = op;
    expect('(');
    n->args.push_back(temporal_operand(depth));
    expect(',');
    n->args.push_back(temporal_operand(depth));
    expect(')');
    return n;
  }
  Expr temporal_operand(int depth) {
    const std::string at = here();
    if (lower(peek_word()) == "interval") {
      m_i += 8;
      auto n = m_budget.node(Kind::interval, at);
      expect('(');
      n->args.push_back(interval_end(depth));
      expect(',');
      n->args.push_back(interval_end(depth));
      expect(')');
      return n;
    }
    return scalar(depth);
  }
  // An end of INTERVAL(...): '..', a date or timestamp as a string, DATE(...)/TIMESTAMP(...), or a property.
  Expr interval_end(int depth) {
    const std::string at = here();
    if (peek() == '\'') {
      const std::string s = string_value();
      if (s == "..") return m_budget.node(Kind::open, at);
      auto n = m_budget.node(Kind::timestamp, at);
      auto t = s.size() == 10 ? date_text(s) : timestamp_text(s);
      if (!t) fail_at("an interval end is '..', a date (YYYY-MM-DD) or an RFC 3339 timestamp", std::stoul(at));
      n->text = *t;
      return n;
    }
    return scalar(depth);
  }

  // predicate = scalar (comparison | [NOT] LIKE | [NOT] BETWEEN | [NOT] IN | IS [NOT] NULL)
  Expr predicate(const std::string& at, int depth) {
    auto left = scalar(depth);
    skip_space();
    const std::size_t op_at = m_i;
    for (const char* op : {"<>", "<=", ">=", "=", "<", ">"}) {
      const std::string_view o(op);
      if (m_s.substr(m_i, o.size()) == o) {
        m_i += o.size();
        auto n = m_budget.node(Kind::compare, at);
        n->op = op;
        n->args.push_back(std::move(left));
        n->args.push_back(scalar(depth));
        return n;
      }
    }
    if (keyword("is")) {
      auto n = m_budget.node(Kind::is_null, at);
      n->negated = keyword("not");
      expect_keyword("null");
      n->args.push_back(std::move(left));
      return n;
    }
    const bool negated = keyword("not");
    if (keyword("like")) {
      auto n = m_budget.node(Kind::like, at);
      n->negated = negated;
      n->args.push_back(std::move(left));
      n->args.push_back(scalar(depth));
      return n;
    }
    if (keyword("between")) {
      auto n = m_budget.node(Kind::between, at);
      n->negated = negated;
      n->args.push_back(std::move(left));
      n->args.push_back(scalar(depth));
      expect_keyword("and");
      n->args.push_back(scalar(depth));
      return n;
    }
    if (keyword("in")) {
      auto n = m_budget.node(Kind::in, at);
      n->negated = negated;
      n->args.push_back(std::move(left));
      expect('(');
      do n->args.push_back(scalar(depth));
      while (accept(','));
      expect(')');
      return n;
    }
    fail_at("expected a comparison (=, <>, <, <=, >, >=, LIKE, BETWEEN, IN or IS NULL)", op_at);
  }

  // scalar = 'string' | number | TIMESTAMP('...') | DATE('...') | TRUE | FALSE | property | "property"
  Expr scalar(int depth) {
    check_depth(depth);
    skip_space();
    const std::size_t start = m_i;
    const std::string at = here();
    if (m_i >= m_s.size()) fail("the filter ends where a value was expected");
    const char c = m_s[m_i];
    if (c == '\'') {
      auto n = m_budget.node(Kind::string, at);
      n->text = string_value();
      return n;
    }
    if (c == '"') {
      auto n = m_budget.node(Kind::property, at);
      const std::size_t close = m_s.find('"', m_i + 1);
      if (close == std::string_view::npos) fail("a quoted property name is not closed");
      n->text = std::string(m_s.substr(m_i + 1, close - m_i - 1));
      m_i = close + 1;
      return n;
    }
    if (c == '-' || c == '+' || c == '.' || std::isdigit(static_cast<unsigned char>(c))) {
      auto n = m_budget.node(Kind::number, at);
      n->text = number_digits();
      if (n->text.empty()) fail_at("expected a number", start);
      double v = 0;
      auto [end, ec] = std::from_chars(n->text.data(), n->text.data() + n->text.size(), v);
      if (ec != std::errc() || end != n->text.data() + n->text.size() || !std::isfinite(v)) fail_at("the number is out of range", start);
      return n;
    }
    const std::string_view word = peek_word();
    if (word.empty()) fail("expected a property name or a value");
    const std::string w = lower(word);
    if (w == "timestamp" || w == "date") {
      m_i += word.size();
      expect('(');
      const std::size_t s_at = (skip_space(), m_i);
      const std::string s = string_value();
      expect(')');
      auto n = m_budget.node(w == "date" ? Kind::date : Kind::timestamp, at);
      auto t = w == "date" ? date_text(s) : timestamp_text(s);
      if (!t) fail_at(w == "date" ? "DATE needs 'YYYY-MM-DD'" : "TIMESTAMP needs an RFC 3339 date-time", s_at);
      n->text = *t;
      return n;
    }
    if (w == "true" || w == "false") {
      m_i += word.size();
      auto n = m_budget.node(Kind::boolean, at);
      n->text = w;
      return n;
    }
    static const char* const kReserved[] = {"and", "or", "not", "like", "between", "in", "is", "null", "interval"};
    if (std::find(std::begin(kReserved), std::end(kReserved), w) != std::end(kReserved))
      fail("expected a property name or a value, found the keyword " + std::string(word));
    m_i += word.size();
    if (peek() == '(') fail_at("unknown function " + std::string(word), start);
    auto n = m_budget.node(Kind::property, at);
    n->text = std::string(word);
    return n;
  }
  // '...' with '' for a quote inside.
  std::string string_value() {
    skip_space();
    const std::size_t start = m_i;
    if (m_i >= m_s.size() || m_s[m_i] != '\'') fail("expected a string in single quotes");
    std::string out;
    ++m_i;
    for (;;) {
      if (m_i >= m_s.size()) fail_at("a string is not closed", start);
      const char c = m_s[m_i++];
      if (c == '\'') {
        if (m_i < m_s.size() && m_s[m_i] == '\'') {
          out += '\'';
          ++m_i;
          continue;
        }
        return out;
      }
      out += c;
    }
  }
};

// ---------------------------------------------------------------------------------------------
// CQL2 JSON

// Nesting of arrays and objects, outside strings, before nlohmann (which recurses) reads it.
int json_nesting(std::string_view s) {
  int depth = 0, worst = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      worst = std::max(worst, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return worst;
}

class JsonReader {
 public:
  explicit JsonReader(const Limits& limits) : m_budget(limits) {}

  Expr boolean_expression(const json& j, const std::string& at, int depth) {
    if (depth > m_budget.limits().max_depth)
      throw filter_error("the filter nests more than " + std::to_string(m_budget.limits().max_depth) + " levels", at);
    if (j.is_boolean()) {
      auto n = m_budget.node(Kind::boolean, at);
      n->text = j.get<bool>() ? "true" : "false";
      return n;
    }
    if (!j.is_object()) throw filter_error("expected a condition ({\"op\": ..., \"args\": [...]})", at);
    const auto op_it = j.find("op");
    const auto args_it = j.find("args");
    if (op_it == j.end() || !op_it->is_string()) throw filter_error("a condition needs \"op\"", at);
    if (args_it == j.end() || !args_it->is_array()) throw filter_error("a condition needs \"args\" (an array)", at);
    const std::string op = lower(op_it->get<std::string>());
    const json& args = *args_it;
    auto arg_at = [&](std::size_t i) { return at + "/args/" + std::to_string(i); };
    auto need = [&](std::size_t n) {
      if (args.size() != n) throw filter_error("\"" + op + "\" takes " + std::to_string(n) + " arguments", at + "/args");
    };
    if (op == "and" || op == "or") {
      if (args.size() < 2) throw filter_error("\"" + op + "\" takes at least 2 arguments", at + "/args");
      auto n = m_budget.node(op == "and" ? Kind::and_ : Kind::or_, at);
      for (std::size_t i = 0; i < args.size(); ++i) n->args.push_back(boolean_expression(args[i], arg_at(i), depth + 1));
      return n;
    }
    if (op == "not") {
      need(1);
      auto n = m_budget.node(Kind::not_, at);
      n->args.push_back(boolean_expression(args[0], arg_at(0), depth + 1));
      return n;
    }
    if (is_comparison(op) || op == "like") {
      need(2);
      auto n = m_budget.node(op == "like" ? Kind::like : Kind::compare, at);
      if (op != "like") n->op = op;
      n->args.push_back(scalar(args[0], arg_at(0)));
      n->args.push_back(scalar(args[1], arg_at(1)));
      return n;
    }
    if (op == "between") {
      need(3);
      auto n = m_budget.node(Kind::between, at);
      for (std::size_t i = 0; i < 3; ++i) n->args.push_back(scalar(args[i], arg_at(i)));
      return n;
    }
    if (op == "in") {
      need(2);
      if (!args[1].is_array() || args[1].empty()) throw filter_error("\"in\" takes a value and a non-empty array", arg_at(1));
      auto n = m_budget.node(Kind::in, at);
      n->args.push_back(scalar(args[0], arg_at(0)));
      for (std::size_t i = 0; i < args[1].size(); ++i) n->args.push_back(scalar(args[1][i], arg_at(1) + "/" + std::to_string(i)));
      return n;
    }
    if (op == "isnull") {
      need(1);
      auto n = m_budget.node(Kind::is_null, at);
      n->args.push_back(scalar(args[0], arg_at(0)));
      return n;
    }
    if (is_spatial(op) || is_temporal(op)) {
      need(2);
      auto n = m_budget.node(is_spatial(op) ? Kind::spatial : Kind::temporal, at);
      n->op = op;
      for (std::size_t i = 0; i < 2; ++i) n->args.push_back(scalar(args[i], arg_at(i)));
      return n;
    }
    throw filter_error("unsupported operator \"" + op + "\"", at + "/op");
  }

 private:
  Budget m_budget;

  Expr scalar(const json& j, const std::string& at) {
    if (j.is_string()) {
      auto n = m_budget.node(Kind::string, at);
      n->text = j.get<std::string>();
      return n;
    }
    if (j.is_number()) {
      auto n = m_budget.node(Kind::number, at);
      const double v = j.get<double>();
      if (!std::isfinite(v)) throw filter_error("the number is out of range", at);
      n->text = j.dump();
      return n;
    }
    if (j.is_boolean()) {
      auto n = m_budget.node(Kind::boolean, at);
      n->text = j.get<bool>() ? "true" : "false";
      return n;
    }
    if (!j.is_object()) throw filter_error("expected a value, a property or a geometry", at);
    if (auto p = j.find("property"); p != j.end()) {
      if (!p->is_string() || j.size() != 1) throw filter_error("\"property\" takes a name", at);
      auto n = m_budget.node(Kind::property, at);
      n->text = p->get<std::string>();
      return n;
    }
    if (auto t = j.find("timestamp"); t != j.end()) return instant(*t, at, false);
    if (auto d = j.find("date"); d != j.end()) return instant(*d, at, true);
    if (auto iv = j.find("interval"); iv != j.end()) {
      if (!iv->is_array() || iv->size() != 2) throw filter_error("\"interval\" takes two ends", at);
      auto n = m_budget.node(Kind::interval, at);
      for (std::size_t i = 0; i < 2; ++i) {
        const json& e = (*iv)[i];
        const std::string e_at = at + "/interval/" + std::to_string(i);
        if (e == "..") {
          n->args.push_back(m_budget.node(Kind::open, e_at));
        } else if (e.is_string()) {
          const std::string s = e;
          n->args.push_back(instant(e, e_at, s.size() == 10));
        } else {
          n->args.push_back(scalar(e, e_at));
        }
      }
      return n;
    }
    if (auto b = j.find("bbox"); b != j.end()) {
      if (!b->is_array() || b->size() != 4 || !std::all_of(b->begin(), b->end(), [](const json& v) { return v.is_number(); }))
        throw filter_error("\"bbox\" takes four numbers", at);
      auto n = m_budget.node(Kind::geometry, at);
      n->text = bbox_polygon((*b)[0], (*b)[1], (*b)[2], (*b)[3], at).dump();
      return n;
    }
    if (j.contains("type")) {
      check_geometry(j, m_budget, at, 0);
      auto n = m_budget.node(Kind::geometry, at);
      json g = {{"type", j["type"]}};  // only the members PostGIS reads
      if (j.contains("coordinates")) g["coordinates"] = j["coordinates"];
      if (j.contains("geometries")) g["geometries"] = j["geometries"];
      n->text = g.dump();
      return n;
    }
    throw filter_error("expected a value, a property or a geometry", at);
  }

  Expr instant(const json& j, const std::string& at, bool date) {
    if (!j.is_string()) throw filter_error(date ? "a date is a string" : "a timestamp is a string", at);
    auto t = date ? date_text(j.get<std::string>()) : timestamp_text(j.get<std::string>());
    if (!t) throw filter_error(date ? "a date is YYYY-MM-DD" : "a timestamp is an RFC 3339 date-time", at);
    auto n = m_budget.node(date ? Kind::date : Kind::timestamp, at);
    n->text = *t;
    return n;
  }
};

}  // namespace

filter_error::filter_error(const std::string& detail, const std::string& pos)
    : bad_request("invalid_filter", detail, problem_extra(pos)), position(pos) {}

Expr parse_text(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_length) throw filter_error("the filter is longer than " + std::to_string(limits.max_length) + " bytes", "0");
  return TextParser(text, limits).parse();
}

Expr parse_json(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_length) throw filter_error("the filter is longer than " + std::to_string(limits.max_length) + " bytes", "");
  if (json_nesting(text) > limits.max_depth * 2 + 8)
    throw filter_error("the filter nests more than " + std::to_string(limits.max_depth) + " levels", "");
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw filter_error("the filter is not JSON", "");
  return JsonReader(limits).boolean_expression(doc, "", 0);
}

Expr parse(std::string_view text, std::string_view lang, const Limits& limits) {
  // libpq ends a parameter at a NUL byte: a string holding one would be compared cut short.
  if (auto nul = text.find('\0'); nul != std::string_view::npos)
    throw filter_error("the filter holds a NUL character", lang == "cql2-json" ? "" : std::to_string(nul));
  // "cql-text" is the draft's name of the text encoding, which GDAL (3.6, hence QGIS through OGR)
  // still sends; what such clients write from an attribute filter (comparisons, LIKE, IN,
  // BETWEEN, IS NULL, AND/OR/NOT) reads the same in CQL2 text.
  if (lang.empty() || lang == "cql2-text" || lang == "cql-text") return parse_text(text, limits);
  if (lang == "cql2-json") return parse_json(text, limits);
  throw bad_request("invalid_parameter", "filter-lang is cql2-text or cql2-json", json({{"parameter", "filter-lang"}}).dump());
}

}  // namespace wangge::exchange::cql2
