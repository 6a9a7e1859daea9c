// kluis_bench: the in-process benchmarks of issue 8, each beside the baseline that bounds it,
// measured in the same run on the same machine. scripts/bench.sh runs it and writes
// docs/BENCHMARKS.md; nothing here is run by the tests.
//
//   kluis_bench release [--seconds S] [--repeat R]   audited releases vs echo vs fsync'd commits
//   kluis_bench release --only CLIENTS [--seconds S] releases alone, for perf and callgrind
//   kluis_bench release --only-echo CLIENTS [--seconds S]  the echo calls alone
//   kluis_bench release --only-echo-commit CLIENTS [...]   echo calls whose handler commits once
//   kluis_bench release --only-vault CLIENTS [--seconds S] releases straight into the vault, no gRPC
//   kluis_bench release --only-commit 1 [--seconds S]      the fsync'd single-row commits alone
//   kluis_bench release --flush-ms D [--seconds S] [--repeat R]  group commit on a disk whose every
//                                                    flush takes D ms longer (bench/slow_flush_vfs.h)
//   kluis_bench kabinetswissel [--accounts N]        plan and apply for N minister accounts
//   kluis_bench argon2                               the passphrase stretching alone
//   kluis_bench make-log DIR RECORDS                 a vault with RECORDS audit records (for export)
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "bench/slow_flush_vfs.h"
#include "client/client.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "crypto/root_key.h"
#include "crypto/signing.h"
#include "echo.grpc.pb.h"
#include "server/audit/audit_log.h"
#include "server/vault/clock.h"
#include "server/server.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/vault.h"

namespace kluis::bench {
namespace {

namespace pb = ::kluis::v1;
using Clock = std::chrono::steady_clock;
constexpr char kPassphrase[] = "bench passphrase, not for production";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Sample {
  double per_second = 0;
  double p50_ms = 0, p99_ms = 0;
};

Sample Summarise(std::vector<double> latencies_ms, double elapsed_s) {
  Sample s;
  if (latencies_ms.empty()) return s;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  s.per_second = latencies_ms.size() / elapsed_s;
  s.p50_ms = latencies_ms[latencies_ms.size() / 2];
  s.p99_ms = latencies_ms[std::min(latencies_ms.size() - 1, latencies_ms.size() * 99 / 100)];
  return s;
}

// The calls of `clients` clients, each connected and warmed up by one call before any timing
// starts: the TLS handshakes and first-call set-up are not what is measured.
template <typename MakeCall>
std::vector<std::function<bool()>> Connected(int clients, MakeCall make_call) {
  std::vector<std::function<bool()>> calls;
  for (int c = 0; c < clients; ++c) {
    calls.push_back(make_call(c));
    if (!calls.back()()) {
      std::cerr << "kluis_bench: the warm-up call failed\n";
      std::abort();
    }
  }
  return calls;
}

// Closed loop: `clients` threads, each calling back to back for `seconds`.
template <typename MakeCall>
Sample ClosedLoop(int clients, double seconds, MakeCall make_call) {
  std::vector<std::function<bool()>> calls = Connected(clients, make_call);
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::thread> threads;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      while (Clock::now() < end) {
        const Clock::time_point t = Clock::now();
        if (!calls[c]()) return;
        latencies[c].push_back(Seconds(Clock::now() - t) * 1000);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  return Summarise(std::move(all), Seconds(Clock::now() - start));
}

// Open loop: calls arrive at a fixed `rate` per second, whether earlier ones finished or not (up
// to `clients` in flight); latency counts from the scheduled arrival, so queueing shows.
template <typename MakeCall>
Sample OpenLoop(int clients, double rate, double seconds, MakeCall make_call) {
  std::vector<std::function<bool()>> calls = Connected(clients, make_call);
  const int total = static_cast<int>(rate * seconds);
  std::atomic<int> next{0};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::thread> threads;
  const Clock::time_point start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = next++; i < total; i = next++) {
        const Clock::time_point due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rate));
        std::this_thread::sleep_until(due);
        if (!calls[c]()) return;
        latencies[c].push_back(Seconds(Clock::now() - due) * 1000);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  return Summarise(std::move(all), Seconds(Clock::now() - start));
}

// A new vault in `data_dir` with the bench passphrase and a first operator, as kluisd init makes it
// (with Argon2id at its interactive cost: the benchmarks measure releases, not unsealing).
absl::StatusOr<server::InitResult> InitVault(const std::string& data_dir, server::Clock& clock) {
  server::InitOptions options;
  options.data_dir = data_dir;
  options.admin_user = "operator";
  options.listen = "127.0.0.1:0";
  options.argon2 = crypto::Argon2Params::Interactive();
  return server::Vault::Init(options, crypto::SecretBytes::CopyFrom(kPassphrase), clock);
}

class EchoService final : public kluis::bench::Echo::Service {
 public:
  void set_commits(storage::Database* commits) { commits_ = commits; }

 private:
  grpc::Status Echo(grpc::ServerContext*, const EchoMessage* request, EchoMessage* response) override {
    if (request->commit()) {
      absl::Status committed = commits_->Write([&](storage::Tx& tx) { return tx.PutMeta("k", absl::StrCat(n_++)); });
      if (!committed.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "commit failed");
    }
    response->set_payload(request->payload());
    return grpc::Status::OK;
  }

  storage::Database* commits_ = nullptr;
  int64_t n_ = 0;  // written inside the database's write lock
};

// A vault served on 127.0.0.1 with an operator, beheerder and regisseur enrolled, one account with
// a password and a TOTP key, and an echo server with the same TLS identity beside it.
class Bench {
 public:
  Bench() {
    if (!crypto::Initialize().ok()) std::abort();
    root_ = std::filesystem::temp_directory_path() / absl::StrCat("kluis-bench-", getpid());
    std::filesystem::create_directories(root_);
    const std::string data_dir = root_ + "/vault";
    auto init = InitVault(data_dir, clock_);
    if (!init.ok()) std::abort();
    vault_ = *server::Vault::Open(data_dir, crypto::SecretBytes::CopyFrom(kPassphrase), clock_);
    server_ = *server::KluisServer::Start(*vault_, {"127.0.0.1:0"});
    std::ifstream in(server::CaCertificatePath(data_dir));
    std::stringstream ca;
    ca << in.rdbuf();
    ca_ = ca.str();
    auto op = client::Client::Enroll(Address(), ca_, "operator", init->admin_code.code, root_ + "/operator");
    operator_ = *client::Client::Connect(*op);
    StartEcho();
  }
  ~Bench() {
    operator_.reset();
    if (echo_) echo_->Shutdown();
    server_.reset();
    vault_.reset();
    std::filesystem::remove_all(root_);
  }

  std::string Address() const { return absl::StrCat("127.0.0.1:", server_->port()); }

  client::Profile Enroll(const std::string& user) {
    pb::AddUserRequest add;
    add.set_user(user);
    add.set_display_name(user);
    auto added = Call(&pb::Organisation::Stub::AddUser, add);
    auto profile = client::Client::Enroll(Address(), ca_, user, added.enrollment_code(), root_ + "/" + user);
    if (!profile.ok()) std::abort();
    return *std::move(profile);
  }

  template <typename Request, typename Response>
  Response Call(grpc::Status (pb::Organisation::Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                const Request& request) {
    auto r = operator_->Call(operator_->organisation(), method, request);
    if (!r.ok()) {
      std::cerr << "setup failed: " << r.status() << std::endl;
      std::abort();
    }
    return *r;
  }

  void Grant(const std::string& user, pb::Role role, const std::string& kind, const std::string& name) {
    pb::GrantRoleRequest grant;
    grant.set_user(user);
    grant.set_role(role);
    if (kind == "account") grant.mutable_scope()->set_account(name);
    if (kind == "unit") grant.mutable_scope()->set_unit(name);
    Call(&pb::Organisation::Stub::GrantRole, grant);
  }

  void Organisation(const std::string& unit, const std::string& team) {
    pb::AddUnitRequest u;
    u.set_unit(unit);
    Call(&pb::Organisation::Stub::AddUnit, u);
    pb::AddTeamRequest t;
    t.set_unit(unit);
    t.set_team(team);
    Call(&pb::Organisation::Stub::AddTeam, t);
  }

  void Account(const std::string& handle, const std::string& team, pb::AccountKind kind) {
    pb::AddAccountRequest a;
    a.set_platform("x");
    a.set_handle(handle);
    a.set_team(team);
    a.set_kind(kind);
    a.set_linked_email("bench@politie.example");
    Call(&pb::Organisation::Stub::AddAccount, a);
  }

  void SetEchoCommits(storage::Database* commits) { echo_service_.set_commits(commits); }
  std::string EchoAddress() const { return absl::StrCat("127.0.0.1:", echo_port_); }
  const std::string& root() const { return root_; }
  server::Vault& vault() { return *vault_; }

 private:
  void StartEcho() {
    absl::StatusOr<server::ServerIdentity> identity = vault_->Identity();
    grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_root_certs = identity->ca_certificate_pem;
    tls.pem_key_cert_pairs.push_back({std::string(identity->private_key_pem.Reveal()), identity->certificate_pem});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls), &echo_port_);
    builder.RegisterService(&echo_service_);
    server::KluisServer::UseThreading(builder);  // the same threading as kluisd
    echo_ = builder.BuildAndStart();
  }

  server::SystemClock clock_;
  std::string root_, ca_;
  std::unique_ptr<server::Vault> vault_;
  std::unique_ptr<server::KluisServer> server_;
  std::unique_ptr<client::Client> operator_;
  EchoService echo_service_;
  std::unique_ptr<grpc::Server> echo_;
  int echo_port_ = 0;
};

// "median (min–max)" of one figure over the repeated runs.
std::string MedianRange(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return absl::StrFormat("%.2f (%.2f–%.2f)", v[v.size() / 2], v.front(), v.back());
}

std::string Row(const std::string& what, const std::vector<Sample>& runs) {
  auto median = [&](double Sample::*field) {
    std::vector<double> v;
    for (const Sample& s : runs) v.push_back(s.*field);
    return MedianRange(std::move(v));
  };
  return absl::StrCat("| ", what, " | ", median(&Sample::per_second), " | ", median(&Sample::p50_ms), " | ",
                      median(&Sample::p99_ms), " |");
}

// One workload alone, once, at that many clients (for perf and callgrind); kAll runs the table.
enum class Only { kAll, kRelease, kEcho, kEchoCommit, kVault, kCommit };

// With `slow_disk`, only the rows that a flush bounds (the flush delay is set up by the caller).
int RunRelease(double seconds, int repeat, Only only, int only_clients, bool slow_disk) {
  Bench bench;
  bench.Organisation("rotterdam", "ijsselmonde");
  bench.Account("WA_Lombardijen1", "rotterdam/ijsselmonde", pb::ACCOUNT_KIND_POLITIE_ALLEEN);
  client::Profile robin = bench.Enroll("robin.peters");
  bench.Grant("robin.peters", pb::ROLE_BEHEERDER, "account", "x/WA_Lombardijen1");
  {
    auto c = *client::Client::Connect(robin);
    pb::SetPasswordRequest set;
    set.set_account("WA_Lombardijen1");
    set.set_password("Bench-wachtwoord-2026!");
    if (!c->Call(c->vault(), &pb::Vault::Stub::SetPassword, set).ok()) std::abort();
    pb::SetTotpRequest totp;
    totp.set_account("WA_Lombardijen1");
    totp.set_otpauth("JBSWY3DPEHPK3PXP");
    if (!c->Call(c->vault(), &pb::Vault::Stub::SetTotp, totp).ok()) std::abort();
  }
  auto release_client = [&](int) {
    std::shared_ptr<client::Client> c = *client::Client::Connect(robin);
    return [c] {
      pb::ReleaseCredentialRequest get;
      get.set_account("x/WA_Lombardijen1");
      return c->Call(c->vault(), &pb::Vault::Stub::ReleaseCredential, get).ok();
    };
  };
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
    std::cerr << "usage: kluis_bench release|kabinetswissel|argon2|make-log DIR N\n";
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
  if (args[0] == "make-log" && args.size() == 3) return kluis::bench::RunMakeLog(args[1], std::stoll(args[2]));
  std::cerr << "usage: kluis_bench release|kabinetswissel|argon2|make-log DIR N\n";
  return 1;
}
