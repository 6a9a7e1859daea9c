#include "auditfile/format.h"

#include "crypto/hash.h"

namespace kluis::auditfile {
namespace {

constexpr char kChainTag[] = "kluis/audit/v1";
constexpr char kCheckpointTag[] = "kluis/audit-checkpoint/v1";

void PutBigEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

}  // namespace

std::string CanonicalBytes(const Record& r) {
  std::string out(1, static_cast<char>(r.version));
  PutBigEndian(&out, static_cast<uint64_t>(r.seq), 8);
  PutBigEndian(&out, static_cast<uint64_t>(r.time_us), 8);
  for (const std::string* field : {&r.actor, &r.role, &r.action, &r.account, &r.decision, &r.rule,
                                   &r.reason, &r.request_id, &r.peer, &r.outcome}) {
    PutBigEndian(&out, field->size(), 4);
    out.append(*field);
  }
  if (r.version >= 2) {
    PutBigEndian(&out, r.certificate.size(), 4);
    out.append(r.certificate);
  }
  return out;
}

std::string GenesisHash() { return std::string(crypto::Blake2b256::kSize, '\0'); }

std::string ChainHash(absl::string_view previous_hash, absl::string_view canonical) {
  return crypto::Blake2b256().Update(kChainTag).Update(previous_hash).Update(canonical).Finish();
}

std::string CheckpointMessage(int64_t seq, absl::string_view chain_hash, int64_t time_us) {
  std::string out(kCheckpointTag);
  PutBigEndian(&out, static_cast<uint64_t>(seq), 8);
  out.append(chain_hash.data(), chain_hash.size());
  PutBigEndian(&out, static_cast<uint64_t>(time_us), 8);
  return out;
}

}  // namespace kluis::auditfile
