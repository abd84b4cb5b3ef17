# CMake script helpers of the tests that build a project and run its ctest
# (tests/consumer, tests/gtest_discover): include() it from a `cmake -P` script.

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

# Runs a command that must fail; LAST_OUTPUT gets its stdout and stderr.
function(run_failing)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc EQUAL 0)
    message(FATAL_ERROR "succeeded, expected a failure: ${ARGN}\n${out}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

function(expect_output binary want)
  run(${binary} run --format json)
  string(FIND "${LAST_OUTPUT}" "${want}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${binary}: output lacks ${want}:\n${LAST_OUTPUT}")
  endif()
endfunction()

function(expect_contains text want what)
  string(FIND "${text}" "${want}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${what}: lacks \"${want}\":\n${text}")
  endif()
endfunction()

# Fails unless the lists `got` and `want` hold the same elements, in any order.
function(expect_same got want what)
  list(SORT got)
  list(SORT want)
  if(NOT got STREQUAL want)
    string(REPLACE ";" "\n  " got "${got}")
    string(REPLACE ";" "\n  " want "${want}")
    message(FATAL_ERROR "${what}:\n got\n  ${got}\n want\n  ${want}")
  endif()
endfunction()

# Sets `out` to the names of the tests in ctest output lines "  12 - Name (Status)" with
# the given status ("The following tests FAILED/did not run:"), or in `ctest -N` lines
# "  Test  #12: Name" when status is "-N".
function(ctest_names out text status)
  string(REPLACE "\n" ";" lines "${text}")
  set(names "")
  foreach(line IN LISTS lines)
    if(status STREQUAL "-N" AND line MATCHES "^ *Test +#[0-9]+: (.*)$")
      list(APPEND names "${CMAKE_MATCH_1}")
    elseif(line MATCHES "^[ \t]*[0-9]+ - (.*) \\(${status}\\)$")
      list(APPEND names "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(${out} "${names}" PARENT_SCOPE)
endfunction()
