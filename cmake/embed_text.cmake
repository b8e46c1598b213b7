# Turns a text file into a C++ source defining `const char* const NAME` in namespace nca, so
# that the binary carries the file (the web page template) and needs nothing at run time.
#   cmake -DINPUT=page.html -DOUTPUT=page.cpp -DNAME=kWebPageTemplate -P embed_text.cmake
file(READ "${INPUT}" content)
set(delim "nca_embed")
string(FIND "${content}" ")${delim}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )${delim}\"")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cmake/embed_text.cmake; do not edit.\n"
  "namespace nca {\n"
  "extern const char* const ${NAME};\n"
  "const char* const ${NAME} = R\"${delim}(${content})${delim}\";\n"
  "}  // namespace nca\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
