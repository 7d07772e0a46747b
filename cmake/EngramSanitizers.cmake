# ENGRAM_SANITIZE=address,undefined (or thread) instruments every target in the tree.
if(ENGRAM_SANITIZE)
  set(_engram_san "-fsanitize=${ENGRAM_SANITIZE}")
  add_compile_options(${_engram_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(${_engram_san})
  message(STATUS "engram: sanitizers ${ENGRAM_SANITIZE}")
endif()
