// The one error ladder. Every failure a client can see is one of these; src/http turns them into
// application/problem+json with the stable `code`. Anything else that escapes is reported as a 500
// "internal" without its message, because messages of foreign exceptions may carry SQL or paths.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace wangge {

class Error : public std::runtime_error {
 public:
  // `code` is a stable snake_case identifier listed in api/errors.md; `detail` is safe for clients.
  Error(int status, std::string code, std::string detail, std::string extra_json = {})
      : std::runtime_error(detail), m_status(status), m_code(std::move(code)), m_extra_json(std::move(extra_json)) {}
  int status() const noexcept { return m_status; }
  const std::string& code() const noexcept { return m_code; }
  // A JSON object (as text) merged into the problem document, e.g. the overlap geometry.
  const std::string& extra_json() const noexcept { return m_extra_json; }

 private:
  int m_status;
  std::string m_code;
  std::string m_extra_json;
};

// 400: the request cannot be parsed or a parameter is malformed.
struct bad_request : Error {
  bad_request(std::string code, std::string detail, std::string extra = {})
      : Error(400, std::move(code), std::move(detail), std::move(extra)) {}
};
// 422: well-formed but breaks a rule (invalid geometry, outside the parent, bad code).
struct unprocessable : Error {
  unprocessable(std::string code, std::string detail, std::string extra = {})
      : Error(422, std::move(code), std::move(detail), std::move(extra)) {}
};
struct not_found : Error {
  not_found(std::string code, std::string detail) : Error(404, std::move(code), std::move(detail)) {}
};
// 409: conflicts with the current state (overlap with a sibling, code taken).
struct conflict : Error {
  conflict(std::string code, std::string detail, std::string extra = {})
      : Error(409, std::move(code), std::move(detail), std::move(extra)) {}
};
struct unauthorized : Error {
  explicit unauthorized(std::string detail) : Error(401, "unauthorized", std::move(detail)) {}
};
struct forbidden : Error {
  forbidden(std::string code, std::string detail) : Error(403, std::move(code), std::move(detail)) {}
};
// 503: a dependency (the database) is unavailable; retrying later may succeed.
struct unavailable : Error {
  unavailable(std::string code, std::string detail) : Error(503, std::move(code), std::move(detail)) {}
};

}  // namespace wangge
