#include "exchange/multipart.hpp"

#include <cctype>

#include "core/error.hpp"

namespace wangge::exchange {

std::string header_param(std::string_view header, std::string_view key) {
  std::size_t at = 0;
  while (at < header.size()) {
    std::size_t end = at;
    bool quoted = false;
    while (end < header.size() && (quoted || header[end] != ';')) {
      if (header[end] == '"') quoted = !quoted;
      ++end;
    }
    std::string_view item = header.substr(at, end - at);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos && eq == key.size()) {
      bool same = true;
      for (std::size_t i = 0; i < eq; ++i)
        same = same && std::tolower(static_cast<unsigned char>(item[i])) == std::tolower(static_cast<unsigned char>(key[i]));
      if (same) {
        std::string_view v = item.substr(eq + 1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.remove_suffix(1);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return std::string(v);
      }
    }
    at = end + 1;
  }
  return "";
}

std::vector<FormPart> form_parts(std::string_view body, const std::string& content_type, std::size_t max_parts) {
  const std::string boundary = header_param(content_type, "boundary");
  if (boundary.empty()) throw bad_request("invalid_body", "multipart body without a boundary in its Content-Type");
  const std::string delimiter = "--" + boundary;
  std::vector<FormPart> parts;
  std::size_t at = body.find(delimiter);
  if (at == std::string_view::npos) throw bad_request("invalid_body", "multipart body without its boundary");
  while (true) {
    at += delimiter.size();
    if (body.substr(at, 2) == "--") break;  // the closing delimiter
    if (body.substr(at, 2) != "\r\n") throw bad_request("invalid_body", "malformed multipart body");
    at += 2;
    const auto head_end = body.find("\r\n\r\n", at);
    const auto next = body.find("\r\n" + delimiter, at);
    if (head_end == std::string_view::npos || next == std::string_view::npos || head_end > next)
      throw bad_request("invalid_body", "malformed or truncated multipart body");
    FormPart part;
    std::string_view head = body.substr(at, head_end - at);
    for (std::size_t line = 0; line < head.size();) {
      auto eol = head.find("\r\n", line);
      if (eol == std::string_view::npos) eol = head.size();
      std::string_view h = head.substr(line, eol - line);
      const auto colon = h.find(':');
      if (colon != std::string_view::npos) {
        std::string key(h.substr(0, colon));
        for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (key == "content-disposition") {
          part.name = header_param(value, "name");
          part.filename = header_param(value, "filename");
        } else if (key == "content-type") {
          part.content_type = std::string(value);
        }
      }
      line = eol + 2;
    }
    part.data = body.substr(head_end + 4, next - head_end - 4);
    if (parts.size() == max_parts)
      throw Error(413, "too_many_form_parts",
                  "a multipart body may have at most " + std::to_string(max_parts) + " parts (WANGGE_MAX_FORM_PARTS)",
                  "{\"limit\":" + std::to_string(max_parts) + "}");
    parts.push_back(std::move(part));
    at = next + 2;
  }
  return parts;
}

}  // namespace wangge::exchange
