#!/usr/bin/env python3
"""A motion detector for edgecam: OpenCV's background subtraction (MOG2)
on a camera's frames, with a box around everything that moves, drawn live
over the camera on edgecam's page and in its snapshots.

    python3 motion.py demo                       # edgecam run --demo
    python3 motion.py press-1 --url http://box:8080 --token "$TOKEN"

Runs offline on the box with Debian's packages:
    apt-get install python3-opencv python3-numpy python3-websocket

It reads 640-pixel-wide gray frames at 5 a second, the least a motion
detector needs, and answers for every frame it reads (an empty list when
nothing moves). If the daemon restarts or the camera goes away it
reconnects by itself.
"""

import argparse
import os
import signal
import sys
import time

import cv2

from edgecam import EdgecamError, Frames

MODEL = "motion"
MAX_OBJECTS = 20


def find_motion(subtractor, kernel, image, min_area):
    """Boxes around the moving regions of one frame, largest first, as
    fractions of the picture's size."""
    mask = subtractor.apply(image)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.dilate(mask, kernel, iterations=2)
    contours = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[-2]
    h, w = image.shape[:2]
    found = []
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        if bw * bh < min_area * w * h:
            continue
        # Score: how much of the box actually moved.
        score = min(1.0, cv2.contourArea(c) / float(bw * bh))
        found.append((bw * bh, {"label": "motion", "score": round(score, 3),
                                "box": {"x": x / w, "y": y / h, "w": bw / w, "h": bh / h}}))
    found.sort(key=lambda f: -f[0])
    return [o for _, o in found[:MAX_OBJECTS]]


def run(args, stop):
    subtractor = cv2.createBackgroundSubtractorMOG2(history=args.history, varThreshold=25, detectShadows=False)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    count = 0
    backoff = 1
    while not stop["now"]:
        try:
            with Frames(args.url, args.camera, format="gray", width=args.width, fps=args.fps,
                        token=args.token) as frames:
                print(f"motion: reading {args.camera}: {frames.info['width']}x{frames.info['height']} "
                      f"at up to {frames.info['fps']:g} fps", file=sys.stderr)
                backoff = 1
                last_report = time.monotonic()
                for meta, image in frames:
                    objects = find_motion(subtractor, kernel, image, args.min_area)
                    frames.send(meta["pts"], MODEL, objects)
                    count += 1
                    if frames.errors:
                        print(f"motion: edgecam refused detections: {frames.errors[-1]}", file=sys.stderr)
                        frames.errors.clear()
                    now = time.monotonic()
                    if not args.quiet and now - last_report >= 5:
                        print(f"motion: {count} frames, {len(objects)} moving now, "
                              f"{meta['dropped']} dropped", file=sys.stderr)
                        last_report = now
                    if stop["now"] or (args.frames and count >= args.frames):
                        return 0
        except (EdgecamError, OSError, ConnectionError) as e:
            # websocket's errors derive from these; the daemon or the
            # camera may be back in a moment.
            print(f"motion: {e}; again in {backoff} s", file=sys.stderr)
        except Exception as e:  # websocket-client's own exceptions
            if type(e).__module__.split(".")[0] != "websocket":
                raise
            print(f"motion: {e}; again in {backoff} s", file=sys.stderr)
        if args.frames and count >= args.frames:
            return 0
        deadline = time.monotonic() + backoff
        while not stop["now"] and time.monotonic() < deadline:
            time.sleep(0.1)
        backoff = min(backoff * 2, 30)
    return 0


def main():
    p = argparse.ArgumentParser(description="Motion detector for an edgecam camera.")
    p.add_argument("camera", nargs="?", default="demo", help="camera name (default: demo)")
    p.add_argument("--url", default=os.environ.get("EDGECAM_URL", "http://127.0.0.1:8080"),
                   help="edgecam's address (default: $EDGECAM_URL or http://127.0.0.1:8080)")
    p.add_argument("--token", default=os.environ.get("EDGECAM_TOKEN"),
                   help="API token, if edgecam asks for a login (default: $EDGECAM_TOKEN)")
    p.add_argument("--width", type=int, default=640, help="frame width to analyse (default: 640)")
    p.add_argument("--fps", type=float, default=5, help="frames a second to analyse (default: 5)")
    p.add_argument("--min-area", type=float, default=0.002,
                   help="smallest box, as a fraction of the picture (default: 0.002)")
    p.add_argument("--history", type=int, default=100, help="frames the background is learned from (default: 100)")
    p.add_argument("--frames", type=int, default=0, help="stop after this many frames (default: run until stopped)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args()

    stop = {"now": False}

    def on_signal(*_):
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return run(args, stop)


if __name__ == "__main__":
    sys.exit(main())
