// kluis_bench scale: the national vault of issue 18, generated straight into the store (as kluisd
// would have stored it: sealed secrets, chained audit records) and served by the real kluisd.
#include "bench/scale.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "absl/strings/match.h"
#include "bench/harness.h"
#include "server/vault/files.h"
#include "server/vault/secret_sealer.h"

namespace kluis::bench {
namespace {

constexpr int kUnits = 10;
constexpr int kTeams = 250;  // 25 a unit
constexpr int kRecordsPerAccount = 20;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<crypto::SecretBytes> OpenRoot(const std::string& dir) {
  return crypto::RootKey::Open(ReadAll(server::RootKeyPath(dir)),
                               crypto::SecretBytes::CopyFrom(kPassphrase));
}

// The organisation: units u0..u9, teams t0..t249 (team t in unit t/25), accounts x/h0.. spread
// over the teams in turn (so a unit's accounts interleave with the others' in id order), a
// beheerder per ten accounts, a teamchef per team, a regisseur per unit; a password (some older
// than a year), e-mail and 2FA key sealed for every account; a rotation flag on every 50th, a
// waiting request on every 100th.
absl::Status GenerateOrganisation(storage::Database& db, const server::SecretSealer& sealer,
                                  int accounts, absl::Time now) {
  const int64_t now_us = absl::ToUnixMicros(now);
  std::vector<int64_t> teams, unit_ids, beheerders, regisseurs;
  absl::Status s = db.Write([&](storage::Tx& tx) -> absl::Status {
    for (int u = 0; u < kUnits; ++u) {
      absl::StatusOr<int64_t> id =
          tx.InsertUnit(absl::StrCat("u", u), absl::StrCat("unit ", u), now_us);
      if (!id.ok()) return id.status();
      unit_ids.push_back(*id);
      absl::StatusOr<int64_t> reg = tx.InsertUser(absl::StrCat("reg", u), "regisseur", now_us);
      if (!reg.ok()) return reg.status();
      regisseurs.push_back(*reg);
      storage::BindingRow b{.user_id = *reg,
                            .role = policies::Role::kRegisseur,
                            .scope_kind = policies::ScopeKind::kUnit,
                            .scope_id = *id,
                            .valid_from_us = now_us - 1,
                            .granted_by = "bench"};
      if (absl::StatusOr<int64_t> r = tx.InsertBinding(b); !r.ok()) return r.status();
    }
    for (int t = 0; t < kTeams; ++t) {
      absl::StatusOr<int64_t> id =
          tx.InsertTeam(unit_ids[t / 25], absl::StrCat("t", t), "team", now_us);
      if (!id.ok()) return id.status();
      teams.push_back(*id);
      absl::StatusOr<int64_t> chef = tx.InsertUser(absl::StrCat("chef", t), "teamchef", now_us);
      if (!chef.ok()) return chef.status();
      storage::BindingRow b{.user_id = *chef,
                            .role = policies::Role::kTeamchef,
                            .scope_kind = policies::ScopeKind::kTeam,
                            .scope_id = *id,
                            .valid_from_us = now_us - 1,
                            .granted_by = "bench"};
      if (absl::StatusOr<int64_t> r = tx.InsertBinding(b); !r.ok()) return r.status();
    }
    for (int i = 0; i < accounts / 10; ++i) {
      absl::StatusOr<int64_t> id = tx.InsertUser(absl::StrCat("b", i), "beheerder", now_us);
      if (!id.ok()) return id.status();
      beheerders.push_back(*id);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  for (int done = 0; done < accounts;) {
    const int batch = std::min(5000, accounts - done);
    s = db.Write([&](storage::Tx& tx) -> absl::Status {
      for (int i = done; i < done + batch; ++i) {
        absl::StatusOr<int64_t> id =
            tx.InsertAccount(teams[i % kTeams], "x", absl::StrCat("h", i),
                             policies::AccountKind::kPolitieAlleen, now_us, "bench");
        if (!id.ok()) return id.status();
        storage::BindingRow b{.user_id = beheerders[i / 10],
                              .role = policies::Role::kBeheerder,
                              .scope_kind = policies::ScopeKind::kAccount,
                              .scope_id = *id,
                              .valid_from_us = now_us - 1,
                              .granted_by = "bench"};
        if (absl::StatusOr<int64_t> r = tx.InsertBinding(b); !r.ok()) return r.status();
        const int64_t set_us = now_us - (i % 400) * int64_t{86'400'000'000};
        for (const auto& [kind, value] :
             {std::pair{storage::SecretKind::kPassword, "Een-bench-wachtwoord-2026"},
              {storage::SecretKind::kLinkedEmail, "bench@politie.example"},
              {storage::SecretKind::kTotp, "JBSWY3DPEHPK3PXP"}}) {
          storage::SecretRow row{0,
                                 *id,
                                 kind,
                                 1,
                                 storage::SecretState::kCurrent,
                                 sealer.Seal(*id, kind, 1, value),
                                 sealer.key_version(),
                                 "bench",
                                 set_us};
          if (absl::Status r = tx.InsertSecret(row); !r.ok()) return r;
        }
        if (i % 50 == 0) {
          if (absl::Status r = tx.RaiseRotationFlag(*id, "bench: break-glass", "bench", now_us);
              !r.ok())
            return r;
        }
        if (i % 100 == 0) {
          storage::RequestRow request{.account_id = *id,
                                      .requester_id = regisseurs[(i % kTeams) / 25],
                                      .rule_id = "R3.regisseur-request",
                                      .purpose = "koppelen",
                                      .reason = "bench: koppelen aan de landelijke tool",
                                      .created_us = now_us - 3'600'000'000};
          if (absl::StatusOr<int64_t> r = tx.InsertRequest(request); !r.ok()) return r.status();
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    done += batch;
  }
  return absl::OkStatus();
}

// `records` audit records of releases, in time order over the last year, spread over the accounts.
absl::Status GenerateLog(storage::Database& db, const crypto::SecretBytes& root, int accounts,
                         int64_t records, absl::Time now) {
  auto signer = crypto::Ed25519Signer::FromSeed(
      *crypto::DeriveSubkey(root, crypto::SubkeyPurpose::kAuditSigning));
  if (!signer.ok()) return signer.status();
  const audit::Checkpointer checkpointer(*std::move(signer), server::Vault::kCheckpointEveryRecords,
                                         server::Vault::kCheckpointEvery);
  absl::Time t = now - absl::Hours(24 * 365);
  const absl::Duration step = absl::Hours(24 * 365) / std::max<int64_t>(records, 1);
  for (int64_t done = 0; done < records;) {
    const int64_t batch = std::min<int64_t>(10000, records - done);
    absl::Status s = db.Write([&](storage::Tx& tx) -> absl::Status {
      for (int64_t i = done; i < done + batch; ++i) {
        const int account = static_cast<int>((i * 7919) % accounts);
        audit::AuditEvent event;
        event.actor = absl::StrCat("b", account / 10);
        event.role = "beheerder";
        event.action = "release-login";
        event.account = absl::StrCat("x/h", account);
        event.decision = "allow";
        event.rule = "R1.beheerder";
        event.reason = "dienst";
        event.peer = "ipv4:127.0.0.1:40312";
        event.outcome = "ok";
        event.unit_id = (account % kTeams) / 25 + 1;
        if (absl::Status a = audit::Append(tx, event, t, &checkpointer).status(); !a.ok()) return a;
        t += step;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    done += batch;
  }
  return absl::OkStatus();
}

// kluisd serving `dir` in a child process.
class Served {
 public:
  explicit Served(const std::string& dir) : dir_(dir) {
    const std::string port_file = dir + ".port";
    std::filesystem::remove(port_file);
    std::vector<std::string> args = {
        BinDir() + "/kluisd", "serve",    "--data-dir",  dir,           "--passphrase-file",
        dir + ".pass",        "--listen", "127.0.0.1:0", "--port-file", port_file};
    const Clock::time_point start = Clock::now();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the bench
      freopen((dir + ".log").c_str(), "w", stderr);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    while (!std::filesystem::exists(port_file) || std::filesystem::file_size(port_file) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (Seconds(Clock::now() - start) > 600) std::abort();
    }
    startup_ms_ = Seconds(Clock::now() - start) * 1000;
    int port = 0;
    std::ifstream(port_file) >> port;
    address_ = absl::StrCat("127.0.0.1:", port);
  }
  ~Served() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  static std::string BinDir() {
    return std::filesystem::read_symlink("/proc/self/exe").parent_path();
  }
  double startup_ms() const { return startup_ms_; }
  const std::string& address() const { return address_; }
  // Resident memory of kluisd, MiB.
  double RssMib() const {
    std::ifstream status(absl::StrCat("/proc/", pid_, "/status"));
    for (std::string line; std::getline(status, line);) {
      if (absl::StartsWith(line, "VmRSS:")) return std::stod(line.substr(6)) / 1024;
    }
    return 0;
  }

 private:
  std::string dir_, address_;
  pid_t pid_ = 0;
  double startup_ms_ = 0;
};

// The users the bench calls as, enrolled through the served vault by its first operator.
struct Callers {
  std::unique_ptr<client::Client> regisseur, landelijk, auditor;
  client::Profile beheerder;  // each release client connects on its own
};

absl::StatusOr<Callers> EnrollCallers(const Served& served, const std::string& dir,
                                      const std::string& admin_code) {
  const std::string ca = ReadAll(server::CaCertificatePath(dir));
  absl::StatusOr<client::Profile> op_profile = client::Client::Enroll(
      served.address(), ca, "operator", admin_code, dir + ".profiles/operator");
  if (!op_profile.ok()) return op_profile.status();
  absl::StatusOr<std::unique_ptr<client::Client>> op = client::Client::Connect(*op_profile);
  if (!op.ok()) return op.status();
  auto enroll = [&](const std::string& user, pb::Role role,
                    pb::Scope scope) -> absl::StatusOr<client::Profile> {
    pb::AddUserRequest add;
    add.set_user(user);
    add.set_display_name(user);
    auto added = (*op)->Call((*op)->organisation(), &pb::Organisation::Stub::AddUser, add);
    if (!added.ok()) return added.status();
    pb::GrantRoleRequest grant;
    grant.set_user(user);
    grant.set_role(role);
    *grant.mutable_scope() = scope;
    if (auto g = (*op)->Call((*op)->organisation(), &pb::Organisation::Stub::GrantRole, grant);
        !g.ok())
      return g.status();
    return client::Client::Enroll(served.address(), ca, user, added->enrollment_code(),
                                  dir + ".profiles/" + user);
  };
  pb::Scope unit, global;
  unit.set_unit("u0");
  global.set_global(true);
  Callers callers;
  auto regisseur = enroll("bench.regisseur", pb::ROLE_REGISSEUR, unit);
  auto landelijk = enroll("bench.landelijk", pb::ROLE_LANDELIJK_REGISSEUR, global);
  auto auditor = enroll("bench.auditor", pb::ROLE_AUDITOR, global);
  pb::Scope first;
  first.set_account("x/h0");
  auto beheerder = enroll("bench.beheerder", pb::ROLE_BEHEERDER, first);
  for (auto* c : {&regisseur, &landelijk, &auditor, &beheerder}) {
    if (!c->ok()) return c->status();
  }
  for (int i = 1; i < 32; ++i) {  // 32 accounts, one a release client
    pb::GrantRoleRequest grant;
    grant.set_user("bench.beheerder");
    grant.set_role(pb::ROLE_BEHEERDER);
    grant.mutable_scope()->set_account(absl::StrCat("x/h", i));
    if (auto g = (*op)->Call((*op)->organisation(), &pb::Organisation::Stub::GrantRole, grant);
        !g.ok())
      return g.status();
  }
  for (auto [profile, client] : {std::pair{&regisseur, &callers.regisseur},
                                 {&landelijk, &callers.landelijk},
                                 {&auditor, &callers.auditor}}) {
    absl::StatusOr<std::unique_ptr<client::Client>> connected = client::Client::Connect(**profile);
    if (!connected.ok()) return connected.status();
    *client = *std::move(connected);
  }
  callers.beheerder = *std::move(beheerder);
  return callers;
}

// Walks every page of a listing; returns seconds and the items seen.
template <typename Response, typename Request, typename Stub, typename Method, typename Count>
std::pair<double, int64_t> Walk(client::Client& c, Stub& stub, Method method, Request request,
                                Count count) {
  const Clock::time_point start = Clock::now();
  int64_t items = 0;
  for (std::string token;;) {
    request.set_page_token(token);
    absl::StatusOr<Response> page = c.Call(stub, method, request);
    if (!page.ok()) {
      std::cerr << "kluis_bench scale: " << page.status() << "\n";
      std::abort();
    }
    items += count(*page);
    token = page->next_page_token();
    if (token.empty()) break;
  }
  return {Seconds(Clock::now() - start), items};
}

struct Listings {
  double custody = 0, accounts = 0, due = 0, inbox = 0;
  int64_t custody_items = 0, account_items = 0, due_items = 0, inbox_items = 0;
};

Listings MeasureListings(Callers& callers) {
  Listings best{1e9, 1e9, 1e9, 1e9};
  for (int run = 0; run < 3; ++run) {  // the best of three: the listing, not the noise beside it
    pb::CustodyReportRequest custody;
    custody.set_unit("u0");
    client::Client& r = *callers.regisseur;
    client::Client& l = *callers.landelijk;
    auto [c, ci] =
        Walk<pb::CustodyReportResponse>(r, r.audit(), &pb::Audit::Stub::CustodyReport, custody,
                                        [](const auto& p) { return p.accounts_size(); });
    auto [a, ai] = Walk<pb::ListAccountsResponse>(
        l, l.organisation(), &pb::Organisation::Stub::ListAccounts, pb::ListAccountsRequest(),
        [](const auto& p) { return p.accounts_size(); });
    auto [d, di] =
        Walk<pb::ListDueResponse>(l, l.vault(), &pb::Vault::Stub::ListDue, pb::ListDueRequest(),
                                  [](const auto& p) { return p.flags_size(); });
    auto [i, ii] = Walk<pb::Inbox>(
        r, r.vault(), &pb::Vault::Stub::GetInbox, pb::GetInboxRequest(),
        [](const auto& p) { return p.to_decide_size() + p.grants_size() + p.notices_size(); });
    best = {std::min(best.custody, c),
            std::min(best.accounts, a),
            std::min(best.due, d),
            std::min(best.inbox, i),
            ci,
            ai,
            di,
            ii};
  }
  return best;
}

// Releases at 32 clients alone, and beside custody reports of u0 and full audit exports running
// back to back.
void MeasureReleases(Callers& callers, double seconds) {
  const client::Profile& profile = callers.beheerder;
  auto release_client = [&](int c) -> std::function<bool()> {
    auto client = std::shared_ptr<client::Client>(*client::Client::Connect(profile));
    pb::ReleaseCredentialRequest request;
    request.set_account(absl::StrCat("x/h", c % 32));
    return [client, request] {
      return client->Call(client->vault(), &pb::Vault::Stub::ReleaseCredential, request).ok();
    };
  };
  std::vector<Sample> alone, beside;
  int64_t reports = 0, exports = 0;
  for (int run = 0; run < 3; ++run) {
    alone.push_back(ClosedLoop(32, seconds, release_client));
    std::atomic<bool> stop{false};
    std::thread custody([&] {
      pb::CustodyReportRequest request;
      request.set_unit("u0");
      while (!stop) {
        Walk<pb::CustodyReportResponse>(*callers.regisseur, callers.regisseur->audit(),
                                        &pb::Audit::Stub::CustodyReport, request,
                                        [](const auto&) { return 0; });
        ++reports;
      }
    });
    std::thread exporter([&] {
      while (!stop) {
        const absl::Status s = callers.auditor->ExportAudit(
            pb::ExportAuditRequest(), [&](const pb::AuditExportItem&) { return !stop.load(); });
        if (s.ok()) ++exports;
      }
    });
    beside.push_back(ClosedLoop(32, seconds, release_client));
    stop = true;
    custody.join();
    exporter.join();
  }
  std::vector<double> ratios;
  for (int r = 0; r < 3; ++r) ratios.push_back(beside[r].p99_ms / alone[r].p99_ms);
  std::cout << "\n| what, clients | per second | p50 ms | p99 ms |\n|---|---|---|---|\n"
            << Row("release, 32", alone) << "\n"
            << Row("release, 32, custody reports of u0 and full audit exports beside", beside)
            << "\n\n"
            << "- release p99 beside the readers / alone: " << MedianRange(ratios)
            << " (target <= 1.25)\n"
            << "- beside them: " << reports << " custody reports and " << exports
            << " complete full exports\n";
}

}  // namespace

int RunScale(const std::vector<int>& sizes, double seconds) {
  if (!crypto::Initialize().ok()) return 1;
  const std::string root =
      std::filesystem::temp_directory_path() / absl::StrCat("kluis-scale-", getpid());
  std::filesystem::create_directories(root);
  std::cout << "| accounts | users | audit records | generated in s | argon2id ms | start-up ms | "
               "start-up − argon2id ms "
               "| kluisd RSS at rest MiB | custody of u0 s (accounts) | account list s | due s "
               "(flags) | inbox s (items) |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::vector<std::pair<int, Listings>> curve;
  for (size_t n = 0; n < sizes.size(); ++n) {
    const int accounts = sizes[n];
    const std::string dir = absl::StrCat(root, "/", accounts);
    server::SystemClock clock;
    std::ofstream(dir + ".pass") << kPassphrase;
    const Clock::time_point t0 = Clock::now();
    absl::StatusOr<server::InitResult> init = InitVault(dir, clock);
    if (!init.ok()) return std::cerr << init.status() << "\n", 1;
    absl::StatusOr<crypto::SecretBytes> key = OpenRoot(dir);
    absl::StatusOr<server::SecretSealer> sealer = server::SecretSealer::Create(*key, 1);
    {
      auto db = storage::Database::Open(
          server::DatabasePath(dir), *crypto::DeriveSubkey(*key, crypto::SubkeyPurpose::kDatabase),
          storage::Database::Mode::kOpenExisting);
      if (!db.ok()) return std::cerr << db.status() << "\n", 1;
      absl::Status s = GenerateOrganisation(**db, *sealer, accounts, absl::Now());
      if (s.ok())
        s = GenerateLog(**db, *key, accounts, int64_t{accounts} * kRecordsPerAccount, absl::Now());
      if (!s.ok()) return std::cerr << s << "\n", 1;
    }
    const double generated = Seconds(Clock::now() - t0);
    std::vector<double> argon;
    for (int i = 0; i < 3; ++i) {
      const Clock::time_point t = Clock::now();
      if (!OpenRoot(dir).ok()) return 1;
      argon.push_back(Seconds(Clock::now() - t) * 1000);
    }
    std::sort(argon.begin(), argon.end());
    Served served(dir);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const double rss = served.RssMib();
    absl::StatusOr<Callers> callers = EnrollCallers(served, dir, init->admin_code.code);
    if (!callers.ok()) return std::cerr << callers.status() << "\n", 1;
    const Listings l = MeasureListings(*callers);
    curve.emplace_back(accounts, l);
    std::cout << absl::StrFormat(
                     "| %d | %d | %d | %.0f | %.0f | %.0f | %.0f | %.1f | %.2f (%d) | %.2f | %.2f "
                     "(%d) | %.3f (%d) |\n",
                     accounts, accounts / 10 + kTeams + kUnits,
                     int64_t{accounts} * kRecordsPerAccount, generated, argon[1],
                     served.startup_ms(), served.startup_ms() - argon[1], rss, l.custody,
                     l.custody_items, l.accounts, l.due, l.due_items, l.inbox, l.inbox_items)
              << std::flush;
    if (n + 1 == sizes.size()) MeasureReleases(*callers, seconds);
  }
  // Growth against the smallest: time ratio over size ratio (1.0 is linear).
  std::cout << "\n| accounts | × size | custody × time | account list × time | due × time | inbox "
               "× time |\n|---|---|---|---|---|---|\n";
  const Listings& base = curve.front().second;
  for (const auto& [accounts, l] : curve) {
    std::cout << absl::StrFormat("| %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", accounts,
                                 double(accounts) / curve.front().first, l.custody / base.custody,
                                 l.accounts / base.accounts, l.due / base.due,
                                 l.inbox / base.inbox);
  }
  std::filesystem::remove_all(root);
  return 0;
}

}  // namespace kluis::bench
