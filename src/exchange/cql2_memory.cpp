// CQL2 evaluated in memory: the same truth as the SQL that cql2_sql.cpp compiles, case by case.
#include "exchange/cql2_memory.hpp"

#include <algorithm>
#include <charconv>

#include "core/time.hpp"

namespace wangge::exchange::cql2 {

struct MemoryFilter::Op {
  enum class Kind { and_, or_, not_, constant, compare, like, in, between, is_null, property, literal };
  Kind kind = Kind::constant;
  std::string op;  // compare: = <> < <= > >=
  bool negated = false;
  std::vector<std::size_t> args;  // indices into m_ops
  std::size_t property = 0;       // property: index in the queryables
  bool truth = false;             // constant
  // literal: its value; the text is kept here and viewed on evaluation (an Op moves with m_ops)
  Value::Type type = Value::Type::null;
  std::string text;
  double number = 0;
  long long micros = 0;
  bool boolean = false;

  Value literal() const {
    Value v;
    v.type = type;
    v.text = text;
    v.number = number;
    v.micros = micros;
    v.boolean = boolean;
    return v;
  }
};

namespace {

using Op = MemoryFilter::Op;

// Bytes of the UTF-8 character that starts with `lead` (1 for a stray continuation byte, which
// the database's UTF-8 text never holds).
std::size_t char_length(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

Truth of(bool b) { return b ? Truth::true_ : Truth::false_; }
Truth negate(Truth t) { return t == Truth::unknown ? t : of(t == Truth::false_); }
// SQL's AND of two truth values.
Truth both(Truth a, Truth b) {
  if (a == Truth::false_ || b == Truth::false_) return Truth::false_;
  if (a == Truth::unknown || b == Truth::unknown) return Truth::unknown;
  return Truth::true_;
}

// -1, 0, 1; both values of the same non-null type (compile() checked the types).
int compare(const Value& a, const Value& b) {
  switch (a.type) {
    case Value::Type::text: {
      const int c = a.text.compare(b.text);  // char_traits<char> compares as unsigned char: byte order
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    case Value::Type::number:
      return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
    case Value::Type::datetime:
      return a.micros < b.micros ? -1 : a.micros > b.micros ? 1 : 0;
    case Value::Type::boolean:
      return a.boolean == b.boolean ? 0 : a.boolean ? 1 : -1;
    case Value::Type::null:
      break;
  }
  return 0;
}

Truth compare_op(const std::string& op, const Value& a, const Value& b) {
  if (a.type == Value::Type::null || b.type == Value::Type::null || a.type != b.type) return Truth::unknown;
  const int c = compare(a, b);
  if (op == "=") return of(c == 0);
  if (op == "<>") return of(c != 0);
  if (op == "<") return of(c < 0);
  if (op == "<=") return of(c <= 0);
  if (op == ">") return of(c > 0);
  return of(c >= 0);  // ">="
}

class Preparer {
 public:
  Preparer(const std::vector<Queryable>& queryables, std::vector<Op>& ops) : m_queryables(queryables), m_ops(ops) {}

  // The index of the prepared node, or std::nullopt when memory does not evaluate it.
  std::optional<std::size_t> condition(const Node& n) {
    switch (n.kind) {
      case Kind::and_:
      case Kind::or_:
      case Kind::not_: {
        std::vector<std::size_t> args;
        for (const auto& a : n.args) {
          auto i = condition(*a);
          if (!i) return std::nullopt;
          args.push_back(*i);
        }
        if (n.kind == Kind::not_ && args.size() != 1) return std::nullopt;
        Op op;
        op.kind = n.kind == Kind::and_ ? Op::Kind::and_ : n.kind == Kind::or_ ? Op::Kind::or_ : Op::Kind::not_;
        op.args = std::move(args);
        return add(std::move(op));
      }
      case Kind::boolean: {
        Op op;
        op.kind = Op::Kind::constant;
        op.truth = n.text == "true";
        return add(std::move(op));
      }
      case Kind::compare: {
        static const char* const kOps[] = {"=", "<>", "<", "<=", ">", ">="};
        if (n.args.size() != 2 || std::none_of(std::begin(kOps), std::end(kOps), [&](const char* o) { return n.op == o; }))
          return std::nullopt;
        return with_scalars(n, Op::Kind::compare);
      }
      case Kind::like: {
        // compile() allows a string literal pattern only.
        if (n.args.size() != 2 || n.args[1]->kind != Kind::string) return std::nullopt;
        return with_scalars(n, Op::Kind::like);
      }
      case Kind::in:
        if (n.args.size() < 2) return std::nullopt;
        return with_scalars(n, Op::Kind::in);
      case Kind::between:
        if (n.args.size() != 3) return std::nullopt;
        return with_scalars(n, Op::Kind::between);
      case Kind::is_null:
        if (n.args.size() != 1 || n.args[0]->kind != Kind::property) return std::nullopt;
        return with_scalars(n, Op::Kind::is_null);
      default:  // spatial and temporal functions, values where a condition belongs
        return std::nullopt;
    }
  }

 private:
  const std::vector<Queryable>& m_queryables;
  std::vector<Op>& m_ops;

  std::size_t add(Op op) {
    m_ops.push_back(std::move(op));
    return m_ops.size() - 1;
  }

  std::optional<std::size_t> with_scalars(const Node& n, Op::Kind kind) {
    Op op;
    op.kind = kind;
    op.op = n.op;
    op.negated = n.negated;
    for (const auto& a : n.args) {
      auto i = scalar(*a);
      if (!i) return std::nullopt;
      op.args.push_back(*i);
    }
    return add(std::move(op));
  }

  std::optional<std::size_t> scalar(const Node& n) {
    Op op;
    switch (n.kind) {
      case Kind::property: {
        auto it = std::find_if(m_queryables.begin(), m_queryables.end(), [&](const Queryable& q) { return q.name == n.text; });
        if (it == m_queryables.end() || it->type == Type::geometry) return std::nullopt;
        op.kind = Op::Kind::property;
        op.property = static_cast<std::size_t>(it - m_queryables.begin());
        return add(std::move(op));
      }
      case Kind::string:
        op.type = Value::Type::text;
        op.text = n.text;
        break;
      case Kind::number: {
        // What float8in reads from the same text (the parsers let only finite numbers through).
        double v = 0;
        auto [end, ec] = std::from_chars(n.text.data(), n.text.data() + n.text.size(), v);
        if (ec != std::errc() || end != n.text.data() + n.text.size()) return std::nullopt;
        op.type = Value::Type::number;
        op.number = v;
        break;
      }
      case Kind::timestamp:
      case Kind::date: {
        // Both are normalised by the parsers to RFC 3339 in UTC with at most microseconds; a date
        // is the start of its day in UTC, as ::timestamptz reads it with TimeZone UTC.
        auto t = parse_rfc3339(n.text.size() == 10 ? n.text + "T00:00:00Z" : n.text);
        if (!t) return std::nullopt;
        op.type = Value::Type::datetime;
        op.micros = *t;
        break;
      }
      case Kind::boolean:
        op.type = Value::Type::boolean;
        op.boolean = n.text == "true";
        break;
      default:
        return std::nullopt;
    }
    op.kind = Op::Kind::literal;
    return add(std::move(op));
  }
};

}  // namespace

bool like(std::string_view s, std::string_view p) {
  // Greedy with backtracking to the last %: linear in practice, never exponential.
  std::size_t si = 0, pi = 0;
  std::size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      const char c = p[pi];
      if (c == '%') {
        star_p = ++pi;
        star_s = si;
        continue;
      }
      if (c == '_') {
        si += char_length(static_cast<unsigned char>(s[si]));
        ++pi;
        continue;
      }
      std::size_t lit = pi;
      if (c == '\\' && pi + 1 < p.size()) lit = pi + 1;
      const std::size_t n = std::min(char_length(static_cast<unsigned char>(p[lit])), p.size() - lit);
      if (s.compare(si, n, p.substr(lit, n)) == 0 && si + n <= s.size()) {
        si += n;
        pi = lit + n;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    star_s += char_length(static_cast<unsigned char>(s[star_s]));
    si = star_s;
    pi = star_p;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

MemoryFilter::MemoryFilter() = default;
MemoryFilter::MemoryFilter(MemoryFilter&&) noexcept = default;
MemoryFilter& MemoryFilter::operator=(MemoryFilter&&) noexcept = default;
MemoryFilter::~MemoryFilter() = default;

std::optional<MemoryFilter> MemoryFilter::prepare(const Node& e, const std::vector<Queryable>& queryables) {
  MemoryFilter f;
  Preparer p(queryables, f.m_ops);
  auto root = p.condition(e);
  if (!root) return std::nullopt;
  // The root is the last node added; evaluation starts there.
  std::rotate(f.m_ops.begin(), f.m_ops.begin() + static_cast<std::ptrdiff_t>(*root), f.m_ops.end());
  const std::size_t shift = f.m_ops.size() - *root;  // where index 0 went
  for (auto& op : f.m_ops)
    for (auto& a : op.args) a = a >= *root ? a - *root : a + shift;
  return f;
}

namespace {

Value value_of(const std::vector<Op>& ops, std::size_t i, const Row& row) {
  const Op& op = ops[i];
  return op.kind == Op::Kind::property ? row.get(op.property) : op.literal();
}

Truth evaluate_at(const std::vector<Op>& ops, std::size_t i, const Row& row) {
  const Op& op = ops[i];
  switch (op.kind) {
    case Op::Kind::and_: {
      Truth t = Truth::true_;
      for (auto a : op.args) {
        t = both(t, evaluate_at(ops, a, row));
        if (t == Truth::false_) return t;
      }
      return t;
    }
    case Op::Kind::or_: {
      Truth t = Truth::false_;
      for (auto a : op.args) {
        t = negate(both(negate(t), negate(evaluate_at(ops, a, row))));
        if (t == Truth::true_) return t;
      }
      return t;
    }
    case Op::Kind::not_:
      return negate(evaluate_at(ops, op.args[0], row));
    case Op::Kind::constant:
      return of(op.truth);
    case Op::Kind::compare:
      return compare_op(op.op, value_of(ops, op.args[0], row), value_of(ops, op.args[1], row));
    case Op::Kind::like: {
      const Value v = value_of(ops, op.args[0], row);
      const Value p = value_of(ops, op.args[1], row);
      if (v.type != Value::Type::text || p.type != Value::Type::text) return Truth::unknown;
      return of(like(v.text, p.text) != op.negated);
    }
    case Op::Kind::in: {
      const Value v = value_of(ops, op.args[0], row);
      // x IN (a, b) is x = a OR x = b.
      Truth t = Truth::false_;
      for (std::size_t k = 1; k < op.args.size() && t != Truth::true_; ++k)
        t = negate(both(negate(t), negate(compare_op("=", v, value_of(ops, op.args[k], row)))));
      return op.negated ? negate(t) : t;
    }
    case Op::Kind::between: {
      // x BETWEEN a AND b is x >= a AND x <= b.
      const Value v = value_of(ops, op.args[0], row);
      const Truth t = both(compare_op(">=", v, value_of(ops, op.args[1], row)), compare_op("<=", v, value_of(ops, op.args[2], row)));
      return op.negated ? negate(t) : t;
    }
    case Op::Kind::is_null:
      return of((value_of(ops, op.args[0], row).type == Value::Type::null) != op.negated);
    case Op::Kind::property:
    case Op::Kind::literal:
      break;
  }
  return Truth::unknown;
}

}  // namespace

Truth MemoryFilter::evaluate(const Row& row) const { return evaluate_at(m_ops, 0, row); }

std::string MemoryFilter::required_prefix(std::size_t property) const {
  std::string best;
  auto consider = [&](const Op& op) {
    if (op.args.size() != 2 || op.negated) return;
    const Op& a = m_ops[op.args[0]];
    const Op& b = m_ops[op.args[1]];
    if (a.kind != Op::Kind::property || a.property != property || b.kind != Op::Kind::literal || b.type != Value::Type::text) return;
    std::string prefix;
    if (op.kind == Op::Kind::compare && op.op == "=") {
      prefix = b.text;
    } else if (op.kind == Op::Kind::like) {
      prefix = b.text.substr(0, b.text.find_first_of("%_\\"));
    }
    if (prefix.size() > best.size()) best = std::move(prefix);
  };
  const Op& root = m_ops[0];
  if (root.kind == Op::Kind::and_) {
    for (auto a : root.args) consider(m_ops[a]);
  } else {
    consider(root);
  }
  return best;
}

}  // namespace wangge::exchange::cql2
