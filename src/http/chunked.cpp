#include "http/chunked.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace wangge::http {
namespace {

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() {
    if (m_fd >= 0) ::close(m_fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return m_fd; }

 private:
  int m_fd;
};

// Writes every byte of the pieces, waiting for the socket when it is full.
void write_all(int fd, iovec* iov, int n, int idle_ms) {
  while (n > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(n);
    const ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
      pollfd p{fd, POLLOUT, 0};
      const int r = ::poll(&p, 1, idle_ms);
      if (r == 0) throw std::runtime_error("the client took no data for " + std::to_string(idle_ms / 1000) + " s");
      if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
      if (r > 0 && (p.revents & (POLLERR | POLLHUP)) && !(p.revents & POLLOUT))
        throw std::runtime_error("the client closed the connection");
      continue;
    }
    auto left = static_cast<std::size_t>(w);
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
}

}  // namespace

ChunkedResult send_chunked(int raw_fd, const ChunkedHead& head, const std::function<bool(std::string&)>& produce, int idle_ms) {
  Fd fd(raw_fd);
  ChunkedResult result;
  try {
    std::string h = "HTTP/1.1 " + std::to_string(head.status) + " " + head.reason + "\r\n";
    for (const auto& [name, value] : head.headers) h += name + ": " + value + "\r\n";
    h += "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    iovec one{h.data(), h.size()};
    write_all(fd.get(), &one, 1, idle_ms);
    std::string chunk;
    bool more = true;
    while (more) {
      chunk.clear();
      more = produce(chunk);
      if (chunk.empty()) continue;
      char size[24];
      const int len = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
      char crlf[] = "\r\n";
      iovec iov[3] = {{size, static_cast<std::size_t>(len)}, {chunk.data(), chunk.size()}, {crlf, 2}};
      write_all(fd.get(), iov, 3, idle_ms);
      result.bytes += chunk.size();
    }
    char last[] = "0\r\n\r\n";
    iovec end{last, 5};
    write_all(fd.get(), &end, 1, idle_ms);
    result.complete = true;
  } catch (const std::exception& e) {
    result.error = e.what();
  } catch (...) {
    result.error = "unknown error while producing the answer";
  }
  // The answer ends here either way: the client sees the end of the stream (or a cut one), and
  // the connection carries nothing else (Connection: close).
  ::shutdown(fd.get(), SHUT_WR);
  return result;
}

}  // namespace wangge::http
