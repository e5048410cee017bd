// SPDX-License-Identifier: Apache-2.0
// The Arrow Flight gRPC service on Debian's gRPC, for servers that need more control over
// an upload than arrow::flight::FlightServerBase gives: the raw messages of a DoPut
// (IPC read options and memory bounds chosen by the server), cancelling an idle stream,
// and typed refusals.

#pragma once

#include <memory>
#include <string>

#include <arrow/ipc/message.h>
#include <arrow/result.h>
#include <arrow/status.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/support/sync_stream.h>

#include "otlp_arrow/flight_wire/flight_wire.pb.h"

namespace otlp_arrow::transport::internal {

namespace wire = ::otlp_arrow::flight_wire;

/// \brief `arrow.flight.protocol.FlightService` with the methods a span receiver serves.
/// Methods not overridden answer UNIMPLEMENTED; DoExchange, DoAction and ListActions are
/// not registered at all (gRPC answers UNIMPLEMENTED for them).
///
/// Written out rather than generated: the messages are compiled under another package
/// (cmake/FlightWireProto.cmake), so generated service code would register the methods
/// under that package's path instead of Arrow's.
class FlightServiceBase : public grpc::Service {
 public:
  FlightServiceBase();

  virtual grpc::Status Handshake(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<wire::HandshakeResponse, wire::HandshakeRequest>* stream);
  virtual grpc::Status ListFlights(grpc::ServerContext* context,
                                   const wire::Criteria* criteria,
                                   grpc::ServerWriter<wire::FlightInfo>* writer);
  virtual grpc::Status GetFlightInfo(grpc::ServerContext* context,
                                     const wire::FlightDescriptor* descriptor,
                                     wire::FlightInfo* info);
  virtual grpc::Status GetSchema(grpc::ServerContext* context,
                                 const wire::FlightDescriptor* descriptor,
                                 wire::SchemaResult* schema);
  virtual grpc::Status DoGet(grpc::ServerContext* context, const wire::Ticket* ticket,
                             grpc::ServerWriter<wire::FlightData>* writer);
  virtual grpc::Status DoPut(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<wire::PutResult, wire::FlightData>* stream);
};

/// \brief The gRPC status for `status`, with the trailers Arrow Flight clients read to
/// rebuild the exact arrow::Status (`x-arrow-status`, `x-arrow-status-message-bin`) and
/// a FlightStatusDetail's extra_info as `grpc-status-details-bin`. The gRPC code follows
/// the FlightStatusDetail if there is one other than Failed, else the Arrow status code
/// (Invalid: INVALID_ARGUMENT, CapacityError: RESOURCE_EXHAUSTED, KeyError: NOT_FOUND).
grpc::Status ToGrpcStatus(const arrow::Status& status, grpc::ServerContext* context);

/// \brief An IPC message of a FlightData: its header (a flatbuffer Message) and body.
/// The body is moved out of `data` without a copy.
arrow::Result<std::unique_ptr<arrow::ipc::Message>> ToIpcMessage(wire::FlightData* data);

/// \brief Serializes an Arrow Flight type (FlightInfo, SchemaResult, ...) with Arrow's
/// own serializer and parses it into the wire message.
template <typename ArrowType, typename WireMessage>
arrow::Status ToWire(const ArrowType& value, WireMessage* out) {
  ARROW_ASSIGN_OR_RAISE(std::string bytes, value.SerializeToString());
  if (!out->ParseFromString(bytes)) {
    return arrow::Status::SerializationError("cannot re-encode a Flight message");
  }
  return arrow::Status::OK();
}

}  // namespace otlp_arrow::transport::internal
