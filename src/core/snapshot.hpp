// An immutable value that is replaced whole: readers take a shared_ptr once (per request, per
// lookup) and keep it, so they never wait for a writer and never see half of a change; a writer
// builds the next value aside and swaps it in. Whoever needs writers to build one after another
// (read-modify-swap) holds a mutex of its own around that; readers never need one.
#pragma once

#include <atomic>
#include <memory>
#include <utility>

namespace wangge {

template <typename T>
class Snapshot {
 public:
  Snapshot() = default;
  explicit Snapshot(std::shared_ptr<const T> initial) : m_value(std::move(initial)) {}
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // The current value (null until the first store unless constructed with one).
  std::shared_ptr<const T> load() const { return m_value.load(std::memory_order_acquire); }
  void store(std::shared_ptr<const T> next) { m_value.store(std::move(next), std::memory_order_release); }
  // Stores `next` and returns the value it replaced.
  std::shared_ptr<const T> exchange(std::shared_ptr<const T> next) { return m_value.exchange(std::move(next), std::memory_order_acq_rel); }

 private:
  std::atomic<std::shared_ptr<const T>> m_value;
};

}  // namespace wangge
