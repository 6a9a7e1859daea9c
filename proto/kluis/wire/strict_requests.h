// Requests that say which field was wrong. protobuf refuses a message whose string field is not
// UTF-8, and gRPC then answers INTERNAL with an empty message before any handler runs. This header
// replaces gRPC's protobuf serialization traits with ones that answer INVALID_ARGUMENT naming the
// field ("field reason is not valid UTF-8"), with the reason INPUT_INVALID in the error's details
// (common.proto). Serializing and a successful parse are gRPC's own code, unchanged.
//
// gRPC 1.51's generated unary handlers and stubs (de)serialize every message as
// grpc::protobuf::MessageLite, so one specialization for MessageLite covers them; a streaming
// method's request is parsed as its own type and is listed below. The generated service headers
// include this one (grpc_cpp_plugin's additional_header_includes, proto/CMakeLists.txt), so every
// translation unit that could instantiate the traits sees these specializations first.
// tests/integration/hostile_test.cc walks every method of every service and checks the answer.
#ifndef KLUIS_WIRE_STRICT_REQUESTS_H_
#define KLUIS_WIRE_STRICT_REQUESTS_H_

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "kluis/v1/audit.pb.h"

namespace kluis::wire {

// gRPC's parse of `buffer` into `message`; when protobuf refuses it, INVALID_ARGUMENT naming the
// first string field (at any depth) that is not UTF-8, or saying the bytes are not that message.
grpc::Status DeserializeNamingField(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* message);

class StrictTraits {
 public:
  static grpc::Status Serialize(const grpc::protobuf::MessageLite& message, grpc::ByteBuffer* buffer,
                                bool* own_buffer) {
    return grpc::GenericSerialize<grpc::ProtoBufferWriter, grpc::protobuf::MessageLite>(message, buffer,
                                                                                       own_buffer);
  }
  static grpc::Status Deserialize(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* message) {
    return DeserializeNamingField(buffer, message);
  }
};

}  // namespace kluis::wire

namespace grpc {

template <>
class SerializationTraits<protobuf::MessageLite, void> : public kluis::wire::StrictTraits {};
// The requests of streaming methods.
template <>
class SerializationTraits<kluis::v1::ExportAuditRequest, void> : public kluis::wire::StrictTraits {};

}  // namespace grpc

#endif  // KLUIS_WIRE_STRICT_REQUESTS_H_
