#!/bin/sh
# mkclip.sh regenerates the H.264 clips the test camera loops: clip.h264 (the
# main clip) and, with SIZE=320x240 FRAMES=50 OUT=lowres/clip_320x240.h264, the
# small clip tests switch the camera to, to simulate a resolution change.
#
# Needs ffmpeg with libx264, drawtext and fontconfig (Debian: apt-get install
# ffmpeg fonts-dejavu-core). The settings are a contract with clip.go and
# lowres/lowres.go (Width, Height, FPS, GOP) and with the tests:
#   - 640x360 (or SIZE), 25 fps, a whole number of GOPs (200 frames = 8 s by
#     default, FRAMES otherwise) so the loop point falls on a GOP boundary and
#     the clip restarts with an IDR;
#   - keyint=min-keyint=25 and scenecut=0 so every GOP is exactly 25 frames;
#   - no B-frames, so decode order equals presentation order and the camera
#     can stamp frame n with pts n*90000/25;
#   - repeat-headers=1 so SPS/PPS precede every IDR, like most real cameras;
#   - raw Annex-B output, which the package splits on start codes itself.
# The running timecode makes frozen or repeated frames visible in the demo.
set -eu
cd "$(dirname "$0")"
SIZE="${SIZE:-640x360}"
FRAMES="${FRAMES:-200}"
OUT="${OUT:-clip.h264}"
FONT="${FONT:-36}"
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "testsrc2=size=${SIZE}:rate=25" \
	-vf "drawtext=font='DejaVu Sans Mono':timecode='00\:00\:00\:00':rate=25:fontsize=${FONT}:fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=6:x=(w-tw)/2:y=20,drawtext=font='DejaVu Sans Mono':text='edgecam test camera':fontsize=$((FONT * 5 / 9)):fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=4:x=16:y=h-40" \
	-frames:v "${FRAMES}" -pix_fmt yuv420p \
	-c:v libx264 -profile:v main -preset slow -bf 0 \
	-crf "${CRF:-30}" -maxrate 250k -bufsize 250k \
	-x264-params "keyint=25:min-keyint=25:scenecut=0:repeat-headers=1:aud=0" \
	-f h264 "${OUT}"
ls -l "${OUT}"
