# The real-client test of GoogleTest's command line: CMake's gtest_discover_tests() on a
# handoff binary (tests/fixtures/gtest_cli_fixture.cc) discovers every test, and `ctest`
# runs each and reports exactly the failures, skips and disabled tests.
# Invoked by ctest: cmake -DSOURCE_DIR=... -DWORK_DIR=... -DHANDOFF_BUILD_DIR=...
#   -DGENERATOR=... -P this file.

include(${SOURCE_DIR}/tests/support/ctest_helpers.cmake)

set(common -G ${GENERATOR} -DCMAKE_BUILD_TYPE=RelWithDebInfo)
find_program(CCACHE ccache)
if(CCACHE)
  list(APPEND common -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE})
endif()
file(REMOVE_RECURSE ${WORK_DIR})

run(${CMAKE_COMMAND} --install ${HANDOFF_BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/gtest_discover/project -B ${WORK_DIR}/build ${common}
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
    -DFIXTURE_SOURCE=${SOURCE_DIR}/tests/fixtures/gtest_cli_fixture.cc)
# The build runs the binary with --gtest_list_tests (gtest_discover_tests' POST_BUILD step).
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)

set(ctest ${CMAKE_CTEST_COMMAND} --test-dir ${WORK_DIR}/build)
run(${ctest} -N)
ctest_names(names "${LAST_OUTPUT}" -N)
# `ctest -N` shows a disabled test as "Name (Disabled)".
list(TRANSFORM names REPLACE " \\(Disabled\\)$" "")
# CMake names a DISABLED_ test without the prefix and marks it disabled.
expect_same("${names}"
  "Math.Adds;Math.Fails;Math.Skips;Math.Later;Math.Subtests;Slow.Soak;Store.memory/Put;Store.memory/Get;Store.files/Put;Store.files/Get"
  "tests gtest_discover_tests discovered")

execute_process(COMMAND ${ctest} -j 2 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "ctest passed, but three tests fail:\n${out}")
endif()
ctest_names(failed "${out}" Failed)
expect_same("${failed}" "Math.Fails;Math.Subtests;Store.files/Get" "tests ctest reported failed\n${out}")
ctest_names(skipped "${out}" Skipped)
expect_same("${skipped}" "Math.Skips" "tests ctest reported skipped\n${out}")
ctest_names(disabled "${out}" Disabled)
expect_same("${disabled}" "Math.Later;Slow.Soak" "tests ctest reported disabled\n${out}")
message(STATUS "gtest_discover_tests discovered the handoff binary's tests; ctest ran them")
