// Incremental updates of an area layer: the next layer from the one before and only the changed
// areas, sharing every unchanged chunk, arc and index node (see Topology::patch for why it draws
// exactly what a full load would).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tiles/tile_data.hpp"

namespace wangge::tiles {

// The next layer from `prev` and the changed areas of its level (`retire`: live slots whose code
// is no longer current here). `boxes` gets what tiles must be dropped: old and new extents of the
// changed features, and the extents of unchanged neighbours whose arcs were re-cut (their number
// in `recut_count`).
std::shared_ptr<AreaLayer> patch_layer(const AreaLayer& prev, std::vector<ChangedArea>& changed, const std::vector<std::uint32_t>& retire,
                                       std::vector<Box>& boxes, std::size_t& recut_count);

// The codes whose features count a grid's workers and cases: the grid's own and its ancestors'
// (county codes pad with zeros above the county: 330000 province, 330500 city), plus any longer
// code given (a micro-grid).
std::vector<std::string> counting_codes(const std::string& grid);

}  // namespace wangge::tiles
