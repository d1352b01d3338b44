#!/bin/sh
# mkclip.sh makes clip.h264, the vision test clip: 640x360, 25 fps, 250
# frames in GOPs of 25, no B-frames, SPS/PPS before every IDR; and
# clip30.h264, the same pictures at 30 fps in GOPs of 30, whose SPS says 30
# fps, as most cameras' do. Each picture
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
clip() { # rate file
	ffmpeg -hide_banner -loglevel error -y \
		-f lavfi -i "color=c=0x202020:s=640x360:r=$1" \
		-f lavfi -i "color=c=white:s=40x40:r=$1" \
		-filter_complex "[0][1]overlay=x='mod(n*8,600)':y=100:eval=frame:shortest=1$bits" \
		-frames:v 250 -pix_fmt yuv420p \
		-c:v libx264 -profile:v main -preset slow -bf 0 -crf 23 \
		-x264-params "keyint=$1:min-keyint=$1:scenecut=0:repeat-headers=1:aud=0" \
		-f h264 "$2"
	ls -l "$2"
}
clip 25 clip.h264
clip 30 clip30.h264
