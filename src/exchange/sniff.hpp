// What an uploaded GIS file says about itself, read without GDAL so that it can be unit-tested and
// fuzzed: whether its text decodes as UTF-8 or GBK, which encoding a shapefile's .cpg names, what
// kind of coordinate system a .prj describes, and whether a ZIP entry's name stays inside the
// archive. Everything here takes untrusted bytes and never throws on them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wangge::exchange {

// Well-formed UTF-8: no stray continuation bytes, no truncated sequences, no overlong forms, no
// surrogates, nothing above U+10FFFF (PostgreSQL refuses all of these).
bool valid_utf8(std::string_view text);
// GBK as Windows writes it (code page 936): ASCII, 0x80, or a lead byte 0x81-0xFE followed by a
// trail byte 0x40-0x7E or 0x80-0xFE.
bool valid_gbk(std::string_view text);

// Which encodings every text seen so far decodes in.
struct TextScan {
  bool utf8 = true;
  bool gbk = true;
  void add(std::string_view text);
};

// The encoding a .cpg file names, spelled as GDAL's open option ENCODING takes it: "UTF-8",
// "CP936" (for 936, GBK, GB2312, CP936), "CPn" for other code page numbers, else the trimmed
// text itself. nullopt when the file holds nothing but blanks.
std::optional<std::string> cpg_encoding(std::string_view cpg_text);

// Where a shapefile's encoding came from, in order of precedence.
enum class EncodingSource { caller, cpg, ldid, none };

struct EncodingChoice {
  // The ENCODING open option; nullopt lets GDAL read the .cpg or the LDID itself.
  std::optional<std::string> open_with;
  std::string note;  // the import report's "encoding"
};

// Whether the undecoded text must be scanned before choose_encoding can decide: a .cpg saying
// UTF-8 is checked (files written by tools that label every .cpg UTF-8 are common), and a file
// that declares nothing is sniffed.
bool needs_scan(EncodingSource source, const std::optional<std::string>& declared);

// The encoding to read a shapefile's text in. `declared` is the caller's encoding, the .cpg's or
// the LDID's number (as text); `scan` the undecoded text when needs_scan() said so. A .cpg saying
// UTF-8 over text that is not UTF-8 but is GBK is read as GBK, and the note says so; text that is
// neither is refused: throws unprocessable("encoding_mismatch").
EncodingChoice choose_encoding(EncodingSource source, const std::optional<std::string>& declared, const std::optional<TextScan>& scan);

// The kind of coordinate system a .prj (WKT 1, ESRI WKT or WKT 2) describes, from its root
// keyword; `unreadable` when the text is not WKT at all (unbalanced brackets, no keyword).
enum class CrsKind { none, geographic, projected, local, other, unreadable };
CrsKind sniff_prj(std::string_view text);
const char* crs_kind_name(CrsKind kind);

// A ZIP entry name that names a place inside the archive: relative, without ".." segments,
// drive letters or NUL bytes (either slash counts as a separator).
bool safe_archive_name(std::string_view name);

}  // namespace wangge::exchange
