# Makes what is installed beside the binary from the binary itself (BIN),
# so that it always matches the command table: the man pages (OUT/man8,
# each also gzip -9n'ed as Debian wants them), the bash and zsh completions
# (OUT/completion), and the changelog the package carries (OUT/doc).  SRC
# is the source tree (doc/etcdpilot.8 is the overview page).
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

file(REMOVE_RECURSE ${OUT}/man8 ${OUT}/completion ${OUT}/doc)
file(MAKE_DIRECTORY ${OUT}/man8 ${OUT}/completion ${OUT}/doc)
run(${BIN} __docs ${OUT}/man8 ${SRC}/doc/etcdpilot.8)
execute_process(COMMAND ${BIN} completion bash OUTPUT_FILE ${OUT}/completion/etcdpilot
                RESULT_VARIABLE rc)
execute_process(COMMAND ${BIN} completion zsh OUTPUT_FILE ${OUT}/completion/_etcdpilot
                RESULT_VARIABLE rc2)
if(NOT rc EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "etcdpilot completion failed")
endif()

# A Debian changelog for the package (a native one: changelog.gz), dated as
# the build is (the commit's time, or $SOURCE_DATE_EPOCH).
execute_process(COMMAND ${BIN} version -o json OUTPUT_VARIABLE json RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "etcdpilot version -o json failed")
endif()
string(JSON version GET "${json}" version)
string(JSON revision GET "${json}" gitRevision)
string(JSON date GET "${json}" buildDate)
if(date STREQUAL "unknown")
  set(date "1970-01-01T00:00:00Z")
endif()
execute_process(COMMAND date -u -R -d ${date} OUTPUT_VARIABLE rfcdate
                OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "date -R -d ${date} failed")
endif()
file(WRITE ${OUT}/doc/changelog
  "etcdpilot (${version}) unstable; urgency=medium\n\n"
  "  * etcdpilot ${version}, built from git revision ${revision}.\n\n"
  " -- ${MAINTAINER}  ${rfcdate}\n")

file(GLOB pages ${OUT}/man8/*.8)
foreach(p ${pages} ${OUT}/doc/changelog)
  run(gzip -9nkf ${p})
endforeach()
file(WRITE ${OUT}/stamp "")
