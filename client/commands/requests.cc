// Access requests (R3, R9): asking, deciding, escalating; the inbox and what is due.
#include "client/commands/common.h"

#include <iostream>

#include <CLI/CLI.hpp>

#include "client/client.h"
#include "client/output.h"

namespace kluis::client {
namespace {

// The flags of the request commands.
struct RequestFlags {
  std::string account, purpose, reason, ttl;
  std::string format = "table";
  int64_t request_id = 0;
  PageFlags page;
};

// The requests to decide are paged; the rest of the answer comes whole with every page.
template <typename Response>
void MoreToDecide(Response& all, const Response& more) {
  all.mutable_to_decide()->MergeFrom(more.to_decide());
}

absl::Status RunRequest(Client& c, const RequestFlags& a, const std::string&) {
  pb::RequestAccessRequest request;
  request.set_account(a.account);
  request.set_purpose(a.purpose);
  request.set_reason(a.reason);
  absl::StatusOr<pb::AccessRequest> r = c.Call(c.vault(), &pb::Vault::Stub::RequestAccess, request);
  if (!r.ok()) return r.status();
  PrintRequest(*r);
  std::cout << "the beheerders and teamchef see it in kluis inbox; once approved: kluis get "
            << r->account() << " --request " << r->id() << "\n";
  return absl::OkStatus();
}

absl::Status RunRequests(Client& c, const RequestFlags& a, const std::string&) {
  absl::StatusOr<pb::ListRequestsResponse> r = Pages<pb::ListRequestsResponse>(
      a.page,
      [&](int64_t limit, const std::string& token) {
        pb::ListRequestsRequest request;
        request.set_limit(static_cast<int32_t>(limit));
        request.set_page_token(token);
        return c.Call(c.vault(), &pb::Vault::Stub::ListRequests, request);
      },
      MoreToDecide<pb::ListRequestsResponse>);
  if (!r.ok()) return r.status();
  if (a.format != "table") {
    pb::ListRequestsResponse both = *r;
    PrintListing(a.format, RequestsTable(both.mine()), both, std::cout);
    return absl::OkStatus();
  }
  std::cout << "mine:\n";
  RequestsTable(r->mine()).PrintTable(std::cout);
  std::cout << "\nto decide:\n";
  RequestsTable(r->to_decide()).PrintTable(std::cout);
  return absl::OkStatus();
}

absl::Status RunApprove(Client& c, const RequestFlags& a, const std::string& command) {
  pb::DecideRequestRequest request;
  request.set_id(a.request_id);
  request.set_approve(command == "approve");
  request.set_reason(a.reason);
  absl::StatusOr<int64_t> ttl = ParseDurationArg(a.ttl);
  if (!ttl.ok()) return ttl.status();
  request.set_ttl_seconds(*ttl);
  absl::StatusOr<pb::AccessRequest> r = c.Call(c.vault(), &pb::Vault::Stub::DecideRequest, request);
  if (!r.ok()) return r.status();
  PrintRequest(*r);
  return absl::OkStatus();
}

absl::Status RunEscalate(Client& c, const RequestFlags& a, const std::string&) {
  pb::EscalateRequestRequest request;
  request.set_id(a.request_id);
  request.set_reason(a.reason);
  absl::StatusOr<pb::AccessRequest> r = c.Call(c.vault(), &pb::Vault::Stub::EscalateRequest, request);
  if (!r.ok()) return r.status();
  PrintRequest(*r);
  std::cout << "the landelijk regisseur decides; that decision stands\n";
  return absl::OkStatus();
}

absl::Status RunInbox(Client& c, const RequestFlags& a, const std::string&) {
  absl::StatusOr<pb::Inbox> r = Pages<pb::Inbox>(
      a.page,
      [&](int64_t limit, const std::string& token) {
        pb::GetInboxRequest request;
        request.set_limit(static_cast<int32_t>(limit));
        request.set_page_token(token);
        return c.Call(c.vault(), &pb::Vault::Stub::GetInbox, request);
      },
      MoreToDecide<pb::Inbox>);
  if (!r.ok()) return r.status();
  if (a.format == "json") {
    PrintJson(*r, std::cout);
    return absl::OkStatus();
  }
  std::cout << "waiting for your decision (kluis approve ID | kluis deny ID --reason R):\n";
  if (r->to_decide().empty()) std::cout << "  nothing\n";
  for (const pb::AccessRequest& q : r->to_decide()) {
    std::cout << "  " << q.id() << "  " << q.account() << "  " << q.requester() << "  " << q.purpose()
              << "  " << q.state() << "  " << q.reason() << "\n";
  }
  std::cout << "your grants (kluis get ACCOUNT --request ID):\n";
  if (r->grants().empty()) std::cout << "  none\n";
  for (const pb::AccessRequest& q : r->grants()) {
    std::cout << "  " << q.id() << "  " << q.account() << "  until " << FormatTime(q.grant_expires_unix()) << "\n";
  }
  std::cout << "notices:\n";
  if (r->notices().empty()) std::cout << "  none\n";
  for (const pb::Notice& n : r->notices()) {
    std::cout << "  " << FormatTime(n.created_unix()) << "  [" << n.kind() << "] " << n.text() << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunDue(Client& c, const RequestFlags& a, const std::string&) {
  absl::StatusOr<pb::ListDueResponse> r =
      Pages<pb::ListDueResponse>(a.page, [&](int64_t limit, const std::string& token) {
        pb::ListDueRequest request;
        request.set_limit(static_cast<int32_t>(limit));
        request.set_page_token(token);
        return c.Call(c.vault(), &pb::Vault::Stub::ListDue, request);
      });
  if (!r.ok()) return r.status();
  Table table{{"ACCOUNT", "RAISED", "BY", "CAUSE"}, {}};
  for (const pb::RotationFlag& f : r->flags()) {
    table.rows.push_back({f.account(), FormatTime(f.raised_unix()), f.raised_by(), f.cause()});
  }
  PrintListing(a.format, table, *r, std::cout);
  return absl::OkStatus();
}

}  // namespace

void AddRequestCommands(Commands& commands) {
  CLI::App& app = commands.app();
  Group<RequestFlags> group(commands);
  RequestFlags& a = group.flags();

  CLI::App* request = group.Add(&app, "request", "ask for the login of an account", "request");
  request->add_option("ACCOUNT", a.account)->required();
  request->add_option("--purpose", a.purpose, "koppelen, ziekte, verlof, uitdienst, overlijden, stopzetten, overig")
      ->required();
  request->add_option("--reason", a.reason, "what for")->required();
  CLI::App* requests =
      group.Add(&app, "requests", "my requests and those I can decide", "requests");
  Commands::Listing(requests, a.format);
  AddPaging(requests, a.page);
  CLI::App* approve = group.Add(&app, "approve", "approve a request", "approve");
  approve->add_option("ID", a.request_id)->required();
  approve->add_option("--ttl", a.ttl, "a shorter grant than the policy's: 2d, 4h or 90m");
  approve->add_option("--reason", a.reason, "note (recorded)");
  CLI::App* deny = group.Add(&app, "deny", "deny a request", "deny");
  deny->add_option("ID", a.request_id)->required();
  deny->add_option("--reason", a.reason, "why (the requester sees it)")->required();
  CLI::App* escalate =
      group.Add(&app, "escalate", "take a denied request to the landelijk regisseur", "escalate");
  escalate->add_option("ID", a.request_id)->required();
  escalate->add_option("--reason", a.reason, "why (recorded)");
  CLI::App* inbox = group.Add(&app, "inbox", "requests to decide, notices, my grants", "inbox");
  inbox->add_option("--format", a.format)->check(CLI::IsMember({"table", "json"}));
  AddPaging(inbox, a.page);
  CLI::App* due = group.Add(&app, "due", "accounts whose password is due for rotation", "due");
  Commands::Listing(due, a.format);
  AddPaging(due, a.page);

  group.Handle("request", RunRequest);
  group.Handle("requests", RunRequests);
  group.Handle("approve", RunApprove);
  group.Handle("deny", RunApprove);
  group.Handle("escalate", RunEscalate);
  group.Handle("inbox", RunInbox);
  group.Handle("due", RunDue);
}

}  // namespace kluis::client
