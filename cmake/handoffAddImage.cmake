# handoff_add_image(target TAG [LABELS KEY=VALUE...])
#
# Adds the target <target>_image, which builds a container image of the handoff binary
# `target` through the Docker Engine API (DOCKER_HOST applies), as `target image build`
# does: `serve` as a non-root user on port 1337, SQLite on a volume at /data, a health
# check, SIGTERM to stop (docs/deploy.md). It is not part of `all`:
#
#   handoff_add_image(shop_e2e registry.example.com/shop-e2e:${PROJECT_VERSION})
#   cmake --build build --target shop_e2e_image
function(handoff_add_image target tag)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "LABELS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "handoff_add_image(${target}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "handoff_add_image(${target}): no such target")
  endif()
  get_property(type TARGET ${target} PROPERTY TYPE)
  if(NOT type STREQUAL "EXECUTABLE")
    message(FATAL_ERROR "handoff_add_image(${target}): needs an executable")
  endif()
  if(tag STREQUAL "")
    message(FATAL_ERROR "handoff_add_image(${target}): needs a TAG, e.g. ${target}:latest")
  endif()
  set(labels "")
  foreach(label IN LISTS arg_LABELS)
    if(NOT label MATCHES "^[^=]+=")
      message(FATAL_ERROR "handoff_add_image(${target}): LABELS want KEY=VALUE, got \"${label}\"")
    endif()
    list(APPEND labels --label "${label}")
  endforeach()
  add_custom_target(${target}_image
    COMMAND $<TARGET_FILE:${target}> image build --tag "${tag}" ${labels}
    DEPENDS ${target}
    COMMENT "Building image ${tag} of ${target}"
    VERBATIM USES_TERMINAL)
endfunction()
