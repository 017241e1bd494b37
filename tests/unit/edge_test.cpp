// The HTTP edge's framer and head checks, byte by byte, without sockets.
#include "http/edge.hpp"

#include <gtest/gtest.h>

using namespace wangge::http::edge;

namespace {

Limits small() { return Limits{1024, 10, 100}; }

struct Fed {
  std::vector<std::string> requests;
  std::optional<Rejection> rejection;
};

// Feeds `data` in pieces of `step` bytes (every split point must give the same result).
Fed feed(std::string_view data, std::size_t step, Limits limits = small()) {
  RequestFramer framer(limits);
  Fed out;
  for (std::size_t i = 0; i < data.size() && !out.rejection; i += step) out.rejection = framer.feed(data.substr(i, step), out.requests);
  return out;
}

}  // namespace

TEST(EdgeHead, AcceptsAPlainRequest) {
  auto h = check_head("POST /v1/x?a=b HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n", small());
  ASSERT_TRUE(std::holds_alternative<Head>(h));
  EXPECT_EQ(std::get<Head>(h).content_length, 12u);
  EXPECT_FALSE(std::get<Head>(h).close);
  EXPECT_TRUE(std::get<Head>(check_head("GET / HTTP/1.0\r\n\r\n", small())).close);
  EXPECT_TRUE(std::get<Head>(check_head("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", small())).close);
}

TEST(EdgeHead, RefusesWhatAProxyCouldReadOtherwise) {
  for (const char* head :
       {"GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", "GET / HTTP/1.1\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n"}) {
    auto h = check_head(head, small());
    ASSERT_TRUE(std::holds_alternative<Rejection>(h)) << head;
    EXPECT_EQ(std::get<Rejection>(h).status, 400) << head;
    EXPECT_EQ(std::get<Rejection>(h).code, "malformed_request") << head;
  }
  EXPECT_EQ(std::get<Rejection>(check_head("GET / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", small())).status, 413);
}

TEST(EdgeFramer, SameRequestsWhateverTheSplit) {
  // A body may hold bare LFs (CSV, files): only the head must end its lines in CRLF.
  const std::string two = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe\nl\rGET /b HTTP/1.1\r\n\r\n";
  for (std::size_t step : {1u, 2u, 7u, 1000u}) {
    Fed f = feed(two, step);
    ASSERT_FALSE(f.rejection) << step;
    ASSERT_EQ(f.requests.size(), 2u) << step;
    EXPECT_EQ(f.requests[0], "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe\nl\r");
    EXPECT_EQ(f.requests[1], "GET /b HTTP/1.1\r\n\r\n");
  }
}

TEST(EdgeFramer, ChunkedBecomesContentLength) {
  const std::string in =
      "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n";
  for (std::size_t step : {1u, 3u, 1000u}) {
    Fed f = feed(in, step);
    ASSERT_FALSE(f.rejection) << step;
    ASSERT_EQ(f.requests.size(), 1u);
    EXPECT_EQ(f.requests[0], "POST /a HTTP/1.1\r\nHost: x\r\nX: y\r\nContent-Length: 13\r\n\r\nabc0123456789");
  }
}

TEST(EdgeFramer, RefusesAtTheLimits) {
  EXPECT_EQ(feed("GET / HTTP/1.1\r\nX: " + std::string(2000, 'a'), 100).rejection->status, 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 11; ++i) many += "X" + std::to_string(i) + ": 1\r\n";
  EXPECT_EQ(feed(many + "\r\n", 5).rejection->status, 431);
  const std::string chunked = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(feed(chunked + "50\r\n" + std::string(80, 'x') + "\r\n50\r\n", 9).rejection->status, 413);
  EXPECT_EQ(feed(chunked + "a\r\n0123456789\r\nfffffffffffffff6\r\n", 4).rejection->status, 413);  // no wrap-around
  for (const char* bad : {"zz\r\n", "-1\r\n", "1;x=y\r\nx\r\n", "1\r\nxy", "0\r\nTrailer: x\r\n\r\n", "+1\r\n"})
    EXPECT_EQ(feed(chunked + bad, 1).rejection->code, "malformed_request") << bad;
  // A bare LF is refused when it arrives, not when the head limit is reached.
  EXPECT_EQ(feed("GET / HTTP/1.1\nHost: x\n\n", 1).rejection->code, "malformed_request");
}

TEST(EdgeFramer, DropsEverythingAfterARejectionOrAClose) {
  RequestFramer framer(small());
  std::vector<std::string> requests;
  EXPECT_FALSE(framer.feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /next HTTP/1.1\r\n\r\n", requests));
  EXPECT_EQ(requests.size(), 1u);
  EXPECT_TRUE(framer.closing());
  EXPECT_GT(framer.dropped(), 0u);
}

// Header values Pistache's typed parsers refuse must be refused by the edge (as problem+json)
// before Pistache answers them in plain text; the edge's cheap check must agree with Pistache's
// whole parser on each, and remembering lines already read must not change a verdict.
TEST(EdgeTypedHeaders, AgreesWithPistacheAndRemembersOnlyReadableLines) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"Host: example.org:8080", false},
      {"Accept: */*", false},
      {"Accept: text/html;q=0.9, application/json", false},
      {"Content-Type: application/json; charset=utf-8", false},
      {"Cookie: a=1; wangge_session=ws_x", false},
      {"User-Agent: QGIS/32216", false},
      {"Accept: ;;;", true},
      {"Content-Type: /", true},
      {"Host: example.org:99999999999999999999", true},
  };
  ReadHeaderLines seen;
  for (const auto& [line, refused] : cases) {
    const std::string request = "GET /health HTTP/1.1\r\n" + line + "\r\n\r\n";
    const bool pistache = pistache_refuses(request).has_value();
    SCOPED_TRACE(line);
    EXPECT_EQ(pistache, refused);
    EXPECT_EQ(typed_headers_refused(request).has_value(), pistache);
    EXPECT_EQ(typed_headers_refused(request, &seen).has_value(), pistache);
    EXPECT_EQ(typed_headers_refused(request, &seen).has_value(), pistache);  // a second time, from memory
    EXPECT_EQ(seen.contains(line), !pistache);
  }
}
