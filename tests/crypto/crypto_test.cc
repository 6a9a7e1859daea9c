#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "crypto/aead.h"
#include "crypto/base32.h"
#include "crypto/certificates.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/password.h"

#include <set>
#include <vector>
#include "crypto/random.h"
#include "crypto/root_key.h"
#include "crypto/secret_bytes.h"

namespace kluis::crypto {
namespace {

class CryptoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(Initialize().ok()); }
};

// Small secrets reuse wiped blocks of their size class: a new secret never sees an old one's bytes,
// whichever class and whichever block it gets.
TEST_F(CryptoTest, SecretBytesReusedBlocksComeBackWiped) {
  std::set<const unsigned char*> freed;
  for (int round = 0; round < 3; ++round) {
    {
      std::vector<SecretBytes> old;
      for (size_t size : {1, 32, 64, 65, 200, 256, 1000, 4096, 5000}) {
        SecretBytes secret = SecretBytes::CopyFrom(std::string(size, '\xAA'));
        freed.insert(secret.data());
        old.push_back(std::move(secret));
      }
    }
    int reused = 0;
    for (size_t size : {1, 32, 64, 65, 200, 256, 1000, 4096, 5000}) {
      SecretBytes fresh(size);
      reused += freed.count(fresh.data());
      EXPECT_EQ(fresh.Reveal(), std::string(size, '\0')) << size;
    }
    EXPECT_GT(reused, 0);  // the kept blocks were handed out again, so the wipe was what was tested
  }
}

TEST_F(CryptoTest, SecretBytesCloneIsEqualAndIndependent) {
  SecretBytes a = SecretBytes::CopyFrom("hunter2");
  SecretBytes b = a.Clone();
  EXPECT_TRUE(a.Equals(b));
  b.MutableData()[0] = 'H';
  EXPECT_FALSE(a.Equals(b));
  EXPECT_FALSE(a.Equals(SecretBytes::CopyFrom("hunter")));
  SecretBytes moved = std::move(a);
  EXPECT_EQ(moved.Reveal(), "hunter2");
  EXPECT_TRUE(a.empty());  // NOLINT: moved-from is empty by contract
}

TEST_F(CryptoTest, AeadOpensWhatItSealed) {
  auto aead = XChaCha20Poly1305::Create(RandomSecret(32));
  ASSERT_TRUE(aead.ok());
  const std::string sealed = aead->Seal("geheim", "account=1");
  EXPECT_EQ(sealed.size(), 24 + 6 + 16u);
  auto opened = aead->Open(sealed, "account=1");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->Reveal(), "geheim");
  EXPECT_NE(aead->Seal("geheim", "account=1"), sealed) << "nonces must be fresh";
}

TEST_F(CryptoTest, AeadOpenFailsWhenAssociatedDataDiffers) {
  auto aead = XChaCha20Poly1305::Create(RandomSecret(32));
  const std::string sealed = aead->Seal("geheim", "account=1");
  auto opened = aead->Open(sealed, "account=2");
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(opened.status().message().find("geheim"), absl::string_view::npos);
}

TEST_F(CryptoTest, AeadOpenFailsWhenCiphertextTampered) {
  auto aead = XChaCha20Poly1305::Create(RandomSecret(32));
  for (size_t i : {0ul, 24ul, 29ul, 45ul}) {
    std::string sealed = aead->Seal("geheim", "ad");
    sealed[i] ^= 1;
    EXPECT_EQ(aead->Open(sealed, "ad").status().code(), absl::StatusCode::kDataLoss) << i;
  }
  EXPECT_EQ(aead->Open("short", "ad").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(CryptoTest, AeadRejectsWrongKeySize) {
  EXPECT_EQ(XChaCha20Poly1305::Create(RandomSecret(16)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CryptoTest, RootKeyOpensOnlyWithItsPassphrase) {
  SecretBytes root;
  auto sealed = RootKey::CreateSealed(SecretBytes::CopyFrom("correct horse"),
                                      Argon2Params::Interactive(), &root);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(root.size(), 32u);
  auto opened = RootKey::Open(*sealed, SecretBytes::CopyFrom("correct horse"));
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->Equals(root));
  auto wrong = RootKey::Open(*sealed, SecretBytes::CopyFrom("wrong horse"));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(wrong.status().message().find("wrong passphrase"), absl::string_view::npos);
}

TEST_F(CryptoTest, RootKeyFileWithAlteredParametersDoesNotOpen) {
  SecretBytes root;
  auto sealed = RootKey::CreateSealed(SecretBytes::CopyFrom("pw"), Argon2Params::Interactive(), &root);
  std::string altered = *sealed;
  altered[11] ^= 1;  // opslimit, authenticated as associated data
  EXPECT_FALSE(RootKey::Open(altered, SecretBytes::CopyFrom("pw")).ok());
  EXPECT_EQ(RootKey::Open("not a root key", SecretBytes::CopyFrom("pw")).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(CryptoTest, SubkeysAreDeterministicAndSeparatedByPurpose) {
  const SecretBytes root = RandomSecret(32);
  auto db1 = DeriveSubkey(root, SubkeyPurpose::kDatabase);
  auto db2 = DeriveSubkey(root, SubkeyPurpose::kDatabase);
  auto sealing = DeriveSubkey(root, SubkeyPurpose::kSecretSealing);
  auto sealing2 = DeriveSubkey(root, SubkeyPurpose::kSecretSealing, 2);
  EXPECT_TRUE(db1->Equals(*db2));
  EXPECT_FALSE(db1->Equals(*sealing));
  EXPECT_FALSE(sealing->Equals(*sealing2));
  EXPECT_FALSE(DeriveSubkey(RandomSecret(16), SubkeyPurpose::kDatabase).ok());
}

// Known answer: BLAKE2b-256("abc"), from RFC 7693 Appendix A's reference implementation run
// with a 32-byte output (as also printed by `b2sum -l 256`).
TEST_F(CryptoTest, Blake2b256KnownAnswer) {
  EXPECT_EQ(HexEncode(Blake2b256Of("abc")),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  EXPECT_EQ(HexEncode(Blake2b256().Update("a").Update("bc").Finish()),
            HexEncode(Blake2b256Of("abc")));
}

// Known answers: RFC 4648 §10 test vectors.
TEST_F(CryptoTest, Base32Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},           {"f", "MY"},           {"fo", "MZXQ"},         {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"}};
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(Base32Encode(plain), encoded);
    EXPECT_EQ(Base32Decode(encoded).value_or("?"), plain);
  }
  EXPECT_EQ(Base32Decode("mzxw6ytboi======").value_or("?"), "foobar");
}

TEST_F(CryptoTest, Base32RejectsWhatNoEncoderWrites) {
  // Impossible lengths, characters outside the alphabet, and non-zero leftover bits ("MZ" would
  // be a second spelling of "f", whose canonical form is "MY").
  for (const char* bad : {"M", "MZX", "MZXW6Y", "MZ1Q", "MZ XQ", "MZ", "MY-"}) {
    EXPECT_FALSE(Base32Decode(bad).has_value()) << bad;
  }
}

TEST_F(CryptoTest, CaIssuesClientCertificateNamingTheUserNotTheRequest) {
  const absl::Time now = absl::Now();
  auto material = CertificateAuthority::CreateNew("Test CA", now);
  ASSERT_TRUE(material.ok()) << material.status();
  auto ca = CertificateAuthority::Create(material->private_key_pem.Clone(), material->certificate_pem);
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto request = GenerateKeyAndRequest("someone-else");
  ASSERT_TRUE(request.ok());
  auto cert = ca->IssueClientCertificate(request->request_pem, "robin.peters", now, absl::Hours(1));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(CertificateCommonName(*cert).value_or(""), "robin.peters");
  auto fingerprint = CertificateFingerprint(*cert);
  ASSERT_TRUE(fingerprint.ok());
  EXPECT_EQ(fingerprint->size(), 64u);
  auto server = ca->IssueServerCertificate({"localhost", "127.0.0.1"}, now);
  ASSERT_TRUE(server.ok()) << server.status();
}

// The fingerprint hashes the DER inside the PEM armour without parsing it (it runs on every call):
// it must be the digest the openssl tool computes over the parsed certificate, and anything that
// is not one PEM certificate is refused.
TEST_F(CryptoTest, CertificateFingerprintIsOpensslsSha256AndRefusesOtherPem) {
  const absl::Time now = absl::Now();
  auto material = CertificateAuthority::CreateNew("Test CA", now);
  auto ca = CertificateAuthority::Create(material->private_key_pem.Clone(), material->certificate_pem);
  auto request = GenerateKeyAndRequest("robin.peters");
  auto cert = ca->IssueClientCertificate(request->request_pem, "robin.peters", now, absl::Hours(1));
  ASSERT_TRUE(cert.ok()) << cert.status();
  char path[] = "/tmp/kluis-fingerprint-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, cert->data(), cert->size()), static_cast<ssize_t>(cert->size()));
  close(fd);
  FILE* pipe = popen(absl::StrCat("openssl x509 -noout -fingerprint -sha256 -in ", path).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char line[256] = {0};
  ASSERT_NE(fgets(line, sizeof(line), pipe), nullptr);
  pclose(pipe);
  unlink(path);
  std::string expected = absl::AsciiStrToLower(absl::StrReplaceAll(
      absl::StripAsciiWhitespace(absl::string_view(line).substr(absl::string_view(line).find('=') + 1)), {{":", ""}}));
  EXPECT_EQ(CertificateFingerprint(*cert).value_or(""), expected);
  // With text before the armour, as `openssl x509 -text` writes it: still the same certificate.
  EXPECT_EQ(CertificateFingerprint(absl::StrCat("subject=robin\n", *cert)).value_or(""), expected);
  // With CRLF line ends, as a file from Windows has them.
  EXPECT_EQ(CertificateFingerprint(absl::StrReplaceAll(*cert, {{"\n", "\r\n"}})).value_or(""), expected);

  for (const std::string& bad : {std::string(), std::string("garbage"), request->request_pem,
                                 std::string(material->private_key_pem.Reveal()),
                                 absl::StrReplaceAll(*cert, {{"-----END CERTIFICATE-----", ""}}),
                                 std::string("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
                                 std::string("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
                                 // a key first, a certificate after it: the first object decides
                                 absl::StrCat(material->private_key_pem.Reveal(), *cert),
                                 // far larger than any certificate
                                 absl::StrCat(std::string(70 * 1024, '\n'), *cert),
                                 // a character that is not base64 inside the armour
                                 absl::StrReplaceAll(*cert, {{"\n-----END", ":\n-----END"}})}) {
    EXPECT_EQ(CertificateFingerprint(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad.substr(0, 40);
  }
}

TEST_F(CryptoTest, CaRefusesMalformedOrTamperedRequests) {
  const absl::Time now = absl::Now();
  auto material = CertificateAuthority::CreateNew("Test CA", now);
  auto ca = CertificateAuthority::Create(material->private_key_pem.Clone(), material->certificate_pem);
  EXPECT_EQ(ca->IssueClientCertificate("garbage", "u", now, absl::Hours(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto request = GenerateKeyAndRequest("u");
  std::string tampered = request->request_pem;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(ca->IssueClientCertificate(tampered, "u", now, absl::Hours(1)).ok());
  EXPECT_EQ(ca->IssueClientCertificate(std::string(20000, 'x'), "u", now, absl::Hours(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CryptoTest, CaRefusesAKeyThatIsNotItsOwn) {
  const absl::Time now = absl::Now();
  auto one = CertificateAuthority::CreateNew("One", now);
  auto two = CertificateAuthority::CreateNew("Two", now);
  EXPECT_EQ(CertificateAuthority::Create(one->private_key_pem.Clone(), two->certificate_pem)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kluis::crypto

namespace kluis::crypto {
namespace {

TEST(PasswordTest, GeneratedPasswordsFollowTheRecipe) {
  const PasswordRecipe recipe{20, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#",
                              {"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "!#"}};
  std::set<std::string> seen;
  for (int i = 0; i < 500; ++i) {
    auto password = GeneratePassword(recipe);
    ASSERT_TRUE(password.ok()) << password.status();
    const std::string text(password->Reveal());
    ASSERT_EQ(text.size(), 20u);
    EXPECT_EQ(text.find_first_not_of(recipe.alphabet), std::string::npos);
    for (const std::string& required : recipe.required) {
      EXPECT_NE(text.find_first_of(required), std::string::npos) << text;
    }
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 500u);
}

TEST(PasswordTest, ImpossibleRecipesAreRefused) {
  EXPECT_FALSE(GeneratePassword({20, "", {}}).ok());
  EXPECT_FALSE(GeneratePassword({4, "abc", {}}).ok());
  EXPECT_FALSE(GeneratePassword({20, "abc", {"xyz"}}).ok());
}

}  // namespace
}  // namespace kluis::crypto
