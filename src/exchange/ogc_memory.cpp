// OGC items pages from the area cache: selection on a per-snapshot index, and the page text written
// column by column as ogc.cpp writes the SQL path's rows.
#include "exchange/ogc_memory.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "core/log.hpp"
#include "exchange/layers.hpp"
#include "registry/codes.hpp"

namespace wangge::exchange::ogc {
namespace {

using registry::AreaEntry;
using registry::AreaSnapshot;

// The area queryables a row answers, by name (their order in queryables() is the Row's index).
enum class Field { code, name, level, parent, households, population, version, valid_from, valid_to, changed_by, none };

const std::vector<Field>& fields_by_queryable() {
  static const std::vector<Field> fields = [] {
    std::vector<Field> out;
    for (const auto& q : queryables(LayerKind::areas)) {
      const std::string& n = q.name;
      out.push_back(n == "code"         ? Field::code
                    : n == "name"       ? Field::name
                    : n == "level"      ? Field::level
                    : n == "parent"     ? Field::parent
                    : n == "households" ? Field::households
                    : n == "population" ? Field::population
                    : n == "version"    ? Field::version
                    : n == "valid_from" ? Field::valid_from
                    : n == "valid_to"   ? Field::valid_to
                    : n == "changed_by" ? Field::changed_by
                                        : Field::none);
    }
    return out;
  }();
  return fields;
}

cql2::Value text(std::string_view s) {
  cql2::Value v;
  v.type = cql2::Value::Type::text;
  v.text = s;
  return v;
}

cql2::Value integer(std::string_view digits) {
  cql2::Value v;
  long long n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return v;  // NULL
  v.type = cql2::Value::Type::number;
  v.number = static_cast<double>(n);
  return v;
}

cql2::Value field_value(const AreaEntry& e, Field f) {
  cql2::Value v;
  switch (f) {
    case Field::code:
      return text(e.code);
    case Field::name:
      return text(e.name);
    case Field::level:
      return text(e.level);
    case Field::parent:
      return e.has_parent ? text(e.parent) : v;
    case Field::households:
      return integer(e.households);
    case Field::population:
      return integer(e.population);
    case Field::version:
      v.type = cql2::Value::Type::number;
      v.number = static_cast<double>(e.version);
      return v;
    case Field::valid_from:
      v.type = cql2::Value::Type::datetime;
      v.micros = e.valid_from_us;
      return v;
    case Field::changed_by:
      return text(e.changed_by);
    case Field::valid_to:  // a current version has none
    case Field::none:
      break;
  }
  return v;
}

class EntryRow : public cql2::Row {
 public:
  explicit EntryRow(const AreaEntry& e) : m_e(e) {}
  cql2::Value get(std::size_t property) const override {
    const auto& fields = fields_by_queryable();
    return property < fields.size() ? field_value(m_e, fields[property]) : cql2::Value{};
  }

 private:
  const AreaEntry& m_e;
};

// ORDER BY's order of two values of one column: NULLs last ascending, first descending (PostgreSQL's
// defaults), then by value.
int order_of(const cql2::Value& a, const cql2::Value& b) {
  const bool an = a.type == cql2::Value::Type::null, bn = b.type == cql2::Value::Type::null;
  if (an || bn) return an == bn ? 0 : an ? 1 : -1;
  switch (a.type) {
    case cql2::Value::Type::text: {
      const int c = a.text.compare(b.text);
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    case cql2::Value::Type::number:
      return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
    case cql2::Value::Type::datetime:
      return a.micros < b.micros ? -1 : a.micros > b.micros ? 1 : 0;
    default:
      return 0;
  }
}

bool by_code(const AreaEntry* a, const AreaEntry* b) { return a->code < b->code; }

std::shared_ptr<const MemoryIndex> build_whole(std::shared_ptr<const AreaSnapshot> snapshot) {
  auto index = std::make_shared<MemoryIndex>();
  std::unordered_map<std::string, MemoryIndex::Level> levels;
  for (const auto& shard : snapshot->shards)
    for (const auto& [code, e] : *shard) levels[e->level].push_back(e.get());
  for (auto& [level, list] : levels) {
    std::sort(list.begin(), list.end(), by_code);
    index->levels.emplace(level, std::make_shared<const MemoryIndex::Level>(std::move(list)));
  }
  index->snapshot = std::move(snapshot);
  return index;
}

// The index range of the codes that start with `prefix`.
std::pair<std::size_t, std::size_t> prefix_range(const MemoryIndex::Level& list, const std::string& prefix) {
  const auto lo =
      std::partition_point(list.begin(), list.end(), [&](const AreaEntry* e) { return e->code.compare(0, prefix.size(), prefix) < 0; });
  const auto hi = std::partition_point(lo, list.end(), [&](const AreaEntry* e) { return e->code.compare(0, prefix.size(), prefix) <= 0; });
  return {static_cast<std::size_t>(lo - list.begin()), static_cast<std::size_t>(hi - list.begin())};
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

std::shared_ptr<const MemoryIndex> build_memory_index(std::shared_ptr<const AreaSnapshot> snapshot,
                                                      const std::shared_ptr<const MemoryIndex>& previous) {
  // A registry write changes a few shards; the index then follows them in about a millisecond
  // (copying the touched levels' pointers), where a whole build sorts every area again (about
  // 0.3 s at province scale).
  constexpr std::size_t kMaxPatchedShards = 64;
  if (!previous || !previous->snapshot || previous->snapshot->shards.size() != snapshot->shards.size()) return build_whole(snapshot);
  const AreaSnapshot& before = *previous->snapshot;
  std::vector<std::size_t> changed;
  for (std::size_t k = 0; k < snapshot->shards.size(); ++k)
    if (snapshot->shards[k] != before.shards[k]) changed.push_back(k);
  if (changed.size() > kMaxPatchedShards) return build_whole(snapshot);
  std::vector<const AreaEntry*> removed, added;
  for (std::size_t k : changed) {
    const auto& old_shard = *before.shards[k];
    const auto& new_shard = *snapshot->shards[k];
    for (const auto& [code, e] : old_shard) {
      auto it = new_shard.find(code);
      if (it == new_shard.end() || it->second != e) removed.push_back(e.get());
    }
    for (const auto& [code, e] : new_shard) {
      auto it = old_shard.find(code);
      if (it == old_shard.end() || it->second != e) added.push_back(e.get());
    }
  }
  auto index = std::make_shared<MemoryIndex>();
  index->levels = previous->levels;  // untouched levels are shared
  std::unordered_map<std::string, MemoryIndex::Level> touched;
  auto level = [&](const std::string& name) -> MemoryIndex::Level& {
    auto it = touched.find(name);
    if (it == touched.end()) {
      auto old = index->levels.find(name);
      it = touched.emplace(name, old == index->levels.end() ? MemoryIndex::Level{} : *old->second).first;
    }
    return it->second;
  };
  for (const AreaEntry* e : removed) {
    auto& list = level(e->level);
    auto it = std::lower_bound(list.begin(), list.end(), e, by_code);
    if (it != list.end() && *it == e) list.erase(it);
  }
  for (const AreaEntry* e : added) {
    auto& list = level(e->level);
    list.insert(std::lower_bound(list.begin(), list.end(), e, by_code), e);
  }
  for (auto& [name, list] : touched) index->levels[name] = std::make_shared<const MemoryIndex::Level>(std::move(list));
  index->snapshot = std::move(snapshot);
  return index;
}

std::shared_ptr<const MemoryIndex> MemoryPages::index() {
  auto snapshot = m_cache.current();
  auto index = m_index.load();
  if (index && index->snapshot == snapshot) return index;
  std::unique_lock lock(m_build, std::try_to_lock);
  if (!lock.owns_lock()) return nullptr;
  index = m_index.load();  // built meanwhile by the request that held the lock?
  if (index && index->snapshot == snapshot) return index;
  const auto t0 = std::chrono::steady_clock::now();
  const bool whole = !index;
  auto next = build_memory_index(snapshot, index);
  m_index.store(next);
  if (whole) {
    std::size_t areas = 0;
    for (const auto& [level, list] : next->levels) areas += list->size();
    char msg[120];
    std::snprintf(msg, sizeof msg, "OGC memory index built: %zu areas in %.3f s", areas,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    log::info(msg);
  }
  return next;
}

std::optional<MemorySelection> MemoryPages::select(const MemoryQuery& q) {
  // Read-your-writes: a write of this process is in the snapshot before its answer went, unless
  // its refresh failed; then the database answers until the change has arrived.
  if (!m_cache.ready() || !m_cache.complete()) return std::nullopt;
  auto index = this->index();
  if (!index) return std::nullopt;
  MemorySelection out;
  out.index = index;
  auto it = index->levels.find(q.level);
  if (it == index->levels.end()) return out;
  const MemoryIndex::Level& list = *it->second;

  // The rows in scope start with the scope's prefix, and those a filter keeps may start with a
  // longer one: scan the range of the longer, check the other on each row.
  std::string scope_prefix = q.scope ? registry::code_prefix(*q.scope) : std::string();
  std::string filter_prefix;
  if (q.filter) {
    const auto& qs = queryables(LayerKind::areas);
    const auto code = std::find_if(qs.begin(), qs.end(), [](const cql2::Queryable& x) { return x.name == "code"; });
    filter_prefix = q.filter->required_prefix(static_cast<std::size_t>(code - qs.begin()));
  }
  const std::string& scan = filter_prefix.size() > scope_prefix.size() ? filter_prefix : scope_prefix;
  const auto [lo, hi] = prefix_range(list, scan);

  std::vector<const AreaEntry*> matches;
  const bool sorted = !q.sort.empty();
  const long long end = q.offset + q.limit;
  long long matched = 0;
  for (std::size_t i = lo; i < hi; ++i) {
    const AreaEntry* e = list[i];
    if (!starts_with(e->code, scope_prefix)) continue;
    if (q.filter && !q.filter->matches(EntryRow(*e))) continue;
    if (sorted) {
      matches.push_back(e);
    } else if (matched >= q.offset && matched < end) {
      out.rows.push_back(e);
    }
    ++matched;
  }
  out.matched = matched;
  if (sorted) {
    const auto& fields = fields_by_queryable();
    // The list is in code order, and the code is the last key of the SQL's ORDER BY: a stable
    // sort by the keys keeps it.
    auto less = [&](const AreaEntry* a, const AreaEntry* b) {
      for (const auto& [property, desc] : q.sort) {
        const Field f = property < fields.size() ? fields[property] : Field::none;
        int c = order_of(field_value(*a, f), field_value(*b, f));
        if (desc) c = -c;
        if (c != 0) return c < 0;
      }
      return false;
    };
    const auto keep = static_cast<std::size_t>(std::min<long long>(end, static_cast<long long>(matches.size())));
    if (keep < matches.size() / 4) {
      // A first page of many: order only what the page needs (the code breaks ties, so this is
      // the stable order).
      auto with_code = [&](const AreaEntry* a, const AreaEntry* b) {
        if (less(a, b)) return true;
        if (less(b, a)) return false;
        return a->code < b->code;
      };
      std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(keep), matches.end(), with_code);
    } else {
      std::stable_sort(matches.begin(), matches.end(), less);
    }
    for (long long i = q.offset; i < end && i < static_cast<long long>(matches.size()); ++i)
      out.rows.push_back(matches[static_cast<std::size_t>(i)]);
  }
  // A feature whose geometry was not found in its text (never for wg_area_feature's) is the database's to write.
  for (const AreaEntry* e : out.rows)
    if (e->geometry_length == 0) return std::nullopt;
  return out;
}

void append_flipped(std::string& out, std::string_view g) {
  std::size_t i = 0;
  while (i < g.size()) {
    const char c = g[i];
    if (c == '[' && i + 1 < g.size() && (g[i + 1] == '-' || (g[i + 1] >= '0' && g[i + 1] <= '9'))) {
      // A position: [x,y] or [x,y,z].
      const std::size_t close = g.find(']', i);
      const std::size_t comma = g.find(',', i);
      if (close == std::string_view::npos || comma == std::string_view::npos || comma > close) {
        out.append(g.substr(i));
        return;
      }
      const std::size_t second_end = std::min(g.find(',', comma + 1), close);
      out += '[';
      out.append(g.substr(comma + 1, second_end - comma - 1));
      out += ',';
      out.append(g.substr(i + 1, comma - i - 1));
      out.append(g.substr(second_end, close - second_end));  // ",z" if any
      out += ']';
      i = close + 1;
      continue;
    }
    out += c;
    ++i;
  }
}

Page write_memory_page(pg::Connection& conn, const MemorySelection& selection, bool lat_first) {
  Page page;
  page.matched = selection.matched;
  page.returned = static_cast<long long>(selection.rows.size());
  std::unordered_map<std::string, std::string> workers;
  if (!selection.rows.empty()) {
    // Assignments are not in the area cache: one statement for the page, through the index by grid.
    std::string codes = "{";
    for (const AreaEntry* e : selection.rows) {
      if (codes.size() > 1) codes += ',';
      codes += '"';
      for (char ch : e->code) {
        if (ch == '"' || ch == '\\') codes += '\\';
        codes += ch;
      }
      codes += '"';
    }
    codes += '}';
    auto r = conn.exec_prepared("ogc.memory_workers",
                                "SELECT grid_code, count(*) FROM worker_assignments WHERE grid_code = ANY($1::text[]) "
                                "AND unassigned_at IS NULL GROUP BY grid_code",
                                {codes});
    for (int i = 0; i < r.rows(); ++i) workers.emplace(r.str(i, 0), r.str(i, 1));
  }
  std::size_t bytes = 2;
  for (const AreaEntry* e : selection.rows) bytes += 400 + e->geometry_length + e->name.size() + e->attributes.size();
  page.features.reserve(bytes);
  std::string& out = page.features;
  out = "[";
  auto string_field = [&](const char* name, std::string_view value) {
    out += ",\"";
    out += name;
    out += "\":\"";
    log::append_json_escaped(out, value);
    out += '"';
  };
  auto integer_field = [&](const char* name, std::string_view digits) {
    out += ",\"";
    out += name;
    out += "\":";
    out.append(digits.empty() ? std::string_view("null") : digits);
  };
  for (std::size_t i = 0; i < selection.rows.size(); ++i) {
    const AreaEntry& e = *selection.rows[i];
    if (i) out += ',';
    out += "{\"type\":\"Feature\",\"id\":";
    out += std::to_string(e.id);
    out += ",\"geometry\":";
    const std::string_view geometry = std::string_view(e.feature).substr(e.geometry_at, e.geometry_length);
    if (lat_first) {
      append_flipped(out, geometry);
    } else {
      out.append(geometry);
    }
    // The fields of layer_fields(LayerKind::areas), in order.
    out += ",\"properties\":{\"code\":\"";
    log::append_json_escaped(out, e.code);
    out += '"';
    string_field("name", e.name);
    string_field("level", e.level);
    if (e.has_parent) {
      string_field("parent", e.parent);
    } else {
      out += ",\"parent\":null";
    }
    auto w = workers.find(e.code);
    integer_field("workers", w == workers.end() ? std::string_view("0") : std::string_view(w->second));
    integer_field("households", e.households);
    integer_field("population", e.population);
    integer_field("version", std::to_string(e.version));
    string_field("valid_from", e.valid_from);
    out += ",\"valid_to\":null";
    string_field("changed_by", e.changed_by);
    string_field("attributes", e.attributes);
    out += "}}";
  }
  out += ']';
  return page;
}

}  // namespace wangge::exchange::ogc
