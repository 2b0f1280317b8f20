# Writes version.h with the project version and the git revision; rewrites
# the file only when its text changes, so an unchanged tree rebuilds nothing.
execute_process(COMMAND git -C ${SRC} describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE REV OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR REV STREQUAL "")
  set(REV "unknown")
endif()
set(TEXT "#define EP_VERSION \"${VERSION}\"\n#define EP_GIT_REVISION \"${REV}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} OLD)
else()
  set(OLD "")
endif()
if(NOT OLD STREQUAL TEXT)
  file(WRITE ${OUT} "${TEXT}")
endif()
