# engram_strict(<target>): the warning set every target of ours compiles with.
# Warnings are errors on our code only; third-party headers are included as SYSTEM.
function(engram_strict target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
endfunction()
