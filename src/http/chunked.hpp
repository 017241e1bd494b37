// Streaming a large answer (HTTP/1.1 chunked transfer encoding) straight to a connection's socket
// from a request worker, with back-pressure: each chunk is written before the next is made, so
// memory stays bounded by one chunk whatever the answer's size.
//
// Why not Pistache's ResponseStream: in Pistache 0.0.5 every write from a thread other than the
// connection's event loop is queued for that loop (Transport::asyncWrite), nothing waits for it,
// and the loop's edge-triggered write handling loses writes when one epoll event is both readable
// and writable, and throws "could not find write data" when a writable event arrives after its
// queue drained: large chunked answers were cut short and the server once aborted. Here the
// worker writes to its own duplicate of the socket (so a disconnect that closes Pistache's
// descriptor cannot make us write to a reused one), waits with poll() while the client is slow,
// and ends with "Connection: close" and a shutdown of the sending side, so Pistache never writes
// on that connection again.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace wangge::http {

struct ChunkedHead {
  int status = 200;
  std::string reason = "OK";
  std::vector<std::pair<std::string, std::string>> headers;  // without Transfer-Encoding/Connection
};

struct ChunkedResult {
  bool complete = false;  // the final chunk was sent
  std::size_t bytes = 0;  // body bytes sent
  std::string error;      // why it stopped early (for the log; never for the client)
};

// Sends the head, then every chunk `produce` makes (it appends to its argument and returns
// false after the last), then the final empty chunk, on `fd` (a socket this call owns and
// closes). Waits at most `idle_ms` for the client to take data. Never throws: an exception from
// `produce` ends the answer early, which the client sees as an incomplete chunked body.
ChunkedResult send_chunked(int fd, const ChunkedHead& head, const std::function<bool(std::string&)>& produce, int idle_ms = 60000);

}  // namespace wangge::http
