// Parsing of query parameters and bodies, shared by the route groups. Every failure is a 400 with
// code invalid_parameter (or malformed_json / unsupported_media_type for bodies).
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/time.hpp"
#include "http/request.hpp"

namespace wangge::http {

long long int_param(const Request& req, const std::string& name, long long fallback, long long min, long long max);
bool bool_param(const Request& req, const std::string& name, bool fallback);
std::optional<Micros> time_param(const Request& req, const std::string& name);
std::array<double, 4> bbox_param(const std::string& text);
// Parses the body as JSON after checking its media type; text holding U+0000 is refused (422), and
// so is nesting deeper than the configured depth (422 json_too_deep), before the parser sees it.
nlohmann::json json_body(const Request& req);
// The nesting limit json_body applies (WANGGE_MAX_JSON_DEPTH); set once at start-up.
void set_max_json_depth(int depth);
// The deepest nesting of arrays and objects in `text` (not validated; strings skipped), or
// `limit` + 1 as soon as it goes beyond `limit`.
int json_depth(std::string_view text, int limit);
// Walks without recursion: a value may be as deep as its parser allowed.
void reject_nul(const nlohmann::json& value);
// Well-formed UTF-8 without NUL bytes: what may reach the database as text.
bool valid_utf8(std::string_view s);
// This request's URL with offset/limit replaced, for paging links; `base_url` is the server's
// public address (configured, never taken from the request's Host header).
std::string page_link(const std::string& base_url, const Request& req, long long offset, long long limit);
// The CRS a request names, as text for geom::parse_crs or crs::parse_point_crs: the body's "crs"
// member when the body is given and has one, else the `crs` query parameter, else "" (the
// default). One rule for every route: a body "crs" must be a string of at most 64 characters
// (400 unsupported_crs).
std::string crs_text(const Request& req, const nlohmann::json* body = nullptr);
[[noreturn]] void throw_method_not_allowed(const std::string& allowed);
std::string percent_decode(std::string_view text, bool plus_is_space);
std::string percent_encode(std::string_view text);

}  // namespace wangge::http
