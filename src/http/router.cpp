#include "http/router.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "core/error.hpp"

namespace wangge::http {
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

void RouteTable::add(const std::string& method, const std::string& pattern, Handler handler) {
  Route r;
  r.method = method;
  r.pattern = pattern;
  r.path = pattern.substr(0, pattern.find('?'));
  r.handler = std::move(handler);
  std::string path = pattern;
  if (auto q = pattern.find('?'); q != std::string::npos) {
    path = pattern.substr(0, q);
    std::string rest = pattern.substr(q + 1);
    for (std::size_t i = 0; i <= rest.size();) {
      std::size_t j = std::min(rest.find('&', i), rest.size());
      if (j > i) r.required_query.push_back(rest.substr(i, j - i));
      i = j + 1;
    }
    std::sort(r.required_query.begin(), r.required_query.end());
  }
  if (path.empty() || path[0] != '/') throw std::logic_error("route pattern must start with '/': " + pattern);
  for (const auto& text : split_path(path)) {
    Segment s;
    if (text.front() == '{') {
      const auto close = text.find('}');
      if (close == std::string::npos || close < 2) throw std::logic_error("route pattern has a malformed {name}: " + pattern);
      s.text = text.substr(1, close - 1);
      s.suffix = text.substr(close + 1);
      if (s.text.front() == '*') {
        if (!s.suffix.empty()) throw std::logic_error("a catch-all takes no suffix: " + pattern);
        s.kind = Segment::kCatchAll;
        s.text.erase(0, 1);
      } else {
        s.kind = s.suffix.empty() ? Segment::kParam : Segment::kParamWithSuffix;
      }
    } else {
      if (text.find_first_of("{}") != std::string::npos) throw std::logic_error("route pattern mixes text and {name}: " + pattern);
      s.kind = Segment::kLiteral;
      s.text = text;
    }
    if (!r.segments.empty() && r.segments.back().kind == Segment::kCatchAll)
      throw std::logic_error("a catch-all must be the last segment: " + pattern);
    r.segments.push_back(std::move(s));
  }
  for (const auto& other : m_routes)
    if (other.method == method && other.pattern == pattern) throw std::logic_error("route registered twice: " + method + " " + pattern);
  const std::size_t index = m_routes.size();
  if (!r.segments.empty() && r.segments.back().kind == Segment::kCatchAll) {
    m_catch_alls.push_back(index);
  } else {
    if (m_by_length.size() <= r.segments.size()) m_by_length.resize(r.segments.size() + 1);
    m_by_length[r.segments.size()].push_back(index);
  }
  m_routes.push_back(std::move(r));
}

void RouteTable::add_inline(const std::string& method, const std::string& exact_path, InlineHandler handler) {
  m_inline.push_back({method, exact_path, std::move(handler)});
}

const InlineHandler* RouteTable::inline_handler(std::string_view method, std::string_view path) const {
  for (const auto& i : m_inline)
    if (i.method == method && i.path == path) return &i.handler;
  return nullptr;
}

bool RouteTable::matches_path(const Route& route, const Request& req, std::map<std::string, std::string>* params) {
  const auto& segs = req.segments;
  // Most patterns are ruled out by their length alone; only a catch-all takes a longer path.
  const bool catch_all = !route.segments.empty() && route.segments.back().kind == Segment::kCatchAll;
  if (catch_all ? segs.size() < route.segments.size() : segs.size() != route.segments.size()) return false;
  std::size_t i = 0;
  for (const auto& s : route.segments) {
    if (s.kind == Segment::kCatchAll) {
      if (params) {
        std::string rest;
        for (; i < segs.size(); ++i) rest += (rest.empty() ? "" : "/") + segs[i];
        (*params)[s.text] = rest;
      }
      return true;
    }
    const std::string& text = segs[i];
    switch (s.kind) {
      case Segment::kLiteral:
        if (text != s.text) return false;
        break;
      case Segment::kParam:
        if (params) (*params)[s.text] = text;
        break;
      case Segment::kParamWithSuffix:
        if (text.size() <= s.suffix.size() || text.compare(text.size() - s.suffix.size(), s.suffix.size(), s.suffix) != 0) return false;
        if (params) (*params)[s.text] = text.substr(0, text.size() - s.suffix.size());
        break;
      case Segment::kCatchAll:
        break;
    }
    ++i;
  }
  return i == segs.size();
}

bool RouteTable::more_specific_path(const Route& a, const Route& b) {
  const std::size_t n = std::min(a.segments.size(), b.segments.size());
  for (std::size_t i = 0; i < n; ++i)
    if (a.segments[i].kind != b.segments[i].kind) return a.segments[i].kind > b.segments[i].kind;
  return false;
}

Response RouteTable::handle(Request& req) const {
  const std::string_view method = req.method == "HEAD" ? std::string_view("GET") : std::string_view(req.method);
  // First the resource: the most specific path pattern that matches, whatever the method. Then
  // the method on that resource: a GET of /v1/areas/merge is a 405 of the merge resource, not a
  // lookup of an area coded "merge". Matching captures no parameters: only the chosen route's
  // are read, once (this loop runs over every route for every request).
  static const std::vector<std::size_t> kNone;
  const auto& same_length = req.segments.size() < m_by_length.size() ? m_by_length[req.segments.size()] : kNone;
  const Route* resource = nullptr;
  for (const auto* candidates : {&same_length, &m_catch_alls})
    for (const std::size_t i : *candidates) {
      const Route& r = m_routes[i];
      if (!matches_path(r, req, nullptr)) continue;
      if (!resource || more_specific_path(r, *resource)) resource = &r;
    }
  if (!resource) throw not_found("not_found", "no resource at " + req.path);
  // Routes of one path have its number of segments: the same candidates hold them all.
  const Route* best = nullptr;
  for (const auto* candidates : {&same_length, &m_catch_alls})
    for (const std::size_t i : *candidates) {
      const Route& r = m_routes[i];
      if (r.method != method || r.path != resource->path) continue;
      bool query_ok = true;
      for (const auto& q : r.required_query) query_ok = query_ok && req.query.count(q) > 0;
      if (!query_ok) continue;
      // Of a plain PATCH and one requiring ?adjust, a request with adjust= is the latter's.
      if (!best || r.required_query.size() > best->required_query.size()) best = &r;
    }
  if (!best) {
    std::set<std::string> allowed;
    for (const auto& r : m_routes)
      if (r.path == resource->path) allowed.insert(r.method);
    // In the usual order of HTTP's methods, as clients and the documentation list them.
    static const std::vector<std::string> order = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    std::string allow;
    for (const auto& m : order)
      if (allowed.erase(m)) allow += (allow.empty() ? "" : ", ") + m;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    throw Error(405, "method_not_allowed", "this resource allows " + allow, nlohmann::json({{"allow", allow}}).dump());
  }
  req.path_params.clear();
  matches_path(*best, req, &req.path_params);
  req.route = static_cast<int>(best - m_routes.data());
  return best->handler(req);
}

std::vector<std::pair<std::string, std::string>> RouteTable::inline_paths() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& i : m_inline) out.emplace_back(i.method, i.path);
  return out;
}

std::vector<std::string> RouteTable::describe() const {
  std::vector<std::string> out;
  for (const auto& r : m_routes) out.push_back(r.method + " " + r.pattern);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace wangge::http
