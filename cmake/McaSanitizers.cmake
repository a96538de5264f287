# MCA_SANITIZE=address,undefined builds everything (ours and the tests) with
# those sanitizers; used by `make asan`.
if(MCA_SANITIZE)
  add_compile_options(-fsanitize=${MCA_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${MCA_SANITIZE})
endif()
