# Builds the consumer project against handoff both ways and runs its binaries.
# Invoked by ctest: cmake -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -P this file.

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
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

set(common -G ${GENERATOR} -DCMAKE_BUILD_TYPE=RelWithDebInfo)
find_program(CCACHE ccache)
if(CCACHE)
  list(APPEND common -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE})
endif()
file(REMOVE_RECURSE ${WORK_DIR})

# 1. Install handoff, then find_package(handoff).
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/handoff-build ${common}
    -DHANDOFF_BUILD_TESTS=OFF -DHANDOFF_BUILD_EXAMPLES=OFF -DHANDOFF_BUILD_BENCH=OFF
    -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/handoff-build -j 2)
run(${CMAKE_COMMAND} --install ${WORK_DIR}/handoff-build)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/project -B ${WORK_DIR}/installed ${common}
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/installed -j 2)
expect_output(${WORK_DIR}/installed/consumer_tests "\"Test\":\"Subtest/inner\"")
expect_output(${WORK_DIR}/installed/consumer_main "added by an option")

# 2. add_subdirectory(handoff).
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/project -B ${WORK_DIR}/subdirectory ${common}
    -DHANDOFF_SOURCE=${SOURCE_DIR})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/subdirectory -j 2)
expect_output(${WORK_DIR}/subdirectory/consumer_tests "consumed handoff")
expect_output(${WORK_DIR}/subdirectory/consumer_main "\"Action\":\"pass\",\"Package\":\"FromMain\"")
message(STATUS "consumer projects built and ran both ways")
