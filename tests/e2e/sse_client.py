"""An independent text/event-stream client for the tests and the bench: http.client for the
transport (it undoes the chunked encoding), and a parser written from the WHATWG HTML standard's
"Interpreting an event stream" rules, sharing nothing with sandpit's C encoder.

Rules followed: lines end at CRLF, LF or CR; a line starting with ':' is a comment; "field: value"
loses one space after the colon; a line without a colon is a field with an empty value; "data"
appends value + LF to the data buffer; "event" sets the type; an empty line dispatches the event
(type "message" when none was given) with the data's last LF removed, unless the data buffer is
empty, in which case nothing is dispatched; unknown fields are ignored.
"""
import http.client
import json
import socket
import time


class Event:
    def __init__(self, type_, data, t):
        self.type = type_
        self.data = data
        self.t = t  # time.monotonic() when its dispatching empty line was read

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return f"Event({self.type!r}, {self.data[:80]!r})"


class SseParser:
    def __init__(self):
        self.pending = ""
        self.type = ""
        self.data = []
        self.comments = []  # (text, time)
        self.saw_cr = False

    def _line(self, line, now, out):
        if line == "":
            if self.data:
                data = "".join(self.data)
                if data.endswith("\n"):
                    data = data[:-1]
                out.append(Event(self.type or "message", data, now))
            self.type = ""
            self.data = []
            return
        if line.startswith(":"):
            self.comments.append((line[1:], now))
            return
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "event":
            self.type = value
        elif field == "data":
            self.data.append(value + "\n")

    def feed(self, text, now=None):
        """Takes decoded text; returns the events it completed."""
        now = time.monotonic() if now is None else now
        out = []
        buf = self.pending + text
        i = 0
        start = 0
        while i < len(buf):
            c = buf[i]
            if c == "\n" or c == "\r":
                if c == "\r" and i + 1 == len(buf):
                    break  # may be a CRLF cut in two: wait for the next byte
                self._line(buf[start:i], now, out)
                if c == "\r" and buf[i + 1] == "\n":
                    i += 1
                start = i + 1
            i += 1
        self.pending = buf[start:]
        return out


class SseStream:
    """POSTs (or GETs) with Accept: text/event-stream and iterates the events as they come."""

    def __init__(self, port, path, body=None, method="POST", headers=None, timeout=60,
                 host="127.0.0.1", rcvbuf=None, read_delay=0):
        """rcvbuf: a small SO_RCVBUF for a slow client; read_delay: seconds to wait after
        sending before reading anything."""
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        if rcvbuf:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect((host, port))
            self.conn.sock = sock
        h = {"Accept": "text/event-stream"}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=h)
        time.sleep(read_delay)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.content_type = self.resp.getheader("Content-Type", "")
        self.parser = SseParser()
        self._bytes = b""
        self._ready = []

    @property
    def comments(self):
        return self.parser.comments

    def body_json(self):
        return json.loads(self.resp.read())

    def next_event(self):
        """The next event, or None at the end of the body."""
        while not self._ready:
            chunk = self.resp.read1(65536)
            if not chunk:
                return None
            now = time.monotonic()
            self._bytes += chunk
            # Decode only whole UTF-8: a character may be cut between two reads.
            try:
                text = self._bytes.decode("utf-8")
                self._bytes = b""
            except UnicodeDecodeError as e:
                if e.reason != "unexpected end of data":
                    raise
                text = self._bytes[:e.start].decode("utf-8")
                self._bytes = self._bytes[e.start:]
            self._ready.extend(self.parser.feed(text, now))
        return self._ready.pop(0)

    def __iter__(self):
        while True:
            ev = self.next_event()
            if ev is None:
                return
            yield ev

    def events(self):
        return list(self)

    def close(self):
        self.conn.close()
