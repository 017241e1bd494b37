#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>

namespace wangge::metrics {
namespace {

std::atomic<std::size_t> g_next_shard{0};

struct Collector {
  std::string name;
  Type type;
  std::string help;
  std::function<void(Family&)> collect;
};

struct Collectors {
  std::mutex mutex;
  std::uint64_t next_id = 1;
  std::map<std::uint64_t, Collector> by_id;
};

Collectors& collectors() {
  static Collectors c;  // never destroyed before a Registration that outlives main's locals
  return c;
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) return void(out += "NaN");
  if (std::isinf(v)) return void(out += v > 0 ? "+Inf" : "-Inf");
  char buf[40];
  // Whole numbers (counts) exactly; others with enough digits to tell a millisecond from the next.
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.9g", v);
  out += buf;
}

const char* type_name(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// HELP text escapes only the backslash and the newline.
std::string help_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::size_t this_shard() {
  thread_local const std::size_t shard = g_next_shard.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

std::uint64_t Counter::value() const {
  std::uint64_t total = 0;
  for (const auto& s : m_shards) total += s.value.load(std::memory_order_relaxed);
  return total;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> b = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}

const std::vector<double>& rebuild_buckets() {
  static const std::vector<double> b = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  return b;
}

Histogram::Histogram(const std::vector<double>& bounds) : m_bounds(bounds) {
  // Buckets, +Inf and the sum (in nanounits, so it stays an integer atomic), rounded up to whole
  // cache lines so that two shards never share one.
  const std::size_t cells = m_bounds.size() + 2;
  m_stride = (cells + 7) / 8 * 8;
  m_cells = std::make_unique<std::atomic<std::uint64_t>[]>(m_stride * kShards);
  for (std::size_t i = 0; i < m_stride * kShards; ++i) m_cells[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  std::atomic<std::uint64_t>* shard = &m_cells[this_shard() * m_stride];
  const std::size_t bucket = static_cast<std::size_t>(std::lower_bound(m_bounds.begin(), m_bounds.end(), value) - m_bounds.begin());
  shard[bucket].fetch_add(1, std::memory_order_relaxed);
  const double nano = std::max(0.0, value) * 1e9;
  shard[m_bounds.size() + 1].fetch_add(static_cast<std::uint64_t>(nano), std::memory_order_relaxed);
}

Histogram::Totals Histogram::totals() const {
  Totals t;
  const std::size_t buckets = m_bounds.size() + 1;
  std::vector<std::uint64_t> per(buckets, 0);
  std::uint64_t nano = 0;
  for (std::size_t s = 0; s < kShards; ++s) {
    const std::atomic<std::uint64_t>* shard = &m_cells[s * m_stride];
    for (std::size_t b = 0; b < buckets; ++b) per[b] += shard[b].load(std::memory_order_relaxed);
    nano += shard[buckets].load(std::memory_order_relaxed);
  }
  std::uint64_t running = 0;
  for (auto n : per) t.cumulative.push_back(running += n);
  t.count = running;
  t.sum = static_cast<double>(nano) / 1e9;
  return t;
}

std::string label(std::string_view name, std::string_view value) {
  std::string out(name);
  out += "=\"";
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  out += '"';
  return out;
}

void Family::value(std::string_view labels, double v) {
  std::string& o = *m_out;
  o += m_name;
  if (!labels.empty()) o += '{', o += labels, o += '}';
  o += ' ';
  append_number(o, v);
  o += '\n';
}

void Family::histogram(std::string_view labels, const Histogram::Totals& totals, const std::vector<double>& bounds) {
  std::string& o = *m_out;
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    o += m_name, o += "_bucket{", o += labels, o += sep, o += "le=\"";
    append_number(o, i < bounds.size() ? bounds[i] : INFINITY);
    o += "\"} ";
    append_number(o, static_cast<double>(totals.cumulative[i]));
    o += '\n';
  }
  o += m_name, o += "_sum";
  if (!labels.empty()) o += '{', o += labels, o += '}';
  o += ' ';
  append_number(o, totals.sum);
  o += '\n';
  o += m_name, o += "_count";
  if (!labels.empty()) o += '{', o += labels, o += '}';
  o += ' ';
  append_number(o, static_cast<double>(totals.count));
  o += '\n';
}

Registration& Registration::operator=(Registration&& o) noexcept {
  if (this != &o) {
    this->~Registration();
    m_id = o.m_id;
    o.m_id = 0;
  }
  return *this;
}

Registration::~Registration() {
  if (m_id == 0) return;
  auto& c = collectors();
  std::lock_guard lock(c.mutex);
  c.by_id.erase(m_id);
}

Registration add(std::string name, Type type, std::string help, std::function<void(Family&)> collect) {
  auto& c = collectors();
  std::lock_guard lock(c.mutex);
  const std::uint64_t id = c.next_id++;
  c.by_id.emplace(id, Collector{std::move(name), type, std::move(help), std::move(collect)});
  return Registration(id);
}

std::string render() {
  auto& c = collectors();
  // Held while collecting: an owner's Registration cannot be destroyed (its data freed) meanwhile.
  std::lock_guard lock(c.mutex);
  std::map<std::string, std::vector<const Collector*>> by_name;
  for (const auto& [id, collector] : c.by_id) by_name[collector.name].push_back(&collector);
  std::string out;
  out.reserve(64 * 1024);
  for (const auto& [name, list] : by_name) {
    out += "# HELP " + name + " " + help_text(list.front()->help) + "\n";
    out += "# TYPE " + name + " " + type_name(list.front()->type) + "\n";
    Family family(name, &out);
    for (const Collector* one : list) one->collect(family);
  }
  return out;
}

}  // namespace wangge::metrics
