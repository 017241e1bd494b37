// Building SourceAreas by hand for the locator's unit tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "locate/index.hpp"

namespace wangge::locate::test {

// An area from its rings (each given open: the first vertex is repeated at the end here); the name
// is the code unless given.
inline std::shared_ptr<SourceArea> area(std::string code, Level level, std::string parent, std::vector<std::vector<Pt>> rings,
                                        std::string name = {}) {
  auto a = std::make_shared<SourceArea>();
  a->code = std::move(code);
  a->name = name.empty() ? a->code : std::move(name);
  a->parent = std::move(parent);
  a->level = level;
  for (auto& r : rings) {
    for (auto& p : r) a->vertices.push_back(p);
    a->vertices.push_back(r.front());
    a->ring_ends.push_back(static_cast<std::uint32_t>(a->vertices.size()));
  }
  return a;
}

}  // namespace wangge::locate::test
