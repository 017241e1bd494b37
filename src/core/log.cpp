#include "core/log.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <algorithm>
#include <mutex>

#include "core/time.hpp"

namespace wangge::log {
namespace {
std::mutex g_mutex;

// WANGGE_LOG_FORMAT=json: one JSON object per line, for collectors that parse lines (journald's
// exporters, Loki, Elasticsearch); read once, at the first line.
bool json_lines() {
  static const bool json = [] {
    const char* f = std::getenv("WANGGE_LOG_FORMAT");
    return f && std::strcmp(f, "json") == 0;
  }();
  return json;
}

void write(const char* level, std::string_view message) {
  if (json_lines()) {
    std::string line = "{\"time\":\"" + format_rfc3339(now_utc()) + "\",\"level\":\"";
    for (const char* c = level; *c; ++c) line += static_cast<char>(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    line += "\",\"msg\":\"" + json_escaped(message) + "\"}\n";
    std::lock_guard lock(g_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    return;
  }
  const std::string text = escaped(message);
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s %s %.*s\n", format_rfc3339(now_utc()).c_str(), level, static_cast<int>(text.size()), text.data());
}

// What the crash line says about the thread's request: filled by CurrentRequest, read by the
// signal handler (plain bytes, nothing to allocate or lock there).
constexpr std::size_t kRouteBytes = 240;
thread_local char t_route[kRouteBytes];
thread_local std::size_t t_route_size = 0;
thread_local std::unique_ptr<char[]> t_alt_stack;

void put(const char* text, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, text, n);
    if (w <= 0) return;
    text += w;
    n -= static_cast<std::size_t>(w);
  }
}

void on_crash(int sig) {
  // Async-signal-safe only: write(2) and fixed buffers.
  char number[8];
  int n = 0;
  for (int s = sig; s > 0 && n < 7; s /= 10) number[n++] = static_cast<char>('0' + s % 10);
  char digits[8];
  for (int i = 0; i < n; ++i) digits[i] = number[n - 1 - i];
  const bool json = json_lines();  // already read at start-up (the first line), so no getenv here
  static const char kHead[] = "FATAL the server crashed with signal ";
  static const char kJsonHead[] = "{\"level\":\"fatal\",\"msg\":\"the server crashed with signal ";
  if (json)
    put(kJsonHead, sizeof kJsonHead - 1);
  else
    put(kHead, sizeof kHead - 1);
  put(digits, static_cast<std::size_t>(n));
  if (t_route_size > 0) {
    static const char kOn[] = " while answering ";
    put(kOn, sizeof kOn - 1);
    put(t_route, t_route_size);
  } else {
    static const char kNone[] = " outside any request";
    put(kNone, sizeof kNone - 1);
  }
  if (json) put("\"}", 2);
  put("\n", 1);
  // SA_RESETHAND restored the default action: raising again ends the process as the signal would
  // (a core dump where they are enabled).
  ::raise(sig);
}

}  // namespace

void info(std::string_view m) { write("INFO", m); }
void warn(std::string_view m) { write("WARN", m); }
void error(std::string_view m) { write("ERROR", m); }

void append_json_escaped(std::string& out, std::string_view message) {
  static const char* digits = "0123456789abcdef";
  std::size_t plain = 0;  // runs of bytes that need no escape are appended whole
  for (std::size_t i = 0; i < message.size(); ++i) {
    const auto c = static_cast<unsigned char>(message[i]);
    if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f) continue;
    out.append(message.data() + plain, i - plain);
    plain = i + 1;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      out += "\\u00";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  out.append(message.data() + plain, message.size() - plain);
}

std::string json_escaped(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  append_json_escaped(out, message);
  return out;
}

std::string escaped(std::string_view message) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(message.size());
  for (const char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

void install_crash_handler() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_crash;
  sa.sa_flags = SA_RESETHAND | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(sig, &sa, nullptr);
}

CurrentRequest::CurrentRequest(std::string_view method, std::string_view path) {
  if (!t_alt_stack) {
    // One per thread, kept for its life: a handler cannot run on a stack that overflowed.
    static constexpr std::size_t kSize = 64 * 1024;
    stack_t st{};
    t_alt_stack = std::make_unique<char[]>(kSize);
    st.ss_sp = t_alt_stack.get();
    st.ss_size = kSize;
    ::sigaltstack(&st, nullptr);
  }
  // Straight into the thread's buffer (this runs for every request): control bytes become '?',
  // and so do quotes and backslashes in JSON lines (the crash line writes these bytes inside a
  // JSON string); the rest is kept as sent, cut at the buffer's end.
  const bool json = json_lines();
  std::size_t n = 0;
  const auto append = [&n, json](std::string_view text) {
    for (const char c : text) {
      if (n == kRouteBytes) return;
      const auto byte = static_cast<unsigned char>(c);
      t_route[n++] = (byte < 0x20 || byte == 0x7f || (json && (c == '"' || c == '\\'))) ? '?' : c;
    }
  };
  append(method);
  append(" ");
  append(path);
  t_route_size = n;
}

CurrentRequest::~CurrentRequest() { t_route_size = 0; }

}  // namespace wangge::log
