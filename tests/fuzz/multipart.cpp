// multipart/form-data uploads: the first line is the Content-Type header, the rest the body. The
// parts are views inside the body; a malformed body is a bad_request, too many parts a 413, nothing else.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "exchange/multipart.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  if (nl == std::string_view::npos) return 0;
  const std::string content_type(input.substr(0, nl));
  const std::string body(input.substr(nl + 1));  // its own allocation, so ASan sees reads past it
  try {
    for (const auto& part : wangge::exchange::form_parts(body, content_type)) {
      if (part.data.data() < body.data() || part.data.data() + part.data.size() > body.data() + body.size()) __builtin_trap();
    }
  } catch (const wangge::bad_request&) {
  } catch (const wangge::Error& e) {
    if (e.status() != 413) __builtin_trap();
  }
  (void)wangge::exchange::header_param(content_type, "boundary");
  return 0;
}
