#ifndef KLUIS_TESTS_INTEGRATION_TEST_VAULT_H_
#define KLUIS_TESTS_INTEGRATION_TEST_VAULT_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "client/client.h"
#include "client/profile.h"
#include "server/storage/database.h"
#include "server/storage/tx.h"
#include "server/vault/clock.h"
#include "server/server.h"
#include "server/vault/vault.h"
#include "server/storage/database.h"

namespace kluis::testing {

// A real vault for one test: a temporary data directory with a real SQLCipher file, the real
// server over mutual TLS on 127.0.0.1 (port 0), a manual clock, and an enrolled operator. Only the
// Argon2id cost is lowered (interactive), to keep tests quick.
class TestVault {
 public:
  static constexpr char kPassphrase[] = "test passphrase, not for production";

  TestVault();
  ~TestVault();

  const std::string& data_dir() const { return data_dir_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  server::ManualClock& clock() { return clock_; }
  server::Vault& vault() { return *vault_; }
  client::Client& operator_client() { return *operator_; }
  const std::string& ca_pem() const { return ca_pem_; }

  // Adds a user through the operator and enrolls them; returns their profile.
  client::Profile AddAndEnroll(const std::string& user);
  // A client for a profile.
  std::unique_ptr<client::Client> ClientFor(const client::Profile& profile);
  // The database key, derived from the passphrase as kluisd does, and a second connection to the
  // same file: tests use it to tamper with rows, as an attacker with the key would.
  crypto::SecretBytes DatabaseKey() const;
  std::unique_ptr<storage::Database> OpenDatabaseForTest() const;
  // Stops the server and closes the vault (files stay for inspection).
  void Stop();

 private:
  std::string data_dir_;
  // Starts at the real time: TLS checks certificate validity against the real clock.
  server::ManualClock clock_{absl::Now()};
  std::unique_ptr<server::Vault> vault_;
  std::unique_ptr<server::KluisServer> server_;
  std::string ca_pem_;
  std::unique_ptr<client::Client> operator_;
};

// One unary call with raw request bytes, as any gRPC client could send them (generic stub).
grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::string& bytes);

// A temporary directory removed at destruction.
std::string MakeTempDir(const char* prefix);

}  // namespace kluis::testing

#endif  // KLUIS_TESTS_INTEGRATION_TEST_VAULT_H_
