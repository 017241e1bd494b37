#include "exchange/zip.hpp"

#include <zip.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace wangge::exchange {

ZipWriter::ZipWriter(const std::filesystem::path& path) : m_path(path.string()) {
  m_zip = zipOpen64(m_path.c_str(), APPEND_STATUS_CREATE);
  if (!m_zip) throw std::runtime_error("zip: cannot create " + m_path);
}

ZipWriter::~ZipWriter() {
  if (m_zip) zipClose(static_cast<zipFile>(m_zip), nullptr);
}

void ZipWriter::open_entry(const std::string& entry_name, std::uintmax_t size) {
  zip_fileinfo info{};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  info.tmz_date = {static_cast<uInt>(tm.tm_sec),  static_cast<uInt>(tm.tm_min), static_cast<uInt>(tm.tm_hour),
                   static_cast<uInt>(tm.tm_mday), static_cast<uInt>(tm.tm_mon), static_cast<uInt>(tm.tm_year + 1900)};
  // zip64 only when needed: some unzip tools (and older ArcGIS) reject zip64 records they do not need.
  if (zipOpenNewFileInZip64(static_cast<zipFile>(m_zip), entry_name.c_str(), &info, nullptr, 0, nullptr, 0, nullptr, Z_DEFLATED,
                            Z_BEST_SPEED, size >= 0xFFFFFFFFu ? 1 : 0) != ZIP_OK)
    throw std::runtime_error("zip: cannot add " + entry_name + " to " + m_path);
}

void ZipWriter::write(const char* data, std::size_t n) {
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
    if (zipWriteInFileInZip(static_cast<zipFile>(m_zip), data, chunk) != ZIP_OK) throw std::runtime_error("zip: write failed in " + m_path);
    data += chunk;
    n -= chunk;
  }
}

void ZipWriter::close_entry() {
  if (zipCloseFileInZip(static_cast<zipFile>(m_zip)) != ZIP_OK) throw std::runtime_error("zip: cannot finish an entry of " + m_path);
}

void ZipWriter::add_file(const std::string& entry_name, const std::filesystem::path& source) {
  std::ifstream in(source, std::ios::binary);
  if (!in) throw std::runtime_error("zip: cannot read " + source.string());
  open_entry(entry_name, std::filesystem::file_size(source));
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    write(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  close_entry();
}

void ZipWriter::add_bytes(const std::string& entry_name, std::string_view data) {
  open_entry(entry_name, data.size());
  write(data.data(), data.size());
  close_entry();
}

void ZipWriter::close() {
  void* z = m_zip;
  m_zip = nullptr;
  if (zipClose(static_cast<zipFile>(z), nullptr) != ZIP_OK) throw std::runtime_error("zip: cannot finish " + m_path);
}

}  // namespace wangge::exchange
