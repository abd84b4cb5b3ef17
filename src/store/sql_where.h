#pragma once

// A list query's WHERE clause, built from the filters its caller set (ListRuns, the hunts'
// lists; SQLite and PostgreSQL alike): " WHERE a AND b", or nothing when none is set.

#include <string>
#include <string_view>

namespace handoff::store {

class WhereClause {
 public:
  // Appends to `sql`, which must outlive this.
  explicit WhereClause(std::string& sql) : sql_(sql) {}

  // Appends `condition`; the caller binds its placeholders in the order it adds them.
  void Add(std::string_view condition) {
    sql_ += glue_;
    sql_ += condition;
    glue_ = " AND ";
  }

 private:
  std::string& sql_;
  const char* glue_ = " WHERE ";
};

}  // namespace handoff::store
