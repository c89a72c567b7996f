# cmake/run_to_file.cmake - runs a program and writes what it prints to a
# file, failing the build when the program fails (an add_custom_command
# cannot redirect portably).  Used by CMakeLists.txt to write the manual page
# and the completions with 'cairn help --man' and 'cairn help --completion'.
#   cmake -DPROGRAM=path -DARGS="a;b" -DOUTPUT=file -P run_to_file.cmake
execute_process(COMMAND ${PROGRAM} ${ARGS} OUTPUT_FILE ${OUTPUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUTPUT}.tmp)
  message(FATAL_ERROR "${PROGRAM} ${ARGS} failed (${rc})")
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
