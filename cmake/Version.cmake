# Version and git commit, baked into every binary (results record them). Builds without a
# .git directory (the image build) pass the commit in with -DRBENCH_GIT_COMMIT=...
if(DEFINED RBENCH_GIT_COMMIT AND NOT RBENCH_GIT_COMMIT STREQUAL "")
  configure_file("${CMAKE_SOURCE_DIR}/common/rb_version.h.in"
                 "${CMAKE_BINARY_DIR}/generated/rb_version.h" @ONLY)
  return()
endif()
execute_process(
  COMMAND git -C "${CMAKE_SOURCE_DIR}" rev-parse --short=12 HEAD
  OUTPUT_VARIABLE RBENCH_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET RESULT_VARIABLE _git_rc)
if(NOT _git_rc EQUAL 0 OR RBENCH_GIT_COMMIT STREQUAL "")
  set(RBENCH_GIT_COMMIT "unknown")
endif()
configure_file("${CMAKE_SOURCE_DIR}/common/rb_version.h.in"
               "${CMAKE_BINARY_DIR}/generated/rb_version.h" @ONLY)
