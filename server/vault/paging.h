// Paging of listings: the page asked for (a limit and the token of the page before), and the walk
// over pages of account summaries that keeps only the accounts the caller may see.
#ifndef KLUIS_SERVER_VAULT_PAGING_H_
#define KLUIS_SERVER_VAULT_PAGING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/storage/rows.h"
#include "server/vault/types.h"

namespace kluis::storage {
class Tx;
}

namespace kluis::server {

inline constexpr int64_t kDefaultPageSize = 1000;
inline constexpr int64_t kMaxPageSize = 1000;

// Where a page starts: after (or, newest first, before) `position`, at most `limit` items.
struct Cursor {
  int64_t limit = kDefaultPageSize;
  int64_t position = 0;  // 0: the first page
};

// Checks the page asked for of `listing` ("accounts", "due", ...): a limit of 0 is the default,
// one above kMaxPageSize or below 0 is refused, as is a token that is not one this listing gave.
// A token only says where the last page ended: every page is decided again for its caller.
absl::StatusOr<Cursor> OpenPage(const PageRequest& page, absl::string_view listing);

// The token of the page after `position`.
std::string PageToken(absl::string_view listing, int64_t position);

// Up to `cursor.limit` summaries after the cursor for which `keep` is true, read a page at a time,
// and the token of the next page ("" when the walk reached the end).
struct SummaryPage {
  std::vector<storage::AccountSummary> rows;
  std::string next_page_token;
  int64_t first_id = 0, last_id = 0;  // the range read, for the page's other statements
};
absl::StatusOr<SummaryPage> KeptSummaries(storage::Tx& tx, storage::AccountPage query,
                                          const Cursor& cursor, absl::string_view listing,
                                          absl::FunctionRef<bool(const storage::AccountRow&)> keep);

}  // namespace kluis::server

#endif  // KLUIS_SERVER_VAULT_PAGING_H_
