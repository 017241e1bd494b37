#include "http/edge.hpp"

#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace wangge::http::edge {
namespace {

using namespace Pistache;

// RFC 9110 5.6.2 token characters, as a table: every header name's every byte is looked up.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_tchar(unsigned char c) { return kTokenChars[c]; }

bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Rejection malformed(std::string detail) { return {400, "malformed_request", std::move(detail)}; }

Rejection too_large_body(const Limits& limits) {
  return {413, "payload_too_large",
          "the body exceeds " + std::to_string(limits.max_body_bytes >> 20) + " MiB (setting WANGGE_MAX_BODY_MB)"};
}

// The methods Pistache knows; anything else it refuses with a plain-text answer.
bool known_method(std::string_view m) {
  for (std::string_view k : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
    if (m == k) return true;
  return false;
}

// Throws nothing; false when `text` is not a plain decimal that fits.
bool parse_length(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 18) return false;  // 18 digits: far beyond any limit, far from overflow
  for (char c : text)
    if (c < '0' || c > '9') return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

const char* reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

std::variant<Head, Rejection> check_head(std::string_view head, const Limits& limits) {
  Head out;
  if (head.size() > limits.max_head_bytes)
    return Rejection{
        431, "headers_too_large",
        "the request line and headers exceed " + std::to_string(limits.max_head_bytes >> 10) + " KiB (setting WANGGE_MAX_HEADER_KB)"};
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") return malformed("the request head does not end with an empty line");
  // Lines end in CRLF; a lone CR or LF is how requests are smuggled past a proxy that reads them otherwise.
  // (memchr jumps from line end to line end: this runs over every request's every byte.)
  const char* const begin = head.data();
  const char* const end = begin + head.size();
  for (const char* p = begin; (p = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(end - p)))); ++p)
    if (p + 1 == end || p[1] != '\n') return malformed("a bare CR in the request head");
  for (const char* p = begin; (p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)))); ++p)
    if (p == begin || p[-1] != '\r') return malformed("a bare LF in the request head");
  std::size_t pos = head.find("\r\n");
  const std::string_view line = head.substr(0, pos);
  {
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
      return malformed("the request line must be METHOD SP target SP HTTP-version");
    const std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1), version = line.substr(sp2 + 1);
    if (!known_method(method)) return Rejection{501, "method_not_implemented", "the server does not implement this method"};
    if (target.empty() || target.front() != '/') return malformed("the request target must be an absolute path");
    for (unsigned char c : target)
      if (is_ctl(c)) return malformed("the request target holds a control character");
    if (version == "HTTP/1.0")
      out.close = true;  // unless it asks for keep-alive below
    else if (version != "HTTP/1.1")
      return Rejection{505, "http_version_not_supported", "only HTTP/1.1 and HTTP/1.0 are served"};
  }
  std::size_t fields = 0;
  bool keep_alive = false, close = false;
  std::optional<std::uint64_t> length;
  int transfer_encodings = 0;
  for (pos += 2; pos < head.size() - 2;) {
    const std::size_t end = head.find("\r\n", pos);
    const std::string_view field = head.substr(pos, end - pos);
    pos = end + 2;
    if (++fields > limits.max_headers)
      return Rejection{431, "headers_too_large",
                       "the request has more than " + std::to_string(limits.max_headers) + " header fields (setting WANGGE_MAX_HEADERS)"};
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return malformed("a header line without a field name and colon");
    const std::string_view name = field.substr(0, colon);
    for (unsigned char c : name)  // also refuses "Transfer-Encoding :" and folded lines (leading space)
      if (!is_tchar(c)) return malformed("a header field name holds a character other than a token's");
    const std::string_view value = trim(field.substr(colon + 1));
    bool control = false;  // no early exit: a loop the compiler can run over many bytes at once
    for (const unsigned char c : value) control |= (c < 0x20 && c != '\t') || c == 0x7f;
    if (control) return malformed("a header field value holds a control character");
    if (iequals(name, "content-length")) {
      std::uint64_t n = 0;
      if (!parse_length(value, n)) return malformed("Content-Length must be a single decimal number");
      if (length && *length != n) return malformed("two different Content-Length values");
      length = n;
    } else if (iequals(name, "transfer-encoding")) {
      ++transfer_encodings;
      if (!iequals(value, "chunked"))
        return Rejection{501, "transfer_coding_not_implemented", "the only transfer coding served is chunked"};
    } else if (iequals(name, "connection")) {
      std::size_t i = 0;
      while (i <= value.size()) {
        std::size_t comma = value.find(',', i);
        if (comma == std::string_view::npos) comma = value.size();
        const std::string_view option = trim(value.substr(i, comma - i));
        close = close || iequals(option, "close");
        keep_alive = keep_alive || iequals(option, "keep-alive");
        i = comma + 1;
      }
    }
  }
  if (transfer_encodings > 1) return malformed("Transfer-Encoding given more than once");
  if (transfer_encodings == 1 && length) return malformed("both Content-Length and Transfer-Encoding");
  if (length && *length > limits.max_body_bytes) return too_large_body(limits);
  out.content_length = length;
  out.chunked = transfer_encodings == 1;
  out.close = close || (out.close && !keep_alive);
  return out;
}

std::optional<Rejection> RequestFramer::reject(Rejection r) {
  m_state = State::Rejected;
  m_request.clear();
  m_request.shrink_to_fit();
  m_line.clear();
  return r;
}

void RequestFramer::end_request(std::vector<std::string>& out) {
  if (m_chunked) {
    // Pistache is handed the body with a Content-Length instead of the chunks: its chunk parser
    // misreads sizes it should refuse.
    std::string head = m_request.substr(0, m_te_begin) + m_request.substr(m_te_end, m_head_size - m_te_end - 2);
    head += "Content-Length: " + std::to_string(m_request.size() - m_head_size) + "\r\n\r\n";
    head.append(m_request, m_head_size, std::string::npos);
    out.push_back(std::move(head));
  } else {
    out.push_back(std::move(m_request));
  }
  m_request = std::string();
  m_state = m_close ? State::Closing : State::Head;
}

std::optional<Rejection> RequestFramer::feed(std::string_view data, std::vector<std::string>& out) {
  std::size_t i = 0;
  while (i < data.size()) {
    switch (m_state) {
      case State::Rejected:
      case State::Closing:
        m_dropped += data.size() - i;
        return std::nullopt;
      case State::Head: {
        // Empty lines before a request line are allowed (RFC 9112 2.2).
        if (m_request.empty() && (data[i] == '\r' || data[i] == '\n')) {
          ++i;
          break;
        }
        const std::size_t before = m_request.size();
        if (before == 0) ++m_begun;
        const std::size_t room = m_limits.max_head_bytes + 1 - std::min(before, m_limits.max_head_bytes + 1);
        const std::size_t take = std::min(room, data.size() - i);
        m_request.append(data.substr(i, take));
        const std::size_t end = m_request.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
        // A line ending other than CRLF never ends the head (the search looks for CRLF CRLF):
        // refuse it as it arrives rather than wait for the head limit. Only the head's bytes:
        // what follows it is body.
        const std::size_t scanned = end == std::string::npos ? m_request.size() : end + 4;
        for (std::size_t k = before; k < scanned; ++k) {
          const bool after_cr = k > 0 && m_request[k - 1] == '\r';
          if ((m_request[k] == '\n' && !after_cr) || (m_request[k] != '\n' && after_cr))
            return reject(malformed("a line of the request head does not end in CRLF"));
        }
        if (end == std::string::npos) {
          i += take;
          if (m_request.size() > m_limits.max_head_bytes) return reject(std::get<Rejection>(check_head(m_request, m_limits)));
          break;
        }
        m_head_size = end + 4;
        i += m_head_size - before;
        m_request.resize(m_head_size);
        auto checked = check_head(m_request, m_limits);
        if (auto* r = std::get_if<Rejection>(&checked)) return reject(std::move(*r));
        const Head& h = std::get<Head>(checked);
        m_close = h.close;
        m_chunked = h.chunked;
        if (h.chunked) {
          // Where the Transfer-Encoding line is, to take it out.
          std::size_t p = m_request.find("\r\n") + 2;
          while (p < m_head_size - 2) {
            const std::size_t e = m_request.find("\r\n", p) + 2;
            if (iequals(std::string_view(m_request).substr(p, 18), "transfer-encoding:")) {
              m_te_begin = p;
              m_te_end = e;
            }
            p = e;
          }
          m_line.clear();
          m_state = State::ChunkSize;
        } else if (h.content_length.value_or(0) > 0) {
          m_remaining = *h.content_length;
          m_request.reserve(m_head_size + m_remaining);
          m_state = State::Body;
        } else {
          end_request(out);
        }
        break;
      }
      case State::Body:
      case State::ChunkData: {
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(m_remaining, data.size() - i));
        m_request.append(data.substr(i, take));
        i += take;
        m_remaining -= take;
        if (m_remaining == 0) {
          if (m_state == State::Body)
            end_request(out);
          else
            m_state = State::ChunkDataEnd;
        }
        break;
      }
      case State::ChunkSize: {
        // chunk-size CRLF; no extensions (nobody sends them, and each is more to get wrong).
        const char c = data[i++];
        m_line += c;
        if (m_line.size() > 18) return reject(malformed("a chunk size line is too long"));
        if (c != '\n') break;
        if (m_line.size() < 3 || m_line[m_line.size() - 2] != '\r') return reject(malformed("a chunk size line must end in CRLF"));
        std::uint64_t size = 0;
        const char* first = m_line.data();
        const char* last = m_line.data() + m_line.size() - 2;
        auto [end, ec] = std::from_chars(first, last, size, 16);
        if (ec != std::errc() || end != last || *first == '-' || *first == '+')
          return reject(malformed("a chunk size must be hexadecimal digits only"));
        m_line.clear();
        const std::uint64_t so_far = m_request.size() - m_head_size;
        if (size > m_limits.max_body_bytes - so_far) return reject(too_large_body(m_limits));  // no overflow: so_far <= max
        if (size == 0) {
          m_state = State::LastChunk;
        } else {
          m_remaining = size;
          m_state = State::ChunkData;
        }
        break;
      }
      case State::ChunkDataEnd:
      case State::LastChunk: {
        // Checked byte by byte: a wrong one is refused at once.
        const char expected = m_line.empty() ? '\r' : '\n';
        if (data[i++] != expected)
          return reject(malformed(m_state == State::LastChunk ? "trailer fields after the last chunk are not accepted"
                                                              : "chunk data must be followed by CRLF"));
        m_line += expected;
        if (m_line.size() < 2) break;
        m_line.clear();
        if (m_state == State::LastChunk)
          end_request(out);
        else
          m_state = State::ChunkSize;
        break;
      }
    }
  }
  return std::nullopt;
}

Rejection RequestFramer::time_out() {
  reject({});
  return {408, "request_timeout", "the request did not arrive in time: send it whole within the arrival limit (WANGGE_BODY_TIMEOUT_S)"};
}

void read_arrival_limits(Limits& limits) {
  auto number = [](const char* name, double max) -> std::optional<double> {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    char* end = nullptr;
    const double d = std::strtod(v, &end);
    if (end == v || *end != '\0' || !(d > 0) || d > max)
      throw std::runtime_error(std::string(name) + " must be a positive number up to " + std::to_string(static_cast<long long>(max)));
    return d;
  };
  if (auto s = number("WANGGE_BODY_TIMEOUT_S", 86400)) limits.arrival_ms = static_cast<std::uint64_t>(*s * 1000);
  if (auto k = number("WANGGE_BODY_MIN_RATE_KB", 1 << 30)) limits.min_bytes_per_s = static_cast<std::uint64_t>(*k * 1024);
  if (limits.arrival_ms == 0) limits.arrival_ms = 1;
  if (limits.min_bytes_per_s == 0) limits.min_bytes_per_s = 1;
}

std::string answer_bytes(const Rejection& r) {
  const nlohmann::json doc = {
      {"type", "/api/errors#" + r.code}, {"title", reason_phrase(r.status)}, {"status", r.status}, {"detail", r.detail}, {"code", r.code}};
  const std::string body = doc.dump();
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  out += "Content-Type: application/problem+json\r\nCache-Control: no-store\r\nConnection: close\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return out;
}

namespace {

// Every code the edge refuses with (Rejection's codes above), then one slot for any other.
constexpr std::array<std::pair<std::string_view, int>, 7> kRefusals = {{{"malformed_request", 400},
                                                                        {"request_timeout", 408},
                                                                        {"payload_too_large", 413},
                                                                        {"headers_too_large", 431},
                                                                        {"method_not_implemented", 501},
                                                                        {"transfer_coding_not_implemented", 501},
                                                                        {"http_version_not_supported", 505}}};
// Constant-initialised (atomics set to zero), so counting works from the first connection on.
std::array<metrics::Counter, kRefusals.size() + 1> g_refusals;

}  // namespace

void count_refusal(const Rejection& r) {
  std::size_t slot = 0;
  while (slot < kRefusals.size() && kRefusals[slot].first != r.code) ++slot;
  g_refusals[slot].add();
}

metrics::Registration register_refusal_metrics() {
  return metrics::add(
      "wangge_http_edge_refusals_total", metrics::Type::kCounter,
      "Requests refused before routing (malformed, oversized, late, unknown method or version), by code", [](metrics::Family& f) {
        for (std::size_t i = 0; i < kRefusals.size(); ++i)
          f.value(metrics::label("code", kRefusals[i].first) + "," + metrics::label("status", std::to_string(kRefusals[i].second)),
                  static_cast<double>(g_refusals[i].value()));
        f.value(metrics::label("code", "other") + "," + metrics::label("status", "other"), static_cast<double>(g_refusals.back().value()));
      });
}

// --- Pistache glue ---------------------------------------------------------------------------

namespace {

// The inner handler needs the transport Pistache gave this one (its ResponseWriters write through
// it), but Tcp::Handler keeps it private with no setter. An explicit instantiation may name a
// private member (C++20 [temp.spec.general]/6); this one hands out the member pointer.
using TransportMember = Tcp::Transport* Tcp::Handler::*;
TransportMember transport_member();
template <TransportMember M>
struct TransportAccess {
  friend TransportMember transport_member() { return M; }
};
template struct TransportAccess<&Tcp::Handler::transport_>;

constexpr const char* kFramerKey = "wangge.edge";

// Set while the inner handler parses (and, within the same call, dispatches) a request that asked
// to close its connection: the framer reads the Connection header as the list it is ("keep-alive,
// close" asks to close), Pistache reads one option only.
thread_local bool t_asks_close = false;
// The client address of the connection whose request the event loop is handing on (set around
// the inner onInput, as t_asks_close): formatting it is done once per connection, not per request.
thread_local const std::string* t_client = nullptr;

struct Connection {
  explicit Connection(Limits limits, int fd) : framer(limits), fd(fd) {}
  // The event loop reads and feeds, the arrival watch's thread may time the request out: the
  // framer and what follows are theirs under this mutex. onDisconnection sets `gone` under it
  // before Pistache closes `fd`, so the watch never touches a descriptor that was reused.
  std::mutex mutex;
  RequestFramer framer;
  const int fd;
  bool gone = false;
  std::vector<std::string> requests;
  ReadHeaderLines read_header_lines;  // only the event loop's onInput touches it
  std::string client;                 // the peer's address, as text
  bool write_closed = false;
  // The request in the middle, as the arrival watch knows it: which one (RequestFramer::begun),
  // when it began, and whether the watch holds this connection.
  std::uint64_t request = 0;
  std::chrono::steady_clock::time_point began;
  bool watched = false;

  std::chrono::steady_clock::time_point deadline(const Limits& limits) const {
    return began + std::chrono::milliseconds(limits.arrival_ms + framer.received() * 1000 / limits.min_bytes_per_s);
  }
};

// Answers a refused request and closes our side of the connection.
void refuse(int fd, Connection& conn, const Rejection& rejection) {
  count_refusal(rejection);
  const std::string answer = answer_bytes(rejection);
  // Small, and the first thing on a fresh or idle connection: the socket takes it at once.
  [[maybe_unused]] const ssize_t n = ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // A half close: the client reads the answer and its end of the stream; what it still sends
  // is dropped unread.
  ::shutdown(fd, SHUT_WR);
  conn.write_closed = true;
}

}  // namespace

// One thread for the server that sleeps until the earliest deadline of the requests in the middle
// of arriving, and answers 408 to those that are late. A thread of its own rather than timers on
// the event loops: Pistache's transport cannot arm a timer from a timer's callback (its table of
// timers is being walked), and a late request must be looked at again when its deadline moved.
class ArrivalWatch {
 public:
  explicit ArrivalWatch(Limits limits) : m_limits(limits), m_thread([this] { run(); }) {}
  ~ArrivalWatch() {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_cv.notify_all();
    m_thread.join();
  }
  ArrivalWatch(const ArrivalWatch&) = delete;
  ArrivalWatch& operator=(const ArrivalWatch&) = delete;

  // Called with conn.mutex held (the lock order is always connection, then watch).
  void watch(const std::shared_ptr<Connection>& conn) {
    conn->watched = true;
    const auto deadline = conn->deadline(m_limits);
    std::lock_guard lock(m_mutex);
    const bool earliest = m_due.empty() || deadline < m_due.begin()->first;
    m_due.emplace(deadline, conn);
    if (earliest) m_cv.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(m_mutex);
    while (!m_stop) {
      if (m_due.empty()) {
        m_cv.wait(lock);
        continue;
      }
      const auto first = m_due.begin();
      if (std::chrono::steady_clock::now() < first->first) {
        m_cv.wait_until(lock, first->first);
        continue;
      }
      const std::weak_ptr<Connection> weak = first->second;
      m_due.erase(first);
      lock.unlock();
      if (auto conn = weak.lock()) look_at(conn);
      lock.lock();
    }
  }

  void look_at(const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(conn->mutex);
    conn->watched = false;
    if (conn->gone || !conn->framer.mid_request()) return;
    // More of it arrived meanwhile (the deadline moved), or a later request is in the middle.
    if (std::chrono::steady_clock::now() < conn->deadline(m_limits)) return watch(conn);
    refuse(conn->fd, *conn, conn->framer.time_out());
    // The client is not sending: nothing is left to read, so the whole connection goes.
    ::shutdown(conn->fd, SHUT_RD);
  }

  const Limits m_limits;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_stop = false;
  std::multimap<std::chrono::steady_clock::time_point, std::weak_ptr<Connection>> m_due;
  std::thread m_thread;  // last: starts once the members it uses exist
};

std::optional<Rejection> pistache_refuses(std::string_view request) {
  // A fresh parser each time: nothing of one request can stay behind for the next.
  Http::Private::ParserImpl<Http::Request> parser(request.size());
  try {
    // The head alone: the body was framed by us already.
    const std::size_t head = request.find("\r\n\r\n") + 4;
    if (!parser.feed(request.data(), head)) return malformed("the request could not be read");
    parser.parse();
  } catch (const std::exception&) {
    return malformed("a header field value could not be read");
  }
  return std::nullopt;
}

namespace {

// Whether Pistache's typed parser for this header (if it has one) reads `value`. Cookies are
// read by the cookie jar, whatever the name's case (some Pistache builds match "Cookie" exactly,
// others any case: checking both ways refuses nothing a client sends in earnest).
bool typed_value_readable(std::string_view name, std::string_view value) {
  try {
    if (iequals(name, "cookie")) {
      Http::CookieJar jar;
      jar.addFromRaw(value.data(), value.size());
      return true;
    }
    if (iequals(name, "set-cookie")) {
      (void)Http::Cookie::fromRaw(value.data(), value.size());
      return true;
    }
    auto& registry = Http::Header::Registry::instance();
    const std::string key(name);
    if (!registry.isRegistered(key)) return true;  // kept as raw text: nothing to refuse
    registry.makeHeader(key)->parseRaw(value.data(), value.size());
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

bool ReadHeaderLines::contains(std::string_view line) const {
  for (const auto& l : m_lines)
    if (l == line) return true;
  return false;
}

void ReadHeaderLines::add(std::string_view line) {
  if (m_lines.size() == kMaxLines || m_bytes + line.size() > kMaxBytes) {
    // A client whose headers change with every request (a counter, a timestamp) starts over.
    m_lines.clear();
    m_bytes = 0;
  }
  if (line.size() > kMaxBytes) return;
  m_lines.emplace_back(line);
  m_bytes += line.size();
}

std::optional<Rejection> typed_headers_refused(std::string_view request, ReadHeaderLines* seen) {
  const std::size_t head_end = request.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return malformed("the request could not be read");
  // Header lines as Pistache cuts them: the name up to the first ':', the value after the
  // spaces that follow it, up to the line's end.
  for (std::size_t pos = request.find("\r\n") + 2; pos < head_end + 2;) {
    const std::size_t end = request.find("\r\n", pos);
    const std::string_view line = request.substr(pos, end - pos);
    pos = end + 2;
    if (seen && seen->contains(line)) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return malformed("a header line without a field name and colon");
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (!typed_value_readable(line.substr(0, colon), value)) return malformed("a header field value could not be read");
    if (seen) seen->add(line);
  }
  return std::nullopt;
}

EdgeHandler::EdgeHandler(std::shared_ptr<Http::Handler> inner, Limits limits)
    : m_inner(std::move(inner)), m_limits(limits), m_watch(std::make_shared<ArrivalWatch>(limits)) {}

EdgeHandler::EdgeHandler(const EdgeHandler& other)
    : Http::Handler(other),
      m_inner(std::static_pointer_cast<Http::Handler>(other.m_inner->clone())),
      m_limits(other.m_limits),
      m_watch(other.m_watch) {}

std::shared_ptr<Tcp::Handler> EdgeHandler::clone() const { return std::make_shared<EdgeHandler>(*this); }

void EdgeHandler::adopt_transport() {
  if (m_adopted) return;
  // Pistache sets the options on the handler it was given; the inner one parses, so it needs them.
  m_inner->setMaxRequestSize(getMaxRequestSize());
  m_inner->setMaxResponseSize(getMaxResponseSize());
  m_inner->setHeaderTimeout(getHeaderTimeout());
  m_inner->setBodyTimeout(getBodyTimeout());
  static_cast<Tcp::Handler&>(*m_inner).*transport_member() = transport();
  m_adopted = true;
}

void EdgeHandler::onConnection(const std::shared_ptr<Tcp::Peer>& peer) {
  adopt_transport();
  auto conn = std::make_shared<Connection>(m_limits, peer->fd());
  conn->client = peer->address().host();
  peer->putData(kFramerKey, std::move(conn));
  static_cast<Tcp::Handler&>(*m_inner).onConnection(peer);
}

void EdgeHandler::onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) {
  if (auto conn = std::static_pointer_cast<Connection>(peer->tryGetData(kFramerKey))) {
    std::lock_guard lock(conn->mutex);
    conn->gone = true;
  }
  static_cast<Tcp::Handler&>(*m_inner).onDisconnection(peer);
}

void EdgeHandler::onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) {
  adopt_transport();
  auto conn = std::static_pointer_cast<Connection>(peer->tryGetData(kFramerKey));
  if (!conn) return;       // not a connection this handler saw open
  conn->requests.clear();  // only this loop touches the requests; the framer is shared with the watch
  std::optional<Rejection> rejection;
  std::uint64_t dropped = 0;
  {
    std::lock_guard lock(conn->mutex);
    rejection = conn->framer.feed(std::string_view(buffer, len), conn->requests);
    if (!rejection && conn->framer.mid_request()) {
      // A request that did not arrive whole in this read: its clock starts now.
      if (conn->request != conn->framer.begun()) {
        conn->request = conn->framer.begun();
        conn->began = std::chrono::steady_clock::now();
      }
      if (!conn->watched) m_watch->watch(conn);
    }
    dropped = conn->framer.dropped();
  }
  if (!rejection && conn->requests.empty() == false) {
    for (std::size_t k = 0; k < conn->requests.size(); ++k) {
      const std::string& r = conn->requests[k];
      if (auto refused = typed_headers_refused(r, &conn->read_header_lines)) {
        rejection = refused;
        break;
      }
      // Nothing is framed after a request that asked to close: it is the last one.
      t_asks_close = conn->framer.closing() && k + 1 == conn->requests.size();
      t_client = &conn->client;
      static_cast<Tcp::Handler&>(*m_inner).onInput(r.data(), r.size(), peer);
      t_asks_close = false;
      t_client = nullptr;
    }
  }
  conn->requests.clear();
  if (rejection) refuse(peer->fd(), *conn, *rejection);
  // A client that keeps sending after it was refused (or after it asked to close) is cut off once
  // it has sent four times what a body may hold: up to there it gets to read its answer.
  if (dropped > 4 * m_limits.max_body_bytes + (1u << 20)) ::shutdown(peer->fd(), SHUT_RDWR);
}

const std::string* EdgeHandler::current_client() { return t_client; }

bool EdgeHandler::wants_close(const Http::Request& request) {
  if (t_asks_close) return true;
  if (request.version() == Http::Version::Http10) {
    auto c = request.headers().tryGet<Http::Header::Connection>();
    return !c || c->control() != Http::ConnectionControl::KeepAlive;
  }
  auto c = request.headers().tryGet<Http::Header::Connection>();
  return c && c->control() == Http::ConnectionControl::Close;
}

void EdgeHandler::close_when_sent(Async::Promise<ssize_t>& sent, std::shared_ptr<Tcp::Peer> peer) {
  if (!peer) return;
  // A write that failed left a broken connection that Pistache closes on its own; by then its
  // descriptor number may already belong to a new client, so it is not touched here.
  sent.then([peer](ssize_t) { ::shutdown(peer->fd(), SHUT_RDWR); }, [](std::exception_ptr) {});
}

}  // namespace wangge::http::edge
