# Builds the consumer project against handoff both ways, runs its binaries, and runs the
# CTest tests its handoff_discover_tests calls make.
# Invoked by ctest: cmake -DSOURCE_DIR=... -DWORK_DIR=... -DHANDOFF_BUILD_DIR=...
#   -DGENERATOR=... -P this file.
# HANDOFF_BUILD_DIR is the build tree this test belongs to: its handoff is installed as
# built (tests and examples on or off, the installed files are the same) instead of
# building handoff once more.

include(${SOURCE_DIR}/tests/support/ctest_helpers.cmake)

# Sets `out` to the JSON value at path ARGN as a CMake value: a list for an array.
function(json_value out json)
  string(JSON type TYPE "${json}" ${ARGN})
  if(NOT type STREQUAL "ARRAY")
    string(JSON value GET "${json}" ${ARGN})
    set(${out} "${value}" PARENT_SCOPE)
    return()
  endif()
  set(values "")
  string(JSON count LENGTH "${json}" ${ARGN})
  if(count GREATER 0)
    math(EXPR last "${count} - 1")
    foreach(i RANGE ${last})
      string(JSON value GET "${json}" ${ARGN} ${i})
      list(APPEND values "${value}")
    endforeach()
  endif()
  set(${out} "${values}" PARENT_SCOPE)
endfunction()

# Sets `out` to the index of test `test` in the `ctest --show-only=json-v1` output `json`.
function(ctest_index out json test)
  string(JSON count LENGTH "${json}" tests)
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON name GET "${json}" tests ${i} name)
    if(name STREQUAL test)
      set(${out} ${i} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "no ctest test \"${test}\" in\n${json}")
endfunction()

# Fails unless the CTest property `property` of `test` is `want` (NOTFOUND: not set);
# "command" is the test's command line.
function(expect_property json test property want)
  ctest_index(i "${json}" "${test}")
  set(got NOTFOUND)
  if(property STREQUAL "command")
    json_value(got "${json}" tests ${i} command)
  else()
    string(JSON count LENGTH "${json}" tests ${i} properties)
    math(EXPR last "${count} - 1")
    foreach(j RANGE ${last})
      string(JSON name GET "${json}" tests ${i} properties ${j} name)
      if(name STREQUAL property)
        json_value(got "${json}" tests ${i} properties ${j} value)
      endif()
    endforeach()
  endif()
  if(NOT got STREQUAL want)
    message(FATAL_ERROR "ctest test \"${test}\": ${property} is \"${got}\", want \"${want}\"")
  endif()
endfunction()

# The CTest tests of the consumer project's two handoff_discover_tests calls.
set(payments_tests
  Consumer.Works Consumer.Subtest Consumer.Skips Consumer.FailsOnRequest
  each.Consumer.Works each.Consumer.Subtest each.Consumer.Skips
  each.Consumer.FailsOnRequest)
set(shop_tests
  "Checkout.v2.Card+3DS (EU)" Checkout.v2.Currencies
  "each.Checkout.v2.Card+3DS (EU)" each.Checkout.v2.Currencies/EUR
  each.Checkout.v2.Currencies/USD each.Checkout.v2.Currencies/JPY)

# Runs the consumer's CTest tests in `dir` and checks names, labels, skips and failures.
function(check_ctest dir)
  set(ctest ${CMAKE_CTEST_COMMAND} --test-dir ${dir})

  run(${ctest} --show-only=json-v1)
  set(json "${LAST_OUTPUT}")
  string(JSON count LENGTH "${json}" tests)
  math(EXPR last "${count} - 1")
  set(names "")
  foreach(i RANGE ${last})
    string(JSON name GET "${json}" tests ${i} name)
    list(APPEND names "${name}")
  endforeach()
  expect_same("${names}" "${payments_tests};${shop_tests}" "${dir}: discovered tests")
  expect_property("${json}" Consumer.Works LABELS "team=payments")
  expect_property("${json}" "Checkout.v2.Card+3DS (EU)" LABELS "team=shop;tier=critical")
  expect_property("${json}" each.Checkout.v2.Currencies/JPY LABELS "team=shop")
  # 30 s, 5 s to stop, 60 s for setup and teardown.
  expect_property("${json}" "Checkout.v2.Card+3DS (EU)" TIMEOUT 95.0)
  expect_property("${json}" Consumer.Works TIMEOUT NOTFOUND)
  expect_property("${json}" each.Consumer.Works ENVIRONMENT
    "CONSUMER_CTEST=1;CONSUMER_REGION=eu")
  expect_property("${json}" Consumer.Works ENVIRONMENT NOTFOUND)
  ctest_index(i "${json}" Consumer.Works)
  string(JSON binary GET "${json}" tests ${i} command 0)
  expect_property("${json}" "Checkout.v2.Card+3DS (EU)" command
    "${binary};run;--suite;^Checkout\\.v2$;--run;^Card\\+3DS \\(EU\\)$")
  expect_property("${json}" each.Checkout.v2.Currencies/JPY command
    "${binary};run;--suite;^Checkout\\.v2$;--run;^Currencies$/^JPY$;--verbose")

  run(${ctest} -N -L team=payments)
  ctest_names(names "${LAST_OUTPUT}" -N)
  expect_same("${names}" "${payments_tests}" "${dir}: ctest -L team=payments")
  run(${ctest} -N -L team=shop)
  ctest_names(names "${LAST_OUTPUT}" -N)
  expect_same("${names}" "${shop_tests}" "${dir}: ctest -L team=shop")
  run(${ctest} -N -L tier=critical)
  ctest_names(names "${LAST_OUTPUT}" -N)
  expect_same("${names}" "Checkout.v2.Card+3DS (EU);each.Checkout.v2.Card+3DS (EU)"
    "${dir}: ctest -L tier=critical")

  # Everything passes; the tests that skip are reported skipped.
  run(${ctest} -j 2)
  ctest_names(names "${LAST_OUTPUT}" Skipped)
  expect_same("${names}" "Consumer.Skips;each.Consumer.Skips;each.Checkout.v2.Currencies/JPY"
    "${dir}: skipped ctest tests")
  expect_contains("${LAST_OUTPUT}" "100% tests passed" "${dir}: ctest")

  # A failing handoff test is a failing CTest test, and only that one.
  set(ENV{CONSUMER_FAIL} 1)
  run_failing(${ctest} -j 2)
  unset(ENV{CONSUMER_FAIL})
  ctest_names(names "${LAST_OUTPUT}" Failed)
  expect_same("${names}" "Consumer.FailsOnRequest;each.Consumer.FailsOnRequest"
    "${dir}: failed ctest tests with CONSUMER_FAIL=1")
endfunction()

set(common -G ${GENERATOR} -DCMAKE_BUILD_TYPE=RelWithDebInfo)
find_program(CCACHE ccache)
if(CCACHE)
  list(APPEND common -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE})
  # The add_subdirectory build compiles handoff as the main build did, in another
  # directory: without hashing the directory, ccache serves it the main build's objects.
  set(ENV{CCACHE_NOHASHDIR} 1)
endif()
file(REMOVE_RECURSE ${WORK_DIR})

# 1. Install handoff from this build tree, then find_package(handoff).
run(${CMAKE_COMMAND} --install ${HANDOFF_BUILD_DIR} --prefix ${WORK_DIR}/prefix)
foreach(file IN ITEMS handoffConfig.cmake handoffDiscoverTests.cmake handoffAddTests.cmake
                     handoffAddImage.cmake)
  file(GLOB_RECURSE found ${WORK_DIR}/prefix/*/cmake/handoff/${file})
  if(NOT found)
    message(FATAL_ERROR "cmake --install did not install cmake/handoff/${file}")
  endif()
endforeach()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/project -B ${WORK_DIR}/installed ${common}
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/installed -j 2)
expect_output(${WORK_DIR}/installed/consumer_tests "\"Test\":\"Subtest/inner\"")
expect_output(${WORK_DIR}/installed/consumer_main "added by an option")
check_ctest(${WORK_DIR}/installed)

# handoff_add_image: its target builds the image through the engine when one answers (CI
# starts one: HANDOFF_REQUIRE_DOCKER=1); the Docker tests check what such an image does.
execute_process(COMMAND curl -sf --max-time 2 --unix-socket /var/run/docker.sock
                        http://docker/_ping RESULT_VARIABLE no_engine OUTPUT_QUIET ERROR_QUIET)
if(no_engine AND "$ENV{HANDOFF_REQUIRE_DOCKER}" STREQUAL "1")
  message(FATAL_ERROR "no Docker engine on /var/run/docker.sock (HANDOFF_REQUIRE_DOCKER=1)")
endif()
if(NOT no_engine)
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/installed --target consumer_tests_image)
  expect_contains("${LAST_OUTPUT}" "built handoff-consumer-tests:ci" "consumer_tests_image")
  execute_process(COMMAND curl -sf -X DELETE --unix-socket /var/run/docker.sock
                          "http://docker/images/handoff-consumer-tests:ci?force=1"
                  OUTPUT_QUIET ERROR_QUIET)
else()
  message(STATUS "no Docker engine: consumer_tests_image not built")
endif()

# A discovery that fails fails the build, naming the target.
run(${CMAKE_COMMAND} ${WORK_DIR}/installed -DCONSUMER_BAD_DISCOVERY=ON)
run_failing(${CMAKE_COMMAND} --build ${WORK_DIR}/installed --target consumer_bad_json)
expect_contains("${LAST_OUTPUT}" "handoff_discover_tests(consumer_bad_json)"
  "build of consumer_bad_json")
expect_contains("${LAST_OUTPUT}" "did not print" "build of consumer_bad_json")
run_failing(${CMAKE_COMMAND} --build ${WORK_DIR}/installed --target consumer_crash)
expect_contains("${LAST_OUTPUT}" "handoff_discover_tests(consumer_crash)"
  "build of consumer_crash")

# 2. add_subdirectory(handoff).
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/project -B ${WORK_DIR}/subdirectory ${common}
    -DHANDOFF_SOURCE=${SOURCE_DIR})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/subdirectory -j 2)
expect_output(${WORK_DIR}/subdirectory/consumer_tests "consumed handoff")
expect_output(${WORK_DIR}/subdirectory/consumer_main "\"Action\":\"pass\",\"Package\":\"FromMain\"")
check_ctest(${WORK_DIR}/subdirectory)
message(STATUS "consumer projects built and ran both ways, their CTest tests too")
