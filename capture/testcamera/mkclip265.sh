#!/bin/sh
# mkclip265.sh makes hevc/clip.h265, the H.265 clip of H.265 test cameras:
# the same picture and contract as mkclip.sh's H.264 clip (640x360, 25 fps,
# whole 25-frame GOPs, every GOP an IDR with VPS/SPS/PPS in front, no
# B-frames), encoded with libx265. closed GOPs (open-gop=0) so every keyframe
# is an IDR a decoder can start at.
#
# Needs ffmpeg with libx265, drawtext and fontconfig (Debian: apt-get install
# ffmpeg fonts-dejavu-core).
set -eu
cd "$(dirname "$0")"
OUT="${OUT:-hevc/clip.h265}"
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "testsrc2=size=640x360:rate=25" \
	-vf "drawtext=font='DejaVu Sans Mono':timecode='00\:00\:00\:00':rate=25:fontsize=36:fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=6:x=(w-tw)/2:y=20,drawtext=font='DejaVu Sans Mono':text='edgecam test camera H.265':fontsize=20:fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=4:x=16:y=h-40" \
	-frames:v 50 -pix_fmt yuv420p \
	-c:v libx265 -preset medium -crf 34 \
	-x265-params "log-level=error:keyint=25:min-keyint=25:scenecut=0:bframes=0:open-gop=0:repeat-headers=1:aud=0" \
	-f hevc "${OUT}"
ls -l "${OUT}"
