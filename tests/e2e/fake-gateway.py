#!/usr/bin/python3
"""fake-gateway.py - an HTTPS server that answers what real etcd never sends.

Used by the client e2e scenarios to check that malformed, hostile or stuck
answers end in a clear error, never a crash and never a hang past the
deadline.  One process serves several modes, one per port:

    fake-gateway.py --cert C --key K --ca CA --addr 127.0.23.1 MODE:PORT ...

Modes (every POST gets the same answer whatever the path):
  malformed    200 application/json, truncated JSON
  wrongtypes   200, a member list whose ID is a number and name an array
  missing      200, a member list without its header
  hugeid       200, a member ID beyond 64 bits
  huge         200, a 20 MiB JSON document
  html         200 text/html page
  gwerror      412 with a gateway error body (code 9)
  slow         200, headers then one byte per second, forever
  hang         accepts TLS, reads the request, never answers
  list:URL     a valid member list with one member whose client URL is URL
               (so that probing the member exercises another mode)
  many:N:URL   a valid member list of N members (m00000, m00001, ...), each
               with the client URL URL (N = 20000 makes a 2.4 MB answer)
  member       a healthy member: Status (leader = itself) and Range answered
               as etcd 3.4 does, whatever the member list says
  hugeheader   200 with a 10 MB response header line, then a member list
  h2hugeheader the same over HTTP/2 (ALPN h2 only; a few frames by hand, as
               etcd's gateway speaks HTTP/2)
  evil         a cluster whose text is hostile: member names and URLs with
               ESC sequences, CR, LF and BEL; its Status has such a version
               and errors, its Range a gateway error whose message has them
               too (the second member's client URL is this server itself)
  plain        plain HTTP (no TLS) answering 501 like python's http.server
  tlsgarbage   TLS handshake, then a line that is not HTTP, then close
Writes "ready" on stdout when every port listens, and "maxconn MODE N"
whenever MODE's number of open connections reaches a new high.
"""
import argparse
import http.server
import json
import socket
import socketserver
import ssl
import sys
import threading
import time

LIST = {"header": {"cluster_id": "17237436991929493444", "member_id": "1", "raft_term": "2"},
        "members": []}


def body_for(mode):
    if mode == "malformed":
        return 200, "application/json", b'{"header":{"cluster_id":"1"},"members":[{"ID":'
    if mode == "wrongtypes":
        return 200, "application/json", b'{"header":{},"members":[{"ID":12.5,"name":["x"]}]}'
    if mode == "missing":
        return 200, "application/json", b'{"members":[]}'
    if mode == "hugeid":
        return 200, "application/json", \
            b'{"header":{},"members":[{"ID":"99999999999999999999999","name":"x"}]}'
    if mode == "huge":
        return 200, "application/json", b'{"header":{},"x":"' + b"A" * (20 << 20) + b'"}'
    if mode == "html":
        return 200, "text/html", b"<html><body><h1>It works!</h1></body></html>"
    if mode == "gwerror":
        msg = "etcdserver: can only promote a learner member"
        return 412, "application/json", json.dumps(
            {"error": msg, "message": msg, "code": 9}).encode()
    if mode.startswith("many:"):
        _, n, url = mode.split(":", 2)
        doc = dict(LIST)
        doc["members"] = [{"ID": str(1000 + i), "name": "m%05d" % i,
                           "peerURLs": ["https://127.0.23.1:%d" % (10000 + i % 50000)],
                           "clientURLs": [url]} for i in range(int(n))]
        return 200, "application/json", json.dumps(doc).encode()
    if mode.startswith("list:"):
        doc = dict(LIST)
        doc["members"] = [{"ID": "18446744073709551615", "name": "fake",
                           "peerURLs": ["https://127.0.23.1:1"],
                           "clientURLs": [mode[len("list:"):]]}]
        return 200, "application/json", json.dumps(doc).encode()
    raise ValueError(mode)


MEMBER_ID = "4242"
ESC = "\x1b"
EVIL_NAME = "cp1" + ESC + "[2J" + ESC + "[31mFAKE\r\nhttps://x  fake-row  healthy\x07"
EVIL_URL = "https://127.0.23.1:1/" + ESC + "[1A\rforged"


def member_answer(path, member_id, version="3.4.23", errors=None, range_error=None):
    hdr = {"cluster_id": "17237436991929493444", "member_id": member_id, "raft_term": "2",
           "revision": "7"}
    if path.endswith("/maintenance/status"):
        doc = {"header": hdr, "version": version, "dbSize": "20480", "leader": member_id,
               "raftIndex": "9", "raftTerm": "2", "raftAppliedIndex": "9",
               "dbSizeInUse": "16384"}
        if errors:
            doc["errors"] = errors
        return 200, doc
    if path.endswith("/kv/range"):
        if range_error:
            return 503, {"error": range_error, "message": range_error, "code": 14}
        return 200, {"header": hdr}
    if path.endswith("/maintenance/alarm"):
        return 200, {}
    return 404, None


def evil_answer(path, self_url):
    if path.endswith("/cluster/member/list"):
        doc = dict(LIST)
        doc["members"] = [
            {"ID": "4243", "name": EVIL_NAME, "peerURLs": [EVIL_URL], "clientURLs": [EVIL_URL]},
            {"ID": "4242", "name": "cp2\x07" + ESC + "]0;pwned" + ESC + "\\",
             "peerURLs": ["https://127.0.23.1:2380"], "clientURLs": [self_url]},
        ]
        return 200, doc
    return member_answer(path, "4242", version="3.4.23" + ESC + "[5m",
                         errors=[ESC + "[2Jmember says\r\nfake line"],
                         range_error="etcdserver: " + ESC + "[31mboom\x07\r\nforged line")


CONNS = {}
CONNS_MAX = {}
CONNS_LOCK = threading.Lock()


def conn_count(mode, delta):
    with CONNS_LOCK:
        CONNS[mode] = CONNS.get(mode, 0) + delta
        if CONNS[mode] > CONNS_MAX.get(mode, 0):
            CONNS_MAX[mode] = CONNS[mode]
            print("maxconn %s %d" % (mode.split(":")[0], CONNS[mode]), flush=True)


def make_handler(mode, self_url):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            conn_count(mode, 1)
            super().setup()

        def finish(self):
            try:
                super().finish()
            finally:
                conn_count(mode, -1)

        def log_message(self, *args):
            pass

        def send_json(self, status, doc):
            body = b"404 page not found\n" if doc is None else json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type",
                             "text/plain; charset=utf-8" if doc is None else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            if mode == "member":
                self.send_json(*member_answer(self.path, MEMBER_ID))
                return
            if mode == "evil":
                self.send_json(*evil_answer(self.path, self_url))
                return
            if mode == "hugeheader":
                body = json.dumps(LIST).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Huge", "x" * (10 << 20))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if mode == "hang":
                time.sleep(3600)
                return
            if mode == "slow":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                while True:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            if mode == "plain":
                self.send_error(501, "Unsupported method ('POST')")
                return
            status, ctype, body = body_for(mode)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def h2_int(value, prefix_bits, first=0):
    """An HPACK integer with a prefix of prefix_bits bits (RFC 7541 5.1)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 | 128)
        value //= 128
    out.append(value)
    return bytes(out)


def h2_frame(ftype, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + \
        stream.to_bytes(4, "big") + payload


class H2HugeHeader(socketserver.BaseRequestHandler):
    """HTTP/2 by hand: SETTINGS, then for each request a HEADERS block of
    ':status 200' and a 10 MB header (server.header_size bytes), in HEADERS
    + CONTINUATION frames, and a member list as the DATA."""

    def handle(self):
        conn_count("h2hugeheader", 1)
        try:
            self.serve()
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn_count("h2hugeheader", -1)

    def read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return buf

    def serve(self):
        self.request.do_handshake()
        self.read(24)  # the client preface
        self.request.sendall(h2_frame(4, 0, 0, b""))
        size = self.server.header_size
        block = b"\x88" + b"\x00" + h2_int(6, 7) + b"x-huge" + h2_int(size, 7) + b"x" * size
        while True:
            head = self.read(9)
            length = int.from_bytes(head[:3], "big")
            ftype, flags = head[3], head[4]
            stream = int.from_bytes(head[5:9], "big") & 0x7fffffff
            self.read(length)
            if ftype == 4 and not flags & 1:
                self.request.sendall(h2_frame(4, 1, 0, b""))
            if ftype == 1:
                frames = []
                for off in range(0, len(block), 16384):
                    chunk = block[off:off + 16384]
                    last = off + 16384 >= len(block)
                    frames.append(h2_frame(1 if off == 0 else 9, 4 if last else 0, stream,
                                           chunk))
                frames.append(h2_frame(0, 1, stream, json.dumps(LIST).encode()))
                self.request.sendall(b"".join(frames))


class Garbage(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.request.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        except OSError:
            pass


class GarbageServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("modes", nargs="+")
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL

    servers = []
    for spec in a.modes:
        mode, _, port = spec.rpartition(":")
        port = int(port)
        if mode == "tlsgarbage":
            srv = GarbageServer((a.addr, port), Garbage)
        elif mode.startswith("h2hugeheader"):
            srv = GarbageServer((a.addr, port), H2HugeHeader)
            srv.header_size = int(mode.split(":")[1]) if ":" in mode else 10 << 20
            h2ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            h2ctx.load_cert_chain(a.cert, a.key)
            h2ctx.load_verify_locations(a.ca)
            h2ctx.verify_mode = ssl.CERT_OPTIONAL
            h2ctx.set_alpn_protocols(["h2"])
            srv.socket = h2ctx.wrap_socket(srv.socket, server_side=True,
                                           do_handshake_on_connect=False)
            servers.append(srv)
            continue
        else:
            host = "[%s]" % a.addr if ":" in a.addr else a.addr
            srv = Server((a.addr, port), make_handler(mode, "https://%s:%d" % (host, port)))
        if mode != "plain":
            # Handshake in the handler thread (lazily), so a stuck client never blocks accept.
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                         do_handshake_on_connect=False)
        servers.append(srv)
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
