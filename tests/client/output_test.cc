#include "client/output.h"

#include "client/cli.h"

#include <gtest/gtest.h>

namespace kluis::client {
namespace {

// Issue 16 (4): a cell a spreadsheet would run as a formula is shown as text (OWASP: a leading
// apostrophe, quoted); RFC 4180 quoting is unchanged for the rest.
TEST(CsvFieldTest, CellsThatASpreadsheetWouldRunAsAFormulaAreNeutralised) {
  struct Case {
    const char* field;
    const char* want;
  };
  for (const Case& c : {Case{"=HYPERLINK(\"http://x\",\"klik\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"klik\"\")\""},
                        Case{"+31 6 1234", "\"'+31 6 1234\""}, Case{"-2+3", "\"'-2+3\""},
                        Case{"@SUM(A1)", "\"'@SUM(A1)\""}, Case{"\tcmd", "\"'\tcmd\""}, Case{"\rcmd", "\"'\rcmd\""}}) {
    EXPECT_EQ(CsvField(c.field), c.want) << c.field;
  }
}

TEST(CsvFieldTest, OrdinaryCellsAreWrittenAsTheyAre) {
  struct Case {
    const char* field;
    const char* want;
  };
  for (const Case& c : {Case{"robin.peters", "robin.peters"}, Case{"", ""}, Case{"a=b", "a=b"}, Case{"17", "17"},
                        Case{"melding, \"spoed\"", "\"melding, \"\"spoed\"\"\""}}) {
    EXPECT_EQ(CsvField(c.field), c.want) << c.field;
  }
}

// Issue 16 (8): a failure of the server (its storage, its disk) is the server-side class, exit 5;
// never 1, which tells the user they typed something wrong.
TEST(ExitCodeTest, ServerSideFailuresAreTheServerSideClass) {
  for (const absl::Status& s : {absl::InternalError("statement failed: disk I/O error"),
                                absl::UnavailableError("the disk holding the vault is full"), absl::UnknownError("?")}) {
    EXPECT_EQ(ExitCodeFor(s), kExitUnavailable) << s;
  }
}

TEST(ExitCodeTest, BadInputIsUsage) {
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("reason is required")), kExitUsage);
}

}  // namespace
}  // namespace kluis::client
