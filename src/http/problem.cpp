#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "http/request.hpp"

namespace wangge::http {

std::optional<std::string> Request::param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

const std::string& Request::path_param(const std::string& name) const {
  auto it = path_params.find(name);
  if (it == path_params.end()) throw std::logic_error("route has no path parameter {" + name + "}");
  return it->second;
}

Response empty_response(int status) {
  Response r;
  r.status = status;
  r.content_type.clear();
  return r;
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

namespace {
const char* title_of(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return status >= 500 ? "Internal Server Error" : "Error";
  }
}
}  // namespace

Response problem(int status, const std::string& code, const std::string& detail, const std::string& extra_json) {
  nlohmann::json doc = {
      {"type", "/api/errors#" + code}, {"title", title_of(status)}, {"status", status}, {"detail", detail}, {"code", code}};
  if (!extra_json.empty()) {
    auto extra = nlohmann::json::parse(extra_json, nullptr, false);
    if (extra.is_object())
      for (auto it = extra.begin(); it != extra.end(); ++it)
        if (!doc.contains(it.key())) doc[it.key()] = it.value();
  }
  Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = doc.dump();
  // Both schemes, so that clients that only know Basic (QGIS, GDAL) prompt for it.
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"wangge\", Basic realm=\"wangge\", charset=\"UTF-8\"");
  // A problem that says when to come back (a locked account) says it to HTTP clients too.
  if (auto it = doc.find("retry_after"); it != doc.end() && it->is_number_integer())
    r.headers.emplace_back("Retry-After", std::to_string(it->get<long long>()));
  return r;
}

}  // namespace wangge::http
