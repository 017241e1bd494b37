# API tests: Python 3 (stdlib only) against a real `wangge serve` on a throwaway clone of the sample
# database. They need the environment tools/test sets up (WANGGE_BIN, WANGGE_TEST_ADMIN_URL,
# WANGGE_TEST_TEMPLATE); each module starts its own server and database.
find_package(Python3 COMPONENTS Interpreter)
set(_wangge_python python3)
if(Python3_Interpreter_FOUND)
  set(_wangge_python ${Python3_EXECUTABLE})
endif()
foreach(name areas_read areas_write geometry_rules concurrency history access workers two_servers errors tiles tile_feeds
             locate_keepalive
             database_down
             hostile import_hostile hostile_slow
             costs geometry_sanity hostile_more
             session basic_auth
             console console_stats console_worker
             ops bulk_reads
             previews console_gis console_manage
             static_files)
  add_test(NAME api_${name} COMMAND ${_wangge_python} -m unittest -v test_${name}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/api)
  set_tests_properties(api_${name} PROPERTIES LABELS api TIMEOUT 300 ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endforeach()
# The console's journeys each drive Chromium through a whole job (several minutes together).
if(TEST api_console)
  set_tests_properties(api_console PROPERTIES TIMEOUT 900)
endif()
foreach(journey console_gis console_manage console_stats console_worker)
  set_tests_properties(api_${journey} PROPERTIES TIMEOUT 600)
endforeach()
# The sample laid over the real Deqing outline, loaded into a database of its own (skipped with a
# message when ../shared/geodata-src is missing, failed under CI=true).
add_test(NAME api_sample_outline COMMAND ${_wangge_python} -m unittest -v test_sample_outline
         WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/api)
set_tests_properties(api_sample_outline PROPERTIES LABELS api TIMEOUT 300 ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
