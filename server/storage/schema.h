#ifndef KLUIS_SERVER_STORAGE_SCHEMA_H_
#define KLUIS_SERVER_STORAGE_SCHEMA_H_

#include <vector>

namespace kluis::storage {

// Forward-only migrations: entry i brings the schema from version i to version i + 1. Never edit
// a released entry; append a new one. PRAGMA user_version holds the current version.
const std::vector<const char*>& Migrations();

}  // namespace kluis::storage

#endif  // KLUIS_SERVER_STORAGE_SCHEMA_H_
