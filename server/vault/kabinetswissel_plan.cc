#include "server/vault/kabinetswissel_plan.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "policies/roles.h"

namespace kluis::server {
namespace {

using nlohmann::json;

absl::Status Damaged(absl::string_view plan_id, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("kabinetswissel plan ", plan_id, " is damaged: ", what));
}

// A minister account's kind: corporate (R13) or hybrid (R14), nothing else.
std::optional<policies::AccountKind> MinisterKind(absl::string_view word) {
  const std::optional<policies::AccountKind> kind = policies::ParseAccountKind(word);
  if (kind != policies::AccountKind::kCorporate && kind != policies::AccountKind::kHybrid)
    return std::nullopt;
  return kind;
}

// Reads the string member `key` of `object` into `out`; false when it is missing or not a string.
bool Text(const json& object, const char* key, std::string& out) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

// Reads the member `key`, an array of strings, into `out`.
bool Texts(const json& object, const char* key, std::vector<std::string>& out) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return false;
  for (const json& item : *it) {
    if (!item.is_string()) return false;
    out.push_back(item.get<std::string>());
  }
  return true;
}

absl::StatusOr<DecodedPlan> DecodeJson(absl::string_view plan_id, absl::string_view body) {
  const json plan = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (plan.is_discarded() || !plan.is_object()) return Damaged(plan_id, "not a JSON object");
  std::string format;
  if (!Text(plan, "format", format) || format != kPlanFormat) {
    return Damaged(plan_id, absl::StrCat("format is not ", kPlanFormat));
  }
  DecodedPlan decoded;
  if (!Text(plan, "unit", decoded.unit) || decoded.unit.empty())
    return Damaged(plan_id, "it names no unit");
  const auto accounts = plan.find("accounts");
  if (accounts == plan.end() || !accounts->is_array())
    return Damaged(plan_id, "it has no list of accounts");
  for (size_t i = 0; i < accounts->size(); ++i) {
    const json& entry = (*accounts)[i];
    KabinetswisselAccount a;
    std::string kind;
    if (!entry.is_object() || !Text(entry, "account", a.account) || !Text(entry, "kind", kind) ||
        !Text(entry, "successor", a.successor) || !Text(entry, "hybrid", a.hybrid) ||
        !Text(entry, "archive_ref", a.archive_ref) ||
        !Texts(entry, "predecessors", a.predecessors) || !Texts(entry, "departing", a.departing)) {
      return Damaged(
          plan_id, absl::StrCat("account ", i + 1, " lacks a field or has one of the wrong type"));
    }
    const std::optional<policies::AccountKind> minister = MinisterKind(kind);
    if (!minister)
      return Damaged(plan_id, absl::StrCat("account ", i + 1, " names no minister account's kind"));
    a.kind = *minister;
    decoded.accounts.push_back(std::move(a));
  }
  return decoded;
}

// Format 1: the unit, then one line per account, tab-separated (every field was checked by
// CheckName or CheckText, so none holds a tab or a newline).
absl::StatusOr<DecodedPlan> DecodeTabs(absl::string_view plan_id, absl::string_view body) {
  DecodedPlan decoded;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    ++line_number;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (line_number == 1) {
      if (f.size() != 2 || f[0] != "unit") break;
      decoded.unit = f[1];
      continue;
    }
    if (f.size() != 7) {
      return Damaged(plan_id,
                     absl::StrCat("line ", line_number, " has ", f.size(), " fields, not 7"));
    }
    const std::optional<policies::AccountKind> kind = MinisterKind(f[1]);
    if (!kind)
      return Damaged(plan_id,
                     absl::StrCat("line ", line_number, " names no minister account's kind"));
    decoded.accounts.push_back({f[0],
                                *kind,
                                f[2],
                                f[3],
                                f[4],
                                absl::StrSplit(f[5], ',', absl::SkipEmpty()),
                                absl::StrSplit(f[6], ',', absl::SkipEmpty()),
                                {}});
  }
  if (decoded.unit.empty()) return Damaged(plan_id, "it names no unit");
  return decoded;
}

}  // namespace

std::string EncodePlan(const KabinetswisselPlan& plan) {
  json accounts = json::array();
  for (const KabinetswisselAccount& a : plan.accounts) {
    accounts.push_back({{"account", a.account},
                        {"kind", policies::AccountKindName(a.kind)},
                        {"successor", a.successor},
                        {"hybrid", a.hybrid},
                        {"archive_ref", a.archive_ref},
                        {"predecessors", a.predecessors},
                        {"departing", a.departing}});
  }
  const json body = {
      {"format", kPlanFormat}, {"unit", plan.unit}, {"accounts", std::move(accounts)}};
  return body.dump();
}

absl::StatusOr<DecodedPlan> DecodePlan(absl::string_view plan_id, absl::string_view body) {
  if (!body.empty() && body.front() == '{') return DecodeJson(plan_id, body);
  return DecodeTabs(plan_id, body);
}

}  // namespace kluis::server
