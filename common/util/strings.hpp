#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mca {

// "s" in double quotes, for error messages that name a value.
std::string quote(std::string_view s);

// The parts with `separator` between them.
std::string join(const std::vector<std::string>& parts,
                 std::string_view separator);

}  // namespace mca
