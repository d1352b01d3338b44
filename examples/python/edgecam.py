"""Read a camera's decoded frames from edgecam as numpy arrays, and send
back what a model found in them.

    from edgecam import Frames

    with Frames("http://box:8080", "press-1", width=640, fps=5) as frames:
        for meta, image in frames:        # image: a BGR numpy array (H, W, 3)
            boxes = my_model(image)
            frames.send(meta["pts"], "my-model", [
                {"label": "part", "score": 0.93,
                 "box": {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}},
            ])

Needs only Debian's python3-numpy and python3-websocket (no pip). The
protocol is in edgecam's docs/api.md: /cameras/{name}/frames sends one
"info" text message, then per frame a "frame" text message (its pts, seq,
times, size) and the pixels as one binary message. Detections go back as
text messages on the same socket and reach every viewer of the camera,
drawn on the frame they name by its pts.
"""

import json
import urllib.parse

import numpy as np
import websocket

# Bytes per pixel of the raw formats; "jpeg" frames come as bytes.
CHANNELS = {"bgr24": 3, "rgb24": 3, "gray": 1}

SCHEMA_VERSION = 1


class EdgecamError(Exception):
    """What edgecam answered when it refused a request or a message."""


class Frames:
    """One /frames WebSocket: iterate it for (meta, image) pairs.

    base is the daemon's URL (http://box:8080), camera the camera's name.
    format is bgr24 (OpenCV's order), rgb24, gray or jpeg; width scales the
    pictures (aspect kept, never up), fps caps their rate, keyframes_only
    decodes only the camera's keyframes (one picture per GOP, far less
    CPU). token is an API token (edgecam passwd --token) when the daemon
    asks for a login.

    A slow model always gets the newest frame: nothing queues, and
    meta["dropped"] counts what it missed.
    """

    def __init__(self, base, camera, format="bgr24", width=None, fps=None,
                 keyframes_only=False, token=None, timeout=30):
        if format not in CHANNELS and format != "jpeg":
            raise ValueError(f"format {format!r}: want bgr24, rgb24, gray or jpeg")
        query = {"format": format}
        if width:
            query["width"] = str(int(width))
        if fps:
            query["fps"] = str(fps)
        if keyframes_only:
            query["keyframes_only"] = "1"
        parts = urllib.parse.urlsplit(base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = parts.path.rstrip("/") + "/cameras/" + urllib.parse.quote(camera, safe="") + "/frames"
        self.url = urllib.parse.urlunsplit((scheme, parts.netloc, path, urllib.parse.urlencode(query), ""))
        headers = [f"Authorization: Bearer {token}"] if token else []
        self.camera = camera
        try:
            self.ws = websocket.create_connection(self.url, header=headers, timeout=timeout)
        except websocket.WebSocketBadStatusException as e:
            raise EdgecamError(f"camera {camera!r}: edgecam refused the frames: {e}") from None
        self.errors = []  # refused detections, as edgecam explained them
        self.info = self._text()
        if self.info.get("type") != "info":
            raise EdgecamError(f"camera {camera!r}: expected the info message, got {self.info}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        while True:
            yield self.next()

    def _text(self):
        while True:
            opcode, data = self.ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise EdgecamError(f"camera {self.camera!r}: edgecam closed the frames: {_close_reason(data)}")
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            msg = json.loads(data)
            if msg.get("type") == "error":
                # A detections message edgecam refused: keep the reason and
                # go on, the frames keep coming.
                self.errors.append(msg.get("error", ""))
                continue
            return msg

    def next(self):
        """Return the next frame: (meta, image), image a numpy array of
        shape (height, width, 3) or (height, width) for gray, or the JPEG's
        bytes."""
        meta = self._text()
        while meta.get("type") != "frame":
            meta = self._text()
        opcode, data = self.ws.recv_data()
        while opcode != websocket.ABNF.OPCODE_BINARY:
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise EdgecamError(f"camera {self.camera!r}: edgecam closed the frames: {_close_reason(data)}")
            opcode, data = self.ws.recv_data()
        fmt = meta["format"]
        if fmt == "jpeg":
            return meta, data
        h, w, stride, ch = meta["height"], meta["width"], meta["stride"], CHANNELS[fmt]
        rows = np.frombuffer(data, dtype=np.uint8).reshape(h, stride)
        image = rows[:, : w * ch].reshape(h, w, ch) if ch > 1 else rows[:, :w]
        return meta, image

    def send(self, pts, model, objects):
        """Send a model's findings in the frame with this pts: objects are
        dicts with label, score (0..1), box {x, y, w, h} as fractions of
        the picture's size, and optionally track (an id) and color
        ("#rrggbb"). Send an empty list for a frame with nothing in it:
        viewers then know the model looked."""
        self.ws.send(json.dumps({"type": "detections", "version": SCHEMA_VERSION,
                                 "pts": pts, "model": model, "objects": objects}))

    def close(self):
        self.ws.close()


def _close_reason(data):
    if len(data) >= 2:
        code = int.from_bytes(data[:2], "big")
        reason = data[2:].decode("utf-8", "replace")
        return f"{code} {reason}".strip()
    return "no reason given"
