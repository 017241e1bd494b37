// Writing a ZIP archive (minizip from Debian). Entries are deflated at the fastest level: shapefile
// parts compress well even so, and export time is dominated by compression at higher levels.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace wangge::exchange {

class ZipWriter {
 public:
  explicit ZipWriter(const std::filesystem::path& path);
  ~ZipWriter();  // an archive not close()d is abandoned (and left incomplete)
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;

  void add_file(const std::string& entry_name, const std::filesystem::path& source);
  void add_bytes(const std::string& entry_name, std::string_view data);
  // Writes the central directory; throws std::runtime_error when that fails.
  void close();

 private:
  void open_entry(const std::string& entry_name, std::uintmax_t size);
  void write(const char* data, std::size_t n);
  void close_entry();

  void* m_zip = nullptr;  // zipFile
  std::string m_path;
};

}  // namespace wangge::exchange
