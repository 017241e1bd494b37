#include "core/log.hpp"

#include <cstdio>
#include <mutex>

#include "core/time.hpp"

namespace wangge::log {
namespace {
std::mutex g_mutex;
void write(const char* level, std::string_view message) {
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s %s %.*s\n", format_rfc3339(now_utc()).c_str(), level,
               static_cast<int>(message.size()), message.data());
}
}  // namespace

void info(std::string_view m) { write("INFO", m); }
void warn(std::string_view m) { write("WARN", m); }
void error(std::string_view m) { write("ERROR", m); }

}  // namespace wangge::log
