// multipart/form-data bodies (RFC 7578), as browsers and `curl -F` send uploads. The parts are views
// into the body: nothing is copied, so a large upload is held once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wangge::exchange {

// One part of a multipart/form-data body.
struct FormPart {
  std::string name, filename, content_type;
  std::string_view data;  // in the body given to form_parts
};

// The value of `key` among a header's ;-separated parameters (key=value or key="value"), for
// Content-Type's boundary and Content-Disposition's name and filename; "" when absent. Keys
// compare without regard to ASCII case.
std::string header_param(std::string_view header, std::string_view key);

// The parts of `body`, whose Content-Type header is `content_type`. Throws bad_request
// ("invalid_body") when there is no boundary or the body is malformed or truncated, and 413
// too_many_form_parts beyond `max_parts` (an import's form has a file and a few options;
// thousands of tiny parts are only work).
std::vector<FormPart> form_parts(std::string_view body, const std::string& content_type, std::size_t max_parts = 16);

}  // namespace wangge::exchange
