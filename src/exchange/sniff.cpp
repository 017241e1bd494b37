#include "exchange/sniff.hpp"

#include <cctype>

#include "core/error.hpp"

namespace wangge::exchange {
namespace {

std::string upper_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  // A UTF-8 byte order mark, as Notepad writes it before a .cpg or a .prj.
  if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

bool is_utf8_name(const std::string& upper) { return upper == "UTF-8" || upper == "UTF8" || upper == "65001" || upper == "CP65001"; }

[[noreturn]] void mismatch(const std::string& detail) {
  throw unprocessable("encoding_mismatch", detail + "; send encoding=gbk or encoding=utf-8 if you know the file's encoding");
}

}  // namespace

bool valid_utf8(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (i + n > s.size() || byte(i + 1) < lo || byte(i + 1) > hi) return false;
    for (std::size_t k = 2; k < n; ++k)
      if ((byte(i + k) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

bool valid_gbk(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c <= 0x80) {
      ++i;
      continue;
    }
    if (c == 0xFF || i + 1 >= s.size()) return false;
    const auto t = static_cast<unsigned char>(s[i + 1]);
    if (t < 0x40 || t == 0x7F || t == 0xFF) return false;
    i += 2;
  }
  return true;
}

void TextScan::add(std::string_view text) {
  if (utf8) utf8 = valid_utf8(text);
  if (gbk) gbk = valid_gbk(text);
}

std::optional<std::string> cpg_encoding(std::string_view cpg_text) {
  const std::string_view t = trim(cpg_text);
  if (t.empty()) return std::nullopt;
  const std::string u = upper_ascii(t);
  if (is_utf8_name(u)) return "UTF-8";
  if (u == "936" || u == "CP936" || u == "GBK" || u == "GB2312" || u == "CP_936") return "CP936";
  if (all_digits(u) && u.size() <= 5) return "CP" + u;
  return std::string(t);
}

bool needs_scan(EncodingSource source, const std::optional<std::string>& declared) {
  if (source == EncodingSource::none) return true;
  return source == EncodingSource::cpg && declared && is_utf8_name(upper_ascii(*declared));
}

EncodingChoice choose_encoding(EncodingSource source, const std::optional<std::string>& declared, const std::optional<TextScan>& scan) {
  switch (source) {
    case EncodingSource::caller:
      return {declared, declared.value_or("UTF-8") + " (as told)"};
    case EncodingSource::ldid:
      return {std::nullopt, "from LDID " + declared.value_or("?")};
    case EncodingSource::cpg:
      if (!needs_scan(source, declared) || !scan || scan->utf8) return {std::nullopt, "from .cpg"};
      if (scan->gbk) return {"CP936", "CP936 (detected: the .cpg says UTF-8 but the text is GBK)"};
      mismatch("the .cpg says UTF-8 but the text of the .dbf is neither UTF-8 nor GBK");
    case EncodingSource::none:
      if (!scan || scan->utf8) return {"UTF-8", "UTF-8 (detected: no .cpg, no LDID)"};
      if (scan->gbk) return {"CP936", "CP936 (detected: no .cpg, no LDID)"};
      mismatch("the file names no encoding (no .cpg, no LDID) and its text is neither UTF-8 nor GBK");
  }
  return {std::nullopt, ""};
}

CrsKind sniff_prj(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) return CrsKind::none;
  std::size_t k = 0;
  while (k < t.size() && (std::isalnum(static_cast<unsigned char>(t[k])) || t[k] == '_')) ++k;
  if (k == 0 || k == t.size() || (t[k] != '[' && t[k] != '(')) return CrsKind::unreadable;
  // WKT: brackets balance outside quoted strings ("" inside a string is a quote).
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = k; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && (c == '[' || c == '(')) {
      ++depth;
    } else if (!quoted && (c == ']' || c == ')')) {
      if (--depth < 0) return CrsKind::unreadable;
      if (depth == 0 && i + 1 != t.size()) return CrsKind::unreadable;
    }
  }
  if (depth != 0 || quoted) return CrsKind::unreadable;
  const std::string keyword = upper_ascii(t.substr(0, k));
  if (keyword == "GEOGCS" || keyword == "GEOGCRS" || keyword == "GEOGRAPHICCRS" || keyword == "GEODCRS" || keyword == "GEODETICCRS")
    return CrsKind::geographic;
  if (keyword == "PROJCS" || keyword == "PROJCRS" || keyword == "PROJECTEDCRS") return CrsKind::projected;
  if (keyword == "LOCAL_CS" || keyword == "ENGCRS" || keyword == "ENGINEERINGCRS") return CrsKind::local;
  if (keyword == "GEOCCS" || keyword == "COMPD_CS" || keyword == "COMPOUNDCRS" || keyword == "VERT_CS" || keyword == "VERTCRS" ||
      keyword == "VERTICALCRS" || keyword == "BOUNDCRS" || keyword == "TIMECRS" || keyword == "PARAMETRICCRS" ||
      keyword == "DERIVEDPROJCRS")
    return CrsKind::other;
  return CrsKind::unreadable;
}

const char* crs_kind_name(CrsKind kind) {
  switch (kind) {
    case CrsKind::none:
      return "none";
    case CrsKind::geographic:
      return "geographic";
    case CrsKind::projected:
      return "projected";
    case CrsKind::local:
      return "local";
    case CrsKind::other:
      return "other";
    case CrsKind::unreadable:
      return "unreadable";
  }
  return "unreadable";
}

bool safe_archive_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.front() == '\\') return false;
  if (name.size() >= 2 && name[1] == ':') return false;  // C:\...
  std::size_t start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] == '\0') return false;
    if (i == name.size() || name[i] == '/' || name[i] == '\\') {
      if (name.substr(start, i - start) == "..") return false;
      start = i + 1;
    }
  }
  return true;
}

}  // namespace wangge::exchange
