# Compiles the messages of the vendored Arrow Flight protocol (third_party/arrow-flight) with
# Debian's protoc into the static library otlp_arrow_flight_wire, for the receiver's own Flight
# service. The copy compiled here has the package otlp_arrow.flight_wire: libarrow_flight
# exports its generated classes in arrow::flight::protocol and its descriptor table under the
# file's name (descriptor_table_Flight_2eproto), and a second definition of either in one process
# would clash, so both the package and the file name differ. Encoded messages carry neither.
set(_flight_proto "${PROJECT_SOURCE_DIR}/third_party/arrow-flight/Flight.proto")
set(_flight_out "${PROJECT_BINARY_DIR}/generated/otlp_arrow/flight_wire")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_flight_proto}")
file(READ "${_flight_proto}" _flight_text)
string(REPLACE "package arrow.flight.protocol;" "package otlp_arrow.flight_wire;"
       _flight_text "${_flight_text}")
if(NOT _flight_text MATCHES "package otlp_arrow.flight_wire;")
  message(FATAL_ERROR "${_flight_proto}: no 'package arrow.flight.protocol;' line to rename")
endif()
# The import of descriptor.proto is unused by these messages; protoc warns about it.
file(CONFIGURE OUTPUT "${_flight_out}/flight_wire.proto" CONTENT "${_flight_text}" @ONLY)

add_custom_command(
  OUTPUT "${_flight_out}/flight_wire.pb.cc" "${_flight_out}/flight_wire.pb.h"
  COMMAND protobuf::protoc --proto_path=${_flight_out} --cpp_out=${_flight_out}
          ${_flight_out}/flight_wire.proto
  DEPENDS "${_flight_out}/flight_wire.proto" protobuf::protoc
  COMMENT "protoc Flight.proto (as otlp_arrow.flight_wire)"
  VERBATIM)

add_library(otlp_arrow_flight_wire STATIC "${_flight_out}/flight_wire.pb.cc")
target_include_directories(otlp_arrow_flight_wire SYSTEM PUBLIC "${PROJECT_BINARY_DIR}/generated")
target_link_libraries(otlp_arrow_flight_wire PUBLIC protobuf::libprotobuf)
set_target_properties(otlp_arrow_flight_wire PROPERTIES POSITION_INDEPENDENT_CODE ON)
