#[=======================================================================[.rst:
handoff_discover_tests
----------------------

Makes each test of a handoff test binary a CTest test, like CMake's
``gtest_discover_tests``. ``find_package(handoff)`` and ``add_subdirectory(handoff)``
both provide it.

::

  handoff_discover_tests(<target>
                         [EXTRA_ARGS arg...]
                         [TEST_PREFIX prefix]
                         [TEST_SUFFIX suffix]
                         [WORKING_DIRECTORY dir]
                         [PROPERTIES name value...]
                         [DISCOVERY_TIMEOUT seconds]
                         [SUBTESTS]
                         [TEST_LIST var])

After each build of ``<target>`` (an executable linking handoff) the build runs
``<target> list --format json`` and writes the CTest tests into a file that
``ctest`` reads (the directory's ``TEST_INCLUDE_FILES``): tests added or renamed in
the C++ are picked up by the next build, without re-running CMake. Call
``enable_testing()`` too.

Each handoff test becomes the CTest test ``<prefix><Suite>.<Test><suffix>`` running
``<target> run --suite '^<Suite>$' --run '^<Test>$' <EXTRA_ARGS>`` (names quoted for
RE2), with:

``LABELS``
  One ``key=value`` label per label of the test (its suite's and its own), so
  ``ctest -L team=payments`` runs a team's tests.
``SKIP_REGULAR_EXPRESSION``
  Matches the reporter's line of the skipped test followed by the summary of a run
  that passed (text or ``--format json`` output), so a test that calls ``t.Skip`` is
  reported ``***Skipped`` (not run). A run that failed stays a failure, also when its
  tests were skipped because the suite's setup failed.
``FAIL_REGULAR_EXPRESSION``
  ``handoff: warning: no tests to run``: a selection that matches nothing fails.
``TIMEOUT``
  When the test or its suite has a timeout: attempts x (timeout + 5 s to stop) + 60 s
  for setup and teardown, as a backstop behind handoff's own timeout.
``WORKING_DIRECTORY``
  ``WORKING_DIRECTORY``, by default the current binary directory.

Options:

``EXTRA_ARGS arg...``
  More arguments of ``run`` for every test (``--verbose``, ``--attempts 3``...).
``TEST_PREFIX prefix``, ``TEST_SUFFIX suffix``
  Around each CTest name: keeps names of several discoveries apart.
``WORKING_DIRECTORY dir``
  Where discovery and the tests run.
``PROPERTIES name value...``
  More CTest properties of every test; they win over the ones above.
``DISCOVERY_TIMEOUT seconds``
  How long ``list`` may take (default 10); a slower or failing discovery fails the
  build, naming the target.
``SUBTESTS``
  A test that lists its subtests (``handoff::Test::subtests``: a feature's assessments,
  a parametrized suite's tests) becomes one CTest test per subtest,
  ``<Suite>.<Test>/<Sub>``, running ``--run '^<Test>$/^<Sub>$'``. Tests that list none
  still become one CTest test.
``TEST_LIST var``
  Name of the variable, in the CTest scripts, holding the discovered test names
  (default ``<target>_TESTS``).

``EXTRA_ARGS``, ``WORKING_DIRECTORY`` and ``PROPERTIES`` may hold generator
expressions. Several calls for one target (different prefixes or options) are fine.
With a multi-config generator the tests run the configuration built last.
#]=======================================================================]

include_guard(GLOBAL)

# Sets `out` to `value` as a CMake bracket argument, whatever `value` holds.
function(_handoff_bracket out value)
  set(equals "=")
  while(value MATCHES "]${equals}]")
    string(APPEND equals "=")
  endwhile()
  # A bracket argument drops a newline right after its opening.
  if(value MATCHES "^\n")
    set(value "\n${value}")
  endif()
  set(${out} "[${equals}[${value}]${equals}]" PARENT_SCOPE)
endfunction()

function(handoff_discover_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "SUBTESTS"
    "TEST_PREFIX;TEST_SUFFIX;WORKING_DIRECTORY;DISCOVERY_TIMEOUT;TEST_LIST"
    "EXTRA_ARGS;PROPERTIES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR
      "handoff_discover_tests(${target}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "handoff_discover_tests(${target}): no such target")
  endif()
  get_property(type TARGET ${target} PROPERTY TYPE)
  get_property(imported TARGET ${target} PROPERTY IMPORTED)
  if(NOT type STREQUAL "EXECUTABLE" OR imported)
    message(FATAL_ERROR
      "handoff_discover_tests(${target}): needs an executable built by this project")
  endif()
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  if(NOT arg_TEST_LIST)
    set(arg_TEST_LIST ${target}_TESTS)
  endif()
  if(NOT DEFINED arg_DISCOVERY_TIMEOUT)
    set(arg_DISCOVERY_TIMEOUT 10)
  elseif(NOT arg_DISCOVERY_TIMEOUT MATCHES "^[0-9]+(\\.[0-9]+)?$")
    message(FATAL_ERROR "handoff_discover_tests(${target}): DISCOVERY_TIMEOUT must be "
      "a number of seconds, got \"${arg_DISCOVERY_TIMEOUT}\"")
  endif()

  # One set of files per call: a target may be discovered several times.
  get_property(counter TARGET ${target} PROPERTY HANDOFF_DISCOVERY_COUNTER)
  if(NOT counter)
    set(counter 0)
  endif()
  math(EXPR counter "${counter} + 1")
  set_property(TARGET ${target} PROPERTY HANDOFF_DISCOVERY_COUNTER ${counter})
  set(base "${CMAKE_CURRENT_BINARY_DIR}/${target}[${counter}]")
  set(include_file "${base}_include.cmake")
  set(tests_file "${base}_tests.cmake")
  # $<CONFIG> keeps multi-config generators from writing one file with two contents.
  set(params_file "${base}_params-$<CONFIG>.cmake")

  # The parameters reach the script in a file rather than -D flags: no shell or list
  # quoting to get wrong, whatever the arguments hold.
  get_property(emulator TARGET ${target} PROPERTY CROSSCOMPILING_EMULATOR)
  set(value_TARGET "${target}")
  set(value_EXECUTABLE "$<TARGET_FILE:${target}>")
  set(value_WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}")
  set(value_PREFIX "${arg_TEST_PREFIX}")
  set(value_SUFFIX "${arg_TEST_SUFFIX}")
  set(value_SUBTESTS "${arg_SUBTESTS}")
  set(value_TEST_LIST "${arg_TEST_LIST}")
  set(value_DISCOVERY_TIMEOUT "${arg_DISCOVERY_TIMEOUT}")
  set(value_CTEST_FILE "${tests_file}")
  set(params "# Written by handoff_discover_tests(${target}).\n")
  foreach(name IN ITEMS TARGET EXECUTABLE WORKING_DIRECTORY PREFIX SUFFIX SUBTESTS
                        TEST_LIST DISCOVERY_TIMEOUT CTEST_FILE)
    _handoff_bracket(quoted "${value_${name}}")
    string(APPEND params "set(HANDOFF_${name} ${quoted})\n")
  endforeach()
  # Lists one element per variable: an element may hold ';' or brackets.
  foreach(list IN ITEMS EMULATOR EXTRA_ARGS PROPERTIES)
    if(list STREQUAL "EMULATOR")
      set(items "${emulator}")
    else()
      set(items "${arg_${list}}")
    endif()
    set(count 0)
    foreach(item IN LISTS items)
      _handoff_bracket(quoted "${item}")
      string(APPEND params "set(HANDOFF_${list}_${count} ${quoted})\n")
      math(EXPR count "${count} + 1")
    endforeach()
    string(APPEND params "set(HANDOFF_${list}_COUNT ${count})\n")
  endforeach()
  file(GENERATE OUTPUT "${params_file}" CONTENT "${params}")

  # The hash puts the parameters in the command line, so that changing them re-runs
  # discovery (the build tools compare command lines, not the parameter file).
  string(MD5 params_hash "${params}")
  add_custom_command(
    TARGET ${target} POST_BUILD
    BYPRODUCTS "${tests_file}"
    COMMAND "${CMAKE_COMMAND}"
      -D "HANDOFF_PARAMS_FILE=${params_file}"
      -D "HANDOFF_PARAMS_HASH=${params_hash}"
      -P "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/handoffAddTests.cmake"
    COMMENT "Discovering the handoff tests of ${target}"
    VERBATIM)

  _handoff_bracket(quoted_tests_file "${tests_file}")
  # Until the first build, ctest shows (and fails) a placeholder test.
  set(not_built "${target}_NOT_BUILT")
  if(counter GREATER 1)
    string(APPEND not_built "_${counter}")
  endif()
  _handoff_bracket(quoted_not_built "${not_built}")
  file(WRITE "${include_file}"
    "if(EXISTS ${quoted_tests_file})\n"
    "  include(${quoted_tests_file})\n"
    "else()\n"
    "  add_test(${quoted_not_built} ${quoted_not_built})\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
