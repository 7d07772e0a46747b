# Installation: headers, libraries and an engramConfig.cmake so that an installed engram is
# used with find_package(engram) and the same engram::engram / engram::dict / engram::sqlite /
# engram::redis / engram::stores / engram::bert / engram::http targets as add_subdirectory(engram).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(engram_dict PROPERTIES EXPORT_NAME dict)
set_target_properties(engram_sqlite PROPERTIES EXPORT_NAME sqlite)
set_target_properties(engram_stores PROPERTIES EXPORT_NAME stores)
set(_engram_targets engram engram_dict engram_sqlite engram_stores)
install(DIRECTORY include/engram DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY stores/dict/include/engram stores/sqlite/include/engram stores/any/include/engram
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(ENGRAM_WITH_REDIS)
  set_target_properties(engram_redis PROPERTIES EXPORT_NAME redis)
  list(APPEND _engram_targets engram_redis)
  install(DIRECTORY stores/redis/include/engram DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
if(ENGRAM_WITH_HTTP)
  set_target_properties(engram_http PROPERTIES EXPORT_NAME http)
  list(APPEND _engram_targets engram_http)  # its header is in include/engram/embedders
endif()

if(ENGRAM_WITH_BERT)
  set_target_properties(engram_bert PROPERTIES EXPORT_NAME bert)
  list(APPEND _engram_targets engram_bert)
endif()

install(TARGETS ${_engram_targets} EXPORT engramTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT engramTargets NAMESPACE engram:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/engram)

set(ENGRAM_INSTALL_WITH_REDIS ${ENGRAM_WITH_REDIS})
set(ENGRAM_INSTALL_WITH_BERT ${ENGRAM_WITH_BERT})
set(ENGRAM_INSTALL_WITH_HTTP ${ENGRAM_WITH_HTTP})
configure_package_config_file(cmake/engramConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/engramConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/engram)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/engramConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/engramConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/engramConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/engram)

# engram.pc for pkg-config users. The prefix is computed from the .pc file's own location
# (${pcfiledir}), so `cmake --install --prefix DIR` yields a correct file for any DIR.
set(ENGRAM_PC_REQUIRES "sqlite3 libxxhash libutf8proc simdjson")
set(ENGRAM_PC_LIBS "-lengram_sqlite -lengram")
if(ENGRAM_WITH_REDIS)
  string(APPEND ENGRAM_PC_REQUIRES " hiredis")
  set(ENGRAM_PC_LIBS "-lengram_redis ${ENGRAM_PC_LIBS}")
endif()
set(ENGRAM_PC_LIBS "-lengram_stores ${ENGRAM_PC_LIBS}")  # AnyStore links the stores above
if(ENGRAM_WITH_BERT)
  string(APPEND ENGRAM_PC_REQUIRES " openblas libcrypto")
  set(ENGRAM_PC_LIBS "-lengram_bert ${ENGRAM_PC_LIBS}")
endif()
if(ENGRAM_WITH_HTTP)
  string(APPEND ENGRAM_PC_REQUIRES " libcurl")
  set(ENGRAM_PC_LIBS "-lengram_http ${ENGRAM_PC_LIBS}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  message(FATAL_ERROR "engram.pc needs CMAKE_INSTALL_LIBDIR and CMAKE_INSTALL_INCLUDEDIR relative to the prefix")
endif()
file(RELATIVE_PATH ENGRAM_PC_PREFIX_FROM_PCDIR "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(cmake/engram.pc.in ${CMAKE_CURRENT_BINARY_DIR}/engram.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/engram.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
