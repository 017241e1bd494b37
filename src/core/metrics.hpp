// Process metrics in Prometheus' text exposition format (version 0.0.4), for GET /metrics.
//
// Two halves. Measuring happens on hot paths (every request, every tile): `Counter` and
// `Histogram` are sharded arrays of relaxed atomics, each thread adding to its own shard (a
// cache line apart from the others), so a request costs a few uncontended increments and never a
// lock. Reading happens once per scrape: owners register a collector that reads their values (and
// anything else worth a gauge: pool use, cache sizes) into a `Family`, and `render()` writes every
// family once, in name order, with one HELP and TYPE line each.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wangge::metrics {

// How many shards a counter is spread over; threads take them round robin.
inline constexpr std::size_t kShards = 16;
// This thread's shard, fixed for its life.
std::size_t this_shard();

// One number per shard, each in a cache line of its own.
class Counter {
 public:
  void add(std::uint64_t n = 1) { m_shards[this_shard()].value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const;

 private:
  struct alignas(64) Shard {
    std::atomic<std::uint64_t> value{0};
  };
  Shard m_shards[kShards];
};

// Upper bounds of latency buckets in seconds, from 0.5 ms (a cached tile) to 10 s (an export).
const std::vector<double>& latency_buckets();
// Upper bounds for loads and rebuilds, from 10 ms (a patch) to 5 min (a province's first load).
const std::vector<double>& rebuild_buckets();

// A histogram with fixed upper bounds (ascending; +Inf is implied).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double value);

  struct Totals {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Totals totals() const;
  const std::vector<double>& bounds() const { return m_bounds; }

 private:
  std::vector<double> m_bounds;
  std::size_t m_stride;  // atomics per shard: one per bucket (+Inf included) and the sum, padded to a cache line
  std::unique_ptr<std::atomic<std::uint64_t>[]> m_cells;
};

enum class Type { kCounter, kGauge, kHistogram };

// The samples of one metric family, as a collector writes them. `labels` is the text inside the
// braces, made with `label()`, e.g. label("route", "/v1/areas") + "," + label("status", "200").
class Family {
 public:
  void value(std::string_view labels, double v);
  void histogram(std::string_view labels, const Histogram::Totals& totals, const std::vector<double>& bounds);

 private:
  friend std::string render();
  Family(std::string name, std::string* out) : m_name(std::move(name)), m_out(out) {}
  std::string m_name;
  std::string* m_out;
};

// name="value" with the value escaped as the format asks (backslash, quote, newline).
std::string label(std::string_view name, std::string_view value);

// A registered collector; unregistered when destroyed (so no scrape reads what its owner freed).
class Registration {
 public:
  Registration() = default;
  explicit Registration(std::uint64_t id) : m_id(id) {}
  Registration(Registration&& o) noexcept : m_id(o.m_id) { o.m_id = 0; }
  Registration& operator=(Registration&& o) noexcept;
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration();

 private:
  std::uint64_t m_id = 0;
};

// Adds a collector of the family `name` (a counter's name ends in _total). Several collectors may
// add samples to one family (three listeners, one family); the first one's help and type stand.
[[nodiscard]] Registration add(std::string name, Type type, std::string help, std::function<void(Family&)> collect);

// Every registered family, in the text format.
std::string render();

// The Content-Type of render()'s text.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace wangge::metrics
