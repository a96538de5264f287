#pragma once

#include <cstddef>

namespace mca::util {

// Raises this process's soft limit on open descriptors to the hard limit,
// as Go programs do at start, and returns the limit in force. Proxies and
// stream servers hold two or three descriptors per client, and a soft
// limit of 1,024 (a common default) would cap them far below what the
// machine allows. 1,024 when the limit cannot be read.
std::size_t raise_descriptor_limit();

}  // namespace mca::util
