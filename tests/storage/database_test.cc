#include "server/storage/database.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "crypto/random.h"
#include "server/storage/schema.h"
#include "server/storage/tx.h"

namespace kluis::storage {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Initialize().ok());
    char tmpl[] = "/tmp/kluis-db-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/vault.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
  crypto::SecretBytes key_ = crypto::RandomSecret(32);
};

TEST_F(DatabaseTest, CreatesAtLatestSchemaAndReopens) {
  {
    auto db = Database::Open(path_, key_, Database::Mode::kCreate);
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_EQ((*db)->SchemaVersion(), LatestSchemaVersion());
    ASSERT_TRUE((*db)->Write([](Tx& tx) { return tx.PutMeta("k", "v"); }).ok());
  }
  auto db = Database::Open(path_, key_, Database::Mode::kOpenExisting);
  ASSERT_TRUE(db.ok()) << db.status();
  std::optional<std::string> value;
  ASSERT_TRUE((*db)->Read([&](Tx& tx) -> absl::Status {
    auto v = tx.GetMeta("k");
    if (!v.ok()) return v.status();
    value = *v;
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(value.value_or(""), "v");
}

TEST_F(DatabaseTest, WrongKeyIsAClearErrorNotACrash) {
  { ASSERT_TRUE(Database::Open(path_, key_, Database::Mode::kCreate).ok()); }
  auto db = Database::Open(path_, crypto::RandomSecret(32), Database::Mode::kOpenExisting);
  EXPECT_EQ(db.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(db.status().message(), "wrong passphrase or not a Kluis database");
}

TEST_F(DatabaseTest, FileThatIsNotADatabaseIsAClearError) {
  std::ofstream(path_) << std::string(8192, 'x');
  auto db = Database::Open(path_, key_, Database::Mode::kOpenExisting);
  EXPECT_EQ(db.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(DatabaseTest, MissingFileIsNotFoundAndCreateRefusesExisting) {
  EXPECT_EQ(Database::Open(path_, key_, Database::Mode::kOpenExisting).status().code(),
            absl::StatusCode::kNotFound);
  { ASSERT_TRUE(Database::Open(path_, key_, Database::Mode::kCreate).ok()); }
  EXPECT_EQ(Database::Open(path_, key_, Database::Mode::kCreate).status().code(),
            absl::StatusCode::kAlreadyExists);
}

// Every older schema version opens and migrates forward to the latest.
TEST_F(DatabaseTest, EveryOlderSchemaMigratesToLatest) {
  for (int version = 0; version < LatestSchemaVersion(); ++version) {
    const std::string path = dir_ + "/v" + std::to_string(version) + ".db";
    {
      auto old = Database::OpenAtVersionForTest(path, key_, version);
      ASSERT_TRUE(old.ok()) << old.status();
      EXPECT_EQ((*old)->SchemaVersion(), version);
    }
    if (version == 0) continue;  // an empty file has no schema: not a Kluis database yet
    auto db = Database::Open(path, key_, Database::Mode::kOpenExisting);
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_EQ((*db)->SchemaVersion(), LatestSchemaVersion());
  }
}

TEST_F(DatabaseTest, FailedWriteRollsBackEverything) {
  auto db = Database::Open(path_, key_, Database::Mode::kCreate);
  absl::Status failed = (*db)->Write([](Tx& tx) -> absl::Status {
    if (absl::Status s = tx.PutMeta("half", "done"); !s.ok()) return s;
    return absl::InternalError("fail after the first write");
  });
  EXPECT_FALSE(failed.ok());
  std::optional<std::string> value;
  ASSERT_TRUE((*db)->Read([&](Tx& tx) -> absl::Status {
    auto v = tx.GetMeta("half");
    value = v.ok() ? *v : std::nullopt;
    return absl::OkStatus();
  }).ok());
  EXPECT_FALSE(value.has_value());
}

TEST_F(DatabaseTest, DuplicateNamesAreAlreadyExists) {
  auto db = Database::Open(path_, key_, Database::Mode::kCreate);
  ASSERT_TRUE((*db)->Write([](Tx& tx) { return tx.InsertUnit("rotterdam", "R", 1).status(); }).ok());
  EXPECT_EQ((*db)->Write([](Tx& tx) { return tx.InsertUnit("rotterdam", "R", 1).status(); }).code(),
            absl::StatusCode::kAlreadyExists);
}

// Reads run on their own connections (issue 18): never behind the writer, one snapshot each.
int64_t CountUnits(Tx& tx, std::initializer_list<const char*> names) {
  int64_t found = 0;
  for (const char* name : names) {
    absl::StatusOr<std::optional<UnitRow>> unit = tx.FindUnit(name);
    found += unit.ok() && unit->has_value();
  }
  return found;
}

TEST_F(DatabaseTest, AReadDoesNotWaitForAWriteInProgressAndSeesTheLastCommit) {
  auto db = Database::Open(path_, key_, Database::Mode::kCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Write([](Tx& tx) { return tx.InsertUnit("a", "A", 1).status(); }).ok());
  absl::Notification in_write, release;
  std::thread writer([&] {
    EXPECT_TRUE(
        (*db)
            ->Write([&](Tx& tx) -> absl::Status {
              if (absl::Status s = tx.InsertUnit("b", "B", 1).status(); !s.ok()) return s;
              in_write.Notify();
              release.WaitForNotification();  // the write holds the writer's lock, uncommitted
              return absl::OkStatus();
            })
            .ok());
  });
  in_write.WaitForNotification();
  absl::Notification read_done;
  int64_t seen = -1;
  std::thread reader([&] {
    EXPECT_TRUE((*db)
                    ->Read([&](Tx& tx) -> absl::Status {
                      seen = CountUnits(tx, {"a", "b"});
                      return absl::OkStatus();
                    })
                    .ok());
    read_done.Notify();
  });
  // A bound so that a read queued behind the writer fails the test instead of hanging it.
  EXPECT_TRUE(read_done.WaitForNotificationWithTimeout(absl::Seconds(60)))
      << "the read waited for the write";
  release.Notify();
  writer.join();
  reader.join();
  EXPECT_EQ(seen, 1) << "the read saw the last commit: a, not the write in progress";
  ASSERT_TRUE(
      (*db)
          ->Read([&](Tx& tx) -> absl::Status {
            EXPECT_EQ(CountUnits(tx, {"a", "b"}), 2) << "once committed, the next read sees it";
            return absl::OkStatus();
          })
          .ok());
}

TEST_F(DatabaseTest, AReadSeesOneSnapshotWhileWritesCommitBesideIt) {
  auto db = Database::Open(path_, key_, Database::Mode::kCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Write([](Tx& tx) { return tx.InsertUnit("a", "A", 1).status(); }).ok());
  int64_t before = -1, after = -1;
  absl::Notification committed;
  std::optional<std::thread> writer;
  ASSERT_TRUE(
      (*db)
          ->Read([&](Tx& tx) -> absl::Status {
            before = CountUnits(tx, {"a", "b"});
            // A write commits while this read is open; it does not wait for the read, nor does the
            // read see it. (Bounded, so that a write queued behind the read fails the test, not
            // hangs it.)
            writer.emplace([&] {
              EXPECT_TRUE(
                  (*db)->Write([](Tx& w) { return w.InsertUnit("b", "B", 1).status(); }).ok());
              committed.Notify();
            });
            EXPECT_TRUE(committed.WaitForNotificationWithTimeout(absl::Seconds(60)))
                << "the write waited for the read";
            after = CountUnits(tx, {"a", "b"});
            return absl::OkStatus();
          })
          .ok());
  writer->join();
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after, 1) << "a read transaction is one snapshot";
  ASSERT_TRUE((*db)
                  ->Read([&](Tx& tx) -> absl::Status {
                    EXPECT_EQ(CountUnits(tx, {"a", "b"}), 2);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_F(DatabaseTest, AWriteInsideAReadFailsAndChangesNothing) {
  auto db = Database::Open(path_, key_, Database::Mode::kCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  const absl::Status refused =
      (*db)->Read([](Tx& tx) { return tx.InsertUnit("a", "A", 1).status(); });
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.message(), "readonly")) << refused;
  ASSERT_TRUE((*db)
                  ->Read([&](Tx& tx) -> absl::Status {
                    EXPECT_EQ(CountUnits(tx, {"a"}), 0);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_F(DatabaseTest, ManyConcurrentReadsShareThePoolAndAllFinish) {
  auto db = Database::Open(path_, key_, Database::Mode::kCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Write([](Tx& tx) { return tx.InsertUnit("a", "A", 1).status(); }).ok());
  std::vector<std::thread> threads;
  std::atomic<int> seen{0};
  for (size_t i = 0; i < 4 * Database::kReaders; ++i) {
    threads.emplace_back([&] {
      EXPECT_TRUE((*db)
                      ->Read([&](Tx& tx) -> absl::Status {
                        seen += static_cast<int>(CountUnits(tx, {"a"}));
                        return absl::OkStatus();
                      })
                      .ok());
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(seen.load(), static_cast<int>(4 * Database::kReaders));
}

// The product's words are read into their types where rows are read (rows.h), once.
TEST_F(DatabaseTest, StoredWordsAreReadIntoTypesAndABindingWithAnUnknownRoleGrantsNothing) {
  auto db = Database::Open(path_, key_, Database::Mode::kCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  int64_t user = 0;
  ASSERT_TRUE((*db)
                  ->Write([&](Tx& tx) -> absl::Status {
                    absl::StatusOr<int64_t> id = tx.InsertUser("robin.peters", "Robin", 1);
                    if (!id.ok()) return id.status();
                    user = *id;
                    BindingRow binding;
                    binding.user_id = user;
                    binding.role = policies::Role::kTeamchef;
                    binding.scope_kind = policies::ScopeKind::kGlobal;
                    return tx.InsertBinding(binding).status();
                  })
                  .ok());
  // A word this kluisd does not know (a newer vault's, or a tampered row).
  ASSERT_TRUE((*db)
                  ->ExecForTest(absl::StrCat(
                      "INSERT INTO role_bindings (user_id, role, scope_kind, scope_id, "
                      "valid_from_us, granted_by) VALUES (",
                      user, ", 'koning', 'global', 0, 0, 'test')"))
                  .ok());
  std::vector<BindingRow> read;
  ASSERT_TRUE((*db)
                  ->Read([&](Tx& tx) -> absl::Status {
                    absl::StatusOr<std::vector<BindingRow>> active = tx.ActiveBindings(user, 10);
                    if (!active.ok()) return active.status();
                    read = *active;
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].role, policies::Role::kTeamchef);
  EXPECT_EQ(read[0].scope_kind, policies::ScopeKind::kGlobal);
}

TEST_F(DatabaseTest, AnAccountInAStateOrOfAKindNotKnownReadsAsArchivedAndOfNoKind) {
  auto db = Database::Open(path_, key_, Database::Mode::kCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  int64_t known = 0, unknown = 0;
  ASSERT_TRUE((*db)
                  ->Write([&](Tx& tx) -> absl::Status {
                    absl::StatusOr<int64_t> unit = tx.InsertUnit("rotterdam", "R", 1);
                    if (!unit.ok()) return unit.status();
                    absl::StatusOr<int64_t> team = tx.InsertTeam(*unit, "ijsselmonde", "I", 1);
                    if (!team.ok()) return team.status();
                    absl::StatusOr<int64_t> a = tx.InsertAccount(
                        *team, "x", "WA_Bekend", policies::AccountKind::kHybrid, 1, "test");
                    if (!a.ok()) return a.status();
                    known = *a;
                    absl::StatusOr<int64_t> b = tx.InsertAccount(
                        *team, "x", "WA_Vreemd", policies::AccountKind::kCorporate, 1, "test");
                    if (!b.ok()) return b.status();
                    unknown = *b;
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(
      (*db)
          ->ExecForTest(absl::StrCat("UPDATE accounts SET status = 'zwevend', kind = 'koninklijk' "
                                     "WHERE id = ",
                                     unknown))
          .ok());
  std::optional<AccountRow> a, b;
  ASSERT_TRUE((*db)
                  ->Read([&](Tx& tx) -> absl::Status {
                    absl::StatusOr<std::optional<AccountRow>> first = tx.FindAccountById(known);
                    absl::StatusOr<std::optional<AccountRow>> second = tx.FindAccountById(unknown);
                    if (!first.ok() || !second.ok()) return absl::InternalError("read");
                    a = *first;
                    b = *second;
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->kind, policies::AccountKind::kHybrid);
  EXPECT_EQ(a->state, policies::AccountState::kActive);
  EXPECT_EQ(b->kind, std::nullopt);
  EXPECT_EQ(b->state, policies::AccountState::kArchived);  // releases nothing
  EXPECT_EQ(b->kind_name(), "unknown");
}

// Group commit: concurrent writers share transactions, yet each one's failure undoes only its own
// change, and every writer that heard "ok" is in the file after it is reopened.
// 64 concurrent writers, sharing commits in whatever batches they happen to form; writer i inserts
// unit i, and `fail(i, changed)` says whether it fails before or after that. Even writers declare
// kBeforeChanging (no savepoint) when `mixed`, all others kAnywhere. Returns the results, having
// checked that a write reported done is there and one reported failed is not.
std::vector<absl::Status> WriteConcurrently(const std::string& path, const crypto::SecretBytes& key, bool mixed,
                                            const std::function<absl::Status(int, bool changed)>& fail) {
  std::vector<absl::Status> results(64);
  {
    auto db = Database::Open(path, key, Database::Mode::kCreate);
    EXPECT_TRUE(db.ok());
    std::vector<std::thread> writers;
    for (int i = 0; i < 64; ++i) {
      writers.emplace_back([&, i] {
        const auto failure = mixed && i % 2 == 0 ? Database::Failure::kBeforeChanging : Database::Failure::kAnywhere;
        results[i] = (*db)->Write([&](Tx& tx) -> absl::Status {
          if (absl::Status s = fail(i, false); !s.ok()) return s;
          if (absl::StatusOr<int64_t> id = tx.InsertUnit(absl::StrCat("unit", i), "x", 1); !id.ok()) return id.status();
          return fail(i, true);
        }, failure);
      });
    }
    for (std::thread& w : writers) w.join();
  }
  auto db = Database::Open(path, key, Database::Mode::kOpenExisting);
  EXPECT_TRUE(db.ok());
  EXPECT_TRUE((*db)->Read([&](Tx& tx) -> absl::Status {
    for (int i = 0; i < 64; ++i) {
      absl::StatusOr<std::optional<UnitRow>> unit = tx.FindUnit(absl::StrCat("unit", i));
      if (!unit.ok()) return unit.status();
      EXPECT_EQ(unit->has_value(), results[i].ok()) << i << ": " << results[i];
    }
    return absl::OkStatus();
  }).ok());
  return results;
}

TEST_F(DatabaseTest, ConcurrentWritesShareCommitsButFailAlone) {
  std::vector<absl::Status> results = WriteConcurrently(path_, key_, false, [](int i, bool changed) {
    // Every third writer fails after its insert: its unit must vanish, nobody else's.
    return changed && i % 3 == 0 ? absl::AbortedError("changed my mind") : absl::OkStatus();
  });
  for (int i = 0; i < 64; ++i) EXPECT_EQ(results[i].ok(), i % 3 != 0) << i << ": " << results[i];
}

// Writes that declare they fail only before changing anything run without a savepoint: such a
// refusal leaves the batch alone.
TEST_F(DatabaseTest, AWriteRefusedBeforeChangingLeavesItsBatchAlone) {
  std::vector<absl::Status> results = WriteConcurrently(path_, key_, true, [](int i, bool changed) {
    if (!changed && i % 4 == 0) return absl::FailedPreconditionError("refused before changing anything");
    if (changed && i % 4 == 1) return absl::AbortedError("changed my mind");  // kAnywhere: in its savepoint
    return absl::OkStatus();
  });
  for (int i = 0; i < 64; ++i) EXPECT_EQ(results[i].ok(), i % 4 >= 2) << i << ": " << results[i];
}

// A kBeforeChanging write that fails after changing rows (a storage error) takes its transaction
// down with it: every write in it fails, none is half there.
TEST_F(DatabaseTest, AStorageErrorAfterChangingFailsItsWholeTransaction) {
  std::vector<absl::Status> results = WriteConcurrently(path_, key_, true, [](int i, bool changed) {
    // Every eighth writer (a kBeforeChanging one) fails after its insert, as a storage error would.
    if (changed && i % 8 == 0) return absl::InternalError("a storage error after the insert");
    return absl::OkStatus();
  });
  int done = 0;
  for (int i = 0; i < 64; ++i) {
    if (i % 8 == 0) {
      EXPECT_FALSE(results[i].ok()) << i;
    }
    done += results[i].ok();
  }
  EXPECT_GT(done, 0);  // the writes in other transactions went through
}

// The statement cache hands a query's statement back reset and unbound, and a statement still in
// use is never handed out twice: the second comes prepared afresh and both step on their own.
TEST_F(DatabaseTest, CachedStatementsComeBackResetAndAreNeverShared) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3);", nullptr, nullptr, nullptr),
            SQLITE_OK);
  {
    StatementCache cache;
    constexpr char kQuery[] = "SELECT v FROM t WHERE v >= ? ORDER BY v";
    {
      auto outer = cache.Prepare(db, kQuery);
      ASSERT_TRUE(outer.ok());
      outer->Bind(1, int64_t{2});
      ASSERT_TRUE(*outer->Step());
      EXPECT_EQ(outer->Int(0), 2);
      auto inner = cache.Prepare(db, kQuery);  // the same query inside the first one's loop
      ASSERT_TRUE(inner.ok());
      inner->Bind(1, int64_t{1});
      ASSERT_TRUE(*inner->Step());
      EXPECT_EQ(inner->Int(0), 1);
      ASSERT_TRUE(*outer->Step());
      EXPECT_EQ(outer->Int(0), 3);  // the outer cursor was not disturbed
    }
    auto again = cache.Prepare(db, kQuery);
    ASSERT_TRUE(again.ok());
    // Reset and unbound: with no value bound, `v >= NULL` matches nothing.
    EXPECT_FALSE(*again->Step());
    auto broken = cache.Prepare(db, "SELECT nothing FROM nowhere");
    EXPECT_FALSE(broken.ok());
  }
  EXPECT_EQ(sqlite3_close(db), SQLITE_OK);  // every cached statement was finalized
}

// A bind that fails is not silently dropped: the statement refuses to run with a parameter left
// unbound, and says which one; a good bind runs.
class BindTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db_, "CREATE TABLE t (v INTEGER);", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  void TearDown() override {
    cache_.Clear();
    EXPECT_EQ(sqlite3_close(db_), SQLITE_OK);
  }
  absl::Status Insert(int index) {
    absl::StatusOr<Statement> insert = cache_.Prepare(db_, "INSERT INTO t VALUES (?)");
    if (!insert.ok()) return insert.status();
    return insert->Bind(index, int64_t{7}).Run();
  }
  int64_t Rows() {
    absl::StatusOr<Statement> count = cache_.Prepare(db_, "SELECT count(*) FROM t");
    return count.ok() && *count->Step() ? count->Int(0) : -1;
  }
  sqlite3* db_ = nullptr;
  StatementCache cache_;
};

TEST_F(BindTest, AFailedBindStopsTheStatementAndNamesTheParameter) {
  const absl::Status run = Insert(2);  // there is no parameter 2
  EXPECT_FALSE(run.ok());
  EXPECT_TRUE(absl::StrContains(run.message(), "binding parameter 2 failed")) << run;
  EXPECT_EQ(Rows(), 0) << "nothing was inserted";
}

TEST_F(BindTest, AGoodBindRuns) {
  EXPECT_TRUE(Insert(1).ok());
  EXPECT_EQ(Rows(), 1);
}

}  // namespace
}  // namespace kluis::storage

namespace kluis::storage {
namespace {

// Issue 18: long reads run aside, on threads nicer than the calls, and are reads all the same.
TEST_F(DatabaseTest, AReadAsideRunsNicerAndIsAReadAllTheSame) {
  auto db = Database::Open(path_, key_, Database::Mode::kCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Write([](Tx& tx) { return tx.PutMeta("k", "v"); }).ok());
  const int mine = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  int theirs = mine;
  std::optional<std::string> value;
  absl::Status read = (*db)->ReadAside([&](Tx& tx) -> absl::Status {
    theirs = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    absl::StatusOr<std::optional<std::string>> v = tx.GetMeta("k");
    if (!v.ok()) return v.status();
    value = *v;
    return absl::NotFoundError("the body's own status");
  });
  EXPECT_EQ(read.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(value.value_or(""), "v");
  EXPECT_EQ(theirs, std::min(19, mine + AsideThreads::kNiceness));
  EXPECT_FALSE((*db)->ReadAside([](Tx& tx) { return tx.PutMeta("k", "w"); }).ok());
  // Many at once, more than there are threads: each runs, none is lost.
  std::atomic<int> ran{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&] {
      EXPECT_TRUE((*db)
                      ->ReadAside([&](Tx&) {
                        ++ran;
                        return absl::OkStatus();
                      })
                      .ok());
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(ran.load(), 8);
}

}  // namespace
}  // namespace kluis::storage
