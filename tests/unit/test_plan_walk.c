/*
 * test_plan_walk.c - test_plan.c again, with every path under a root
 * resolved by the component-by-component walk, as on a kernel without
 * openat2(2) (fs_test_no_openat2).  Its own program: ctest gives each one
 * its own time.
 */
#define EP_TEST_WALK 1
#include "test_plan.c"
