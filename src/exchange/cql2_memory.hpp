// CQL2 filters evaluated on rows in memory, with the semantics of their SQL compilation
// (cql2_sql.cpp) in a database without locale (C collation, UTF-8, TimeZone UTC): SQL's three
// truth values (a comparison with a NULL is unknown, and WHERE keeps true only), strings compared
// byte by byte, numbers as float8, LIKE with % and _ (one character, not one byte) and backslash
// escapes, case-sensitive. What memory does not evaluate (the spatial and temporal functions) is
// refused up front, so the caller asks the database instead.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exchange/cql2.hpp"

namespace wangge::exchange::cql2 {

// A property's value in a row, or a literal.
struct Value {
  enum class Type { null, text, number, datetime, boolean };
  Type type = Type::null;
  std::string_view text;  // text
  double number = 0;      // number (integer columns compared as float8, as SQL does)
  long long micros = 0;   // datetime: microseconds since 1970 in UTC
  bool boolean = false;
};

// The properties of one row, by their index in the queryables given to MemoryFilter::prepare.
class Row {
 public:
  virtual ~Row() = default;
  virtual Value get(std::size_t property) const = 0;
};

enum class Truth { false_, true_, unknown };

// LIKE as PostgreSQL evaluates it on UTF-8 text: % any characters, _ one character, backslash
// makes the next character literal.
bool like(std::string_view text, std::string_view pattern);

class MemoryFilter {
 public:
  // A filter already checked by compile() against the same queryables. std::nullopt when it holds
  // what memory does not evaluate (spatial or temporal functions, a geometry).
  static std::optional<MemoryFilter> prepare(const Node& e, const std::vector<Queryable>& queryables);

  Truth evaluate(const Row& row) const;
  bool matches(const Row& row) const { return evaluate(row) == Truth::true_; }

  // A text every kept row's value of `property` starts with, from a top-level conjunct
  // `p LIKE 'abc%'` (its literal start) or `p = 'abc'`: a range of an index sorted by that property.
  // Empty when there is none; of several, the longest (the rows in its range are still evaluated).
  std::string required_prefix(std::size_t property) const;

  struct Op;  // the prepared tree (cql2_memory.cpp)
  MemoryFilter(const MemoryFilter&) = delete;
  MemoryFilter& operator=(const MemoryFilter&) = delete;
  MemoryFilter(MemoryFilter&&) noexcept;
  MemoryFilter& operator=(MemoryFilter&&) noexcept;
  ~MemoryFilter();

 private:
  MemoryFilter();
  std::vector<Op> m_ops;  // m_ops[0] is the root; children are indices into m_ops
};

}  // namespace wangge::exchange::cql2
