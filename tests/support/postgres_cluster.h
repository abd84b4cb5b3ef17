#pragma once

// A PostgreSQL server for the tests that need one (the store contract over the PostgreSQL
// backend), and a fresh database on it for each test.
//
// The server is the one HANDOFF_TEST_POSTGRES_URL names, or else a throwaway cluster this
// process starts on first use: initdb (trust authentication, fsync off) into a temporary
// directory, pg_ctl start on a free port of 127.0.0.1 with its Unix socket inside that
// directory. initdb and pg_ctl come from PATH, else from the highest version under
// /usr/lib/postgresql/*/bin (Debian's postgresql package). They refuse to run as root, so
// as root they run as the `postgres` user the package creates. A reaper process stops the
// cluster (pg_ctl stop -m immediate) and removes its directory when this process exits,
// however it exits (a failed assertion, an abort, a SIGKILL).
//
// Without a server the tests that need one skip, with HANDOFF_REQUIRE_POSTGRES=1 they fail
// (.ci/run sets it), as the Docker tests do with HANDOFF_REQUIRE_DOCKER.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace handoff::testing {

// Returns true if and only if HANDOFF_REQUIRE_POSTGRES=1: then a missing server fails tests.
bool PostgresRequired();

// Returns why the tests have no PostgreSQL server ("" when they have one). The first call
// starts the throwaway cluster (unless HANDOFF_TEST_POSTGRES_URL is set) and checks that
// the server answers; later calls answer at once.
const std::string& PostgresUnavailable();

// Returns the URL of the database the tests connect to in order to create and drop their
// own (only when PostgresUnavailable() is ""): "postgres://postgres@127.0.0.1:PORT/postgres"
// for the throwaway cluster.
const std::string& PostgresServerUrl();

// Runs `sql` (one or more statements) on a connection of its own to the database at `url`.
// Returns the rows of the last statement, each row's columns joined with '|' (NULL as ""),
// or kUnavailable saying why not.
Result<std::vector<std::string>> PostgresQuery(const std::string& url, const std::string& sql);

// An empty database of one test's own on the tests' server, dropped (with any connection
// still open to it) when this object is destroyed.
class PostgresTestDatabase {
 public:
  // Creates "handoff_test_<pid>_<n>_<random>" on the server; an error says why not.
  // PostgresUnavailable() must be "".
  static Result<std::unique_ptr<PostgresTestDatabase>> Create();
  ~PostgresTestDatabase();
  PostgresTestDatabase(const PostgresTestDatabase&) = delete;
  PostgresTestDatabase& operator=(const PostgresTestDatabase&) = delete;

  // The database's name.
  const std::string& name() const { return name_; }
  // Its URL, for OpenStore: "postgres://postgres@127.0.0.1:PORT/handoff_test_...".
  const std::string& url() const { return url_; }

 private:
  PostgresTestDatabase(std::string name, std::string url)
      : name_(std::move(name)), url_(std::move(url)) {}

  std::string name_;
  std::string url_;
};

// Skips the test when there is no PostgreSQL server, or fails it when
// HANDOFF_REQUIRE_POSTGRES=1. Use it in a test body or in SetUp().
#define HANDOFF_NEED_POSTGRES()                                                    \
  do {                                                                             \
    if (const std::string& why = ::handoff::testing::PostgresUnavailable();        \
        !why.empty()) {                                                            \
      if (::handoff::testing::PostgresRequired()) {                                \
        FAIL() << why << " (HANDOFF_REQUIRE_POSTGRES=1 requires a PostgreSQL server)"; \
      }                                                                            \
      GTEST_SKIP() << why;                                                         \
    }                                                                              \
  } while (0)

}  // namespace handoff::testing
