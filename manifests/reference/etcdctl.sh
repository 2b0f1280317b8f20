#!/bin/sh
# etcdctl.sh: etcdctl with this member's endpoint and certificates,
# written by etcdpilot.  Usage: etcdctl.sh endpoint health
if [ ! -r /etc/etcd/etcdctl.env ]; then
	echo "etcdctl.sh: cannot read /etc/etcd/etcdctl.env (run as root)" >&2
	exit 1
fi
set -a
. /etc/etcd/etcdctl.env
set +a
exec /usr/local/bin/etcdctl "$@"
