// SPDX-License-Identifier: Apache-2.0

#include "flight_service_internal.h"

#include <utility>

#include <arrow/buffer.h>
#include <arrow/flight/types.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/support/method_handler.h>

namespace otlp_arrow::transport::internal {

namespace {

namespace flight = arrow::flight;

using grpc::internal::RpcMethod;
using grpc::internal::RpcServiceMethod;

// Arrow's method paths: the package is Arrow's, whatever ours is compiled as.
#define OTLP_ARROW_FLIGHT_METHOD(name) "/arrow.flight.protocol.FlightService/" #name

grpc::Status Unimplemented(const char* method) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      std::string(method) + " is not served here");
}

grpc::StatusCode GrpcCode(const arrow::Status& status) {
  if (const auto detail = flight::FlightStatusDetail::UnwrapStatus(status)) {
    switch (detail->code()) {
      case flight::FlightStatusCode::Internal:
        return grpc::StatusCode::INTERNAL;
      case flight::FlightStatusCode::TimedOut:
        return grpc::StatusCode::DEADLINE_EXCEEDED;
      case flight::FlightStatusCode::Cancelled:
        return grpc::StatusCode::CANCELLED;
      case flight::FlightStatusCode::Unauthenticated:
        return grpc::StatusCode::UNAUTHENTICATED;
      case flight::FlightStatusCode::Unauthorized:
        return grpc::StatusCode::PERMISSION_DENIED;
      case flight::FlightStatusCode::Unavailable:
        return grpc::StatusCode::UNAVAILABLE;
      case flight::FlightStatusCode::Failed:
        break;  // a refusal whose code says more than "failed": see below
    }
  }
  switch (status.code()) {
    case arrow::StatusCode::Invalid:
    case arrow::StatusCode::TypeError:
    case arrow::StatusCode::IndexError:
    case arrow::StatusCode::SerializationError:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case arrow::StatusCode::KeyError:
      return grpc::StatusCode::NOT_FOUND;
    case arrow::StatusCode::AlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case arrow::StatusCode::NotImplemented:
      return grpc::StatusCode::UNIMPLEMENTED;
    case arrow::StatusCode::Cancelled:
      return grpc::StatusCode::CANCELLED;
    case arrow::StatusCode::OutOfMemory:
    case arrow::StatusCode::CapacityError:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    default:
      return grpc::StatusCode::UNKNOWN;
  }
}

}  // namespace

FlightServiceBase::FlightServiceBase() {
  using Self = FlightServiceBase;
  AddMethod(new RpcServiceMethod(
      OTLP_ARROW_FLIGHT_METHOD(Handshake), RpcMethod::BIDI_STREAMING,
      new grpc::internal::BidiStreamingHandler<Self, wire::HandshakeRequest,
                                               wire::HandshakeResponse>(
          [](Self* self, grpc::ServerContext* context, auto* stream) {
            return self->Handshake(context, stream);
          },
          this)));
  AddMethod(new RpcServiceMethod(
      OTLP_ARROW_FLIGHT_METHOD(ListFlights), RpcMethod::SERVER_STREAMING,
      new grpc::internal::ServerStreamingHandler<Self, wire::Criteria, wire::FlightInfo>(
          [](Self* self, grpc::ServerContext* context, const wire::Criteria* criteria,
             grpc::ServerWriter<wire::FlightInfo>* writer) {
            return self->ListFlights(context, criteria, writer);
          },
          this)));
  AddMethod(new RpcServiceMethod(
      OTLP_ARROW_FLIGHT_METHOD(GetFlightInfo), RpcMethod::NORMAL_RPC,
      new grpc::internal::RpcMethodHandler<Self, wire::FlightDescriptor, wire::FlightInfo,
                                           google::protobuf::MessageLite,
                                           google::protobuf::MessageLite>(
          [](Self* self, grpc::ServerContext* context,
             const wire::FlightDescriptor* descriptor, wire::FlightInfo* info) {
            return self->GetFlightInfo(context, descriptor, info);
          },
          this)));
  AddMethod(new RpcServiceMethod(
      OTLP_ARROW_FLIGHT_METHOD(GetSchema), RpcMethod::NORMAL_RPC,
      new grpc::internal::RpcMethodHandler<
          Self, wire::FlightDescriptor, wire::SchemaResult, google::protobuf::MessageLite,
          google::protobuf::MessageLite>(
          [](Self* self, grpc::ServerContext* context,
             const wire::FlightDescriptor* descriptor, wire::SchemaResult* schema) {
            return self->GetSchema(context, descriptor, schema);
          },
          this)));
  AddMethod(new RpcServiceMethod(
      OTLP_ARROW_FLIGHT_METHOD(DoGet), RpcMethod::SERVER_STREAMING,
      new grpc::internal::ServerStreamingHandler<Self, wire::Ticket, wire::FlightData>(
          [](Self* self, grpc::ServerContext* context, const wire::Ticket* ticket,
             grpc::ServerWriter<wire::FlightData>* writer) {
            return self->DoGet(context, ticket, writer);
          },
          this)));
  AddMethod(new RpcServiceMethod(
      OTLP_ARROW_FLIGHT_METHOD(DoPut), RpcMethod::BIDI_STREAMING,
      new grpc::internal::BidiStreamingHandler<Self, wire::FlightData, wire::PutResult>(
          [](Self* self, grpc::ServerContext* context, auto* stream) {
            return self->DoPut(context, stream);
          },
          this)));
}

grpc::Status FlightServiceBase::Handshake(
    grpc::ServerContext*,
    grpc::ServerReaderWriter<wire::HandshakeResponse, wire::HandshakeRequest>*) {
  return Unimplemented("Handshake");
}
grpc::Status FlightServiceBase::ListFlights(grpc::ServerContext*, const wire::Criteria*,
                                            grpc::ServerWriter<wire::FlightInfo>*) {
  return Unimplemented("ListFlights");
}
grpc::Status FlightServiceBase::GetFlightInfo(grpc::ServerContext*,
                                              const wire::FlightDescriptor*,
                                              wire::FlightInfo*) {
  return Unimplemented("GetFlightInfo");
}
grpc::Status FlightServiceBase::GetSchema(grpc::ServerContext*,
                                          const wire::FlightDescriptor*,
                                          wire::SchemaResult*) {
  return Unimplemented("GetSchema");
}
grpc::Status FlightServiceBase::DoGet(grpc::ServerContext*, const wire::Ticket*,
                                      grpc::ServerWriter<wire::FlightData>*) {
  return Unimplemented("DoGet");
}
grpc::Status FlightServiceBase::DoPut(
    grpc::ServerContext*, grpc::ServerReaderWriter<wire::PutResult, wire::FlightData>*) {
  return Unimplemented("DoPut");
}

grpc::Status ToGrpcStatus(const arrow::Status& status, grpc::ServerContext* context) {
  if (status.ok()) return grpc::Status::OK;
  context->AddTrailingMetadata("x-arrow-status",
                               std::to_string(static_cast<int>(status.code())));
  context->AddTrailingMetadata("x-arrow-status-message-bin", status.message());
  std::string extra_info;
  if (const auto detail = flight::FlightStatusDetail::UnwrapStatus(status)) {
    extra_info = detail->extra_info();
  }
  // The third argument goes out as grpc-status-details-bin.
  return grpc::Status(GrpcCode(status), status.message(), std::move(extra_info));
}

arrow::Result<std::unique_ptr<arrow::ipc::Message>> ToIpcMessage(wire::FlightData* data) {
  auto metadata = arrow::Buffer::FromString(std::move(*data->mutable_data_header()));
  auto body = arrow::Buffer::FromString(std::move(*data->mutable_data_body()));
  return arrow::ipc::Message::Open(std::move(metadata), std::move(body));
}

}  // namespace otlp_arrow::transport::internal
