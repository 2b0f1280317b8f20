/*
 * fuzz_release_archive.c - libFuzzer target for the release tarball reader:
 * arbitrary bytes as a downloaded etcd-v3.4.23-linux-amd64.tar.gz (the
 * checksum can be right for a hostile file).  Checks the contract: a
 * failure has a message and keeps no binary (a refused archive gives
 * nothing, not even the binaries read before the bad entry); a success has
 * etcd and etcdctl.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/error.h"
#include "etcdpilot/install.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_release_files f;
	struct ep_error err;
	memset(&f, 0, sizeof(f));
	ep_error_clear(&err);
	int r = ep_release_extract(data, size, "etcd-v3.4.23-linux-amd64", &f, &err);
	if (r < 0 && (!err.msg[0] || f.etcd || f.etcdctl || f.etcdutl))
		abort();
	if (r == 0 && (!f.etcd || !f.etcdctl))
		abort();
	ep_release_files_release(&f);
	return 0;
}
