#!/usr/bin/env python3
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
  plain        plain HTTP (no TLS) answering 501 like python's http.server
  tlsgarbage   TLS handshake, then a line that is not HTTP, then close
Writes "ready" on stdout when every port listens.
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
    if mode.startswith("list:"):
        doc = dict(LIST)
        doc["members"] = [{"ID": "18446744073709551615", "name": "fake",
                           "peerURLs": ["https://127.0.23.1:1"],
                           "clientURLs": [mode[len("list:"):]]}]
        return 200, "application/json", json.dumps(doc).encode()
    raise ValueError(mode)


def make_handler(mode):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
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
        else:
            srv = Server((a.addr, port), make_handler(mode))
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
