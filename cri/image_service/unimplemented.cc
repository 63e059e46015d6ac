// ImageService RPCs crisp does not implement yet: each answers UNIMPLEMENTED naming itself.
// When an RPC is implemented, move it out of this file into its family's file.
// (Every ImageService RPC is implemented: image_pull.cc, image_status.cc, image_list.cc,
// image_remove.cc, image_fs_info.cc.)
#include "cri/image_service/image_service.h"
#include "cri/rpc.h"
