#include "kluis/wire/strict_requests.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/common.h>
#include <google/protobuf/unknown_field_set.h>
#include <string.h>

#include <map>
#include <optional>

#include "kluis/wire/error_details.h"

namespace kluis::wire {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

void WipeStrings(UnknownFieldSet& fields) {
  for (int i = 0; i < fields.field_count(); ++i) {
    if (fields.field(i).type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      std::string* text = fields.mutable_field(i)->mutable_length_delimited();
      explicit_bzero(text->data(), text->size());
    }
  }
}

// The path ("entries.name") of the first string field in `fields`, read as `type`, that is not
// UTF-8; nothing when every one is.
std::optional<std::string> FirstInvalidString(const UnknownFieldSet& fields, const Descriptor& type) {
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& field = fields.field(i);
    if (field.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* known = type.FindFieldByNumber(field.number());
    if (known == nullptr) continue;
    const std::string& bytes = field.length_delimited();
    if (known->type() == FieldDescriptor::TYPE_STRING &&
        !google::protobuf::internal::IsStructurallyValidUTF8(bytes.data(), static_cast<int>(bytes.size()))) {
      return known->name();
    }
    if (known->type() == FieldDescriptor::TYPE_MESSAGE) {
      UnknownFieldSet inner;
      if (!inner.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) continue;
      std::optional<std::string> path = FirstInvalidString(inner, *known->message_type());
      WipeStrings(inner);
      if (path) return known->is_map() ? known->name() : known->name() + "." + *path;
    }
  }
  return std::nullopt;
}

// Why protobuf refused `bytes` as a `type` (a request, or on the client a reply).
grpc::Status Explain(const grpc::ByteBuffer& bytes, const Descriptor& type) {
  grpc::ByteBuffer copy(bytes);
  grpc::ProtoBufferReader reader(&copy);
  UnknownFieldSet fields;
  std::optional<std::string> field;
  if (fields.ParseFromZeroCopyStream(&reader)) field = FirstInvalidString(fields, type);
  // The request may carry a secret (a password being set): nothing read here outlives the call.
  WipeStrings(fields);
  const std::string message = field ? "field " + *field + " is not valid UTF-8"
                                    : "not a valid " + type.full_name() + " message";
  std::map<std::string, std::string> metadata;
  if (field) metadata["field"] = *field;
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message,
                      ErrorDetails(grpc::StatusCode::INVALID_ARGUMENT, message, "INPUT_INVALID", metadata));
}

}  // namespace

grpc::Status DeserializeNamingField(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* message) {
  const grpc::ByteBuffer kept(*buffer);  // shares the slices: gRPC's own parse clears `buffer`
  grpc::Status status = grpc::GenericDeserialize<grpc::ProtoBufferReader, grpc::protobuf::MessageLite>(buffer, message);
  const auto* full = dynamic_cast<const google::protobuf::Message*>(message);
  if (status.ok() || status.error_code() != grpc::StatusCode::INTERNAL || full == nullptr) return status;
  return Explain(kept, *full->GetDescriptor());
}

}  // namespace kluis::wire
