#include "runtime/image_user.h"

#include <gtest/gtest.h>

#include "runtime/base/error.h"

namespace crisp::runtime {
namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "app:x:1000:1000:app:/home/app:/bin/sh\n"
    "broken line\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const char* kGroup =
    "root:x:0:\n"
    "app:x:1000:\n"
    "extra:x:2000:app,other\n"
    "more:x:2001:other,app\n"
    "nogroup:x:65534:\n";

ResolvedUser resolve(UserRequest r) { return resolve_user(r, kPasswd, kGroup); }

TEST(ResolveUser, DefaultIsRootWithItsHome) {
  auto u = resolve({});
  EXPECT_EQ(u.uid, 0u);
  EXPECT_EQ(u.gid, 0u);
  EXPECT_EQ(u.home, "/root");
  EXPECT_EQ(u.additional_gids, (std::vector<uint32_t>{0}));
}

TEST(ResolveUser, ImageUserByNameGetsGroupsAndHome) {
  UserRequest r;
  r.image_user = "app";
  auto u = resolve(r);
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1000u);
  EXPECT_EQ(u.home, "/home/app");
  EXPECT_EQ(u.additional_gids, (std::vector<uint32_t>{1000, 2000, 2001}));
}

TEST(ResolveUser, ImageUserWithGroupNameOrNumber) {
  UserRequest r;
  r.image_user = "app:extra";
  EXPECT_EQ(resolve(r).gid, 2000u);
  r.image_user = "1000:1234";
  auto u = resolve(r);
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1234u);
  r.image_user = "4242";  // not in passwd: gid 0, home /
  u = resolve(r);
  EXPECT_EQ(u.uid, 4242u);
  EXPECT_EQ(u.gid, 0u);
  EXPECT_EQ(u.home, "/");
}

TEST(ResolveUser, CriFieldsWin) {
  UserRequest r;
  r.image_user = "app";
  r.run_as_user = 65534;
  auto u = resolve(r);
  EXPECT_EQ(u.uid, 65534u);
  EXPECT_EQ(u.gid, 65534u);
  r.run_as_user.reset();
  r.run_as_username = "nobody";
  r.run_as_group = 5;
  r.supplemental_groups = {7, 5};
  u = resolve(r);
  EXPECT_EQ(u.uid, 65534u);
  EXPECT_EQ(u.gid, 5u);
  EXPECT_EQ(u.additional_gids, (std::vector<uint32_t>{5, 7}));
}

TEST(ResolveUser, UnknownNamesAndBadIdsAreErrors) {
  UserRequest r;
  r.image_user = "ghost";
  EXPECT_THROW(resolve(r), Error);
  r.image_user = "app:ghosts";
  EXPECT_THROW(resolve(r), Error);
  UserRequest negative;
  negative.run_as_user = -1;
  EXPECT_THROW(resolve(negative), Error);
}

TEST(ResolveUser, EmptyFilesStillWorkForNumericUsers) {
  UserRequest r;
  r.run_as_user = 1000;
  auto u = resolve_user(r, "", "");
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 0u);
}

}  // namespace
}  // namespace crisp::runtime
