#include "client/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/string_view.h"

namespace kluis::client {

std::string CsvField(const std::string& field) {
  // A spreadsheet runs a cell that starts with one of these as a formula (a reason such as
  // =HYPERLINK(...) would become a link): OWASP's CSV-injection advice is a leading apostrophe,
  // which shows the text as it is, inside quotes.
  const bool formula = !field.empty() && absl::string_view("=+-@\t\r").find(field.front()) != absl::string_view::npos;
  if (!formula && field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = formula ? "\"'" : "\"";
  for (char c : field) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

void Table::PrintTable(std::ostream& out) const {
  std::vector<size_t> widths(headers.size(), 0);
  for (size_t i = 0; i < headers.size(); ++i) widths[i] = headers[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << '\n';
  };
  print_row(headers);
  for (const auto& row : rows) print_row(row);
}

void Table::PrintCsv(std::ostream& out) const {
  auto print_row = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out << ',';
      out << CsvField(row[i]);
    }
    out << "\r\n";
  };
  print_row(headers);
  for (const auto& row : rows) print_row(row);
}

void PrintJson(const google::protobuf::Message& message, std::ostream& out) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out << json;
  if (json.empty() || json.back() != '\n') out << '\n';
}

void PrintListing(const std::string& format, const Table& table,
                  const google::protobuf::Message& message, std::ostream& out) {
  if (format == "json") {
    PrintJson(message, out);
  } else if (format == "csv") {
    table.PrintCsv(out);
  } else {
    table.PrintTable(out);
  }
}

}  // namespace kluis::client
