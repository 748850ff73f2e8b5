# Runs at build time (cmake -P): turns every lua/*.lua file into one C++ source
# with the script bodies as raw strings, so batond carries its scripts inside.
# Inputs: LUA_DIR, OUTPUT.
file(GLOB scripts "${LUA_DIR}/*.lua")
list(SORT scripts)
set(body "// Generated from lua/*.lua by cmake/embed_lua.cmake. Do not edit.\n")
string(APPEND body "#include \"redis/embedded_scripts.hpp\"\n\n")
string(APPEND body "namespace baton::redis_link {\n\n")
string(APPEND body "const std::vector<embedded_script>& embedded_scripts() {\n")
string(APPEND body "  static const std::vector<embedded_script> all = {\n")
foreach(path IN LISTS scripts)
  get_filename_component(name "${path}" NAME_WE)
  file(READ "${path}" text)
  string(APPEND body "    {\"${name}\", R\"baton_lua(${text})baton_lua\"},\n")
endforeach()
string(APPEND body "  };\n  return all;\n}\n\n} // namespace baton::redis_link\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
