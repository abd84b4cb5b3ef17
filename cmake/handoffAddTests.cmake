# Run by the build after each link of a target given to handoff_discover_tests
# (handoffDiscoverTests.cmake):
#   cmake -D HANDOFF_PARAMS_FILE=<file> -P handoffAddTests.cmake
# Runs `<binary> list --format json` and writes the CTest file that adds one CTest test
# per handoff test (or per listed subtest with SUBTESTS). Any problem fails the build
# with a message naming the target.

cmake_minimum_required(VERSION 3.25)

if(NOT HANDOFF_PARAMS_FILE)
  message(FATAL_ERROR "handoffAddTests.cmake: run by handoff_discover_tests; "
    "pass -D HANDOFF_PARAMS_FILE=<file>")
endif()
include("${HANDOFF_PARAMS_FILE}")

# Stops the build with `text`, naming the target.
function(_handoff_fail text)
  message(FATAL_ERROR "handoff_discover_tests(${HANDOFF_TARGET}): ${text}")
endfunction()

# _handoff_bracket, shared with the function that wrote the parameters.
include("${CMAKE_CURRENT_LIST_DIR}/handoffDiscoverTests.cmake")

# Sets `out` to `value` as a CMake argument: as it is when it is plainly a word, else a
# bracket argument.
function(_handoff_arg out value)
  if(value MATCHES "^[-./:a-zA-Z0-9_]+$")
    set(${out} "${value}" PARENT_SCOPE)
  else()
    _handoff_bracket(quoted "${value}")
    set(${out} "${quoted}" PARENT_SCOPE)
  endif()
endfunction()

# Sets `out` to `value` as a CMake quoted argument, newlines written "\n" (where a
# regex matches newlines, it reads better than a bracket argument over several lines).
function(_handoff_quote out value)
  string(REPLACE "\\" "\\\\" value "${value}")
  string(REPLACE "\"" "\\\"" value "${value}")
  string(REPLACE "$" "\\$" value "${value}")
  string(REPLACE "\n" "\\n" value "${value}")
  set(${out} "\"${value}\"" PARENT_SCOPE)
endfunction()

# Sets `out` to `value` with RE2's metacharacters escaped (RE2 takes a backslash before
# any ASCII punctuation; bytes of UTF-8 characters are left alone).
function(_handoff_re2_quote out value)
  string(REPLACE "\\" "\\\\" value "${value}")
  foreach(c IN ITEMS "." "+" "*" "?" "(" ")" "|" "{" "}" "^" "$")
    string(REPLACE "${c}" "\\${c}" value "${value}")
  endforeach()
  # Not in the list above: an unbalanced bracket merges the elements of a CMake list.
  string(REPLACE "[" "\\[" value "${value}")
  string(REPLACE "]" "\\]" value "${value}")
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# Sets `out` to `value` escaped for a CMake regular expression (CTest's
# SKIP_REGULAR_EXPRESSION, a list: ';' becomes '.', which matches it).
function(_handoff_cmake_re_quote out value)
  string(REPLACE "\\" "\\\\" value "${value}")
  foreach(c IN ITEMS "." "+" "*" "?" "(" ")" "|" "^" "$")
    string(REPLACE "${c}" "\\${c}" value "${value}")
  endforeach()
  string(REPLACE "[" "\\[" value "${value}")
  string(REPLACE "]" "\\]" value "${value}")
  string(REPLACE ";" "." value "${value}")
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# Sets `out` to `value` as the inside of a JSON string, as the JSON reporter writes it
# (like Go's, with <, > and & escaped; control characters are not expected in names).
function(_handoff_json_quote out value)
  string(REPLACE "\\" "\\\\" value "${value}")
  string(REPLACE "\"" "\\\"" value "${value}")
  string(REPLACE "<" "\\u003c" value "${value}")
  string(REPLACE ">" "\\u003e" value "${value}")
  string(REPLACE "&" "\\u0026" value "${value}")
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# Sets `out` to the value at the JSON path ARGN of `json`, or fails naming `what`.
function(_handoff_json out json what)
  string(JSON value ERROR_VARIABLE error GET "${json}" ${ARGN})
  if(error)
    _handoff_fail("unexpected `list --format json` output (${what}): ${error}")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# Sets `out` to the length of the JSON array at the path ARGN of `json`.
function(_handoff_json_length out json what)
  string(JSON value ERROR_VARIABLE error LENGTH "${json}" ${ARGN})
  if(error)
    _handoff_fail("unexpected `list --format json` output (${what}): ${error}")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# Sets `out` to the arguments in HANDOFF_<list>_0..N as CMake arguments, each after a
# space (read one by one: an element may hold ';' or brackets).
function(_handoff_args out list)
  set(text "")
  if(HANDOFF_${list}_COUNT GREATER 0)
    math(EXPR last "${HANDOFF_${list}_COUNT} - 1")
    foreach(i RANGE ${last})
      _handoff_arg(quoted "${HANDOFF_${list}_${i}}")
      string(APPEND text " ${quoted}")
    endforeach()
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Appends the CTest lines of one test to `script` (in the caller) and its name to
# `names`: `name` is the CTest name, `run` the --run pattern, `labels` the LABELS list,
# `timeout` seconds or empty, `skip_re` the CMake regex of the output of a skipped test.
function(_handoff_add name suite_re run labels timeout skip_re)
  _handoff_arg(quoted_name "${name}")
  _handoff_arg(quoted_suite "${suite_re}")
  _handoff_arg(quoted_run "${run}")
  string(APPEND script "add_test(${quoted_name}${emulator} ${executable}"
    " run --suite ${quoted_suite} --run ${quoted_run}${extra_args})\n")

  _handoff_quote(quoted_skip "${skip_re}")
  string(APPEND script "set_tests_properties(${quoted_name} PROPERTIES\n"
    "  WORKING_DIRECTORY ${working_directory}\n"
    "  SKIP_REGULAR_EXPRESSION ${quoted_skip}\n"
    "  FAIL_REGULAR_EXPRESSION [[handoff: warning: no tests to run]]")
  if(NOT labels STREQUAL "")
    _handoff_arg(quoted_labels "${labels}")
    string(APPEND script "\n  LABELS ${quoted_labels}")
  endif()
  if(NOT timeout STREQUAL "")
    string(APPEND script "\n  TIMEOUT ${timeout}")
  endif()
  if(NOT properties STREQUAL "")
    string(APPEND script "\n ${properties}")
  endif()
  string(APPEND script ")\n")
  set(script "${script}" PARENT_SCOPE)

  # The list in the CTest file: ';' in a name is escaped.
  string(REPLACE ";" "\\;" listed "${name}")
  set(names "${names};${listed}" PARENT_SCOPE)
endfunction()

_handoff_args(emulator EMULATOR)
_handoff_args(extra_args EXTRA_ARGS)
_handoff_args(properties PROPERTIES)
_handoff_arg(executable "${HANDOFF_EXECUTABLE}")
_handoff_arg(working_directory "${HANDOFF_WORKING_DIRECTORY}")
set(emulator_command "")
if(HANDOFF_EMULATOR_COUNT GREATER 0)
  math(EXPR last "${HANDOFF_EMULATOR_COUNT} - 1")
  foreach(i RANGE ${last})
    list(APPEND emulator_command "${HANDOFF_EMULATOR_${i}}")
  endforeach()
endif()

# A failed discovery leaves no stale tests behind.
file(REMOVE "${HANDOFF_CTEST_FILE}")

if(NOT EXISTS "${HANDOFF_EXECUTABLE}")
  _handoff_fail("no test binary at ${HANDOFF_EXECUTABLE}")
endif()
execute_process(
  COMMAND ${emulator_command} "${HANDOFF_EXECUTABLE}" list --format json
  WORKING_DIRECTORY "${HANDOFF_WORKING_DIRECTORY}"
  TIMEOUT ${HANDOFF_DISCOVERY_TIMEOUT}
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors)
set(command_shown "`${HANDOFF_EXECUTABLE} list --format json`")
if(NOT result STREQUAL "0")
  set(output_shown "${output}${errors}")
  if(output_shown STREQUAL "")
    set(output_shown "(none)")
  endif()
  string(REPLACE "\n" "\n    " output_shown "${output_shown}")
  string(CONCAT message "${command_shown} failed (${result}) in "
    "${HANDOFF_WORKING_DIRECTORY}; its output:\n    ${output_shown}")
  _handoff_fail("${message}")
endif()
string(JSON type ERROR_VARIABLE error TYPE "${output}" suites)
if(error OR NOT type STREQUAL "ARRAY")
  string(SUBSTRING "${output}" 0 2000 output_shown)
  string(CONCAT message "${command_shown} did not print {\"suites\": [...]}: ${error}\n"
    "Its output:\n${output_shown}")
  _handoff_fail("${message}")
endif()

# Each suite's and each test's object is taken out once and read from there: string(JSON)
# parses its whole input on every call.
set(script "# Written by handoff_discover_tests(${HANDOFF_TARGET}): do not edit.\n")
set(names "")
_handoff_json_length(suite_count "${output}" "suites" suites)
if(suite_count GREATER 0)
  math(EXPR last_suite "${suite_count} - 1")
  foreach(i RANGE ${last_suite})
    _handoff_json(suite "${output}" "suite ${i}" suites ${i})
    _handoff_json(suite_name "${suite}" "suite ${i}" name)
    _handoff_json(suite_timeout "${suite}" "suite ${suite_name}" timeout_ms)
    _handoff_json(attempts "${suite}" "suite ${suite_name}" max_attempts)
    _handoff_re2_quote(suite_re "${suite_name}")
    set(suite_re "^${suite_re}$")
    _handoff_cmake_re_quote(suite_cmake_re "${suite_name}")
    _handoff_json_quote(suite_json "${suite_name}")
    _handoff_cmake_re_quote(suite_json_re "${suite_json}")

    _handoff_json_length(test_count "${suite}" "suite ${suite_name}" test_details)
    if(test_count EQUAL 0)
      continue()
    endif()
    math(EXPR last_test "${test_count} - 1")
    foreach(j RANGE ${last_test})
      _handoff_json(test "${suite}" "suite ${suite_name}, test ${j}" test_details ${j})
      _handoff_json(test_name "${test}" "suite ${suite_name}, test ${j}" name)
      set(what "test ${suite_name}/${test_name}")
      _handoff_json(test_timeout "${test}" "${what}" timeout_ms)

      # LABELS: "key=value" each.
      set(labels "")
      _handoff_json(label_object "${test}" "${what}" labels)
      string(JSON label_count LENGTH "${label_object}")
      if(label_count GREATER 0)
        math(EXPR last_label "${label_count} - 1")
        foreach(k RANGE ${last_label})
          string(JSON key MEMBER "${label_object}" ${k})
          string(JSON value GET "${label_object}" "${key}")
          string(REPLACE ";" "\\;" label "${key}=${value}")
          list(APPEND labels "${label}")
        endforeach()
      endif()

      # TIMEOUT: a backstop behind handoff's own timeout, which asks the test to stop and
      # kills it 5 s later (--grace), on each attempt; setup and teardown come on top.
      set(timeout "")
      if(NOT test_timeout EQUAL 0)
        set(timeout_ms ${test_timeout})
      else()
        set(timeout_ms ${suite_timeout})
      endif()
      if(timeout_ms GREATER 0)
        math(EXPR timeout "${attempts} * ((${timeout_ms} + 999) / 1000 + 5) + 60")
      endif()

      _handoff_re2_quote(test_re "${test_name}")
      _handoff_cmake_re_quote(test_cmake_re "${test_name}")
      _handoff_json_quote(test_json "${test_name}")
      _handoff_cmake_re_quote(test_json_re "${test_json}")
      # Skipped: the text reporter's line of the test, "  SKIP  Suite/Test (0ms)" (indented
      # two more per subtest level, colour codes allowed around the word), then the
      # summary of a run that passed, "PASS  1 test in ..."; or the JSON reporter's skip
      # action, then the suite's pass or skip. (CTest takes a match for a skip even when
      # the exit code says failed, as when a failed setup skips the suite's tests.)
      set(text_passed "\n[^ \n]*PASS[^ \n]*  [^ \n]*[0-9]+ tests? in ")
      set(json_passed "\"Action\":\"(pass|skip)\",\"Package\":\"${suite_json_re}\",\"Elapsed\"")
      string(CONCAT skip_test
        "(^|\n)  [^ \n]*SKIP[^ \n]*  ${suite_cmake_re}/${test_cmake_re} \\(.*${text_passed}|"
        "\"Action\":\"skip\",\"Package\":\"${suite_json_re}\",\"Test\":\"${test_json_re}\".*"
        "${json_passed}")
      set(name "${HANDOFF_PREFIX}${suite_name}.${test_name}")

      set(subtest_count 0)
      if(HANDOFF_SUBTESTS)
        _handoff_json_length(subtest_count "${test}" "${what}" subtests)
      endif()
      if(subtest_count EQUAL 0)
        _handoff_add("${name}${HANDOFF_SUFFIX}" "${suite_re}" "^${test_re}$" "${labels}"
          "${timeout}" "${skip_test}")
        continue()
      endif()
      math(EXPR last_subtest "${subtest_count} - 1")
      foreach(k RANGE ${last_subtest})
        _handoff_json(sub_name "${test}" "${what}" subtests ${k})
        _handoff_re2_quote(sub_re "${sub_name}")
        _handoff_cmake_re_quote(sub_cmake_re "${sub_name}")
        _handoff_json_quote(sub_json "${sub_name}")
        _handoff_cmake_re_quote(sub_json_re "${sub_json}")
        # Skipped when the subtest skips or its parent skips before running it.
        string(CONCAT skip_sub "${skip_test}|"
          "(^|\n)    [^ \n]*SKIP[^ \n]*  ${suite_cmake_re}/${test_cmake_re}/${sub_cmake_re} \\(.*"
          "${text_passed}|"
          "\"Action\":\"skip\",\"Package\":\"${suite_json_re}\","
          "\"Test\":\"${test_json_re}/${sub_json_re}\".*${json_passed}")
        _handoff_add("${name}/${sub_name}${HANDOFF_SUFFIX}" "${suite_re}"
          "^${test_re}$/^${sub_re}$" "${labels}" "${timeout}" "${skip_sub}")
      endforeach()
    endforeach()
  endforeach()
endif()

if(NOT names STREQUAL "")
  string(SUBSTRING "${names}" 1 -1 names)
endif()
_handoff_bracket(quoted_names "${names}")
string(APPEND script "set(${HANDOFF_TEST_LIST} ${quoted_names})\n")
file(WRITE "${HANDOFF_CTEST_FILE}" "${script}")
