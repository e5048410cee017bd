# Compiles the vendored OTLP protos (third_party/opentelemetry-proto, upstream packages and field
# numbers) and OTAP's arrow_service.proto (third_party/otel-arrow) with Debian's protoc and gRPC
# plugin into the static library otlp_arrow_proto.
find_package(Protobuf REQUIRED)
find_program(OTLP_ARROW_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)

set(_otlp_root "${PROJECT_SOURCE_DIR}/third_party/opentelemetry-proto")
set(_otap_root "${PROJECT_SOURCE_DIR}/third_party/otel-arrow")
set(_proto_out "${PROJECT_BINARY_DIR}/generated")
set(_protos
  opentelemetry/proto/common/v1/common.proto
  opentelemetry/proto/resource/v1/resource.proto
  opentelemetry/proto/trace/v1/trace.proto
  opentelemetry/proto/collector/trace/v1/trace_service.proto
  opentelemetry/proto/experimental/arrow/v1/arrow_service.proto)

set(_srcs)
foreach(_p IN LISTS _protos)
  string(REGEX REPLACE "\\.proto$" "" _stem "${_p}")
  set(_outs "${_proto_out}/${_stem}.pb.cc" "${_proto_out}/${_stem}.pb.h")
  set(_proto_root "${_otlp_root}")
  if(_p MATCHES "experimental/arrow/")
    set(_proto_root "${_otap_root}")
  endif()
  set(_plugin_args)
  if(_p MATCHES "collector/|experimental/arrow/")
    list(APPEND _outs "${_proto_out}/${_stem}.grpc.pb.cc" "${_proto_out}/${_stem}.grpc.pb.h")
    set(_plugin_args --grpc_out=${_proto_out}
                     --plugin=protoc-gen-grpc=${OTLP_ARROW_GRPC_CPP_PLUGIN})
  endif()
  add_custom_command(
    OUTPUT ${_outs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_proto_out}
    COMMAND protobuf::protoc --proto_path=${_proto_root} --cpp_out=${_proto_out}
            ${_plugin_args} ${_proto_root}/${_p}
    DEPENDS ${_proto_root}/${_p} protobuf::protoc
    COMMENT "protoc ${_p}"
    VERBATIM)
  foreach(_o IN LISTS _outs)
    if(_o MATCHES "\\.cc$")
      list(APPEND _srcs "${_o}")
    endif()
  endforeach()
endforeach()

add_library(otlp_arrow_proto STATIC ${_srcs})
target_include_directories(otlp_arrow_proto SYSTEM PUBLIC ${_proto_out})
target_link_libraries(otlp_arrow_proto PUBLIC protobuf::libprotobuf PkgConfig::GRPCPP)
set_target_properties(otlp_arrow_proto PROPERTIES POSITION_INDEPENDENT_CODE ON)
