// The R-tree the tile layers index their features with (Boost.Geometry, mercator metres), shared
// between snapshots.
#pragma once

// Boost 1.74's geometry headers include headers Boost itself has deprecated (no_exceptions_support
// and the like), and each prints a "#pragma message" note in every translation unit: they read as
// warnings of ours in a clean build, though they are Boost's internals and not ours to replace.
#ifndef BOOST_ALLOW_DEPRECATED_HEADERS
#define BOOST_ALLOW_DEPRECATED_HEADERS
#endif
#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>
#include <cstdint>
#include <memory>
#include <utility>

#include "tiles/tile_math.hpp"

namespace wangge::tiles {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;
using BgPoint = bg::model::point<double, 2, bg::cs::cartesian>;
using BgBox = bg::model::box<BgPoint>;
using Entry = std::pair<BgBox, std::uint32_t>;  // a feature's box and its slot
using Rtree = bgi::rtree<Entry, bgi::rstar<16>>;

inline BgBox to_bg(const Box& b) { return BgBox(BgPoint(b.minx, b.miny), BgPoint(b.maxx, b.maxy)); }

// An R-tree that snapshot copies share (copying the tree of 1.3 million streets would take longer
// than the whole incremental update of a layer). mutable_tree() copies it first unless this one
// alone holds it.
class SharedRtree {
 public:
  SharedRtree() : m_tree(std::make_shared<Rtree>()) {}
  template <class It>
  SharedRtree(It first, It last) : m_tree(std::make_shared<Rtree>(first, last)) {}
  template <class Predicate>
  auto qbegin(const Predicate& p) const {
    return static_cast<const Rtree&>(*m_tree).qbegin(p);
  }
  auto qend() const { return static_cast<const Rtree&>(*m_tree).qend(); }
  template <class Predicate, class Out>
  auto query(const Predicate& p, Out out) const {
    return static_cast<const Rtree&>(*m_tree).query(p, out);
  }
  auto bounds() const { return m_tree->bounds(); }
  Rtree& mutable_tree() {
    if (m_tree.use_count() > 1) m_tree = std::make_shared<Rtree>(*m_tree);
    return *m_tree;
  }

 private:
  std::shared_ptr<Rtree> m_tree;
};

}  // namespace wangge::tiles
