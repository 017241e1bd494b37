// What an import reads from an upload before GDAL does (exchange/sniff.hpp): a .cpg's encoding
// name, the choice of encoding over any text, a .prj's kind, a ZIP entry's name. None may crash,
// loop or throw anything but the one documented Error, and each answer is checked against a
// property that must hold for every input.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "exchange/sniff.hpp"

using namespace wangge::exchange;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  bool ascii = true;
  for (unsigned char c : text) ascii = ascii && c < 0x80;
  if (ascii && (!valid_utf8(text) || !valid_gbk(text))) __builtin_trap();

  // The .cpg names an encoding; the text is what the .dbf holds.
  const auto cut = text.find('\n');
  const std::string_view cpg = text.substr(0, cut == std::string_view::npos ? 0 : cut);
  const std::string_view body = cut == std::string_view::npos ? text : text.substr(cut + 1);
  const auto declared = cpg_encoding(cpg);
  if (declared && declared->empty()) __builtin_trap();
  TextScan scan;
  scan.add(body);
  for (auto source : {EncodingSource::caller, EncodingSource::cpg, EncodingSource::ldid, EncodingSource::none}) {
    try {
      const auto choice = choose_encoding(source, declared, needs_scan(source, declared) ? std::optional(scan) : std::nullopt);
      // Text that is not UTF-8 is never read as UTF-8 once it has been scanned.
      if (needs_scan(source, declared) && !scan.utf8 && choice.open_with != "CP936") __builtin_trap();
      if (choice.note.empty()) __builtin_trap();
    } catch (const wangge::Error& e) {
      if (e.code() != "encoding_mismatch" || scan.utf8 || scan.gbk) __builtin_trap();
    }
  }

  const CrsKind kind = sniff_prj(text);
  if (kind != sniff_prj(std::string(text) + " \n")) __builtin_trap();  // trailing blanks change nothing
  (void)crs_kind_name(kind);

  if (safe_archive_name(text) && (text.find("../") == 0 || text.find("/../") != std::string_view::npos || text == "..")) __builtin_trap();
  return 0;
}
