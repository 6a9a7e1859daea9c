#include "policies/policy.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kluis/policy/v1/policy.pb.h"

namespace kluis::policies {
namespace {

namespace pb = ::kluis::policy::v1;
using google::protobuf::TextFormat;

constexpr std::pair<Action, absl::string_view> kActions[] = {
    {Action::kReleaseLogin, "release-login"},
    {Action::kReleaseTotp, "release-totp"},
    {Action::kReleaseRecoveryCode, "release-recovery-code"},
    {Action::kStoreSecret, "store-secret"},
    {Action::kExportTotpSeed, "export-totp-seed"},
    {Action::kReleasePrevious, "release-previous"},
    {Action::kHandover, "handover"},
    {Action::kStopAccount, "stop-account"},
    {Action::kKabinetswissel, "kabinetswissel"},
};

// Collects the parser's first error with its place (the parser counts from 0).
class FirstError final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (message_.empty()) message_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

// Finds where a field of a parsed message stood in the text, for meaning errors. Where the parser
// kept no place for a field (an element of a [list], a field left out), the place of the enclosing
// rule stands in.
class Places {
 public:
  Places(absl::string_view filename, const TextFormat::ParseInfoTree* tree,
         TextFormat::ParseLocation fallback = {0, 0})
      : filename_(filename), tree_(tree), fallback_(fallback) {}

  absl::Status Error(const char* field, int index, absl::string_view what) const {
    const TextFormat::ParseLocation where = Find(field, index);
    return absl::InvalidArgumentError(
        absl::StrCat(filename_, ":", where.line + 1, ":", where.column + 1, ": ", what));
  }

  // The places inside rule number `rule`.
  Places ForRule(int rule) const {
    const google::protobuf::FieldDescriptor* field = pb::Policy::descriptor()->FindFieldByName("rule");
    const TextFormat::ParseInfoTree* nested =
        tree_ != nullptr ? tree_->GetTreeForNested(field, rule) : nullptr;
    return Places(filename_, nested, Find("rule", rule));
  }

 private:
  TextFormat::ParseLocation Find(const char* field, int index) const {
    const google::protobuf::FieldDescriptor* descriptor =
        pb::Rule::descriptor()->FindFieldByName(field);
    if (descriptor == nullptr) descriptor = pb::Policy::descriptor()->FindFieldByName(field);
    if (tree_ == nullptr || descriptor == nullptr) return fallback_;
    // The tree knows only the places it recorded; asking for others aborts, so ask carefully.
    for (int i : {index, 0}) {
      if (descriptor->is_repeated() != (i >= 0)) continue;
      if (!descriptor->is_repeated()) i = -1;
      const TextFormat::ParseLocation where = tree_->GetLocation(descriptor, i);
      if (where.line >= 0) return where;
      if (!descriptor->is_repeated()) break;
    }
    return fallback_;
  }

  std::string filename_;
  const TextFormat::ParseInfoTree* tree_;
  TextFormat::ParseLocation fallback_;
};

absl::StatusOr<Role> RoleAt(const Places& places, const char* field, int index,
                            const std::string& name) {
  std::optional<Role> role = ParseRole(name);
  if (!role) {
    return places.Error(field, index,
                        absl::StrCat("unknown role \"", name, "\" (beheerder, teamchef, regisseur, "
                                     "landelijk-regisseur, communicatieadviseur, bewindspersoon, "
                                     "politiek-assistent, auditor, operator)"));
  }
  return *role;
}

absl::StatusOr<Rule> ConvertRule(const pb::Rule& in, const Places& places, int index) {
  Rule rule;
  rule.id = in.id();
  rule.description = in.description();
  if (rule.id.empty()) return places.Error("rule", index, "rule has no id");
  const Places at = places.ForRule(index);
  absl::StatusOr<Role> role = RoleAt(at, "role", -1, in.role());
  if (!role.ok()) return role.status();
  rule.role = *role;
  if (in.actions().empty()) return at.Error("id", -1, absl::StrCat("rule ", rule.id, " names no actions"));
  for (int i = 0; i < in.actions_size(); ++i) {
    std::optional<Action> action = ParseAction(in.actions(i));
    if (!action) {
      return at.Error("actions", i, absl::StrCat("unknown action \"", in.actions(i),
                                                 "\" (release-login, release-totp, release-recovery-code, store-secret, export-totp-seed, release-previous, handover, stop-account, kabinetswissel)"));
    }
    rule.actions.push_back(*action);
  }
  for (int i = 0; i < in.account_kinds_size(); ++i) {
    std::optional<AccountKind> kind = ParseAccountKind(in.account_kinds(i));
    if (!kind) {
      return at.Error("account_kinds", i,
                      absl::StrCat("unknown account kind \"", in.account_kinds(i),
                                   "\" (politie-alleen, politie-samen, corporate, hybrid, organisatie)"));
    }
    rule.account_kinds.push_back(*kind);
  }
  if (in.account_states_size() > 0) rule.account_states.clear();
  for (int i = 0; i < in.account_states_size(); ++i) {
    std::optional<AccountState> state = ParseAccountState(in.account_states(i));
    if (!state || *state == AccountState::kArchived) {
      return at.Error("account_states", i,
                      absl::StrCat("unknown account state \"", in.account_states(i),
                                   "\" (active, stopped; an archived account releases nothing)"));
    }
    rule.account_states.push_back(*state);
  }
  switch (in.mode()) {
    case pb::ALLOW: rule.mode = Mode::kAllow; break;
    case pb::BREAK_GLASS: rule.mode = Mode::kBreakGlass; break;
    case pb::ON_APPROVED_REQUEST: rule.mode = Mode::kOnApprovedRequest; break;
    case pb::NEVER: rule.mode = Mode::kNever; break;
    default:
      return at.Error("id", -1, absl::StrCat("rule ", rule.id, " has no mode"));
  }
  rule.reason_required = in.reason_required() || rule.mode == Mode::kBreakGlass;
  rule.required_reason_prefix = in.required_reason_prefix();
  for (int n : in.notify()) {
    if (n == pb::BEHEERDERS) rule.notify.push_back(Notify::kBeheerders);
    if (n == pb::TEAMCHEFS) rule.notify.push_back(Notify::kTeamchefs);
    if (n == pb::REGISSEURS) rule.notify.push_back(Notify::kRegisseurs);
  }
  rule.raise_rotation_flag = in.raise_rotation_flag();
  for (int i = 0; i < in.approvers_size(); ++i) {
    absl::StatusOr<Role> approver = RoleAt(at, "approvers", i, in.approvers(i));
    if (!approver.ok()) return approver.status();
    rule.approvers.push_back(*approver);
  }
  if (!in.escalate_to().empty()) {
    absl::StatusOr<Role> escalate = RoleAt(at, "escalate_to", -1, in.escalate_to());
    if (!escalate.ok()) return escalate.status();
    rule.escalate_to = *escalate;
  }
  const bool by_request = rule.mode == Mode::kOnApprovedRequest;
  if (by_request && rule.approvers.empty()) {
    return at.Error("mode", -1, absl::StrCat("rule ", rule.id, " is ON_APPROVED_REQUEST but names no approvers"));
  }
  if (!by_request && (!rule.approvers.empty() || rule.escalate_to.has_value())) {
    return at.Error(rule.approvers.empty() ? "escalate_to" : "approvers", rule.approvers.empty() ? -1 : 0,
                    absl::StrCat("rule ", rule.id, ": only ON_APPROVED_REQUEST rules have approvers"));
  }
  return rule;
}

}  // namespace

absl::string_view ActionName(Action action) {
  for (auto [a, name] : kActions) {
    if (a == action) return name;
  }
  return "unknown";
}

std::optional<Action> ParseAction(absl::string_view name) {
  for (auto [a, n] : kActions) {
    if (n == name) return a;
  }
  return std::nullopt;
}

absl::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kAllow: return "allow";
    case Mode::kBreakGlass: return "break-glass";
    case Mode::kOnApprovedRequest: return "on-approved-request";
    case Mode::kNever: return "never";
  }
  return "unknown";
}

absl::string_view NotifyName(Notify notify) {
  switch (notify) {
    case Notify::kBeheerders: return "beheerders";
    case Notify::kTeamchefs: return "teamchefs";
    case Notify::kRegisseurs: return "regisseurs";
  }
  return "unknown";
}

bool Rule::Matches(Action action, std::optional<AccountKind> kind, AccountState state) const {
  if (std::find(actions.begin(), actions.end(), action) == actions.end()) return false;
  if (std::find(account_states.begin(), account_states.end(), state) == account_states.end()) return false;
  if (account_kinds.empty()) return true;
  return kind.has_value() &&
         std::find(account_kinds.begin(), account_kinds.end(), *kind) != account_kinds.end();
}

namespace {
constexpr absl::string_view kDefaultSymbols = "!#$%&*+-=?@^_";

absl::StatusOr<std::string> ClassCharacters(absl::string_view name, absl::string_view symbols) {
  if (name == "lower") return std::string("abcdefghijklmnopqrstuvwxyz");
  if (name == "upper") return std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  if (name == "digits") return std::string("0123456789");
  if (name == "symbols") return std::string(symbols.empty() ? kDefaultSymbols : symbols);
  return absl::InvalidArgumentError(absl::StrCat("unknown character class \"", name,
                                                 "\" (lower, upper, digits, symbols)"));
}
}  // namespace

PasswordRules Policy::PasswordRulesFor(absl::string_view platform) const {
  for (const PasswordRules& rules : password_rules) {
    if (rules.platform == platform) return rules;
  }
  PasswordRules fallback;
  fallback.platform = std::string(platform);
  fallback.length = 24;
  for (const char* name : {"lower", "upper", "digits", "symbols"}) {
    std::string chars = *ClassCharacters(name, "");
    fallback.alphabet += chars;
    fallback.required.push_back(chars);
  }
  return fallback;
}

const Rule* Policy::FindRule(absl::string_view id) const {
  for (const Rule& rule : rules) {
    if (rule.id == id) return &rule;
  }
  return nullptr;
}

absl::StatusOr<Policy> ParsePolicy(absl::string_view text, absl::string_view filename) {
  pb::Policy parsed;
  TextFormat::Parser parser;
  FirstError errors;
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &parsed)) {
    return absl::InvalidArgumentError(absl::StrCat(filename, ":", errors.message()));
  }
  const Places places(filename, &tree);
  Policy policy;
  policy.name = parsed.name();
  auto seconds = [&](int64_t value, const char* field, absl::Duration fallback) -> absl::StatusOr<absl::Duration> {
    if (value < 0) return places.Error(field, -1, absl::StrCat(field, " must not be negative"));
    return value == 0 ? fallback : absl::Seconds(value);
  };
  absl::StatusOr<absl::Duration> ttl = seconds(parsed.grant_ttl_seconds(), "grant_ttl_seconds", policy.grant_ttl);
  if (!ttl.ok()) return ttl.status();
  absl::StatusOr<absl::Duration> max_ttl =
      seconds(parsed.max_grant_ttl_seconds(), "max_grant_ttl_seconds", policy.max_grant_ttl);
  if (!max_ttl.ok()) return max_ttl.status();
  absl::StatusOr<absl::Duration> wait =
      seconds(parsed.waiting_period_seconds(), "waiting_period_seconds", policy.waiting_period);
  if (!wait.ok()) return wait.status();
  policy.grant_ttl = *ttl;
  policy.max_grant_ttl = *max_ttl;
  policy.waiting_period = *wait;
  if (policy.grant_ttl > policy.max_grant_ttl) {
    return places.Error("grant_ttl_seconds", -1, "grant_ttl_seconds exceeds max_grant_ttl_seconds");
  }
  if (parsed.min_reason_length() < 0 || parsed.min_reason_length() > 500) {
    return places.Error("min_reason_length", -1, "min_reason_length must be 0 to 500");
  }
  if (parsed.min_reason_length() > 0) policy.min_reason_length = parsed.min_reason_length();
  std::set<std::string> ids;
  for (int i = 0; i < parsed.rule_size(); ++i) {
    absl::StatusOr<Rule> rule = ConvertRule(parsed.rule(i), places, i);
    if (!rule.ok()) return rule.status();
    if (!ids.insert(rule->id).second) {
      return places.ForRule(i).Error("id", -1, absl::StrCat("duplicate rule id \"", rule->id, "\""));
    }
    policy.rules.push_back(*std::move(rule));
  }
  if (policy.rules.empty()) return places.Error("rule", -1, "the policy has no rules");
  if (parsed.max_password_age_days() < 0 || parsed.previous_retention_days() < 0 ||
      parsed.stopped_retention_days() < 0) {
    return places.Error("max_password_age_days", -1, "periods must not be negative");
  }
  if (parsed.max_password_age_days() > 0) policy.max_password_age = absl::Hours(24 * parsed.max_password_age_days());
  if (parsed.previous_retention_days() > 0) policy.previous_retention = absl::Hours(24 * parsed.previous_retention_days());
  if (parsed.stopped_retention_days() > 0) policy.stopped_retention = absl::Hours(24 * parsed.stopped_retention_days());
  for (int i = 0; i < parsed.password_rules_size(); ++i) {
    const pb::PasswordRules& in = parsed.password_rules(i);
    PasswordRules rules;
    rules.platform = in.platform();
    rules.length = in.length() == 0 ? 24 : in.length();
    auto bad = [&](absl::string_view what) {
      return places.Error("password_rules", i, absl::StrCat("password_rules for \"", in.platform(), "\": ", what));
    };
    if (rules.platform.empty()) return bad("no platform");
    if (rules.length < 20 || rules.length > 128) return bad("length must be 20 to 128");
    for (const std::string& name : in.classes()) {
      absl::StatusOr<std::string> chars = ClassCharacters(name, in.symbols());
      if (!chars.ok()) return bad(chars.status().message());
      rules.alphabet += *chars;
    }
    for (const std::string& name : in.required()) {
      absl::StatusOr<std::string> chars = ClassCharacters(name, in.symbols());
      if (!chars.ok()) return bad(chars.status().message());
      if (std::find(in.classes().begin(), in.classes().end(), name) == in.classes().end()) {
        return bad(absl::StrCat("required class ", name, " is not among its classes"));
      }
      rules.required.push_back(*chars);
    }
    if (rules.alphabet.empty()) return bad("no character classes");
    policy.password_rules.push_back(std::move(rules));
  }
  return policy;
}

const Policy& DefaultPolicy() {
  static const Policy* policy = [] {
    absl::StatusOr<Policy> parsed = ParsePolicy(DefaultPolicyText(), "policies/default.textproto");
    // The shipped policy is tested; failing here means a broken build.
    if (!parsed.ok()) std::abort();
    return new Policy(*std::move(parsed));
  }();
  return *policy;
}

}  // namespace kluis::policies
