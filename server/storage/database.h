#ifndef KLUIS_SERVER_STORAGE_DATABASE_H_
#define KLUIS_SERVER_STORAGE_DATABASE_H_

#include <sqlcipher/sqlite3.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "crypto/secret_bytes.h"
#include "server/storage/aside.h"

namespace kluis::storage {

class Tx;

// A prepared SQLite statement. Bind indices start at 1, column indices at 0. Owned by one
// transaction body at a time; not thread-safe.
class Statement {
 public:
  // `borrowed`: the statement belongs to the connection's StatementCache, which this flag marks in
  // use; it is reset and handed back instead of finalized.
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool* borrowed = nullptr) : db_(db), stmt_(stmt), borrowed_(borrowed) {}
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  ~Statement();

  // A bind that fails (an index out of range, out of memory) is remembered, and the next Step or
  // Run returns it instead of running the statement with a parameter left unbound.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, absl::string_view text);
  Statement& BindBlob(int index, absl::string_view bytes);
  Statement& BindNull(int index);
  Statement& Bind(int index, std::optional<int64_t> value);

  // Steps once: true while a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, for statements that return no rows.
  absl::Status Run();

  int64_t Int(int column) const;
  std::optional<int64_t> OptionalInt(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;
  bool IsNull(int column) const;

 private:
  Statement& Bound(int rc, int index);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* borrowed_;
  int bind_rc_ = 0;  // SQLITE_OK, or the first failed bind's result code
  int bind_index_ = 0;
};

// The connection's prepared statements, kept for its life and keyed by their SQL text: preparing
// each query anew was a seventh of a release's CPU (docs/BENCHMARKS.md). A statement still in use
// (a query run inside another's loop) is prepared afresh, unshared. Used under Database's mutex.
class StatementCache {
 public:
  StatementCache() = default;
  StatementCache(const StatementCache&) = delete;
  ~StatementCache();

  absl::StatusOr<Statement> Prepare(sqlite3* db, absl::string_view sql);
  // Finalizes every statement; the connection can be closed afterwards.
  void Clear();

 private:
  struct Entry {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  static constexpr size_t kMaxEntries = 512;  // far above the queries Tx has; a bound, not a tuning
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> entries_;
};

// The vault's SQLCipher database file.
//
// Opened with a raw 32-byte key (`PRAGMA key = "x'…'"`), so SQLCipher's own PBKDF2 never runs;
// then cipher_page_size 4096, WAL, synchronous=FULL, foreign_keys, secure_delete and in-memory
// temp storage. A wrong key or a file that is not a Kluis database is reported as
// kPermissionDenied "wrong passphrase or not a Kluis database", never as a crash.
//
// Thread-safe. Writes go through one connection under one mutex. Reads run on connections of
// their own (a small pool, opened read-only with the same key), never under the writer's mutex:
// in WAL mode a read transaction sees one consistent snapshot, the last commit before it began,
// however long it runs and whatever commits meanwhile; a custody report does not stall releases.
// Write bodies run in BEGIN IMMEDIATE … COMMIT: committed in full, durably (fsync), or not at all.
// Concurrent writes share commits (group commit): each body runs in a savepoint of its own inside
// the batch's transaction (unless it declares it fails only before changing anything, see Failure),
// so one body's failure undoes only its own changes, and each caller returns only after the COMMIT
// that holds its change.
class Database {
 public:
  enum class Mode { kCreate, kOpenExisting };

  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        const crypto::SecretBytes& key, Mode mode);
  // Opens and migrates only up to `schema_version`; for migration tests.
  static absl::StatusOr<std::unique_ptr<Database>> OpenAtVersionForTest(
      const std::string& path, const crypto::SecretBytes& key, int schema_version);
  ~Database();

  // How a write body may fail.
  //   kAnywhere: also after changing rows (a check halfway). It runs in a savepoint of its own,
  //     so a failure undoes only its changes.
  //   kBeforeChanging: only before its first change, or on a storage error. It runs without a
  //     savepoint — SQLCipher encrypts a journal copy of every page a savepoint touches, a fifth
  //     of a release under load — and should it fail after changing rows after all, the batch's
  //     transaction so far is rolled back and every write in it fails with that error.
  enum class Failure { kAnywhere, kBeforeChanging };

  // Runs `body` in one write transaction; commits if it returns OK, rolls back otherwise.
  absl::Status Write(absl::FunctionRef<absl::Status(Tx&)> body, Failure failure = Failure::kAnywhere);
  // Runs `body` in one read transaction (a consistent snapshot) on a read connection: it waits
  // only for a free read connection, never for a write. A write attempted in `body` fails
  // (the connection is read-only).
  absl::Status Read(absl::FunctionRef<absl::Status(Tx&)> body);
  // The same, run aside (server/storage/aside.h): on a thread of lower scheduling priority, while
  // the caller waits. For the long reads (listings, custody, exports), so they take the CPU the
  // calls leave instead of a share of it.
  absl::Status ReadAside(absl::FunctionRef<absl::Status(Tx&)> body);
  // How many read connections the pool holds, and how many threads run reads aside.
  static constexpr size_t kReaders = 4;
  static constexpr int kAsideThreads = 2;

  int SchemaVersion();
  // How many writes may share a commit (0: the default). For the group-commit benchmark only.
  static void SetMaxBatchForBench(size_t writes) { max_batch_for_bench_ = writes; }
  // Reads on the write connection under its mutex, as before the read pool. For the bench's
  // baseline only.
  static void ReadOnTheWriterForBench(bool on) { read_on_writer_for_bench_ = on; }
  // Copies the whole database, as one consistent snapshot, into a new file at `path` encrypted
  // with the same key (SQLite's online backup: writers elsewhere go on meanwhile).
  absl::Status BackupTo(const std::string& path, const crypto::SecretBytes& key);
  // SQLite's own check of every page and index: `quick` (PRAGMA quick_check, kluisd serve's
  // check beside serving) or full (PRAGMA integrity_check, kluisd check), on a read connection
  // (one snapshot; writes go on). kDataLoss naming the first damage found.
  absl::Status CheckIntegrity(bool quick);
  // Runs raw SQL outside the typed queries: tests use it to tamper with rows.
  absl::Status ExecForTest(const std::string& sql);
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  static absl::StatusOr<std::unique_ptr<Database>> OpenInternal(const std::string& path,
                                                                const crypto::SecretBytes& key,
                                                                Mode mode, int target_version);
  absl::Status Migrate(int target_version);
  absl::Status Exec(const char* sql);
  // One transaction-control statement (BEGIN, SAVEPOINT, COMMIT…), prepared once.
  absl::Status Control(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // One waiting Write: its body, and once a leader ran it, its outcome.
  struct PendingWrite {
    const absl::FunctionRef<absl::Status(Tx&)>* body;
    Failure failure;
    absl::Status status;
    bool done = false;
    absl::CondVar cv;  // its own, so a batch wakes only its writers, not every waiter
  };
  static constexpr size_t kMaxBatch = 64;
  static std::atomic<size_t> max_batch_for_bench_;  // 0: kMaxBatch
  static std::atomic<bool> read_on_writer_for_bench_;

  // One read connection and its statements, used by one Read at a time.
  struct Reader {
    sqlite3* db = nullptr;
    StatementCache statements;
    ~Reader();
  };
  // Opens the read connections; after migration, so they see the final schema.
  absl::Status OpenReaders(const crypto::SecretBytes& key);
  Reader* BorrowReader();
  void ReturnReader(Reader* reader);

  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<Reader>> readers_;  // fixed once opened
  std::vector<Reader*> idle_ ABSL_GUARDED_BY(readers_mu_);

  // Its threads stop first of all (~Database).
  std::unique_ptr<AsideThreads> aside_ = std::make_unique<AsideThreads>(kAsideThreads);

  absl::Mutex queue_mu_;
  std::deque<PendingWrite*> queue_ ABSL_GUARDED_BY(queue_mu_);
  absl::Mutex mu_;  // the connection; taken after queue_mu_ is released, never while waiting on it
  sqlite3* db_;
  StatementCache statements_ ABSL_GUARDED_BY(mu_);
  std::string path_;
};

// SQLite's latest schema version for this build.
int LatestSchemaVersion();

// An sqlite error as a Status with the statement's context.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what);

}  // namespace kluis::storage

#endif  // KLUIS_SERVER_STORAGE_DATABASE_H_
