// The HTTP edge: every byte a client sends passes a small framer of ours before Pistache sees it.
// Pistache 0.0.5 parses a request head again from its start whenever more of it arrives (a 1 MB
// header costs seconds), keeps buffering a body it will refuse, trusts Content-Length as given
// (-1 or 2^64 end in a plain-text 500 naming a std:: function), reads "Transfer-Encoding :" and
// duplicate Content-Lengths, and answers malformed chunks with a library message. The framer
// therefore
//   - holds a request head until it is complete and hands it to Pistache in one piece (parsed
//     once), refusing it with 431 once it exceeds the head limits;
//   - checks the head's syntax and its framing headers strictly (400), and refuses a declared body
//     over the limit (413) before a byte of it is read;
//   - follows the body's framing itself (Content-Length or chunked), so it knows where the next
//     request starts and can stop a chunked body at the limit too.
// A request that does not arrive whole in time (a client that declares a body and then sends it
// slowly or not at all) is answered 408 by a thread that watches such requests' deadlines.
// A refused request is answered here with problem+json, the connection is half-closed and what
// the client still sends is dropped unread (up to a bound, then the connection is reset).
//
// The checks are plain functions over bytes (RequestFramer, check_head): tested without sockets.
// EdgeHandler is the Pistache glue.
#pragma once

#include <pistache/http.h>
#include <pistache/peer.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/metrics.hpp"

namespace wangge::http::edge {

struct Limits {
  std::size_t max_head_bytes = 64u << 10;  // request line and headers together
  std::size_t max_headers = 100;           // header fields per request
  std::size_t max_body_bytes = 32u << 20;  // the body as the application sees it (after chunking)
  // A request begun must arrive whole within `arrival_ms`, plus one second per `min_bytes_per_s`
  // of it received so far: a client that declares a body and sends it slowly or not at all is
  // answered 408 and its connection closed, instead of holding them for the request timeout,
  // while an upload that keeps that rate gets the time it needs.
  std::uint64_t arrival_ms = 30000;
  std::uint64_t min_bytes_per_s = 256u << 10;
};

// The arrival limits from the environment: WANGGE_BODY_TIMEOUT_S (seconds, default 30) and
// WANGGE_BODY_MIN_RATE_KB (KiB per second, default 256). Throws std::runtime_error when malformed.
void read_arrival_limits(Limits& limits);

// What the client gets instead of its request being parsed: a problem document and a closed
// connection.
struct Rejection {
  int status = 400;
  std::string code;
  std::string detail;
};

// The framing facts of one request head.
struct Head {
  std::optional<std::uint64_t> content_length;
  bool chunked = false;
  bool close = false;  // the client asked to close after this request (or spoke HTTP/1.0 without keep-alive)
};

// Checks one complete request head (request line, header lines, the empty line; CRLF line ends).
// Never throws.
std::variant<Head, Rejection> check_head(std::string_view head, const Limits& limits);

// The per-connection state machine. feed() takes what arrived and appends to `requests` every
// request it completed, whole (head and body; a chunked body decoded, under a Content-Length),
// for the HTTP parser to read in one go. After a rejection, or after a complete request that asked
// to close the connection, every later byte is dropped.
class RequestFramer {
 public:
  explicit RequestFramer(Limits limits) : m_limits(limits) {}

  // Consumes `data`; returns the rejection when the request must be refused (once).
  std::optional<Rejection> feed(std::string_view data, std::vector<std::string>& requests);
  bool rejected() const { return m_state == State::Rejected; }
  // True once a request that asked to close the connection was complete.
  bool closing() const { return m_state == State::Closing; }
  // Bytes dropped since then.
  std::uint64_t dropped() const { return m_dropped; }
  // True while a request has begun to arrive and is not whole yet.
  bool mid_request() const {
    return m_state != State::Rejected && m_state != State::Closing && (m_state != State::Head || !m_request.empty());
  }
  // How many requests have begun to arrive (tells one in the middle from the next).
  std::uint64_t begun() const { return m_begun; }
  // Bytes of the request in the middle so far (its head and body).
  std::size_t received() const { return m_request.size(); }
  // Refuses the request in the middle with 408: it did not arrive in time (see Limits).
  Rejection time_out();

 private:
  enum class State { Head, Body, ChunkSize, ChunkData, ChunkDataEnd, LastChunk, Rejected, Closing };
  std::optional<Rejection> reject(Rejection r);
  void end_request(std::vector<std::string>& requests);

  Limits m_limits;
  State m_state = State::Head;
  std::string m_request;  // this request so far: its head, then its body (chunks decoded)
  std::size_t m_head_size = 0;
  std::size_t m_te_begin = 0, m_te_end = 0;  // the Transfer-Encoding line of a chunked request
  std::string m_line;                        // a chunk-size line or a CRLF after chunk data, so far
  std::uint64_t m_remaining = 0;             // body or chunk bytes still to come
  bool m_chunked = false;
  bool m_close = false;
  std::uint64_t m_dropped = 0;
  std::uint64_t m_begun = 0;
};

const char* reason_phrase(int status);

// Answers 408 to requests that do not arrive in time (Limits::arrival_ms); edge.cpp.
class ArrivalWatch;

// Pistache reads some header values into typed headers (Host, Accept, Content-Type, cookies...)
// and answers one its parser refuses with a plain-text 400. Both functions take a request whose
// head check_head accepted and say whether Pistache would refuse it. pistache_refuses runs
// Pistache's whole parser over the head: exact, but it doubles the cost of reading a request.
// typed_headers_refused runs only the typed parsers of the headers present; it is what the
// edge uses, and the http_edge fuzz harness holds it to pistache_refuses's verdict.
std::optional<Rejection> pistache_refuses(std::string_view request);

// Header lines (name and value, as sent) the typed parsers already read on one connection.
// Clients send the same Host, Accept, Authorization... with every request; reading them again
// was a sixth of a cached tile's cost. A verdict depends on the line's bytes alone, so a line
// found here needs no second reading. Bounded: a client cannot grow it.
class ReadHeaderLines {
 public:
  bool contains(std::string_view line) const;
  void add(std::string_view line);

 private:
  static constexpr std::size_t kMaxLines = 32, kMaxBytes = 8u << 10;
  std::vector<std::string> m_lines;
  std::size_t m_bytes = 0;
};

// `seen`, when given, skips the lines read before and learns the new ones that are readable.
std::optional<Rejection> typed_headers_refused(std::string_view request, ReadHeaderLines* seen = nullptr);

// The raw bytes of a problem+json answer that closes the connection.
std::string answer_bytes(const Rejection& r);

// Requests the edge refused before routing (oversized, malformed, late, an unknown method or
// version), counted by code for /metrics as wangge_http_edge_refusals_total{code,status}: they
// never reach the route table, so the request counters do not see them.
void count_refusal(const Rejection& r);
[[nodiscard]] metrics::Registration register_refusal_metrics();

// Wraps the application's Http::Handler: Pistache calls this one for every connection and every
// read; accepted bytes go on to `inner` (its own parser per connection), refused requests are
// answered here. Http::Handler's onInput/onConnection are private virtuals, which a derived class
// may still override; the inner handler is called through Tcp::Handler, where they are public.
class EdgeHandler : public Pistache::Http::Handler {
 public:
  EdgeHandler(std::shared_ptr<Pistache::Http::Handler> inner, Limits limits);
  EdgeHandler(const EdgeHandler& other);
  EdgeHandler& operator=(const EdgeHandler&) = delete;

  // Pistache makes one copy per event loop; each gets its own inner handler.
  std::shared_ptr<Pistache::Tcp::Handler> clone() const override;
  typedef Pistache::Http::details::prototype_tag tag;

  // Never called: requests are parsed and answered by the inner handler.
  void onRequest(const Pistache::Http::Request&, Pistache::Http::ResponseWriter) override {}

  // Whether the connection should be closed once this request is answered (Pistache 0.0.5 leaves
  // it open whatever the client asked).
  static bool wants_close(const Pistache::Http::Request& request);
  // The client address of the request being handed on, on the event loop's thread while it hands
  // it on (nullptr elsewhere).
  static const std::string* current_client();
  // Closes the connection of `peer` once everything queued for it has been written.
  static void close_when_sent(Pistache::Async::Promise<ssize_t>& sent, std::shared_ptr<Pistache::Tcp::Peer> peer);

 private:
  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
  void onInput(const char* buffer, size_t len, const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;
  void adopt_transport();

  std::shared_ptr<Pistache::Http::Handler> m_inner;
  Limits m_limits;
  std::shared_ptr<ArrivalWatch> m_watch;  // one for every event loop's copy
  bool m_adopted = false;
};

}  // namespace wangge::http::edge
