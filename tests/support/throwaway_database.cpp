#include "support/throwaway_database.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <stdexcept>

#include "registry/auth.hpp"
#include "registry/migrate.hpp"
#include "sample/loader.hpp"

namespace wangge::test {
namespace {

std::string required_env(const char* name) {
  const char* v = std::getenv(name);
  if (v && *v) return v;
  throw std::runtime_error(std::string(name) + " is not set: run the database tests through tools/test (or set its environment)");
}

// Database names are identifiers in CREATE/DROP DATABASE, which take no parameters: they are
// built only from characters of this allow-list.
bool plain_identifier(std::string_view s) {
  return !s.empty() && s.size() < 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// `url` (a libpq URL) naming another database; its query string (host, port, options) stays.
std::string with_database(const std::string& url, std::string_view database) {
  const auto slash = url.rfind('/');
  const auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + std::string(database) + (query == std::string::npos ? "" : url.substr(query));
}

// Admin statements create, clone and drop databases, and may wait for another process building
// a template (below); on a busy machine that takes tens of seconds.
constexpr int kAdminTimeoutMs = 120000;

// The name of the template for `contents`: it names what it holds (the migrations' text and the
// sample's options), so tests built from other migrations never clone a stale one.
std::string template_name(ThrowawayDatabase::Contents contents, const sample::Options& o) {
  std::string key;
  for (const auto& m : registry::embedded_migrations()) key += std::string(m.name) + "\n" + m.sql + "\n";
  std::string kind = "schema";
  if (contents == ThrowawayDatabase::Contents::sample) {
    kind = "sample";
    key += "sample " + std::to_string(o.seed) + " " + std::to_string(o.grids) + " " + std::to_string(o.micro) + " " +
           std::to_string(o.origin_lon) + " " + std::to_string(o.origin_lat);
  }
  return "wangge_t_tpl_" + kind + "_" + registry::sha256_hex(key).substr(0, 16);
}

// Makes sure the template for `contents` exists and returns its name. Building one costs seconds
// (CREATE EXTENSION postgis alone takes most of them) and cloning it a fraction of that, so the
// first test process of a run builds it and every later one clones it. An advisory lock makes the
// processes ctest runs side by side wait for the one building; the template gets its name only
// when complete, so a process killed half-way leaves nothing that looks usable.
std::string prepared_template(const std::string& admin_url, ThrowawayDatabase::Contents contents, const sample::Options& o) {
  const std::string name = template_name(contents, o);
  pg::Connection admin(admin_url, kAdminTimeoutMs);
  // Session-level: released when `admin` closes, also when something below throws.
  admin.exec("test.template_lock", "SELECT pg_advisory_lock(hashtext($1))", {name});
  if (admin.exec("test.template_exists", "SELECT 1 FROM pg_database WHERE datname = $1", {name}).rows() == 1) return name;
  const std::string partial = name + "_part";
  admin.exec("test.template_drop_partial", "DROP DATABASE IF EXISTS " + partial + " WITH (FORCE)");
  admin.exec("test.template_create", "CREATE DATABASE " + partial);
  {
    pg::Connection conn(with_database(admin_url, partial), kAdminTimeoutMs);
    registry::migrate(conn);
    if (contents == ThrowawayDatabase::Contents::sample) sample::load(conn, sample::generate(o));
  }  // closed: a database with sessions can be neither renamed nor cloned
  admin.exec("test.template_name", "ALTER DATABASE " + partial + " RENAME TO " + name);
  return name;
}

}  // namespace

sample::Options ThrowawayDatabase::small_sample() {
  sample::Options o;
  o.grids = 12;
  return o;
}

std::string ThrowawayDatabase::admin_url() { return required_env("WANGGE_TEST_ADMIN_URL"); }

std::string ThrowawayDatabase::url_of(std::string_view database) { return with_database(admin_url(), database); }

std::string ThrowawayDatabase::url() const { return with_database(m_admin, m_name); }

ThrowawayDatabase::ThrowawayDatabase(std::string_view purpose, Options options) : m_admin(admin_url()), m_keep(options.keep) {
  if (!plain_identifier(purpose) || purpose.size() > 20)
    throw std::invalid_argument("a throwaway database's purpose is 1 to 20 of [a-z0-9_]: " + std::string(purpose));
  // Unique on the cluster while this process lives: ctest runs test processes side by side, and
  // one process may hold several databases.
  static std::atomic<int> counter{0};
  m_name = "wangge_t_" + std::string(purpose) + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);

  std::string source;  // the template to clone; none for an empty database
  switch (options.contents) {
    case Contents::empty:
      break;
    case Contents::schema:
    case Contents::sample:
      source = prepared_template(m_admin, options.contents, options.sample);
      break;
    case Contents::test_template:
      source = required_env("WANGGE_TEST_TEMPLATE");
      if (!plain_identifier(source)) throw std::invalid_argument("WANGGE_TEST_TEMPLATE is not a plain identifier: " + source);
      break;
  }
  pg::Connection admin(m_admin, kAdminTimeoutMs);
  // A database left by an earlier process with the same id would make CREATE fail.
  admin.exec("test.drop_leftover", "DROP DATABASE IF EXISTS " + m_name + " WITH (FORCE)");
  admin.exec("test.create_database", "CREATE DATABASE " + m_name + (source.empty() ? "" : " TEMPLATE " + source));
}

ThrowawayDatabase::~ThrowawayDatabase() {
  if (m_keep) {
    std::cerr << "kept the throwaway database " << m_name << " (" << url() << ")\n";
    return;
  }
  // A destructor must not throw; a database that cannot be dropped now is dropped by the next tools/test.
  try {
    pg::Connection admin(m_admin, kAdminTimeoutMs);
    admin.exec("test.drop_database", "DROP DATABASE IF EXISTS " + m_name + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::cerr << "could not drop the throwaway database " << m_name << ": " << e.what() << "\n";
  }
}

}  // namespace wangge::test
