// The benchmarks' harness: closed and open loops over calls, their summary and table rows, and a
// served bench vault with an echo server beside it (the baseline every figure is measured against).
#ifndef KLUIS_BENCH_HARNESS_H_
#define KLUIS_BENCH_HARNESS_H_

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
#include "server/server.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/clock.h"
#include "server/vault/vault.h"

namespace kluis::bench {

namespace pb = ::kluis::v1;
using Clock = std::chrono::steady_clock;
inline constexpr char kPassphrase[] = "bench passphrase, not for production";

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Sample {
  double per_second = 0;
  double p50_ms = 0, p99_ms = 0;
};

inline Sample Summarise(std::vector<double> latencies_ms, double elapsed_s) {
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
inline std::vector<std::function<bool()>> Connected(int clients, MakeCall make_call) {
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
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
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
        const Clock::time_point due = start + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(i / rate));
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
inline absl::StatusOr<server::InitResult> InitVault(const std::string& data_dir,
                                                    server::Clock& clock) {
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
  grpc::Status Echo(grpc::ServerContext*, const EchoMessage* request,
                    EchoMessage* response) override {
    if (request->commit()) {
      absl::Status committed =
          commits_->Write([&](storage::Tx& tx) { return tx.PutMeta("k", absl::StrCat(n_++)); });
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
    auto op = client::Client::Enroll(Address(), ca_, "operator", init->admin_code.code,
                                     root_ + "/operator");
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
    auto profile =
        client::Client::Enroll(Address(), ca_, user, added.enrollment_code(), root_ + "/" + user);
    if (!profile.ok()) std::abort();
    return *std::move(profile);
  }

  template <typename Request, typename Response>
  Response Call(grpc::Status (pb::Organisation::Stub::*method)(grpc::ClientContext*, const Request&,
                                                               Response*),
                const Request& request) {
    auto r = operator_->Call(operator_->organisation(), method, request);
    if (!r.ok()) {
      std::cerr << "setup failed: " << r.status() << std::endl;
      std::abort();
    }
    return *r;
  }

  void Grant(const std::string& user, pb::Role role, const std::string& kind,
             const std::string& name) {
    pb::GrantRoleRequest grant;
    grant.set_user(user);
    grant.set_role(role);
    if (kind == "account") grant.mutable_scope()->set_account(name);
    if (kind == "unit") grant.mutable_scope()->set_unit(name);
    if (kind == "global") grant.mutable_scope()->set_global(true);
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
    tls.pem_key_cert_pairs.push_back(
        {std::string(identity->private_key_pem.Reveal()), identity->certificate_pem});
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
inline std::string MedianRange(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return absl::StrFormat("%.2f (%.2f–%.2f)", v[v.size() / 2], v.front(), v.back());
}

inline std::string Row(const std::string& what, const std::vector<Sample>& runs) {
  auto median = [&](double Sample::*field) {
    std::vector<double> v;
    for (const Sample& s : runs) v.push_back(s.*field);
    return MedianRange(std::move(v));
  };
  return absl::StrCat("| ", what, " | ", median(&Sample::per_second), " | ",
                      median(&Sample::p50_ms), " | ", median(&Sample::p99_ms), " |");
}

}  // namespace kluis::bench

#endif  // KLUIS_BENCH_HARNESS_H_
