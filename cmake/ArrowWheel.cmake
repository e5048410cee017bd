# Imports the Arrow C++ libraries unpacked from the pinned pyarrow wheel by scripts/setup.sh.
# The wheel ships no ArrowConfig.cmake, so we declare IMPORTED targets for the versioned files.
set(OTLP_ARROW_ARROW_PREFIX "${PROJECT_SOURCE_DIR}/.deps/arrow"
    CACHE PATH "Prefix holding include/ and lib/ of Arrow C++ (from the pyarrow wheel)")
set(OTLP_ARROW_ARROW_SO_VERSION "2300")
set(OTLP_ARROW_ARROW_LIB_DIR "${OTLP_ARROW_ARROW_PREFIX}/lib")
set(_arrow_include "${OTLP_ARROW_ARROW_PREFIX}/include")

if(NOT EXISTS "${_arrow_include}/arrow/api.h")
  message(FATAL_ERROR "Arrow C++ not found in ${OTLP_ARROW_ARROW_PREFIX}; run scripts/setup.sh")
endif()

function(_otlp_arrow_import target libname)
  set(_file "${OTLP_ARROW_ARROW_LIB_DIR}/lib${libname}.so.${OTLP_ARROW_ARROW_SO_VERSION}")
  if(NOT EXISTS "${_file}")
    message(FATAL_ERROR "missing ${_file}; run scripts/setup.sh")
  endif()
  add_library(${target} SHARED IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${_file}"
    IMPORTED_SONAME "lib${libname}.so.${OTLP_ARROW_ARROW_SO_VERSION}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_arrow_include}"
    INTERFACE_INCLUDE_DIRECTORIES "${_arrow_include}")
  if(ARGN)
    set_target_properties(${target} PROPERTIES INTERFACE_LINK_LIBRARIES "${ARGN}")
  endif()
endfunction()

_otlp_arrow_import(Arrow::arrow arrow)
_otlp_arrow_import(Arrow::flight arrow_flight Arrow::arrow)
_otlp_arrow_import(Arrow::parquet parquet Arrow::arrow)

# The programs find the libraries through RPATH, without LD_LIBRARY_PATH. The build tree and the
# install tree both point at the unpacked prefix; the Docker image installs them in a lib dir.
set(CMAKE_BUILD_RPATH "${OTLP_ARROW_ARROW_LIB_DIR}")
set(CMAKE_INSTALL_RPATH "${OTLP_ARROW_ARROW_LIB_DIR};$ORIGIN/../lib")
# The wheel's libraries carry RUNPATH=$ORIGIN themselves and find one another.
