// Body and parameter parsing found wanting by the fuzzers (tests/fuzz/http_params.cpp).
#include "http/params.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

using namespace wangge;

TEST(JsonBody, NumberOutOfRangeIsMalformedJsonNotAnInternalError) {
  http::Request req;
  req.headers["content-type"] = "application/json";
  for (const char* body : {"[1e999]", "{\"x\": -1E400}", "[[[2022220000000000E000011103124461]]]"}) {
    req.body = body;
    try {
      (void)http::json_body(req);
      ADD_FAILURE() << body << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), 400) << body;
      EXPECT_EQ(e.code(), "malformed_json") << body;
    }
  }
}
