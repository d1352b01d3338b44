#!/bin/sh
# mkclip.sh makes clip.h264, the vision test clip: 640x360, 25 fps, 250
# frames in GOPs of 25, no B-frames, SPS/PPS before every IDR. Each picture
# shows its own frame number as ten white or dark 32x32 blocks along the
# bottom (bit k at x = 16+36k, y = 310) and a white 40x40 marker on a dark
# background that moves 8 pixels to the right per frame along y = 100
# (from x = 8 at frame 0: ffmpeg's overlay counts frames from 1),
# wrapping after 600 pixels. vision.go reads both back. Needs ffmpeg with
# libx264 (Debian: apt-get install ffmpeg).
set -eu
cd "$(dirname "$0")"
bits=""
k=0
while [ $k -lt 10 ]; do
	x=$((16 + k * 36))
	bits="$bits,drawbox=x=$x:y=310:w=32:h=32:color=white:t=fill:enable='eq(mod(floor(n/$((1 << k))),2),1)'"
	k=$((k + 1))
done
ffmpeg -hide_banner -loglevel error -y \
	-f lavfi -i "color=c=0x202020:s=640x360:r=25" \
	-f lavfi -i "color=c=white:s=40x40:r=25" \
	-filter_complex "[0][1]overlay=x='mod(n*8,600)':y=100:eval=frame:shortest=1$bits" \
	-frames:v 250 -pix_fmt yuv420p \
	-c:v libx264 -profile:v main -preset slow -bf 0 -crf 23 \
	-x264-params "keyint=25:min-keyint=25:scenecut=0:repeat-headers=1:aud=0" \
	-f h264 clip.h264
ls -l clip.h264
