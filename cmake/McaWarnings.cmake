# Strict warnings for MCA's own targets only: generated protobuf code and
# system headers are not ours to fix.
function(mca_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wconversion -Wsign-conversion
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
    # GCC 12 misreports Asio's coroutine frame allocator (GCC bug 109224).
    -Wno-mismatched-new-delete)
  if(MCA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
