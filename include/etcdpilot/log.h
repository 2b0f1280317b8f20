/*
 * log.h - how library phases tell the user what they are doing without
 * printing.  A phase calls the callback once per action with one complete
 * line in kubeadm's voice ("[certs] Generating \"etcd/ca\" certificate and
 * key"); the command decides where the line goes (normally stdout).
 */
#ifndef ETCDPILOT_LOG_H
#define ETCDPILOT_LOG_H

/*
 * One line, without the trailing newline.  @line is borrowed for the
 * duration of the call.  @userdata is whatever the caller passed along
 * with the callback.
 */
typedef void (*ep_log_fn)(void *userdata, const char *line);

#endif
