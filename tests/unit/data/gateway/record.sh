#!/bin/bash
# Record real etcd 3.4.23 gateway answers into this directory (each file:
# "HTTP-STATUS\n" then the body).  Run by hand from the source tree:
#   EP_BINARY=build/etcdpilot bash tests/unit/data/gateway/record.sh
# Not run by ctest: the unit tests read the committed recordings.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../../e2e/lib.sh"
. "$here/../../../e2e/lib-etcd.sh"
ETCD_ARGS[1]="--quota-backend-bytes 262144"
etcd_cluster_start rec 1 127.0.27
u=${ETCD_CLIENT_URL[1]}
rec() { # rec FILE PATH BODY
	curl -s --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" -o "$T/body" \
		-w '%{http_code}' -X POST "$u$2" -d "$3" >"$T/code"
	{ cat "$T/code"; echo; cat "$T/body"; } >"$here/$1"
}
rec member_list_1.txt /v3/cluster/member/list '{}'
rec status.txt /v3/maintenance/status '{}'
rec alarm_none.txt /v3/maintenance/alarm '{}'
rec put.txt /v3/kv/put '{"key":"aGVsbG8=","value":"d29ybGQ="}'
rec range.txt /v3/kv/range '{"key":"aGVsbG8="}'
rec range_missing.txt /v3/kv/range '{"key":"aGVhbHRo","keys_only":true,"limit":"1"}'
rec err_member_not_found.txt /v3/cluster/member/remove '{"ID":"1"}'
rec err_promote_voter.txt /v3/cluster/member/promote "{\"ID\":\"$(sed -n 's/.*"member_id":"\([0-9]*\)".*/\1/p' "$here/status.txt")\"}"
rec err_bad_json.txt /v3/kv/range '{"key":'
rec err_bad_url.txt /v3/cluster/member/add '{"peerURLs":["not a url"]}'
rec member_add_learner.txt /v3/cluster/member/add '{"peerURLs":["https://127.0.27.9:22380"],"isLearner":true}'
rec member_list_learner.txt /v3/cluster/member/list '{}'
rec err_too_many_learners.txt /v3/cluster/member/add '{"peerURLs":["https://127.0.27.8:22380"],"isLearner":true}'
sleep 1.1
rec err_peer_exists.txt /v3/cluster/member/add '{"peerURLs":["https://127.0.27.9:22380"],"isLearner":true}'
rec err_promote_not_ready.txt /v3/cluster/member/promote "{\"ID\":\"$(sed -n 's/.*"member":{"ID":"\([0-9]*\)".*/\1/p' "$here/member_add_learner.txt")\"}"
# fill the quota: NOSPACE
v=$(head -c 60000 /dev/zero | tr '\0' x | base64 -w0)
for i in $(seq 1 40); do
	rec err_nospace.txt /v3/kv/put "{\"key\":\"$(printf k%s "$i" | base64)\",\"value\":\"$v\"}"
	grep -q '"code":8' "$here/err_nospace.txt" && break
done
rec alarm_nospace.txt /v3/maintenance/alarm '{}'
rec status_nospace.txt /v3/maintenance/status '{}'
rec get_405.txt /v3/maintenance/status ''
curl -s --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" -o "$T/body" -w '%{http_code}' "$u/v3/maintenance/status" >"$T/code"
{ cat "$T/code"; echo; cat "$T/body"; } >"$here/get_405.txt"
