#include "server/vault/paging.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/storage/tx.h"

namespace kluis::server {

absl::StatusOr<Cursor> OpenPage(const PageRequest& page, absl::string_view listing) {
  Cursor cursor;
  if (page.limit < 0 || page.limit > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit ", page.limit, " is out of range: use 1 to ", kMaxPageSize));
  }
  if (page.limit > 0) cursor.limit = page.limit;
  if (page.token.empty()) return cursor;
  absl::string_view token = page.token;
  if (!absl::ConsumePrefix(&token, absl::StrCat(listing, ".")) ||
      !absl::SimpleAtoi(token, &cursor.position) || cursor.position <= 0 ||
      token != absl::StrCat(cursor.position)) {
    return absl::InvalidArgumentError(absl::StrCat("this page token is not one the ", listing,
                                                   " listing gave: pass the one it printed"));
  }
  return cursor;
}

std::string PageToken(absl::string_view listing, int64_t position) {
  return absl::StrCat(listing, ".", position);
}

absl::StatusOr<SummaryPage> KeptSummaries(
    storage::Tx& tx, storage::AccountPage query, const Cursor& cursor, absl::string_view listing,
    absl::FunctionRef<bool(const storage::AccountRow&)> keep) {
  SummaryPage page;
  query.after_id = cursor.position;
  query.limit = cursor.limit + 1;  // one more than a page: whether the walk ends here shows
  page.first_id = cursor.position + 1;
  for (;;) {
    absl::StatusOr<std::vector<storage::AccountSummary>> batch = tx.AccountSummaries(query);
    if (!batch.ok()) return batch.status();
    const bool last_batch = static_cast<int64_t>(batch->size()) < query.limit;
    for (size_t i = 0; i < batch->size(); ++i) {
      storage::AccountSummary& row = (*batch)[i];
      page.last_id = row.account.id;
      if (!keep(row.account)) continue;
      page.rows.push_back(std::move(row));
      if (static_cast<int64_t>(page.rows.size()) == cursor.limit) {
        // Full: a next page, unless this was the last row there is. (A later row may still be one
        // `keep` refuses: then the next page is empty.)
        if (!last_batch || i + 1 < batch->size())
          page.next_page_token = PageToken(listing, page.last_id);
        return page;
      }
    }
    if (last_batch) return page;
    query.after_id = batch->back().account.id;
  }
}

}  // namespace kluis::server
