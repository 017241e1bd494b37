// Refusals as values, so a test compares them in one line and a failure prints what happened:
//   EXPECT_EQ(refusal([&] { store.create(...); }), "409 overlaps_sibling");
#pragma once

#include <string>

#include "core/error.hpp"

namespace wangge::test {

// "<status> <code>" of the wangge::Error that `f` throws, or "nothing thrown". Other exceptions
// pass through: they are failures of the test, not refusals.
template <typename F>
std::string refusal(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::to_string(e.status()) + " " + e.code();
  }
  return "nothing thrown";
}

// The extra members (a JSON object as text) of the problem that `f` throws; "" when none.
template <typename F>
std::string refusal_extra(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.extra_json();
  }
  return "";
}

}  // namespace wangge::test
