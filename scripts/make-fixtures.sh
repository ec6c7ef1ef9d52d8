#!/usr/bin/env bash
# Regenerates the media clips the console simulator streams and the media tests read.
# Needs ffmpeg with libx264, libx265 and libopus. Output is deterministic enough for the tests
# (they count frames/packets with ffprobe rather than hard-coding encoder output).
#
# Clips: 2 s loops at 60 fps, a key frame every 60 frames, no B-frames (a console stream never
# reorders frames), parameter sets repeated before every key frame, low bitrate so the
# committed files stay small. Audio: 1 kHz sine, 48 kHz stereo Opus in constant bitrate so every
# packet has the same size (an AV audio unit has a fixed size).
set -euo pipefail
cd "$(dirname "$0")/.."
out=test/fixtures/media
mkdir -p "$out"
ff=(ffmpeg -hide_banner -loglevel error -y)
dur=2

h264() { # size name bitrate
  "${ff[@]}" -f lavfi -i "testsrc2=size=$1:rate=60" -t "$dur" -an \
    -c:v libx264 -profile:v main -preset veryfast -tune zerolatency -pix_fmt yuv420p \
    -bf 0 -g 60 -keyint_min 60 -sc_threshold 0 -b:v "$3" -maxrate "$3" -bufsize "$3" \
    -x264-params repeat-headers=1:aud=0 -f h264 "$out/$2"
}
h264 640x360 testsrc-360p60.h264 200k
h264 1280x720 testsrc-720p60.h264 350k
h264 1920x1080 testsrc-1080p60.h264 500k

"${ff[@]}" -f lavfi -i "testsrc2=size=1280x720:rate=60" -t "$dur" -an \
  -c:v libx265 -preset veryfast -tune zerolatency -pix_fmt yuv420p -b:v 350k \
  -x265-params "keyint=60:min-keyint=60:scenecut=0:bframes=0:repeat-headers=1:log-level=error" \
  -f hevc "$out/testsrc-720p60.h265"

"${ff[@]}" -f lavfi -i "sine=frequency=1000:sample_rate=48000:duration=$dur" -ac 2 \
  -c:a libopus -b:a 64k -vbr off -frame_duration 20 -application audio \
  "$out/tone-1khz-48k-stereo.opus"

ls -l "$out"
