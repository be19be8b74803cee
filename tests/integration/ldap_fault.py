# Misbehaving LDAP servers for the directory fault tests, on a free loopback port, each in a
# thread of the test process: one that closes every connection at once, one that accepts and
# never answers, one that answers like a web server and hangs up, one that refuses every bind
# with a diagnostic message of the test's bytes, one that accepts binds and refuses every
# search with a result code the client has no special sentence for, and a relay in front of a real
# slapd that forwards until the client sends its Nth search request and then cuts the
# connection, stops forwarding (the client's wait runs out), or calls back first (the test stops
# slapd itself). It reads only the client's message framing (BER: tag, length), never changes a
# byte it forwards.
import socket
import threading

import harness as h

CLOSE, SILENT, GARBAGE, RELAY, REFUSE = "close", "silent", "garbage", "relay", "refuse"
UNWILLING = "unwilling"  # binds accepted, every search answered unwillingToPerform (53)
SEARCH_REQUEST = 0x63  # [APPLICATION 3], constructed


def _read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _read_message(sock):
    """One BER-framed LDAPMessage from `sock` (bytes), or None at end of stream."""
    head = _read_exact(sock, 2)
    if head is None:
        return None
    length, extra = head[1], b""
    if length & 0x80:
        extra = _read_exact(sock, length & 0x7F)
        if extra is None:
            return None
        length = int.from_bytes(extra, "big")
    body = _read_exact(sock, length)
    return None if body is None else head + extra + body


def _ber_len(n):
    return bytes([n]) if n < 0x80 else b"\x82" + n.to_bytes(2, "big")


def _op_tag(message):
    """The protocolOp tag of an LDAPMessage: after the SEQUENCE header and the message id."""
    i = 2 + (message[1] & 0x7F if message[1] & 0x80 else 0)
    i += 2 + message[i + 1]  # INTEGER messageID (short length: ids stay small here)
    return message[i]


class FaultyLdap:
    """mode CLOSE, SILENT or GARBAGE; or RELAY to upstream_port, where `on_search` = (n, action)
    acts on the client's nth search request (1-based): "cut" closes both sides, "stall" stops
    forwarding, a callable runs and then the request is forwarded (to whatever is left).
    `searches` counts the search requests seen, over all connections."""

    def __init__(self, mode, upstream_port=None, on_search=None, message=b""):
        self.mode, self.upstream_port, self.on_search = mode, upstream_port, on_search
        self.message = message
        self.searches = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._socks = []
        self._stopped = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        h.defer(self.stop)

    def url(self):
        return "ldap://127.0.0.1:%d" % self.port

    def _track(self, sock):
        with self._lock:
            self._socks.append(sock)

    def _accept(self):
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            self._track(conn)
            if self.mode == CLOSE:
                conn.close()
            elif self.mode == GARBAGE:
                threading.Thread(target=self._garbage, args=(conn,), daemon=True).start()
            elif self.mode == REFUSE:
                threading.Thread(target=self._refuse, args=(conn,), daemon=True).start()
            elif self.mode == UNWILLING:
                threading.Thread(target=self._unwilling, args=(conn,), daemon=True).start()
            elif self.mode == RELAY:
                threading.Thread(target=self._relay, args=(conn,), daemon=True).start()
            # SILENT: kept open, never read, closed by stop()

    @staticmethod
    def _garbage(conn):
        """What a web server on the LDAP port does: an HTTP error, then it hangs up."""
        try:
            if conn.recv(4096):
                conn.sendall(b"HTTP/1.0 400 this is not an LDAP server\r\n\r\n")
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _refuse(self, conn):
        """Answers every bind with invalidCredentials (49) and `self.message` (bytes) as the
        diagnostic message, whatever bytes those are."""
        try:
            while True:
                msg = _read_message(conn)
                if msg is None:
                    return
                i = 2 + (msg[1] & 0x7F if msg[1] & 0x80 else 0)
                msgid = msg[i:i + 2 + msg[i + 1]]
                diag = self.message
                result = b"\x0a\x01\x31\x04\x00" + b"\x04" + _ber_len(len(diag)) + diag
                op = b"\x61" + _ber_len(len(result)) + result
                body = msgid + op
                conn.sendall(b"\x30" + _ber_len(len(body)) + body)
        except OSError:
            pass

    @staticmethod
    def _result(conn, msg, op, code, diag=b""):
        """Sends an LDAPResult of protocolOp `op` with resultCode `code` for request `msg`."""
        i = 2 + (msg[1] & 0x7F if msg[1] & 0x80 else 0)
        msgid = msg[i:i + 2 + msg[i + 1]]
        result = b"\x0a\x01" + bytes([code]) + b"\x04\x00" + b"\x04" + _ber_len(len(diag)) + diag
        body = msgid + bytes([op]) + _ber_len(len(result)) + result
        conn.sendall(b"\x30" + _ber_len(len(body)) + body)

    def _unwilling(self, conn):
        """Accepts every bind; answers every search with unwillingToPerform (53) and
        `self.message` as the diagnostic message; stops at an unbind."""
        try:
            while True:
                msg = _read_message(conn)
                if msg is None:
                    return
                tag = _op_tag(msg)
                if tag == 0x60:  # BindRequest: BindResponse success
                    self._result(conn, msg, 0x61, 0)
                elif tag == SEARCH_REQUEST:  # SearchResultDone
                    with self._lock:
                        self.searches += 1
                    self._result(conn, msg, 0x65, 53, self.message)
                else:  # an unbind, or anything else: the end
                    conn.shutdown(socket.SHUT_RDWR)
                    return
        except OSError:
            pass

    def _relay(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._track(upstream)
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        try:
            while True:
                msg = _read_message(client)
                if msg is None:
                    break
                if _op_tag(msg) == SEARCH_REQUEST:
                    with self._lock:
                        self.searches += 1
                        nth = self.searches
                    if self.on_search and self.on_search[0] == nth:
                        action = self.on_search[1]
                        if action == "cut":
                            break
                        if action == "stall":
                            while client.recv(4096):  # swallow, never forward, until it hangs up
                                pass
                            break
                        action()
                upstream.sendall(msg)
        except OSError:
            pass
        for s in (client, upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._thread.join(5)
