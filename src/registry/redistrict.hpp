// Redistricting (PUT /v1/areas/{code}/children) in its phases: parse the plan, check the partition,
// number the children, swap. The phases that need no database are declared here so they can be
// tested alone; the others run inside the operation's transaction (registry/toolkit.cpp).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace wangge::toolkit::redistricting {

// One child of the plan as the client sent it.
struct PlannedChild {
  std::optional<std::string> code;  // absent: allocated by the numbering rule
  std::optional<std::string> name;
  std::optional<long long> households, population;
  bool has_counts = false;  // households or population given (else estimated by area share)
  nlohmann::json attributes = nlohmann::json::object();
  std::string geometry;  // GeoJSON text, polygonal (checked)
};

// Phase 1: the FeatureCollection of the parent's new children, read and checked without the
// database. Throws bad_request("invalid_feature"), unprocessable("plan_too_large",
// "invalid_property", "unknown_property").
std::vector<PlannedChild> parse_plan(const nlohmann::json& body, const std::string& parent);

// A piece to number: its centre (x scaled by cos(latitude), so distances compare) and its height.
struct Located {
  std::size_t index;  // into the caller's list
  double x, y, height;
};
// The numbering rule: west→east, north→south. Pieces whose centres lie within half the typical
// piece height of each other form one row; rows go north to south, each west to east. Returns
// the indexes in numbering order.
std::vector<std::size_t> numbering_order(std::vector<Located> items);

// Phase 3's rule: the children without a code (`order`, in numbering order) take the `fresh`
// codes in order, skipping those the plan already gives (`given`).
void assign_codes(std::vector<PlannedChild>& plan, const std::vector<std::size_t>& order, const std::vector<std::string>& fresh,
                  const std::set<std::string>& given);

}  // namespace wangge::toolkit::redistricting
