// Minimal structured logging to stderr: one line per event, with a UTC timestamp.
#pragma once

#include <string_view>

namespace wangge::log {

void info(std::string_view message);
void warn(std::string_view message);
void error(std::string_view message);

}  // namespace wangge::log
