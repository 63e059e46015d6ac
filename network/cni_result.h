#pragma once
// Reading a CNI ADD result (spec 1.0.0, 0.4.0, 0.3.x; 0.2.0's ip4/ip6 too) and a plugin's error.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "network/network.h"

namespace crisp::network {

// The pod IPs: those of the interface called ifname inside the sandbox, or every IP when the
// result names no such interface. IPv4 first. kInternal if the result holds no IP at all.
PodNetworkResult parse_cni_result(const nlohmann::json& result, const std::string& ifname);

// A plugin's failure as text: "<msg>: <details> (code N)" from its JSON error on stdout, else its
// stderr (or stdout) verbatim, else the exit status.
std::string cni_error_text(const std::string& out, const std::string& err, int exit_code);

}  // namespace crisp::network
