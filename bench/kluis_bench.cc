// kluis_bench: the in-process benchmarks of issue 8, each beside the baseline that bounds it,
// measured in the same run on the same machine. scripts/bench.sh runs it and writes
// docs/BENCHMARKS.md; nothing here is run by the tests.
//
//   kluis_bench release [--seconds S] [--repeat R]   audited releases vs echo vs fsync'd commits
//   kluis_bench release --only CLIENTS [--seconds S] releases alone, for perf and callgrind
//   kluis_bench release --only-echo CLIENTS [--seconds S]  the echo calls alone
//   kluis_bench release --only-echo-commit CLIENTS [...]   echo calls whose handler commits once
//   kluis_bench release --only-vault CLIENTS [--seconds S] releases straight into the vault, no
//   gRPC kluis_bench release --only-commit 1 [--seconds S]      the fsync'd single-row commits
//   alone kluis_bench release --flush-ms D [--seconds S] [--repeat R]  group commit on a disk whose
//   every
//                                                    flush takes D ms longer
//                                                    (bench/slow_flush_vfs.h)
//   kluis_bench kabinetswissel [--accounts N]        plan and apply for N minister accounts
//   kluis_bench readers [--seconds S] [--repeat R] [--records N]  releases alone and beside custody
//                                                    reports and full audit exports of N records
//   kluis_bench scale [--accounts N,N,..] [--seconds S]  a generated national vault: listings,
//                                                    memory, start-up, releases beside readers
//   kluis_bench argon2                               the passphrase stretching alone
//   kluis_bench make-log DIR RECORDS                 a vault with RECORDS audit records (for
//   export)
#include "absl/strings/str_split.h"
#include "bench/harness.h"
#include "bench/scale.h"

namespace kluis::bench {
namespace {

// One workload alone, once, at that many clients (for perf and callgrind); kAll runs the table.
enum class Only { kAll, kRelease, kEcho, kEchoCommit, kVault, kCommit };

// With `slow_disk`, only the rows that a flush bounds (the flush delay is set up by the caller).
// robin.peters, beheerder of x/WA_Lombardijen1 (rotterdam/ijsselmonde), its password and TOTP key
// set.
client::Profile ServeOneAccount(Bench& bench) {
  bench.Organisation("rotterdam", "ijsselmonde");
  bench.Account("WA_Lombardijen1", "rotterdam/ijsselmonde", pb::ACCOUNT_KIND_POLITIE_ALLEEN);
  client::Profile robin = bench.Enroll("robin.peters");
  bench.Grant("robin.peters", pb::ROLE_BEHEERDER, "account", "x/WA_Lombardijen1");
  auto c = *client::Client::Connect(robin);
  pb::SetPasswordRequest set;
  set.set_account("WA_Lombardijen1");
  set.set_password("Bench-wachtwoord-2026!");
  if (!c->Call(c->vault(), &pb::Vault::Stub::SetPassword, set).ok()) std::abort();
  pb::SetTotpRequest totp;
  totp.set_account("WA_Lombardijen1");
  totp.set_otpauth("JBSWY3DPEHPK3PXP");
  if (!c->Call(c->vault(), &pb::Vault::Stub::SetTotp, totp).ok()) std::abort();
  return robin;
}

// A client of `profile` releasing the login of x/WA_Lombardijen1, per closed-loop thread.
std::function<std::function<bool()>(int)> ReleaseCalls(const client::Profile& profile) {
  return [&profile](int) -> std::function<bool()> {
    std::shared_ptr<client::Client> c = *client::Client::Connect(profile);
    return [c] {
      pb::ReleaseCredentialRequest get;
      get.set_account("x/WA_Lombardijen1");
      return c->Call(c->vault(), &pb::Vault::Stub::ReleaseCredential, get).ok();
    };
  };
}

int RunRelease(double seconds, int repeat, Only only, int only_clients, bool slow_disk) {
  Bench bench;
  const client::Profile robin = ServeOneAccount(bench);
  auto release_client = ReleaseCalls(robin);
  auto totp_client = [&](int) {
    std::shared_ptr<client::Client> c = *client::Client::Connect(robin);
    return [c] {
      pb::GetTotpCodeRequest get;
      get.set_account("x/WA_Lombardijen1");
      return c->Call(c->vault(), &pb::Vault::Stub::GetTotpCode, get).ok();
    };
  };
  // The echo's handler makes one fsync'd commit first when `commit` is set.
  std::unique_ptr<storage::Database> echo_commits =
      *storage::Database::Open(bench.root() + "/echo-commits.db", crypto::RandomSecret(32), storage::Database::Mode::kCreate);
  bench.SetEchoCommits(echo_commits.get());
  auto echo_client_with = [&](bool commit) {
    return [&, commit](int) {
      client::Profile p;
      p.dir = robin.dir;
      p.server = bench.EchoAddress();
      p.private_key_pem = robin.private_key_pem.Clone();
      p.certificate_pem = robin.certificate_pem;
      p.ca_certificate_pem = robin.ca_certificate_pem;
      std::shared_ptr<client::Client> c = *client::Client::Connect(p);
      auto stub = std::make_shared<kluis::bench::Echo::Stub>(c->channel());
      return [c, stub, commit] {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        EchoMessage request, response;
        request.set_payload(std::string(200, 'x'));  // about the size of a released login
        request.set_commit(commit);
        return stub->Echo(&context, request, &response).ok();
      };
    };
  };
  auto echo_client = echo_client_with(false);
  auto echo_commit_client = echo_client_with(true);
  // The limit of durability: single-row commits, each fsync'd, one after the other.
  auto commit_client = [&](int) {
    auto db = std::shared_ptr<storage::Database>(
        *storage::Database::Open(bench.root() + "/commits.db", crypto::RandomSecret(32), storage::Database::Mode::kCreate));
    auto n = std::make_shared<int64_t>(0);
    return [db, n] {
      return db->Write([&](storage::Tx& tx) { return tx.PutMeta("k", absl::StrCat((*n)++)); }).ok();
    };
  };

  // The vault's share of a release: identify, decide, record, commit, open — without gRPC and TLS.
  auto vault_client = [&](int) {
    return [&bench, certificate = robin.certificate_pem] {
      return bench.vault()
          .ReleaseCredential(server::Presented{certificate, "ipv4:127.0.0.1:1"}, "x/WA_Lombardijen1", {})
          .ok();
    };
  };

  using MakeCall = std::function<std::function<bool()>(int)>;
  const std::map<Only, std::pair<std::string, MakeCall>> alone = {
      {Only::kRelease, {"release", release_client}},
      {Only::kEcho, {"echo", echo_client}},
      {Only::kEchoCommit, {"echo with a commit in its handler", echo_commit_client}},
      {Only::kVault, {"release into the vault, no gRPC", vault_client}},
      {Only::kCommit, {"commit", commit_client}},
  };
  // A row's name: the workload and its number of clients ("release, 32").
  const auto key = [&](Only what, int clients) { return absl::StrCat(alone.at(what).first, ", ", clients); };
  const auto closed = [&](Only what, int clients) {
    return ClosedLoop(clients, seconds, alone.at(what).second);
  };
  if (alone.count(only) > 0) {
    std::cout << Row(key(only, only_clients), {closed(only, only_clients)}) << "\n";
    return 0;
  }
  std::map<std::string, std::vector<Sample>> runs;
  const std::string no_group_commit = "release, 32, no group commit";
  const std::string open_release = "release, open loop at half the 8-client release rate";
  const std::string open_echo = "echo, open loop at the same rate";
  const auto without_group_commit = [&] {
    storage::Database::SetMaxBatchForBench(1);
    runs[no_group_commit].push_back(closed(Only::kRelease, 32));
    storage::Database::SetMaxBatchForBench(0);
  };
  for (int r = 0; r < repeat; ++r) {
    std::filesystem::remove(bench.root() + "/commits.db");
    std::filesystem::remove(bench.root() + "/commits.db-wal");
    std::filesystem::remove(bench.root() + "/commits.db-shm");
    if (slow_disk) {
      // Only what the flush bounds: single commits, the echo and releases at 1 client, and
      // releases at 32 clients with and without group commit.
      for (Only what : {Only::kCommit, Only::kEcho, Only::kRelease}) {
        runs[key(what, 1)].push_back(closed(what, 1));
      }
      runs[key(Only::kRelease, 32)].push_back(closed(Only::kRelease, 32));
      without_group_commit();
      continue;
    }
    for (Only what : {Only::kCommit, Only::kVault, Only::kEchoCommit}) runs[key(what, 1)].push_back(closed(what, 1));
    for (int clients : {1, 8, 32}) {
      for (Only what : {Only::kEcho, Only::kRelease}) runs[key(what, clients)].push_back(closed(what, clients));
    }
    // The floor of a release at 32 clients: a handler that only waits for a one-row group commit.
    runs[key(Only::kEchoCommit, 32)].push_back(closed(Only::kEchoCommit, 32));
    without_group_commit();
    for (int clients : {1, 32}) {
      runs[absl::StrCat("totp code, ", clients)].push_back(ClosedLoop(clients, seconds, totp_client));
    }
    // Open loop at half of the closed-loop release rate with 8 clients: latency with queueing
    // visible, and the echo at the same arrival rate beside it.
    const double rate = runs[key(Only::kRelease, 8)].back().per_second / 2;
    runs[open_release].push_back(OpenLoop(32, rate, seconds, release_client));
    runs[open_echo].push_back(OpenLoop(32, rate, seconds, echo_client));
  }
  using Rows = std::vector<std::string>;
  const Rows rows =
      slow_disk
          ? Rows{key(Only::kCommit, 1), key(Only::kEcho, 1), key(Only::kRelease, 1),
                 key(Only::kRelease, 32), no_group_commit}
          : Rows{key(Only::kCommit, 1), key(Only::kEcho, 1), key(Only::kEchoCommit, 1),
                 key(Only::kVault, 1), key(Only::kRelease, 1), key(Only::kEcho, 8),
                 key(Only::kRelease, 8), key(Only::kEcho, 32), key(Only::kEchoCommit, 32),
                 key(Only::kRelease, 32), no_group_commit, "totp code, 1", "totp code, 32",
                 open_echo, open_release};
  std::cout << "| what, clients | per second | p50 ms | p99 ms |\n|---|---|---|---|\n";
  for (const std::string& row : rows) std::cout << Row(row, runs[row]) << "\n";

  // Each ratio is taken within one repeat, whose rows ran a few seconds apart, and reported as the
  // median (min–max) over the repeats: the machine's drift between repeats stays out of it.
  const auto per_repeat = [&](const std::function<double(int)>& ratio) {
    std::vector<double> v;
    for (int r = 0; r < repeat; ++r) v.push_back(ratio(r));
    return MedianRange(std::move(v));
  };
  const auto at = [&](const std::string& row, int r) -> const Sample& { return runs[row][r]; };
  const std::string release1 = key(Only::kRelease, 1), release32 = key(Only::kRelease, 32);
  const std::string commit1 = key(Only::kCommit, 1);
  std::cout << "\nratios (each repeat's own rows; median and range over the repeats):\n";
  std::cout << "- release p50 at 1 client / (echo p50 + one fsync'd commit): " << per_repeat([&](int r) {
    return at(release1, r).p50_ms / (at(key(Only::kEcho, 1), r).p50_ms + at(commit1, r).p50_ms);
  }) << " (target <= 1.5)\n";
  if (!slow_disk) {
    std::cout << "- release p50 at 1 client / p50 of an echo whose handler commits once: " << per_repeat([&](int r) {
      return at(release1, r).p50_ms / at(key(Only::kEchoCommit, 1), r).p50_ms;
    }) << "\n";
    std::cout << "- releases/s at 32 clients / echo/s at 32 clients: " << per_repeat([&](int r) {
      return at(release32, r).per_second / at(key(Only::kEcho, 32), r).per_second;
    }) << " (target >= 0.5)\n";
    std::cout << "- releases/s at 32 clients / calls/s at 32 clients of an echo whose handler commits once: "
              << per_repeat([&](int r) {
                   return at(release32, r).per_second / at(key(Only::kEchoCommit, 32), r).per_second;
                 })
              << "\n";
  }
  std::cout << "- releases/s at 32 clients / single-commit rate: " << per_repeat([&](int r) {
    return at(release32, r).per_second / at(commit1, r).per_second;
  }) << " (target >= 10)\n";
  std::cout << "- group commit: releases/s at 32 clients with / without: " << per_repeat([&](int r) {
    return at(release32, r).per_second / at(no_group_commit, r).per_second;
  }) << "\n";
  return 0;
}

// Issue 18: a release's latency at 32 clients alone, and while a regisseur's custody reports and
// an auditor's full audit exports run back to back beside it (reads, on the reader pool).
int RunReadersBeside(double seconds, int repeat, int64_t log_records) {
  Bench bench;
  const client::Profile robin = ServeOneAccount(bench);
  const client::Profile regisseur = bench.Enroll("regisseur.rotterdam");
  bench.Grant("regisseur.rotterdam", pb::ROLE_REGISSEUR, "unit", "rotterdam");
  const client::Profile auditor = bench.Enroll("auditor");
  bench.Grant("auditor", pb::ROLE_AUDITOR, "global", "");
  // A log to export: releases straight into the vault, 32 at a time, until it holds enough.
  std::atomic<int64_t> written{0};
  ClosedLoop(32, 3600, [&](int) -> std::function<bool()> {
    return [&] {
      if (written.fetch_add(1) >= log_records) return false;
      return bench.vault()
          .ReleaseCredential(server::Presented{robin.certificate_pem, "ipv4:127.0.0.1:1"},
                             "x/WA_Lombardijen1", {})
          .ok();
    };
  });
  const auto release_client = ReleaseCalls(robin);
  std::vector<Sample> alone, beside, beside_on_writer;
  int64_t reports = 0, exports = 0, exported = 0;
  // Releases while custody reports and full exports run back to back on two more clients.
  auto with_readers = [&] {
    std::atomic<bool> stop{false};
    std::thread custody([&] {
      auto c = *client::Client::Connect(regisseur);
      while (!stop) {
        if (!c->Call(c->audit(), &pb::Audit::Stub::CustodyReport, pb::CustodyReportRequest()).ok())
          std::abort();
        ++reports;
      }
    });
    std::thread exporter([&] {
      auto c = *client::Client::Connect(auditor);
      while (!stop) {
        int64_t records = 0;
        const absl::Status streamed =
            c->ExportAudit(pb::ExportAuditRequest(), [&](const pb::AuditExportItem& item) {
              records += item.has_record();
              return !stop;
            });
        if (!streamed.ok() && !stop) std::abort();
        if (streamed.ok()) ++exports, exported += records;
      }
    });
    const Sample sample = ClosedLoop(32, seconds, release_client);
    stop = true;
    custody.join();
    exporter.join();
    return sample;
  };
  for (int r = 0; r < repeat; ++r) {
    alone.push_back(ClosedLoop(32, seconds, release_client));
    beside.push_back(with_readers());
    // The baseline: the same, with every read on the write connection (as before the read pool).
    storage::Database::ReadOnTheWriterForBench(true);
    beside_on_writer.push_back(with_readers());
    storage::Database::ReadOnTheWriterForBench(false);
  }
  std::cout << "| what, clients | per second | p50 ms | p99 ms |\n|---|---|---|---|\n"
            << Row("release, 32", alone) << "\n"
            << Row("release, 32, custody reports and full audit exports beside", beside) << "\n"
            << Row("the same, reads on the write connection (before the read pool)",
                   beside_on_writer)
            << "\n\n";
  std::vector<double> ratios, before;
  for (int r = 0; r < repeat; ++r) {
    ratios.push_back(beside[r].p99_ms / alone[r].p99_ms);
    before.push_back(beside_on_writer[r].p99_ms / alone[r].p99_ms);
  }
  std::cout << "- release p99 beside the readers / alone: " << MedianRange(ratios)
            << " (target <= 1.25)\n"
            << "- the same with reads on the write connection: " << MedianRange(before) << "\n"
            << "- beside them: " << reports << " custody reports and " << exports
            << " full exports of " << (exports > 0 ? exported / exports : 0)
            << " records on average\n";
  return 0;
}

int RunKabinetswissel(int accounts) {
  Bench bench;
  bench.Organisation("az", "communicatie");
  client::Profile regisseur = bench.Enroll("regisseur.az");
  bench.Enroll("minister.devries");
  bench.Grant("regisseur.az", pb::ROLE_REGISSEUR, "unit", "az");
  for (int i = 0; i < accounts; ++i) {
    bench.Account(absl::StrCat("Minister_", i), "az/communicatie", pb::ACCOUNT_KIND_CORPORATE);
  }
  auto c = *client::Client::Connect(regisseur);
  pb::PlanKabinetswisselRequest plan;
  plan.set_unit("az");
  for (int i = 0; i < accounts; ++i) {
    pb::AccountChoice* s = plan.add_successors();
    s->set_account(absl::StrCat("x/Minister_", i));
    s->set_value("minister.devries");
    pb::AccountChoice* a = plan.add_archives();
    a->set_account(absl::StrCat("x/Minister_", i));
    a->set_value(absl::StrCat("archief ", i));
  }
  const Clock::time_point t0 = Clock::now();
  grpc::ClientContext plan_context;
  plan_context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  pb::KabinetswisselPlan planned;
  grpc::Status planned_status = c->vault().PlanKabinetswissel(&plan_context, plan, &planned);
  const Clock::time_point t1 = Clock::now();
  grpc::ClientContext apply_context;
  apply_context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  pb::ApplyKabinetswisselRequest apply;
  apply.set_plan_id(planned.id());
  pb::ApplyKabinetswisselResponse applied;
  grpc::Status applied_status = c->vault().ApplyKabinetswissel(&apply_context, apply, &applied);
  const Clock::time_point t2 = Clock::now();
  if (!planned_status.ok() || !applied_status.ok() || !applied.complete()) {
    std::cerr << "kabinetswissel failed: " << planned_status.error_message() << applied_status.error_message() << "\n";
    return 1;
  }
  std::cout << absl::StrFormat("kabinetswissel of %d corporate accounts: plan %.2f s, apply %.2f s (%d steps)\n",
                               accounts, Seconds(t1 - t0), Seconds(t2 - t1), accounts * 6);
  return 0;
}

int RunArgon2() {
  if (!crypto::Initialize().ok()) return 1;
  const crypto::SecretBytes passphrase = crypto::SecretBytes::CopyFrom(kPassphrase);
  crypto::SecretBytes root;
  auto sealed = crypto::RootKey::CreateSealed(passphrase, crypto::Argon2Params::Moderate(), &root);
  std::vector<double> times;
  for (int i = 0; i < 3; ++i) {
    const Clock::time_point t = Clock::now();
    if (!crypto::RootKey::Open(*sealed, passphrase).ok()) return 1;
    times.push_back(Seconds(Clock::now() - t) * 1000);
  }
  std::sort(times.begin(), times.end());
  std::cout << absl::StrFormat("argon2id (moderate) unseal: %.0f ms median (%.0f–%.0f)\n", times[1], times[0], times[2]);
  return 0;
}

// A vault whose log holds `records` records (the vault's own Append with its own checkpoint key),
// an auditor with a one-time code in DIR/auditor.code, for scripts/bench.sh to export and verify.
int RunMakeLog(const std::string& dir, int64_t records) {
  if (!crypto::Initialize().ok()) return 1;
  server::SystemClock clock;
  std::ofstream(dir + ".pass") << kPassphrase;
  const crypto::SecretBytes passphrase = crypto::SecretBytes::CopyFrom(kPassphrase);
  auto init = InitVault(dir, clock);
  if (!init.ok()) {
    std::cerr << init.status() << "\n";
    return 1;
  }
  std::ofstream(dir + "/operator.code") << init->admin_code.code << "\n";
  std::ifstream sealed_in(server::RootKeyPath(dir), std::ios::binary);
  std::stringstream sealed;
  sealed << sealed_in.rdbuf();
  auto root = crypto::RootKey::Open(sealed.str(), passphrase);
  auto signer = crypto::Ed25519Signer::FromSeed(*crypto::DeriveSubkey(*root, crypto::SubkeyPurpose::kAuditSigning));
  const audit::Checkpointer checkpointer(*std::move(signer), server::Vault::kCheckpointEveryRecords,
                                         server::Vault::kCheckpointEvery);
  auto db = *storage::Database::Open(server::DatabasePath(dir), *crypto::DeriveSubkey(*root, crypto::SubkeyPurpose::kDatabase),
                                     storage::Database::Mode::kOpenExisting);
  absl::Time t = absl::Now() - absl::Hours(24 * 365);
  for (int64_t done = 0; done < records;) {
    const int64_t batch = std::min<int64_t>(10000, records - done);
    absl::Status s = db->Write([&](storage::Tx& tx) -> absl::Status {
      for (int64_t i = 0; i < batch; ++i) {
        audit::AuditEvent event{"robin.peters", "beheerder", "release-login", "x/WA_Lombardijen1", "allow",
                                "R1.beheerder", absl::StrCat("dienst ", done + i), "", "ipv4:127.0.0.1:40312", "ok", 1};
        if (absl::Status a = audit::Append(tx, event, t, &checkpointer).status(); !a.ok()) return a;
        t += absl::Milliseconds(10);
      }
      return absl::OkStatus();
    });
    if (!s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
    done += batch;
  }
  std::cout << "vault with " << records << " audit records in " << dir << "\n";
  return 0;
}

}  // namespace
}  // namespace kluis::bench

int main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as kluisd runs (server/main.cc)
  std::vector<std::string> args(argv + 1, argv + argc);
  auto flag = [&](const std::string& name, double fallback) {
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == name) return std::stod(args[i + 1]);
    }
    return fallback;
  };
  if (args.empty()) {
    std::cerr << "usage: kluis_bench release|readers|scale|kabinetswissel|argon2|make-log DIR N\n";
    return 1;
  }
  if (args[0] == "release") {
    using kluis::bench::Only;
    Only only = Only::kAll;
    int clients = 0;
    for (const auto& [name, what] : {std::pair{"--only", Only::kRelease}, {"--only-echo", Only::kEcho},
                                     {"--only-echo-commit", Only::kEchoCommit}, {"--only-vault", Only::kVault}, {"--only-commit", Only::kCommit}}) {
      if (flag(name, 0) > 0) {
        only = what;
        clients = static_cast<int>(flag(name, 0));
      }
    }
    const double flush_ms = flag("--flush-ms", 0);
    if (flush_ms > 0) {
      if (absl::Status s = kluis::bench::InstallSlowFlushVfs(absl::Microseconds(flush_ms * 1000)); !s.ok()) {
        std::cerr << "kluis_bench: " << s << "\n";
        return 1;
      }
    }
    return kluis::bench::RunRelease(flag("--seconds", 5), static_cast<int>(flag("--repeat", 3)), only, clients,
                                    flush_ms > 0);
  }
  if (args[0] == "kabinetswissel") return kluis::bench::RunKabinetswissel(static_cast<int>(flag("--accounts", 1000)));
  if (args[0] == "argon2") return kluis::bench::RunArgon2();
  if (args[0] == "readers") {
    return kluis::bench::RunReadersBeside(flag("--seconds", 5),
                                          static_cast<int>(flag("--repeat", 3)),
                                          static_cast<int64_t>(flag("--records", 100000)));
  }
  if (args[0] == "scale") {
    std::vector<int> sizes = {5000, 10000, 25000, 50000};
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] != "--accounts") continue;
      sizes.clear();
      for (absl::string_view n : absl::StrSplit(args[i + 1], ','))
        sizes.push_back(std::stoi(std::string(n)));
    }
    return kluis::bench::RunScale(sizes, flag("--seconds", 5));
  }
  if (args[0] == "make-log" && args.size() == 3) return kluis::bench::RunMakeLog(args[1], std::stoll(args[2]));
  std::cerr << "usage: kluis_bench release|readers|scale|kabinetswissel|argon2|make-log DIR N\n";
  return 1;
}
