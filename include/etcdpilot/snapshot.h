/*
 * snapshot.h - a verified copy of one etcd member's database: etcd's
 * Maintenance/Snapshot stream over gRPC (HTTP/2, the client's TLS files and
 * connections), written to a file as it arrives, its SHA-256 checked.
 *
 * What etcd sends (server/etcdserver/api/v3rpc/maintenance.go, 3.4 to 3.6):
 * SnapshotResponse messages {1 header, 2 remaining_bytes, 3 blob, 4
 * version (3.6)}; the blobs of the first ones are the bbolt database in
 * 32 KiB pieces, remaining_bytes counting down to 0; then one more message
 * whose blob is the SHA-256 of the database.  etcd fills no header in
 * these messages.  The file written is every blob in order - the database
 * and its 32-byte checksum - byte for byte what `etcdctl snapshot save`
 * writes, and what `etcdctl snapshot restore` checks.
 *
 * Memory stays flat in the database's size: the data go to the file as
 * they arrive (a 256 KiB buffer), the hash is incremental.  The file is
 * written atomically (fs.h's ep_root_atomic_file_*): until the checksum
 * has been compared with the data, fsynced and renamed, the target does
 * not exist; a stream that breaks, ends early, runs past the deadline or
 * stalls, a checksum that does not match, a full disk or a cancel from
 * the progress callback leave no file behind, not even a temporary one.
 */
#ifndef ETCDPILOT_SNAPSHOT_H
#define ETCDPILOT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ep_error;
struct ep_client;
struct ep_health_report;

#define EP_SNAPSHOT_SHA256_LEN 32

/*
 * Called as data arrive (after each 256 KiB written, and once at the end):
 * @received bytes of the database so far, of @total (0 until etcd said).
 * A negative errno cancels the save (the file is not written) and is
 * returned by ep_snapshot_save.
 */
typedef int (*ep_snapshot_progress_fn)(void *userdata, uint64_t received, uint64_t total);

struct ep_snapshot_opts {
	const char *root;       /* NULL or "/": @path is a plain path (relative to the cwd) */
	const char *path;       /* the file: a node path under @root */
	mode_t mode;            /* 0: 0600, as etcdctl */
	bool replace;           /* replace an existing file (etcdctl does); else -EEXIST */
	uint64_t timeout_ms;    /* the whole save, Status and stream; 0: one hour */
	uint64_t stall_ms;      /* fail when no byte arrives for this long; 0: 30 s */
	ep_snapshot_progress_fn progress; /* may be NULL */
	void *userdata;
};

/* Where the reported revision comes from. */
enum ep_snapshot_rev_source {
	EP_SNAPSHOT_REV_NONE = 0,
	EP_SNAPSHOT_REV_FILE,   /* read from the saved database, as `etcdctl snapshot status` */
	EP_SNAPSHOT_REV_STATUS, /* the member's revision in a Status answered just before the
				   stream began: the snapshot holds at least that revision */
};

/* "file", "status", "none". */
const char *ep_snapshot_rev_source_name(enum ep_snapshot_rev_source s);

struct ep_snapshot_result {
	char *endpoint;           /* the member's URL (heap) */
	uint64_t member_id;       /* from Status */
	char *etcd_version;       /* "3.4.23" (heap; NULL when unknown) */
	uint64_t raft_index;      /* the member's, from Status */
	uint64_t size;            /* bytes of the file: db_size + 32 */
	uint64_t db_size;         /* bytes of the database */
	unsigned char sha256[EP_SNAPSHOT_SHA256_LEN]; /* of the database (the file's tail) */
	uint64_t revision;
	enum ep_snapshot_rev_source revision_source;
	uint64_t took_ms;         /* from the Status call to the file's rename */
};

/* Free what @r owns and zero it (NULL fine). */
void ep_snapshot_result_release(struct ep_snapshot_result *r);

/*
 * Save the snapshot of the member at @endpoint (a client URL) through @c
 * (its TLS files; its call timeout is raised for the stream and put back)
 * into opts->path under opts->root.  First a Maintenance Status of the
 * member (its ID, version, raft index and revision), then the stream.
 * The target is checked before anything is asked of the member: its
 * directory must exist (-ENOENT), it must not be a symlink or a directory,
 * and without opts->replace it must not exist (-EEXIST) - these are
 * EP_ERR_USAGE (nothing changed).  Then -EBADMSG when etcd's checksum does
 * not match the data, -EPROTO for a stream that is not etcd's or ends
 * early (the message says after how many of how many bytes), -ETIMEDOUT
 * past the deadline or after a stall, the transport's and etcd's errors
 * as the client names them, the progress callback's errno, a write's
 * errno.  On success fills @ret (zeroed by the caller; released on
 * failure) and returns 0; the revision is read from the saved database
 * when it is a bbolt file this code can read, else the Status one.
 */
int ep_snapshot_save(struct ep_client *c, const char *endpoint, const struct ep_snapshot_opts *opts,
		     struct ep_snapshot_result *ret, struct ep_error *err);

/*
 * The checks ep_snapshot_save makes of its target before it asks anything
 * of a member (directory, symlink, existing file), alone: for a caller
 * that first chooses the member.  0 or the same EP_ERR_USAGE errors.
 */
int ep_snapshot_check_target(const struct ep_snapshot_opts *opts, struct ep_error *err);

/*
 * The member to save from, out of a health report (ep_health_probe): the
 * healthy voter whose database is the most advanced (highest applied
 * raft index; the raft index when etcd gives none), the leader on a tie,
 * then the first listed.  Learners are skipped: etcd would serve one
 * (Snapshot is the one stream a learner allows) but a learner may lag.
 * Returns the index into @hr, or -ENOENT when no member qualifies, with
 * @err naming each member and why not.
 */
int ep_snapshot_pick(const struct ep_health_report *hr, struct ep_error *err);

/*
 * Check a saved snapshot file @path under @root without holding it in
 * memory: at least 33 bytes, and its last 32 bytes the SHA-256 of the
 * rest.  Fills @ret (may be NULL; zeroed by the caller): size, db_size,
 * sha256, and the revision when the database can be read (revision_source
 * FILE).  0, -EBADMSG when the hash does not match (or
 * the file is too short to hold one), or another negative errno naming
 * the file.
 */
int ep_snapshot_verify_file(const char *root, const char *path, struct ep_snapshot_result *ret,
			    struct ep_error *err);

/*
 * The revision of a bbolt database as `etcdctl snapshot status` finds it:
 * the main revision of the last key of the "key" bucket (0 when that
 * bucket is empty).  @fd is read with pread(2), a page at a time along
 * one path from the root to a leaf; @size is how many bytes of it are the
 * database (a snapshot file's size minus its checksum).  0, or -EBADMSG
 * when it is not a bbolt database this reader understands (the message
 * says what), or a read's errno.
 */
int ep_bbolt_revision(int fd, uint64_t size, uint64_t *ret_revision, struct ep_error *err);

/* ------------------------------------------------------------------------ */
/* The pure parts, for tests and the fuzzer                                  */

/* The snapshot's bytes as they are decoded: every blob, the checksum's too. */
typedef int (*ep_snapshot_sink_fn)(void *userdata, const void *data, size_t len);

/* What a complete, verified stream held. */
struct ep_snapshot_stream {
	uint64_t db_size;
	unsigned char sha256[EP_SNAPSHOT_SHA256_LEN];
	uint64_t messages;
	char version[32];        /* SnapshotResponse.version (3.6), "" when absent */
};

/*
 * A parser of the gRPC answer body of Maintenance/Snapshot, fed in pieces
 * of any size.  Each blob byte goes to @sink (may be NULL) as it is
 * decoded; the database bytes are hashed on the way.  _feed returns 0, the
 * sink's negative errno, -EPROTO (not etcd's stream: a bad frame or
 * protobuf field, a compressed message, a message over 16 MiB, a blob
 * past the size etcd announced, remaining_bytes that disagree with what
 * arrived, a checksum that is not 32 bytes, anything after it) or
 * -EBADMSG (the checksum does not match the data), with @err saying what.
 * _finish checks that the stream ended right after the checksum (else
 * -EPROTO: "ended after N of M bytes of the database", or before any
 * message) and fills @ret (may be NULL).  The parser holds no more than
 * a few hundred bytes whatever the stream.
 */
struct ep_snapshot_parser;
int ep_snapshot_parser_new(ep_snapshot_sink_fn sink, void *userdata,
			   struct ep_snapshot_parser **ret);
int ep_snapshot_parser_feed(struct ep_snapshot_parser *p, const void *data, size_t len,
			    struct ep_error *err);
int ep_snapshot_parser_finish(struct ep_snapshot_parser *p, struct ep_snapshot_stream *ret,
			      struct ep_error *err);
/* Database bytes decoded so far, and the size etcd announced (0 until known). */
void ep_snapshot_parser_progress(const struct ep_snapshot_parser *p, uint64_t *ret_received,
				 uint64_t *ret_total);
void ep_snapshot_parser_free(struct ep_snapshot_parser *p);

#endif
