#pragma once
// chainIDs of the OCI image spec (config.md, "Layer ChainID"):
//   ChainID(L0) = DiffID(L0)
//   ChainID(Ln) = "sha256:" + hex(sha256(ChainID(Ln-1) + " " + DiffID(Ln)))
#include <string>
#include <vector>

namespace crisp::snapshot {

// The chainID of a layer with diff_id on top of the chain parent_chain_id ("" for the base).
std::string chain_id(const std::string& parent_chain_id, const std::string& diff_id);

// chainIDs of every prefix of diff_ids (base layer first), e.g. from rootfs.diff_ids.
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

// True for "sha256:" followed by 64 lowercase hex digits (what crisp accepts as a chainID).
bool is_valid_chain_id(const std::string& id);

}  // namespace crisp::snapshot
