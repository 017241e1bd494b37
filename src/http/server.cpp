#include "http/server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "core/log.hpp"
#include "http/chunked.hpp"
#include "http/edge.hpp"
#include "http/metrics.hpp"
#include "http/params.hpp"
#include "pg/connection.hpp"

namespace wangge::http {
namespace {

using namespace Pistache;

// A fixed set of threads taking jobs from a bounded queue.
class WorkQueue {
 public:
  WorkQueue(int threads, std::size_t capacity) : m_capacity(capacity) {
    for (int i = 0; i < threads; ++i) m_threads.emplace_back([this] { loop(); });
  }
  ~WorkQueue() {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_cv.notify_all();
    for (auto& t : m_threads) t.join();
  }
  // False when the queue is full: the caller answers 503 at once rather than queueing forever.
  bool push(std::function<void()> job) {
    {
      std::lock_guard lock(m_mutex);
      if (m_jobs.size() >= m_capacity) return false;
      m_jobs.push_back(std::move(job));
    }
    m_cv.notify_one();
    return true;
  }

 private:
  void loop() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [&] { return m_stop || !m_jobs.empty(); });
        if (m_stop && m_jobs.empty()) return;
        job = std::move(m_jobs.front());
        m_jobs.pop_front();
      }
      job();
    }
  }
  std::size_t m_capacity;
  std::deque<std::function<void()>> m_jobs;
  std::vector<std::thread> m_threads;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_stop = false;
};

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');  // header names are ASCII
  return s;
}

Request copy_request(const Http::Request& in, const std::vector<Cidr>& trusted_proxies) {
  Request r;
  r.method = Http::methodString(in.method());
  r.path = percent_decode(in.resource(), false);
  r.segments = split_path(r.path);
  for (auto it = in.query().parameters_begin(); it != in.query().parameters_end(); ++it)
    r.query[percent_decode(it->first, true)] = percent_decode(it->second, true);
  // Pistache parses the headers it knows into typed objects and keeps the rest raw: read both.
  // One stream per thread: constructing an ostringstream (its locale) per header cost more than
  // the rest of a small request's copy.
  static thread_local std::ostringstream value;
  for (const auto& h : in.headers().list()) {
    value.str(std::string());
    value.clear();
    value.flags(std::ios_base::dec | std::ios_base::skipws);  // what a fresh stream has
    value.precision(6);
    value.fill(' ');
    h->write(value);
    r.headers[lower(h->name())] = value.str();
  }
  for (const auto& [name, raw] : in.headers().rawList()) r.headers[lower(name)] = raw.value();
  r.body = in.body();
  const std::string* client = edge::EdgeHandler::current_client();
  r.client = client ? *client : in.address().host();
  if (!trusted_proxies.empty())
    if (auto forwarded = r.headers.find("x-forwarded-for"); forwarded != r.headers.end())
      r.client = forwarded_client(r.client, forwarded->second, trusted_proxies);
  return r;
}

// What an inline route reads (RouteTable::add_inline), copied alone: the query and the
// Authorization header. The full copy writes out every typed header, a sizeable part of so small
// a request.
Request copy_inline_request(const Http::Request& in, const std::string& method) {
  Request r;
  r.method = method;
  r.path = in.resource();
  r.segments = split_path(r.path);
  for (auto it = in.query().parameters_begin(); it != in.query().parameters_end(); ++it)
    r.query[percent_decode(it->first, true)] = percent_decode(it->second, true);
  // Pistache parses Authorization into its typed header (found under its canonical name, however
  // the client spelled it); a raw one is only there if that ever changes.
  if (auto auth = in.headers().tryGet<Http::Header::Authorization>()) {
    r.headers["authorization"] = auth->value();
  } else {
    for (const auto& [name, raw] : in.headers().rawList())
      if (lower(name) == "authorization") r.headers["authorization"] = raw.value();
  }
  r.body = in.body();
  return r;
}

// Pistache 0.0.5 never writes raw headers (pistacheio/pistache#967); a typed header of any name does.
class AnyHeader : public Http::Header::Header {
 public:
  AnyHeader(std::string name, std::string value) : m_name(std::move(name)), m_value(std::move(value)) {}
  const char* name() const override { return m_name.c_str(); }
  void write(std::ostream& os) const override { os << m_value; }
  std::uint64_t hash() const override { return Http::Header::detail::hash(m_name.c_str()); }

 private:
  std::string m_name;
  std::string m_value;
};

void add_header(Http::ResponseWriter& writer, std::string name, std::string value) {
  // The headers nearly every answer carries are made once (they are immutable, and a shared_ptr
  // copy is cheaper than a new header on every request).
  static const auto json = std::make_shared<AnyHeader>("Content-Type", "application/json");
  static const auto problem_json = std::make_shared<AnyHeader>("Content-Type", "application/problem+json");
  static const auto no_store = std::make_shared<AnyHeader>("Cache-Control", "no-store");
  if (name == "Content-Type" && value == "application/json") return void(writer.headers().add(json));
  if (name == "Content-Type" && value == "application/problem+json") return void(writer.headers().add(problem_json));
  if (name == "Cache-Control" && value == "no-store") return void(writer.headers().add(no_store));
  writer.headers().add(std::make_shared<AnyHeader>(std::move(name), std::move(value)));
}

// The headers an answer goes out with, whoever writes it: its own, its Content-Type, and
// "Cache-Control: no-store" unless it says otherwise.
std::vector<std::pair<std::string, std::string>> answer_headers(const Response& res) {
  std::vector<std::pair<std::string, std::string>> out(res.headers.begin(), res.headers.end());
  bool cache_control = false;
  for (const auto& [name, value] : res.headers) cache_control = cache_control || name == "Cache-Control";
  if (!res.content_type.empty()) out.emplace_back("Content-Type", res.content_type);
  if (!cache_control) out.emplace_back("Cache-Control", "no-store");
  return out;
}

void send(Http::ResponseWriter& writer, const Response& res, bool head, bool close = false) {
  auto headers = answer_headers(res);
  for (auto& [name, value] : headers) add_header(writer, name, value);
  auto code = static_cast<Http::Code>(res.status);
  if (res.stream && !head) {
    // Written by this worker on its own duplicate of the socket (see http/chunked.hpp); Pistache
    // sends nothing for this request.
    auto peer = writer.peer();
    const int fd = peer ? ::fcntl(peer->fd(), F_DUPFD_CLOEXEC, 0) : -1;
    if (fd < 0) {
      log::warn("a streamed answer found its connection gone");
      return;
    }
    ChunkedHead h{res.status, Http::codeString(code), std::move(headers)};
    const ChunkedResult r = send_chunked(fd, h, res.stream);
    if (!r.complete) log::warn("a streamed answer stopped after " + std::to_string(r.bytes) + " bytes: " + r.error);
    return;  // it ends the connection itself (Connection: close)
  }
  auto sent = writer.send(code, head ? std::string() : res.body);
  if (close) edge::EdgeHandler::close_when_sent(sent, writer.peer());
}

// The kept-alive fast path of GET /v1/locate: the whole answer written with one send() on the
// event loop, without Pistache's response writer (which formats headers through a new ostream
// each, queues the bytes, wakes its own loop through an eventfd and re-arms the socket in epoll:
// a third of a small request's CPU). Only for requests that asked for keep-alive: Pistache's
// handling of "Connection: close" stays its own. Returns false when nothing was written (the
// socket's buffer is full): the caller then answers through Pistache, which queues it. A partial
// write (a client that does not read its answers) closes the connection rather than leave half
// an answer in front of the next one.
bool send_direct(Http::ResponseWriter& writer, const Response& res) {
  if (res.stream || res.status != 200) return false;
  auto peer = writer.peer();
  if (!peer) return false;
  std::string head;
  head.reserve(160 + res.body.size());
  head += "HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\n";
  for (const auto& [name, value] : answer_headers(res)) head += name, head += ": ", head += value, head += "\r\n";
  head += "Content-Length: ", head += std::to_string(res.body.size()), head += "\r\n\r\n";
  head += res.body;
  const ssize_t n = ::send(peer->fd(), head.data(), head.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n == static_cast<ssize_t>(head.size())) {
    // What Pistache's writer does after an answer on a kept-alive connection: the peer waits for
    // its next request, so its idle check applies the keep-alive timeout (a silent close), not
    // the header timeout (which would send an unasked 408).
    peer->setIdle(true);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
  if (n >= 0) ::shutdown(peer->fd(), SHUT_RDWR);  // half an answer went out: end the connection
  return true;                                    // or the connection is gone: Pistache sees it on its own
}

bool asks_keep_alive(const Http::Request& request) {
  auto c = request.headers().tryGet<Http::Header::Connection>();
  return c && c->control() == Http::ConnectionControl::KeepAlive;
}

std::atomic<bool> g_stop{false};
std::atomic<bool> g_draining{false};
// Requests between their arrival and their answer's hand-over: the drain waits for none to be left.
std::atomic<int> g_in_flight{0};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Counts a request as under way for as long as it lives (moved into the worker's job with it).
class InFlight {
 public:
  InFlight() { g_in_flight.fetch_add(1, std::memory_order_relaxed); }
  ~InFlight() { g_in_flight.fetch_sub(1, std::memory_order_release); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

class RequestHandler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(RequestHandler)
  RequestHandler(const RouteTable* routes, const ServerOptions* options, WorkQueue* queue)
      : m_routes(routes), m_options(options), m_queue(queue) {}

  void onRequest(const Http::Request& request, Http::ResponseWriter writer) override {
    const auto arrived = Clock::now();
    RequestMetrics* metrics = m_options->metrics;
    auto in_flight = std::make_shared<InFlight>();
    // Everything that could throw stays inside: Pistache's own handler would send e.what().
    try {
      // Pistache leaves the connection open whatever the client asked. While draining, every
      // answer ends its connection, so that keep-alive clients (a balancer) reconnect elsewhere.
      const bool close = edge::EdgeHandler::wants_close(request) || g_draining.load(std::memory_order_relaxed);
      // Pistache answers "Connection: Close" to a request that does not name its connection yet
      // keeps the connection open, and echoes "Keep-Alive" even when we are about to close it.
      // An HTTP/1.1 connection persists unless a side says otherwise, and clients that believe
      // the header (curl, GDAL, QGIS, scripts, wrk) would open a new connection for every
      // request: say what is true.
      writer.headers().remove<Http::Header::Connection>();
      writer.headers().add<Http::Header::Connection>(close ? Http::ConnectionControl::Close : Http::ConnectionControl::KeepAlive);
      // The benchmark baseline: answered on the event loop, as a Pistache hello-world would be.
      if (request.resource() == "/hello" && request.method() == Http::Method::Get) {
        auto sent = writer.send(Http::Code::Ok, "hello");
        if (close) edge::EdgeHandler::close_when_sent(sent, writer.peer());
        return;
      }
      if (request.method() == Http::Method::Get) {
        if (const InlineHandler* fast = m_routes->inline_handler("GET", request.resource())) {
          const log::CurrentRequest current("GET", request.resource());
          if (auto res = (*fast)(copy_inline_request(request, "GET"))) {
            if (metrics) metrics->record(metrics->inline_route("GET", request.resource()), res->status, seconds_since(arrived));
            if (!close && asks_keep_alive(request) && send_direct(writer, *res)) return;
            send(writer, *res, false, close);
            return;
          }
        }
      }
      auto req = std::make_shared<Request>(copy_request(request, m_options->trusted_proxies));
      const bool head = req->method == "HEAD";
      if (req->body.size() > m_options->max_body_bytes) {
        if (metrics) metrics->record(-1, 413, seconds_since(arrived));
        send(writer, problem(413, "payload_too_large", "the body exceeds " + std::to_string(m_options->max_body_bytes >> 20) + " MiB"),
             false, close);
        return;
      }
      auto shared_writer = std::make_shared<Http::ResponseWriter>(std::move(writer));
      const RouteTable* routes = m_routes;
      bool queued = m_queue->push([routes, req, shared_writer, head, close, metrics, arrived, in_flight] {
        int route = -1;
        Response res = [&] {
          const log::CurrentRequest current(req->method, req->path);
          return dispatch(*routes, *req, &route);
        }();
        // Client and server errors are worth an operator's glance; successes are not logged.
        if (res.status >= 400) log::info(req->method + " " + req->path + " -> " + std::to_string(res.status));
        // Counted before it is sent: a client that reads /metrics right after its answer must
        // find that answer counted (another worker may serve the scrape before this one returns).
        if (metrics) metrics->record(route, res.status, seconds_since(arrived));
        try {
          send(*shared_writer, res, head, close);
        } catch (const std::exception& e) {
          log::warn(std::string("could not send a response: ") + e.what());
        }
      });
      if (!queued) {
        if (metrics) metrics->record(-1, 503, seconds_since(arrived));
        send(*shared_writer, problem(503, "overloaded", "the server is busy; retry shortly"), false, close);
      }
    } catch (const std::exception& e) {
      log::error(std::string("request handling failed before dispatch: ") + e.what());
    }
  }

 private:
  const RouteTable* m_routes;
  const ServerOptions* m_options;
  WorkQueue* m_queue;
};

void on_signal(int) { g_stop = true; }

// Closes the listening socket of `port` so that new connections are refused at once, while the
// connections already accepted stay open. Pistache keeps that socket to itself: it is found among
// the process's descriptors (a listening TCP socket bound to the port) and replaced, under the
// same descriptor number, by a socket that listens to nothing. Closing the last reference to the
// listening socket also takes it out of Pistache's epoll set, so its accept loop simply falls
// silent; the descriptor number stays valid for Pistache to close at shutdown.
bool stop_accepting(int port) {
  bool found = false;
  for (int fd = 0; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    int bound = -1;
    if (addr.ss_family == AF_INET) bound = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6) bound = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    if (bound != port) continue;
    const int idle = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (idle < 0) continue;
    if (::dup2(idle, fd) >= 0) found = true;
    ::close(idle);
  }
  return found;
}

}  // namespace

namespace {

// SQL failures that are not bugs: the client may retry (timeouts, lost races between transactions).
Response sql_problem(const pg::sql_error& e, const Request& req) {
  const std::string& state = e.sqlstate();
  // 57014 is also a cancel request's; wangge sends none, so it is always the statement timeout.
  if (state == "57014") {
    Response r = problem(503, "timeout", "the database took too long to answer; retry, or narrow the request");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  if (state == "40001" || state == "40P01" || state == "23505")
    return problem(409, "concurrent_change", "another change to the same data happened at the same time; retry");
  log::error(std::string("internal error on ") + req.method + " " + req.path + ": " + e.what());
  return problem(500, "internal", "an internal error occurred; it has been logged");
}

}  // namespace

bool draining() { return g_draining.load(std::memory_order_relaxed); }

namespace {
Response dispatch_copy(const RouteTable& routes, Request& req);
}

Response dispatch(const RouteTable& routes, const Request& in, int* route) {
  // HEAD is GET without the body (the sender drops it). The copy also takes the matched route's
  // path parameters.
  Request req = in;
  if (req.method == "HEAD") req.method = "GET";
  Response res = dispatch_copy(routes, req);
  if (route) *route = req.route;
  return res;
}

namespace {
Response dispatch_copy(const RouteTable& routes, Request& req) {
  try {
    if (!valid_utf8(req.path)) throw bad_request("invalid_encoding", "the path is not valid UTF-8 text");
    for (const auto& [k, v] : req.query)
      if (!valid_utf8(k) || !valid_utf8(v)) throw bad_request("invalid_encoding", "query parameter '" + k + "' is not valid UTF-8 text");
    return routes.handle(req);
  } catch (const Error& e) {
    Response r = problem(e.status(), e.code(), e.what(), e.extra_json());
    // A full cost gate: the client may come back once a running expensive request has ended.
    if (e.code() == "busy") r.headers.emplace_back("Retry-After", "2");
    if (e.status() == 405) {
      auto extra = nlohmann::json::parse(e.extra_json(), nullptr, false);
      if (extra.is_object() && extra.contains("allow")) r.headers.emplace_back("Allow", extra["allow"].get<std::string>());
    }
    return r;
  } catch (const pg::sql_error& e) {
    return sql_problem(e, req);
  } catch (const nlohmann::json::exception& e) {
    return problem(400, "invalid_json_value", "a JSON value has the wrong type or form");
  } catch (const std::exception& e) {
    log::error(std::string("internal error on ") + req.method + " " + req.path + ": " + e.what());
    return problem(500, "internal", "an internal error occurred; it has been logged");
  } catch (...) {
    log::error("unknown internal error on " + req.method + " " + req.path);
    return problem(500, "internal", "an internal error occurred; it has been logged");
  }
}
}  // namespace

struct Server::Impl {
  Impl(const RouteTable& r, ServerOptions o) : routes(r), options(std::move(o)), queue(options.workers, 4096) {}
  const RouteTable& routes;
  ServerOptions options;
  WorkQueue queue;
  metrics::Registration refusals = edge::register_refusal_metrics();
};

Server::Server(const RouteTable& routes, ServerOptions options) : m_impl(std::make_unique<Impl>(routes, std::move(options))) {}
Server::~Server() = default;

void Server::drain(const ServerOptions& c) {
  const auto started = Clock::now();
  g_draining = true;
  if (!stop_accepting(c.port)) log::warn("draining: the listening socket was not found; new connections are still accepted");
  log::info("draining: no new connections; finishing " + std::to_string(g_in_flight.load()) + " requests under way (at most " +
            std::to_string(c.drain_timeout_s) + " s)");
  const auto deadline = started + std::chrono::seconds(c.drain_timeout_s);
  // Done once nothing has been under way for a moment: the event loops then write out the last
  // answers handed to them, and a request already sent on an open connection is read and served.
  auto idle_since = Clock::now();
  while (Clock::now() < deadline) {
    if (g_in_flight.load(std::memory_order_acquire) > 0)
      idle_since = Clock::now();
    else if (Clock::now() - idle_since >= std::chrono::milliseconds(300))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int left = g_in_flight.load();
  char msg[160];
  std::snprintf(msg, sizeof msg, "drained in %.3f s%s; shutting down", seconds_since(started),
                left > 0 ? (", cutting off " + std::to_string(left) + " requests").c_str() : "");
  log::info(msg);
  // What is left waits on something that did not end in time (a lock, a long statement): its
  // worker would hold up every destructor after this. The connections close with the process.
  if (left > 0) {
    std::fflush(stderr);
    std::_Exit(0);
  }
}

void Server::run() {
  const ServerOptions& c = m_impl->options;
  Address address(c.listen_address, Port(static_cast<uint16_t>(c.port)));
  Http::Endpoint endpoint(address);
  // Requests reach Pistache's parser through the edge (http/edge.hpp), whole and within our
  // limits; Pistache's own limit (a plain-text 413) sits above them so that it never answers.
  edge::Limits limits{c.max_head_bytes, c.max_headers, c.max_body_bytes};
  edge::read_arrival_limits(limits);
  set_max_json_depth(c.max_json_depth);
  auto opts = Http::Endpoint::options()
                  .threads(c.http_threads)
                  .flags(Tcp::Options::ReuseAddr)
                  .maxRequestSize(c.max_body_bytes + c.max_head_bytes + (1u << 20))
                  .maxResponseSize(std::max<std::size_t>(c.max_body_bytes * 4, 256u << 20))
                  // Pistache measures both timeouts from the end of the previous request, also
                  // while a handler is still working on a worker thread: with its 60 s defaults a
                  // longer request (an 85,000-grid import) got a 408 and a closed connection.
                  .headerTimeout(std::chrono::seconds(c.request_timeout_s))
                  .bodyTimeout(std::chrono::seconds(c.request_timeout_s));
  endpoint.init(opts);
  endpoint.setHandler(
      std::make_shared<edge::EdgeHandler>(Http::make_handler<RequestHandler>(&m_impl->routes, &m_impl->options, &m_impl->queue), limits));
  log::install_crash_handler();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  endpoint.serveThreaded();
  log::info("serving on " + c.base_url);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  drain(c);
  endpoint.shutdown();
}

}  // namespace wangge::http
