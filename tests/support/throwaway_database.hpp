// A throwaway PostgreSQL database for tests that need a real PostGIS: created under a unique name
// on the test cluster (WANGGE_TEST_ADMIN_URL, as tools/test sets it), filled as the test asks
// (nothing, wangge's schema, the schema and a small generated jurisdiction, or a clone of the
// test template) and dropped again by the destructor.
//
// The schema and the sample are not applied to each database: the first test process of a run
// builds a template database for them (wangge_t_tpl_*, named after the migrations and the sample's
// options) and every test clones it, which takes a fraction of the seconds CREATE EXTENSION postgis
// alone costs.
//
// Without the test environment the constructor throws, so a database test fails loudly instead of
// passing without having run. tools/test drops every database named wangge_t_* before a run: the
// templates of the last run, and leftovers of test processes killed before their destructor ran.
#pragma once

#include <string>
#include <string_view>

#include "pg/connection.hpp"
#include "sample/generator.hpp"

namespace wangge::test {

class ThrowawayDatabase {
 public:
  enum class Contents {
    empty,          // CREATE DATABASE and nothing else
    schema,         // wangge's migrations, as `wangge serve` applies them
    sample,         // the migrations and the jurisdiction generated from Options::sample
    test_template,  // a clone of WANGGE_TEST_TEMPLATE: the migrations and the default sample (300 grids)
  };
  struct Options {
    Contents contents = Contents::schema;
    // A county of a handful of grids: loads in well under a second, still every level of the
    // hierarchy, with workers, incidents and checkpoints.
    sample::Options sample = small_sample();
    bool keep = false;  // leave the database behind for a post-mortem (its name goes to stderr)
  };
  static sample::Options small_sample();
  static Options options_with(Contents contents) {
    Options o;
    o.contents = contents;
    return o;
  }

  // `purpose` ([a-z0-9_], at most 20 characters) goes into the database's name, so a leftover
  // says which test made it.
  explicit ThrowawayDatabase(std::string_view purpose, Options options);
  ThrowawayDatabase(std::string_view purpose, Contents contents) : ThrowawayDatabase(purpose, options_with(contents)) {}
  explicit ThrowawayDatabase(std::string_view purpose) : ThrowawayDatabase(purpose, Options{}) {}
  ~ThrowawayDatabase();
  ThrowawayDatabase(const ThrowawayDatabase&) = delete;
  ThrowawayDatabase& operator=(const ThrowawayDatabase&) = delete;

  const std::string& name() const { return m_name; }
  // The libpq URL of this database.
  std::string url() const;
  // A new connection to it; statements time out after `statement_timeout_ms`.
  pg::Connection connect(int statement_timeout_ms = 30000) const { return pg::Connection(url(), statement_timeout_ms); }

  // The test cluster's admin URL (its `postgres` database); throws when tools/test's environment is missing.
  static std::string admin_url();
  // The URL of another database of the test cluster (one that need not exist).
  static std::string url_of(std::string_view database);

 private:
  std::string m_admin;
  std::string m_name;
  bool m_keep = false;
};

}  // namespace wangge::test
