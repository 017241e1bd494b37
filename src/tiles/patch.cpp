#include "tiles/patch.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace wangge::tiles {

std::shared_ptr<AreaLayer> patch_layer(const AreaLayer& prev, std::vector<ChangedArea>& changed, const std::vector<std::uint32_t>& retire,
                                       std::vector<Box>& boxes, std::size_t& recut_count) {
  auto next = std::make_shared<AreaLayer>(prev);
  std::vector<Topology::Change> changes;
  std::vector<std::pair<std::uint32_t, Feature>> put;
  std::shared_ptr<std::map<std::string, std::uint32_t>> added;
  std::size_t slots = prev.features.size();
  for (auto& area : changed) {
    std::uint32_t slot;
    if (auto found = prev.find(area.feature.code)) {
      slot = *found;
    } else {
      if (!added) added = std::make_shared<std::map<std::string, std::uint32_t>>(*prev.added);
      slot = static_cast<std::uint32_t>(slots++);
      added->emplace(area.feature.code, slot);
    }
    changes.push_back({slot, std::move(area.shape)});
    put.emplace_back(slot, std::move(area.feature));
  }
  for (std::uint32_t slot : retire) {
    changes.push_back({slot, {}});
    Feature dead = prev.features[slot];
    dead.live = false;
    put.emplace_back(slot, std::move(dead));
  }
  std::vector<std::size_t> recut;
  next->topo = prev.topo.patch(
      changes,
      [&prev](const Box& b, std::vector<std::size_t>& out) {
        for (auto it = prev.index.qbegin(bgi::intersects(to_bg(b))); it != prev.index.qend(); ++it) out.push_back(it->second);
      },
      recut);
  Rtree& tree = next->index.mutable_tree();
  for (const auto& c : changes) {
    const auto slot = static_cast<std::uint32_t>(c.feature);
    if (slot < prev.features.size() && prev.features[slot].live) {
      boxes.push_back(prev.topo.bbox(slot));
      tree.remove(Entry(to_bg(prev.topo.bbox(slot)), slot));
    }
    if (!next->topo.empty(slot)) {
      boxes.push_back(next->topo.bbox(slot));
      tree.insert(Entry(to_bg(next->topo.bbox(slot)), slot));
    }
  }
  for (std::size_t f : recut) boxes.push_back(next->topo.bbox(f));
  recut_count = recut.size();
  std::sort(put.begin(), put.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [slot, feature] : put) {
    if (slot < next->features.size())
      next->features.mutable_at(slot) = std::move(feature);
    else
      next->features.push_back(std::move(feature));  // new slots are consecutive from size()
  }
  if (added) next->added = std::move(added);
  return next;
}

std::vector<std::string> counting_codes(const std::string& grid) {
  std::vector<std::string> out;
  if (grid.size() >= 2) out.push_back(grid.substr(0, 2) + "0000");
  if (grid.size() >= 4) out.push_back(grid.substr(0, 4) + "00");
  for (std::size_t n : {6, 9, 12, 15})
    if (grid.size() >= n) out.push_back(grid.substr(0, n));
  out.push_back(grid);
  return out;
}

}  // namespace wangge::tiles
