# Shared build helpers: warnings for our own targets and one Catch2 executable per module.

function(crucible_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
                                           -Wno-missing-field-initializers)
endfunction()

# crucible_add_test_suite(<name> SOURCES <files...> LIBS <targets...> [LABELS <labels...>])
# builds tests/<module> as one executable and registers each TEST_CASE with CTest.
function(crucible_add_test_suite name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE crucible_catch_main ${ARG_LIBS})
  crucible_set_warnings(${name})
  # --warn NoTests: a registered name that matches no test case (CTest splits names at
  # ';') fails instead of passing with nothing run.
  catch_discover_tests(${name}
    EXTRA_ARGS --warn NoTests
    WORKING_DIRECTORY "${CMAKE_BINARY_DIR}"
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 600 SKIP_RETURN_CODE 77
    DISCOVERY_TIMEOUT 30)
endfunction()
