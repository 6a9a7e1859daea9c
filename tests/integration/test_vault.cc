#include "tests/integration/test_vault.h"

#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/kdf.h"
#include "crypto/random.h"
#include "crypto/root_key.h"

namespace kluis::testing {

grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::string& bytes) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  auto reader = stub.PrepareUnaryCall(&context, method, request, &cq);
  reader->StartCall();
  grpc::Status status;
  reader->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  return status;
}

std::string MakeTempDir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
  return mkdtemp(tmpl.data());
}

TestVault::TestVault() {
  EXPECT_TRUE(crypto::Initialize().ok());
  data_dir_ = MakeTempDir("kluis-it") + "/vault";
  server::InitOptions options;
  options.data_dir = data_dir_;
  options.admin_user = "operator";
  options.listen = "127.0.0.1:0";
  options.argon2 = crypto::Argon2Params::Interactive();
  const crypto::SecretBytes passphrase = crypto::SecretBytes::CopyFrom(kPassphrase);
  absl::StatusOr<server::InitResult> init = server::Vault::Init(options, passphrase, clock_);
  EXPECT_TRUE(init.ok()) << init.status();
  auto vault = server::Vault::Open(data_dir_, passphrase, clock_);
  EXPECT_TRUE(vault.ok()) << vault.status();
  vault_ = *std::move(vault);
  auto server = server::KluisServer::Start(*vault_, {"127.0.0.1:0"});
  EXPECT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  std::ifstream in(server::CaCertificatePath(data_dir_));
  std::stringstream ca;
  ca << in.rdbuf();
  ca_pem_ = ca.str();
  auto profile = client::Client::Enroll(address(), ca_pem_, "operator", init->admin_code.code,
                                        data_dir_ + "/../operator");
  EXPECT_TRUE(profile.ok()) << profile.status();
  operator_ = ClientFor(*profile);
}

TestVault::~TestVault() {
  Stop();
  std::filesystem::remove_all(std::filesystem::path(data_dir_).parent_path());
}

void TestVault::Stop() {
  operator_.reset();
  server_.reset();
  vault_.reset();
}

client::Profile TestVault::AddAndEnroll(const std::string& user) {
  kluis::v1::AddUserRequest request;
  request.set_user(user);
  request.set_display_name(user);
  auto added = operator_->Call(operator_->organisation(), &kluis::v1::Organisation::Stub::AddUser, request);
  EXPECT_TRUE(added.ok()) << added.status();
  auto profile = client::Client::Enroll(address(), ca_pem_, user, added->enrollment_code(),
                                        data_dir_ + "/../" + user);
  EXPECT_TRUE(profile.ok()) << profile.status();
  return *std::move(profile);
}

std::unique_ptr<client::Client> TestVault::ClientFor(const client::Profile& profile) {
  auto client = client::Client::Connect(profile);
  EXPECT_TRUE(client.ok());
  return *std::move(client);
}

crypto::SecretBytes TestVault::DatabaseKey() const {
  std::ifstream in(server::RootKeyPath(data_dir_), std::ios::binary);
  std::stringstream sealed;
  sealed << in.rdbuf();
  auto root = crypto::RootKey::Open(sealed.str(), crypto::SecretBytes::CopyFrom(kPassphrase));
  EXPECT_TRUE(root.ok());
  return *crypto::DeriveSubkey(*root, crypto::SubkeyPurpose::kDatabase);
}

std::unique_ptr<storage::Database> TestVault::OpenDatabaseForTest() const {
  auto db = storage::Database::Open(server::DatabasePath(data_dir_), DatabaseKey(),
                                    storage::Database::Mode::kOpenExisting);
  EXPECT_TRUE(db.ok()) << db.status();
  return *std::move(db);
}

}  // namespace kluis::testing
