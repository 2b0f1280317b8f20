/*
 * config_internal.h - what config.c and config_yaml.c share: the value
 * checkers and the notes helper.  Not a public interface.
 *
 * Each checker returns false when @v is fine; otherwise it writes what is
 * wrong into @why ("'Bad_Name' is not a valid node name (lowercase RFC 1123:
 * ...)") and returns true.  Where the value came from (file position, flag,
 * spec field) is for the caller to put in front.  @v may be NULL.
 */
#ifndef ETCDPILOT_CONFIG_INTERNAL_H
#define ETCDPILOT_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcdpilot/config.h"

struct ep_error;

bool ep_check_node_name(const char *v, char *why, size_t len);
bool ep_check_ip(const char *v, char *why, size_t len);
bool ep_check_version(const char *v, char *why, size_t len);
bool ep_check_san(const char *v, char *why, size_t len);
bool ep_check_arg_name(const char *v, char *why, size_t len);
/* An extraArgs value: one line, no control characters (a tab is fine). */
bool ep_check_arg_value(const char *v, char *why, size_t len);
/* An IP literal another member can reach: not unspecified, broadcast, multicast. */
bool ep_check_advertise_ip(const char *v, char *why, size_t len);
bool ep_check_env_name(const char *v, char *why, size_t len);
bool ep_check_abs_path(const char *v, char *why, size_t len);
bool ep_check_sha256(const char *v, char *why, size_t len);
bool ep_check_url(const char *v, char *why, size_t len);
bool ep_check_repository(const char *v, char *why, size_t len);
bool ep_check_image_tag(const char *v, char *why, size_t len);
bool ep_check_mode(const char *v, char *why, size_t len);
bool ep_check_key_type(const char *v, char *why, size_t len);
/* A Go duration of at least @min_ms (and never 0), stored in *ret_ms when fine. */
bool ep_check_duration(const char *v, uint64_t min_ms, uint64_t *ret_ms, char *why, size_t len);

/*
 * Before defaults: an extraArgs data-dir without dataDir or --data-dir
 * becomes the data dir (and data_dir_at says so).  0 or -errno.
 */
int ep_spec_adopt_args(struct ep_spec *spec, struct ep_error *err);

/*
 * Make @err's message one printable line: user values quoted in it may hold
 * newlines or control bytes, which become '?'.  NULL or unset: nothing.
 */
void ep_error_printable(struct ep_error *err);

/* Append a formatted note; @notes may be NULL (then nothing happens).  0 or -ENOMEM. */
int ep_notes_add(struct ep_notes *notes, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
