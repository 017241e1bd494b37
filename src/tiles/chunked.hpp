// A vector in fixed-size chunks that copies share: copying one is copying a few hundred pointers,
// and changing an element copies only its chunk (copy on write). Tile layers are immutable
// snapshots of 450,000 features swapped on every registry change; with this the next snapshot
// shares everything unchanged with the one readers are still drawing from.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace wangge::tiles {

template <class T, std::size_t Bits = 8>
class Chunked {
 public:
  static constexpr std::size_t kChunk = std::size_t{1} << Bits;

  std::size_t size() const { return m_size; }
  bool empty() const { return m_size == 0; }
  const T& operator[](std::size_t i) const { return (*m_chunks[i >> Bits])[i & (kChunk - 1)]; }

  void reserve(std::size_t n) { m_chunks.reserve((n + kChunk - 1) / kChunk); }
  void push_back(T value) {
    if (m_size % kChunk == 0) {
      m_chunks.push_back(std::make_shared<std::vector<T>>());
      m_chunks.back()->reserve(kChunk);
    }
    own(m_chunks.size() - 1).push_back(std::move(value));
    ++m_size;
  }
  // The element to change in place: its chunk is copied first unless this vector alone holds it.
  T& mutable_at(std::size_t i) { return own(i >> Bits)[i & (kChunk - 1)]; }

 private:
  // A use count of one means no other vector (and so no reader of a published snapshot) can reach
  // the chunk: changing it in place is safe. Otherwise it is copied.
  std::vector<T>& own(std::size_t c) {
    if (m_chunks[c].use_count() > 1) {
      auto copy = std::make_shared<std::vector<T>>();
      copy->reserve(kChunk);
      copy->assign(m_chunks[c]->begin(), m_chunks[c]->end());
      m_chunks[c] = std::move(copy);
    }
    return *m_chunks[c];
  }

  std::vector<std::shared_ptr<std::vector<T>>> m_chunks;
  std::size_t m_size = 0;
};

}  // namespace wangge::tiles
