// The change of cabinet (R13, R14): plan, apply, archive references.
#include "client/commands/common.h"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <tuple>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "client/output.h"
#include "client/qr.h"
#include "crypto/secret_bytes.h"

namespace kluis::client {
namespace {

// The flags of the kabinetswissel commands.
struct KabinetswisselFlags {
  std::string account, out, plan, ref, unit;
  std::string format = "table";
  std::vector<std::string> archives, hybrid, successors;
};

// "ACCOUNT=VALUE" pairs of the kabinetswissel plan, each checked for its '='.
absl::Status AddChoices(const std::vector<std::string>& pairs, const char* flag,
                        google::protobuf::RepeatedPtrField<pb::AccountChoice>* out) {
  for (const std::string& pair : pairs) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " takes ACCOUNT=VALUE, got \"", pair, "\""));
    }
    pb::AccountChoice* choice = out->Add();
    choice->set_account(pair.substr(0, eq));
    choice->set_value(pair.substr(eq + 1));
  }
  return absl::OkStatus();
}

Table PlanTable(const pb::KabinetswisselPlan& plan, bool with_state) {
  Table table{{"ACCOUNT", "KIND", "STEP", with_state ? "STATE" : "WHAT", with_state ? "DETAIL" : ""}, {}};
  if (!with_state) table.headers.pop_back();
  for (const pb::KabinetswisselAccount& account : plan.accounts()) {
    for (const pb::KabinetswisselStep& step : account.steps()) {
      if (with_state) {
        table.rows.push_back({account.account(), account.kind(), step.name(), step.state(),
                              step.detail().empty() ? step.description() : step.detail()});
      } else {
        table.rows.push_back({account.account(), account.kind(), step.name(), step.description()});
      }
    }
  }
  return table;
}

absl::Status RunKabinetswisselPlan(Client& c, const KabinetswisselFlags& a, const std::string&) {
  pb::PlanKabinetswisselRequest request;
  request.set_unit(a.unit);
  for (auto [pairs, flag, field] : {std::tuple{&a.successors, "--successor", request.mutable_successors()},
                                    std::tuple{&a.hybrid, "--hybrid", request.mutable_hybrid()},
                                    std::tuple{&a.archives, "--archive", request.mutable_archives()}}) {
    if (absl::Status s = AddChoices(*pairs, flag, field); !s.ok()) return s;
  }
  absl::StatusOr<pb::KabinetswisselPlan> r = c.Call(c.vault(), &pb::Vault::Stub::PlanKabinetswissel, request);
  if (!r.ok()) return r.status();
  const std::string path = a.out.empty() ? absl::StrCat(r->id(), ".json") : a.out;
  {
    std::ofstream file(path, std::ios::trunc);
    PrintJson(*r, file);
    if (!file) return absl::InternalError(absl::StrCat("cannot write the plan to ", path));
  }
  PrintListing(a.format, PlanTable(*r, false), *r, std::cout);
  if (a.format == "table") {
    std::cout << "\nplan " << r->id() << " written to " << path << " (the vault keeps its own copy).\n"
              << "Carry it out with: kluis kabinetswissel apply " << path << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunKabinetswisselApply(Client& c, const KabinetswisselFlags& a, const std::string&) {
  absl::StatusOr<std::string> text = ReadTextFile(a.plan);
  if (!text.ok()) return text.status();
  pb::KabinetswisselPlan plan;
  if (!google::protobuf::util::JsonStringToMessage(*text, &plan).ok() || plan.id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(a.plan, " is not a kabinetswissel plan file"));
  }
  pb::ApplyKabinetswisselRequest request;
  request.set_plan_id(plan.id());
  absl::StatusOr<pb::ApplyKabinetswisselResponse> r = c.Call(c.vault(), &pb::Vault::Stub::ApplyKabinetswissel, request);
  if (!r.ok()) return r.status();
  PrintListing(a.format, PlanTable(r->plan(), true), *r, std::cout);
  for (pb::HandedBackAuthenticator& h : *r->mutable_handed_back()) {
    if (a.format == "table") {
      std::cout << "\nauthenticator of " << h.account() << ", to hand to " << h.to() << " in person:\n"
                << h.otpauth_uri() << "\n";
      if (::isatty(STDOUT_FILENO)) {
        absl::StatusOr<std::string> qr = TerminalQr(h.otpauth_uri());
        if (qr.ok()) std::cout << "\n" << *qr << "\n";
      }
    }
    crypto::WipeString(*h.mutable_otpauth_uri());
  }
  if (!r->complete()) {
    int failed = 0;
    for (const pb::KabinetswisselAccount& account : r->plan().accounts()) {
      for (const pb::KabinetswisselStep& step : account.steps()) failed += step.state() == "failed";
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "kabinetswissel ", plan.id(), " is not complete: ", failed,
        " step(s) failed (see DETAIL); put it right and run kluis kabinetswissel apply again"));
  }
  if (a.format == "table") std::cout << "\nkabinetswissel " << plan.id() << " complete.\n";
  return absl::OkStatus();
}

absl::Status RunKabinetswisselArchive(Client& c, const KabinetswisselFlags& a, const std::string&) {
  pb::RecordArchiveReferenceRequest request;
  request.set_account(a.account);
  request.set_reference(a.ref);
  absl::StatusOr<pb::RecordArchiveReferenceResponse> r =
      c.Call(c.vault(), &pb::Vault::Stub::RecordArchiveReference, request);
  if (!r.ok()) return r.status();
  std::cout << "archive of " << a.account << " recorded: " << a.ref << "\n";
  return absl::OkStatus();
}

}  // namespace

void AddKabinetswisselCommands(Commands& commands) {
  CLI::App& app = commands.app();
  Group<KabinetswisselFlags> group(commands);
  KabinetswisselFlags& a = group.flags();

  CLI::App* kabinetswissel =
      app.add_subcommand("kabinetswissel", "change of cabinet for a ministry (R13, R14)")->require_subcommand(1);
  CLI::App* kw_plan = group.Add(kabinetswissel, "plan",
                                "print every step for every minister account and write a plan file",
                                "kabinetswissel plan");
  kw_plan->add_option("--unit", a.unit, "the ministry unit")->required();
  kw_plan->add_option("--successor", a.successors, "corporate ACCOUNT=USER (the new bewindspersoon)");
  kw_plan->add_option("--hybrid", a.hybrid, "hybrid ACCOUNT=handback|keep-2fa-removed");
  kw_plan->add_option("--archive", a.archives, "corporate ACCOUNT=REFERENCE (archive account or RDDI reference)");
  kw_plan->add_option("--out", a.out, "plan file (default PLAN-ID.json)");
  Commands::Listing(kw_plan, a.format);
  CLI::App* kw_apply =
      group.Add(kabinetswissel, "apply", "carry out a plan; run again to finish after a failure",
                "kabinetswissel apply");
  kw_apply->add_option("PLAN", a.plan, "the plan file")->required();
  kw_apply->add_option("--format", a.format)->check(CLI::IsMember({"table", "json"}));
  CLI::App* kw_archive =
      group.Add(kabinetswissel, "archive", "record where a corporate account's posts are archived",
                "kabinetswissel archive");
  kw_archive->add_option("ACCOUNT", a.account)->required();
  kw_archive->add_option("--ref", a.ref, "archive account or RDDI reference")->required();

  group.Handle("kabinetswissel plan", RunKabinetswisselPlan);
  group.Handle("kabinetswissel apply", RunKabinetswisselApply);
  group.Handle("kabinetswissel archive", RunKabinetswisselArchive);
}

}  // namespace kluis::client
