# Shared build helpers: warnings for our own targets and one Catch2 executable per module.

function(crucible_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
                                           -Wno-missing-field-initializers)
endfunction()

# crucible_add_test_suite(<name> SOURCES <files...> LIBS <targets...> [LABELS <label>]
#                         [TIMEOUT <seconds per test case, default 600>])
# builds tests/<module> as one executable and registers each TEST_CASE with CTest.
# One label: Catch2 2.13's catch_discover_tests passes PROPERTIES on as a flat list, so a
# second label would be read as a property name and TIMEOUT after it dropped (tests then ran
# under ctest's default timeout).
function(crucible_add_test_suite name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  list(LENGTH ARG_LABELS label_count)
  if(label_count GREATER 1)
    message(FATAL_ERROR "crucible_add_test_suite(${name}): one label, not \"${ARG_LABELS}\"")
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE crucible_catch_main ${ARG_LIBS})
  crucible_set_warnings(${name})
  # --warn NoTests: a registered name that matches no test case (CTest splits names at
  # ';') fails instead of passing with nothing run.
  catch_discover_tests(${name}
    EXTRA_ARGS --warn NoTests
    WORKING_DIRECTORY "${CMAKE_BINARY_DIR}"
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT} SKIP_RETURN_CODE 77)
endfunction()
