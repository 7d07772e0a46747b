# Installation: headers, libraries and an engramConfig.cmake so that an installed engram is
# used with find_package(engram) and the same engram::engram / engram::dict / engram::sqlite /
# engram::redis targets as add_subdirectory(engram).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(engram_dict PROPERTIES EXPORT_NAME dict)
set_target_properties(engram_sqlite PROPERTIES EXPORT_NAME sqlite)
set(_engram_targets engram engram_dict engram_sqlite)
install(DIRECTORY include/engram DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY stores/dict/include/engram stores/sqlite/include/engram DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(ENGRAM_WITH_REDIS)
  set_target_properties(engram_redis PROPERTIES EXPORT_NAME redis)
  list(APPEND _engram_targets engram_redis)
  install(DIRECTORY stores/redis/include/engram DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()

install(TARGETS ${_engram_targets} EXPORT engramTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT engramTargets NAMESPACE engram:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/engram)

set(ENGRAM_INSTALL_WITH_REDIS ${ENGRAM_WITH_REDIS})
configure_package_config_file(cmake/engramConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/engramConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/engram)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/engramConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/engramConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/engramConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/engram)
