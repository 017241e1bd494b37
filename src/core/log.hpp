// Minimal structured logging to stderr: one line per event, with a UTC timestamp. Control
// characters (and the backslash) in a message are written as \xNN: text from a request, such as a
// percent-decoded path, can neither start a line of its own nor hide what follows.
// With WANGGE_LOG_FORMAT=json each line is a JSON object instead: {"time", "level", "msg"}, the
// message escaped as JSON strings are (so it can never end the object early).
#pragma once

#include <string>
#include <string_view>

namespace wangge::log {

void info(std::string_view message);
void warn(std::string_view message);
void error(std::string_view message);

// The message as it is written: control characters and backslashes escaped.
std::string escaped(std::string_view message);
// The message as the inside of a JSON string: quotes, backslashes and control characters escaped.
std::string json_escaped(std::string_view message);
// The same, appended to `out` (no string of its own: for writers of large documents).
void append_json_escaped(std::string& out, std::string_view message);

// Installs handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT that write one line naming the
// signal and the request the crashing thread was working on (method and path, never the body),
// then let the signal end the process as it would have.
void install_crash_handler();

// Marks the request this thread works on for the crash line, for as long as it lives. Also gives
// the thread a stack of its own for the handler, so a stack overflow is reported too.
class CurrentRequest {
 public:
  CurrentRequest(std::string_view method, std::string_view path);
  ~CurrentRequest();
  CurrentRequest(const CurrentRequest&) = delete;
  CurrentRequest& operator=(const CurrentRequest&) = delete;
};

}  // namespace wangge::log
