#include "server/storage/database.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "crypto/hash.h"
#include "server/storage/schema.h"
#include "server/storage/tx.h"

namespace kluis::storage {

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  // SQLite says "disk I/O error" for the WAL's files on a full disk; the system's errno says why.
  const int system_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  if (system_errno == ENOSPC) rc = SQLITE_FULL;
  if ((rc & 0xff) == SQLITE_IOERR && system_errno != 0) absl::StrAppend(&message, " (", std::strerror(system_errno), ")");
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_NOTADB:
      return absl::PermissionDeniedError("wrong passphrase or not a Kluis database");
    case SQLITE_CORRUPT: {
      // Named as damage to the file wherever a read meets it (kluisd check names the rest).
      const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
      return absl::DataLossError(absl::StrCat(
          file != nullptr && *file != '\0' ? file : "the database", " is damaged: ", message));
    }
    case SQLITE_FULL:
      // A server-side failure, not the caller's: the vault cannot write until there is room.
      return absl::UnavailableError(absl::StrCat(what, ": the disk holding the vault is full"));
    default:
      return absl::InternalError(message);
  }
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      borrowed_(std::exchange(other.borrowed_, nullptr)),
      bind_rc_(other.bind_rc_),
      bind_index_(other.bind_index_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (borrowed_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  // Back to the cache: no open read, no bound values left behind.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *borrowed_ = false;
}

StatementCache::~StatementCache() { Clear(); }

void StatementCache::Clear() {
  for (auto& [sql, entry] : entries_) sqlite3_finalize(entry->stmt);
  entries_.clear();
}

absl::StatusOr<Statement> StatementCache::Prepare(sqlite3* db, absl::string_view sql) {
  auto found = entries_.find(sql);
  if (found != entries_.end() && !found->second->in_use) {
    found->second->in_use = true;
    return Statement(db, found->second->stmt, &found->second->in_use);
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "prepare failed");
  if (found != entries_.end() || entries_.size() >= kMaxEntries) return Statement(db, stmt);
  auto entry = std::make_unique<Entry>();
  entry->stmt = stmt;
  entry->in_use = true;
  bool* in_use = &entry->in_use;
  entries_.emplace(std::string(sql), std::move(entry));
  return Statement(db, stmt, in_use);
}

Statement& Statement::Bound(int rc, int index) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
  return *this;
}
Statement& Statement::Bind(int index, int64_t value) {
  return Bound(sqlite3_bind_int64(stmt_, index, value), index);
}
Statement& Statement::Bind(int index, absl::string_view text) {
  return Bound(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT), index);
}
Statement& Statement::BindBlob(int index, absl::string_view bytes) {
  return Bound(sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT), index);
}
Statement& Statement::BindNull(int index) { return Bound(sqlite3_bind_null(stmt_, index), index); }
Statement& Statement::Bind(int index, std::optional<int64_t> value) {
  return value.has_value() ? Bind(index, *value) : BindNull(index);
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return SqliteError(db_, bind_rc_, absl::StrCat("binding parameter ", bind_index_, " failed"));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, "query failed");
}

absl::Status Statement::Run() {
  for (;;) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
std::optional<int64_t> Statement::OptionalInt(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int(column);
}
std::string Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  return text == nullptr ? std::string()
                         : std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}
std::string Statement::Blob(int column) const {
  const auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  return blob == nullptr ? std::string()
                         : std::string(blob, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}
bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                         const crypto::SecretBytes& key,
                                                         Mode mode) {
  return OpenInternal(path, key, mode, LatestSchemaVersion());
}

absl::StatusOr<std::unique_ptr<Database>> Database::OpenAtVersionForTest(
    const std::string& path, const crypto::SecretBytes& key, int schema_version) {
  return OpenInternal(path, key, Mode::kCreate, schema_version);
}

namespace {

// Keys a freshly opened connection with the raw key: the first statement on it. The hex text is
// built in guarded memory and passed straight to SQLite, which wipes its copy on close.
absl::Status Key(sqlite3* db, const crypto::SecretBytes& key) {
  std::string hex = crypto::HexEncode(key.Reveal());
  // NUL-terminated: sqlite3_exec reads a C string.
  crypto::SecretBytes pragma = crypto::SecretBytes::CopyFrom(
      absl::StrCat("PRAGMA key = \"x'", hex, "'\";", absl::string_view("\0", 1)));
  crypto::WipeString(hex);
  const int rc =
      sqlite3_exec(db, reinterpret_cast<const char*>(pragma.data()), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "keying the database failed");
  return absl::OkStatus();
}

absl::Status ExecOn(sqlite3* db, const char* sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return absl::OkStatus();
  sqlite3_free(error);
  return SqliteError(db, rc, "statement failed");
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> Database::OpenInternal(const std::string& path,
                                                                 const crypto::SecretBytes& key,
                                                                 Mode mode, int target_version) {
  if (key.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat("database key must be 32 bytes, got ", key.size()));
  }
  struct stat info;
  const bool exists = ::stat(path.c_str(), &info) == 0;
  if (mode == Mode::kOpenExisting && !exists) {
    return absl::NotFoundError(absl::StrCat("no vault database at ", path));
  }
  if (mode == Mode::kCreate && exists && target_version == LatestSchemaVersion()) {
    return absl::AlreadyExistsError(absl::StrCat("a vault database already exists at ", path));
  }
  static std::once_flag configured;
  std::call_once(configured, [] {
    // No allocation statistics: SQLite would take its global memory mutex on every malloc and free.
    // Only possible before SQLite initialises; should anything have initialised it already, the
    // statistics stay on and nothing else changes.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
  sqlite3* raw = nullptr;
  // The connection is only ever used under mu_ (see database.h), so SQLite's own per-call
  // connection mutex (SQLITE_OPEN_FULLMUTEX) would guard nothing: multi-thread mode.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                    (mode == Mode::kCreate ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Database> db(new Database(raw, path));
  if (rc != SQLITE_OK) return SqliteError(raw, rc, absl::StrCat("cannot open ", path));

  // The raw key must be the first statement.
  if (absl::Status s = Key(raw, key); !s.ok()) return s;
  if (absl::Status s = db->Exec("PRAGMA cipher_page_size = 4096;"); !s.ok()) return s;
  // Another process writing the same file (kluisd backup, an operator's tool) makes us wait for
  // it briefly instead of failing at once.
  sqlite3_busy_timeout(raw, 5000);
  // A wrong key shows only here, as "file is encrypted or is not a database".
  // Anything else (a full disk that leaves no room for the WAL's files, say) is said as it is.
  if (absl::Status s = db->Exec("SELECT count(*) FROM sqlite_master;"); !s.ok()) return s;
  for (const char* pragma : {"PRAGMA journal_mode = WAL;", "PRAGMA synchronous = FULL;",
                             "PRAGMA foreign_keys = ON;", "PRAGMA secure_delete = ON;",
                             "PRAGMA temp_store = MEMORY;"}) {
    if (absl::Status s = db->Exec(pragma); !s.ok()) return s;
  }
  if (mode == Mode::kCreate) ::chmod(path.c_str(), 0600);
  const int version = db->SchemaVersion();
  if (mode == Mode::kOpenExisting && version == 0) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a Kluis database (no schema)"));
  }
  if (version > LatestSchemaVersion()) {
    return absl::FailedPreconditionError(
        absl::StrCat("database schema version ", version, " is newer than this kluisd (",
                     LatestSchemaVersion(), "): upgrade kluisd"));
  }
  if (absl::Status s = db->Migrate(target_version); !s.ok()) return s;
  if (absl::Status s = db->OpenReaders(key); !s.ok()) return s;
  return db;
}

Database::Reader::~Reader() {
  statements.Clear();
  if (db != nullptr) sqlite3_close_v2(db);
}

absl::Status Database::OpenReaders(const crypto::SecretBytes& key) {
  for (size_t i = 0; i < kReaders; ++i) {
    auto reader = std::make_unique<Reader>();
    // Read-only: a write in a Read body fails instead of racing the writer. Each connection is
    // used by one Read at a time (BorrowReader), so SQLite's own connection mutex would guard
    // nothing.
    const int rc = sqlite3_open_v2(path_.c_str(), &reader->db,
                                   SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(reader->db, rc, absl::StrCat("cannot open ", path_, " for reading"));
    }
    if (absl::Status s = Key(reader->db, key); !s.ok()) return s;
    sqlite3_busy_timeout(reader->db, 5000);
    for (const char* pragma : {"PRAGMA cipher_page_size = 4096;", "PRAGMA temp_store = MEMORY;",
                               "SELECT count(*) FROM sqlite_master;"}) {
      if (absl::Status s = ExecOn(reader->db, pragma); !s.ok()) return s;
    }
    readers_.push_back(std::move(reader));
  }
  absl::MutexLock lock(&readers_mu_);
  for (const std::unique_ptr<Reader>& reader : readers_) idle_.push_back(reader.get());
  return absl::OkStatus();
}

Database::Reader* Database::BorrowReader() {
  absl::MutexLock lock(&readers_mu_);
  readers_mu_.Await(absl::Condition(
      +[](std::vector<Reader*>* idle) { return !idle->empty(); }, &idle_));
  Reader* reader = idle_.back();
  idle_.pop_back();
  return reader;
}

void Database::ReturnReader(Reader* reader) {
  absl::MutexLock lock(&readers_mu_);
  idle_.push_back(reader);
}

Database::~Database() {
  aside_.reset();
  readers_.clear();  // each read connection closes before the writer's
  {
    absl::MutexLock lock(&mu_);
    statements_.Clear();
  }
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

absl::Status Database::Exec(const char* sql) { return ExecOn(db_, sql); }

namespace {

// One transaction-control statement (BEGIN, SAVEPOINT, COMMIT…) on `db`, prepared once.
absl::Status RunControl(sqlite3* db, StatementCache& statements, const char* sql) {
  absl::StatusOr<Statement> statement = statements.Prepare(db, sql);
  if (!statement.ok()) return statement.status();
  return statement->Run();
}

}  // namespace

absl::Status Database::Control(const char* sql) { return RunControl(db_, statements_, sql); }

absl::Status Database::BackupTo(const std::string& path, const crypto::SecretBytes& key) {
  // The destination is keyed exactly like the source, so SQLCipher copies the encrypted pages as
  // they are: the backup is never in plaintext, not even on its way to the disk.
  absl::StatusOr<std::unique_ptr<Database>> destination = OpenInternal(path, key, Mode::kCreate, 0);
  if (!destination.ok()) return destination.status();
  absl::MutexLock lock(&mu_);
  sqlite3_backup* backup = sqlite3_backup_init((*destination)->db_, "main", db_, "main");
  if (backup == nullptr) return SqliteError((*destination)->db_, sqlite3_errcode((*destination)->db_), "backup failed");
  const int step = sqlite3_backup_step(backup, -1);  // every page, in one read transaction
  const int finish = sqlite3_backup_finish(backup);
  if (step != SQLITE_DONE) return SqliteError((*destination)->db_, step, "backup failed");
  if (finish != SQLITE_OK) return SqliteError((*destination)->db_, finish, "backup failed");
  return absl::OkStatus();
}

absl::Status Database::CheckIntegrity(bool quick) {
  // On a read connection: one snapshot, and the writer (every release) does not wait for it.
  Reader* reader = BorrowReader();
  struct Return {
    Database* db;
    Reader* reader;
    ~Return() { db->ReturnReader(reader); }
  } give_back{this, reader};
  sqlite3* db_ = reader->db;  // the check's connection
  sqlite3_stmt* stmt = nullptr;
  const char* sql = quick ? "PRAGMA quick_check(5);" : "PRAGMA integrity_check(5);";
  int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
  std::vector<std::string> found;
  if (rc == SQLITE_OK) rc = SQLITE_ROW;
  while (rc == SQLITE_ROW && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    found.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
  }
  const std::string error = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db_);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    // A page whose HMAC fails does not even read: SQLCipher reports it as an error.
    if ((rc & 0xff) == SQLITE_FULL) return SqliteError(nullptr, rc, "checking the database");
    return absl::DataLossError(absl::StrCat(path_, " is damaged: ", error));
  }
  if (found.size() == 1 && found[0] == "ok") return absl::OkStatus();
  // SQLite's report spans lines; an error is one line.
  return absl::DataLossError(
      absl::StrCat(path_, " is damaged: ",
                   absl::StrReplaceAll(absl::StrJoin(found, "; "),
                                       {{"*** in database main ***\n", ""}, {"\n", "; "}})));
}

absl::Status Database::ExecForTest(const std::string& sql) {
  absl::MutexLock lock(&mu_);
  return Exec(sql.c_str());
}

int Database::SchemaVersion() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version;", -1, &stmt, nullptr) != SQLITE_OK) return -1;
  Statement statement(db_, stmt);
  absl::StatusOr<bool> row = statement.Step();
  return row.ok() && *row ? static_cast<int>(statement.Int(0)) : -1;
}

absl::Status Database::Migrate(int target_version) {
  const std::vector<const char*>& migrations = Migrations();
  for (int version = SchemaVersion(); version < target_version; ++version) {
    absl::MutexLock lock(&mu_);
    // Each step commits with its version number, so a crash leaves a whole version behind.
    if (absl::Status s = Exec("BEGIN IMMEDIATE;"); !s.ok()) return s;
    absl::Status applied = Exec(migrations[version]);
    if (applied.ok()) {
      applied = Exec(absl::StrCat("PRAGMA user_version = ", version + 1, ";").c_str());
    }
    if (!applied.ok()) {
      Exec("ROLLBACK;").IgnoreError();
      return absl::InternalError(
          absl::StrCat("migration to schema ", version + 1, " failed: ", applied.message()));
    }
    if (absl::Status s = Exec("COMMIT;"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::atomic<size_t> Database::max_batch_for_bench_{0};
std::atomic<bool> Database::read_on_writer_for_bench_{false};

absl::Status Database::Write(absl::FunctionRef<absl::Status(Tx&)> body, Failure failure) {
  // Group commit (DESIGN.md §11), after leveldb's DBImpl::Write: writers queue up; the one at the
  // front leads, runs the bodies of everyone waiting behind it in one transaction, each in a
  // savepoint of its own, commits once — one fsync for the batch — and wakes them with their own
  // outcome. Nobody hears "done" before the COMMIT that holds their change has returned, so every
  // acknowledged write is as durable as if it had committed alone.
  PendingWrite self{&body, failure};
  absl::MutexLock queue_lock(&queue_mu_);
  queue_.push_back(&self);
  while (!self.done && queue_.front() != &self) self.cv.Wait(&queue_mu_);
  if (self.done) return self.status;  // a leader committed (or failed) it for us

  // Leader: take the batch that is waiting now. New writers queue behind it meanwhile.
  const size_t limit = max_batch_for_bench_ > 0 ? max_batch_for_bench_.load() : kMaxBatch;
  std::vector<PendingWrite*> batch(queue_.begin(), queue_.begin() + std::min(queue_.size(), limit));
  queue_mu_.Unlock();
  {
    absl::MutexLock lock(&mu_);
    absl::Status begun = Control("BEGIN IMMEDIATE;");
    size_t first_in_transaction = 0;
    bool any_ok = false;
    for (size_t i = 0; i < batch.size(); ++i) {
      PendingWrite* w = batch[i];
      if (!begun.ok()) {
        w->status = begun;
        continue;
      }
      Tx tx(db_, &statements_);
      if (w->failure == Failure::kBeforeChanging) {
        // No savepoint: SQLCipher would encrypt a journal copy of every page the body touches.
        const int changes_before = sqlite3_total_changes(db_);
        w->status = (*w->body)(tx);
        if (!w->status.ok() && sqlite3_total_changes(db_) != changes_before) {
          // Failed after changing rows after all (a storage error): nothing of this transaction
          // can be trusted, so it is rolled back and its writes fail; the rest go on in a new one.
          Control("ROLLBACK;").IgnoreError();
          for (size_t j = first_in_transaction; j < i; ++j) {
            if (batch[j]->status.ok()) batch[j]->status = w->status;
          }
          any_ok = false;
          first_in_transaction = i + 1;
          begun = Control("BEGIN IMMEDIATE;");
          continue;
        }
      } else {
        // Undo this body only, should it fail; the others in the batch keep their changes.
        w->status = tx.Savepoint([&] { return (*w->body)(tx); });
      }
      any_ok |= w->status.ok();
    }
    if (begun.ok()) {
      absl::Status committed = any_ok ? Control("COMMIT;") : Control("ROLLBACK;");
      if (!committed.ok()) {
        // A failed commit fails every write of the batch: none of them is durable.
        Control("ROLLBACK;").IgnoreError();
        for (PendingWrite* w : batch) {
          if (w->status.ok()) w->status = committed;
        }
      }
    }
  }
  queue_mu_.Lock();
  for (PendingWrite* w : batch) {
    w->done = true;
    queue_.pop_front();
    if (w != &self) w->cv.Signal();  // each writer of the batch, and only them
  }
  if (!queue_.empty()) queue_.front()->cv.Signal();  // the next leader
  return self.status;
}

absl::Status Database::Read(absl::FunctionRef<absl::Status(Tx&)> body) {
  if (read_on_writer_for_bench_) {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Control("BEGIN;"); !s.ok()) return s;
    Tx tx(db_, &statements_);
    const absl::Status result = body(tx);
    Control("COMMIT;").IgnoreError();
    return result;
  }
  Reader* reader = BorrowReader();
  absl::Status result = RunControl(reader->db, reader->statements, "BEGIN;");
  if (result.ok()) {
    Tx tx(reader->db, &reader->statements);
    result = body(tx);
    // A read transaction: nothing to lose. It must end, though, for the next Read to begin.
    if (!RunControl(reader->db, reader->statements, "COMMIT;").ok()) {
      RunControl(reader->db, reader->statements, "ROLLBACK;").IgnoreError();
    }
  }
  ReturnReader(reader);
  return result;
}

absl::Status Database::ReadAside(absl::FunctionRef<absl::Status(Tx&)> body) {
  absl::Status result;
  aside_->Run([&] { result = Read(body); });
  return result;
}

}  // namespace kluis::storage
