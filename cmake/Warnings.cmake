# Warnings for rbench's own targets only (never for system headers).
set(RBENCH_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wvla -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef
  -Wnull-dereference -Wdouble-promotion -Wimplicit-fallthrough)

function(rbench_target_warnings target)
  target_compile_options(${target} PRIVATE ${RBENCH_WARNINGS})
  if(RBENCH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
