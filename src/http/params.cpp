#include "http/params.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.hpp"

namespace wangge::http {

long long int_param(const Request& req, const std::string& name, long long fallback, long long min, long long max) {
  auto v = req.param(name);
  if (!v) return fallback;
  long long out = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || end != v->data() + v->size() || out < min || out > max)
    throw bad_request("invalid_parameter", name + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return out;
}

bool bool_param(const Request& req, const std::string& name, bool fallback) {
  auto v = req.param(name);
  if (!v) return fallback;
  if (*v == "true" || *v == "1" || v->empty()) return true;
  if (*v == "false" || *v == "0") return false;
  throw bad_request("invalid_parameter", name + " must be true or false");
}

std::optional<Micros> time_param(const Request& req, const std::string& name) {
  auto v = req.param(name);
  if (!v) return std::nullopt;
  std::string text = *v;
  // An unencoded '+' of a UTC offset arrives as a space; take it back.
  if (text.size() > 19) {
    auto pos = text.find(' ', 19);
    if (pos != std::string::npos) text[pos] = '+';
  }
  auto t = parse_rfc3339(text);
  // Years outside 1900..9999 are typos, and some of them PostgreSQL cannot represent.
  static const Micros kEarliest = *parse_rfc3339("1900-01-01T00:00:00Z");
  static const Micros kLatest = *parse_rfc3339("9999-12-31T23:59:59Z");
  if (!t || *t < kEarliest || *t > kLatest)
    throw bad_request("invalid_parameter", name + " must be an RFC 3339 date-time between 1900 and 9999, e.g. 2026-01-01T00:00:00Z");
  return t;
}

std::array<double, 4> bbox_param(const std::string& text) {
  std::array<double, 4> out{};
  std::size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    std::size_t comma = text.find(',', pos);
    if ((i < 3) != (comma != std::string::npos)) comma = std::string::npos;
    std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      std::size_t used = 0;
      out[i] = std::stod(part, &used);
      if (used != part.size() || !std::isfinite(out[i])) throw std::invalid_argument("bbox");
    } catch (const std::exception&) {
      throw bad_request("invalid_parameter", "bbox must be minLon,minLat,maxLon,maxLat (EPSG:4490)");
    }
    if (i < 3 && comma == std::string::npos) throw bad_request("invalid_parameter", "bbox must be minLon,minLat,maxLon,maxLat (EPSG:4490)");
    pos = comma + 1;
  }
  if (out[0] > out[2] || out[1] > out[3]) throw bad_request("invalid_parameter", "bbox minimum exceeds maximum");
  return out;
}

namespace {
std::atomic<int> g_max_json_depth{64};
}  // namespace

void set_max_json_depth(int depth) { g_max_json_depth = depth; }

int json_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return limit + 1;
      deepest = std::max(deepest, depth);
    } else if (c == ']' || c == '}') {
      --depth;  // unbalanced text is the parser's to refuse
    }
  }
  return deepest;
}

nlohmann::json json_body(const Request& req) {
  auto type = req.header("content-type").value_or("");
  auto semi = type.find(';');
  std::string media = type.substr(0, semi);
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (media != "application/json" && media != "application/geo+json" && media != "application/merge-patch+json")
    throw Error(415, "unsupported_media_type", "send the body as application/json or application/geo+json");
  // Before parsing: whatever walks the parsed value afterwards (here, the GeoJSON readers, the
  // database's jsonb) may recurse once per level.
  const int limit = g_max_json_depth.load();
  if (json_depth(req.body, limit) > limit)
    throw Error(422, "json_too_deep",
                "the body nests arrays and objects deeper than " + std::to_string(limit) + " levels (setting WANGGE_MAX_JSON_DEPTH)",
                nlohmann::json({{"max_depth", limit}}).dump());
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::parse_error& e) {
    throw bad_request("malformed_json", "the body is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::exception&) {
    // A number beyond double's range (1e999) is an out_of_range from the parser, not a parse_error.
    throw bad_request("malformed_json", "the body is not valid JSON (a number out of range)");
  }
  reject_nul(body);
  return body;
}

void reject_nul(const nlohmann::json& value) {
  // PostgreSQL text cannot hold U+0000: it would cut a name short or fail a jsonb cast.
  auto has_nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  std::vector<const nlohmann::json*> todo{&value};
  while (!todo.empty()) {
    const nlohmann::json& v = *todo.back();
    todo.pop_back();
    if (v.is_string() && has_nul(v.get_ref<const std::string&>()))
      throw unprocessable("invalid_property", "text must not contain the character U+0000");
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (has_nul(it.key())) throw unprocessable("invalid_property", "property names must not contain the character U+0000");
        todo.push_back(&it.value());
      }
    } else if (v.is_array()) {
      for (const auto& item : v) todo.push_back(&item);
    }
  }
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c == 0) return false;
    if (c < 0x80)
      n = 0;
    else if (c >= 0xC2 && c <= 0xDF)
      n = 1;
    else if (c >= 0xE0 && c <= 0xEF)
      n = 2;
    else if (c >= 0xF0 && c <= 0xF4)
      n = 3;
    else
      return false;
    if (i + n >= s.size() && n > 0) return false;
    for (std::size_t k = 1; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    if (n > 0) {
      // Overlong forms, UTF-16 surrogates and code points above U+10FFFF.
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return false;
    }
    i += n + 1;
  }
  return true;
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ',' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string crs_text(const Request& req, const nlohmann::json* body) {
  constexpr std::size_t kMaxCrsText = 64;  // "urn:ogc:def:crs:EPSG::4490" and the like are far shorter
  std::string text;
  if (body && body->is_object() && body->contains("crs")) {
    const auto& c = (*body)["crs"];
    if (!c.is_string()) throw bad_request("unsupported_crs", "crs must be a string such as EPSG:4490");
    text = c.get<std::string>();
  } else {
    text = req.param("crs").value_or("");
  }
  if (text.size() > kMaxCrsText) throw bad_request("unsupported_crs", "crs is at most 64 characters, such as EPSG:4490");
  return text;
}

std::string page_link(const std::string& base_url, const Request& req, long long offset, long long limit) {
  std::string url = base_url + req.path + "?";
  bool first = true;
  for (const auto& [k, v] : req.query) {
    if (k == "offset" || k == "limit") continue;
    url += (first ? "" : "&") + percent_encode(k) + "=" + percent_encode(v);
    first = false;
  }
  url += (first ? "" : "&") + std::string("limit=") + std::to_string(limit) + "&offset=" + std::to_string(offset);
  return url;
}

[[noreturn]] void throw_method_not_allowed(const std::string& allowed) {
  throw Error(405, "method_not_allowed", "this resource allows " + allowed, nlohmann::json({{"allow", allowed}}).dump());
}

}  // namespace wangge::http
