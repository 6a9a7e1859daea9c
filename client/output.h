#ifndef KLUIS_CLIENT_OUTPUT_H_
#define KLUIS_CLIENT_OUTPUT_H_

#include <ostream>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

namespace kluis::client {

// A listing as rows of text, printed as an aligned table or as CSV (RFC 4180). JSON output is the
// response message itself, printed by protobuf's JSON printer (PrintJson).
struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;

  void PrintTable(std::ostream& out) const;
  void PrintCsv(std::ostream& out) const;
};

void PrintJson(const google::protobuf::Message& message, std::ostream& out);

// "table", "json" or "csv": prints `table` or `message` accordingly.
void PrintListing(const std::string& format, const Table& table,
                  const google::protobuf::Message& message, std::ostream& out);

// Quotes a CSV field when it holds a comma, quote, CR or LF (RFC 4180 §2). A field that starts
// with = + - @ tab or CR, which a spreadsheet would run as a formula, gets a leading apostrophe
// and quotes (OWASP's advice against CSV injection).
std::string CsvField(const std::string& field);

}  // namespace kluis::client

#endif  // KLUIS_CLIENT_OUTPUT_H_
