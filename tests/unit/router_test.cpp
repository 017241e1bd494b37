// The route table picks the most specific pattern whatever the registration order, answers 405
// with the resource's methods, and refuses a route registered twice.
#include <gtest/gtest.h>

#include <stdexcept>

#include "core/error.hpp"
#include "http/router.hpp"

namespace wangge::http {
namespace {

Request request(std::string method, std::string path, std::map<std::string, std::string> query = {}) {
  Request r;
  r.method = std::move(method);
  r.path = path;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) r.segments.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  r.query = std::move(query);
  return r;
}

Handler answer(std::string name) {
  return [name](const Request& req) {
    Response r;
    r.body = name;
    for (const auto& [k, v] : req.path_params) r.body += " " + k + "=" + v;
    return r;
  };
}

std::string body_of(const RouteTable& t, Request req) { return t.handle(req).body; }

int status_of(const RouteTable& t, Request req) {
  try {
    t.handle(req);
    return 200;
  } catch (const Error& e) {
    return e.status();
  }
}

TEST(RouteTable, LiteralBeatsParameterWhateverTheOrder) {
  for (bool literal_first : {true, false}) {
    RouteTable t;
    if (literal_first) t.add("POST", "/v1/areas/merge", answer("merge"));
    t.add("GET", "/v1/areas/{code}", answer("area"));
    t.add("PATCH", "/v1/areas/{code}", answer("patch"));
    if (!literal_first) t.add("POST", "/v1/areas/merge", answer("merge"));
    EXPECT_EQ(body_of(t, request("POST", "/v1/areas/merge")), "merge");
    EXPECT_EQ(body_of(t, request("GET", "/v1/areas/330521")), "area code=330521");
    // GET of the merge resource is that resource's 405, not a lookup of an area coded "merge".
    EXPECT_EQ(status_of(t, request("GET", "/v1/areas/merge")), 405);
  }
}

TEST(RouteTable, RequiredQueryParametersRefineAMethod) {
  RouteTable t;
  t.add("PATCH", "/v1/areas/{code}?adjust", answer("redraw"));
  t.add("PATCH", "/v1/areas/{code}", answer("update"));
  t.add("PATCH", "/v1/areas/{code}?dry_run", answer("redraw"));
  EXPECT_EQ(body_of(t, request("PATCH", "/v1/areas/1")), "update code=1");
  EXPECT_EQ(body_of(t, request("PATCH", "/v1/areas/1", {{"adjust", "neighbours"}})), "redraw code=1");
  EXPECT_EQ(body_of(t, request("PATCH", "/v1/areas/1", {{"dry_run", "true"}})), "redraw code=1");
}

TEST(RouteTable, SuffixAndCatchAllSegments) {
  RouteTable t;
  t.add("GET", "/tiles/{layers}.json", answer("tilejson"));
  t.add("GET", "/tiles/{layers}/{z}/{x}/{y}.mvt", answer("mvt"));
  t.add("GET", "/tiles/{layers}/{z}/{x}/{y}", answer("plain"));
  t.add("GET", "/files/{*rest}", answer("file"));
  EXPECT_EQ(body_of(t, request("GET", "/tiles/grid,village.json")), "tilejson layers=grid,village");
  EXPECT_EQ(body_of(t, request("GET", "/tiles/grid/14/1/2.mvt")), "mvt layers=grid x=1 y=2 z=14");
  EXPECT_EQ(body_of(t, request("GET", "/tiles/grid/14/1/2")), "plain layers=grid x=1 y=2 z=14");
  EXPECT_EQ(body_of(t, request("GET", "/files/a/b/c")), "file rest=a/b/c");
  EXPECT_EQ(status_of(t, request("GET", "/files")), 404);
  EXPECT_EQ(status_of(t, request("GET", "/tiles/grid/14/1")), 404);
}

TEST(RouteTable, MethodNotAllowedListsTheResourcesMethods) {
  RouteTable t;
  t.add("GET", "/v1/locate", answer("one"));
  t.add("POST", "/v1/locate", answer("many"));
  Request req = request("DELETE", "/v1/locate");
  try {
    t.handle(req);
    FAIL() << "expected 405";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 405);
    EXPECT_NE(e.extra_json().find("GET, POST"), std::string::npos) << e.extra_json();
  }
  EXPECT_EQ(body_of(t, request("HEAD", "/v1/locate")), "one");  // HEAD is GET without the body
  EXPECT_EQ(status_of(t, request("GET", "/v1/nowhere")), 404);
}

TEST(RouteTable, RefusesDuplicatesAndMalformedPatterns) {
  RouteTable t;
  t.add("GET", "/v1/areas/{code}", answer("a"));
  EXPECT_THROW(t.add("GET", "/v1/areas/{code}", answer("b")), std::logic_error);
  EXPECT_THROW(t.add("GET", "v1/areas", answer("c")), std::logic_error);
  EXPECT_THROW(t.add("GET", "/v1/{*rest}/x", answer("d")), std::logic_error);
  EXPECT_THROW(t.add("GET", "/v1/a{code}", answer("e")), std::logic_error);
}

}  // namespace
}  // namespace wangge::http
