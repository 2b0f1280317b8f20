# Writes version.h with the project version, the git revision and the build
# date; rewrites the file only when its text changes, so an unchanged tree
# rebuilds nothing.  The build date is $SOURCE_DATE_EPOCH when set (Debian's
# reproducible builds), else the time of the commit built: the same source
# then builds the same binary, and a changed tree shows in the revision
# ("-dirty"), not in a clock.
execute_process(COMMAND git -C ${SRC} describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE REV OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR REV STREQUAL "")
  set(REV "unknown")
endif()
if(NOT DEFINED ENV{SOURCE_DATE_EPOCH})
  execute_process(COMMAND git -C ${SRC} log -1 --format=%ct
                  OUTPUT_VARIABLE EPOCH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                  RESULT_VARIABLE rc)
  if(rc EQUAL 0 AND EPOCH MATCHES "^[0-9]+$")
    set(ENV{SOURCE_DATE_EPOCH} ${EPOCH})
  endif()
endif()
if(DEFINED ENV{SOURCE_DATE_EPOCH})
  # string(TIMESTAMP) reads $SOURCE_DATE_EPOCH.
  string(TIMESTAMP DATE "%Y-%m-%dT%H:%M:%SZ" UTC)
else()
  set(DATE "unknown")
endif()
set(TEXT "#define EP_VERSION \"${VERSION}\"\n#define EP_GIT_REVISION \"${REV}\"\n#define EP_BUILD_DATE \"${DATE}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} OLD)
else()
  set(OLD "")
endif()
if(NOT OLD STREQUAL TEXT)
  file(WRITE ${OUT} "${TEXT}")
endif()
