#!/usr/bin/env bash
# Installs the Debian packages rptui's media, TUI and tests use: ffmpeg/ffplay (video), tmux and
# Xvfb (terminal and window tests), xterm and kitty (the terminal picture in sixel and kitty
# graphics, under Xvfb), ALSA headers (the optional `speaker` module), libusb/libudev (optional
# gamepad modules), imagemagick (screenshots). Safe to run again.
set -euo pipefail
pkgs=(ffmpeg tmux xvfb x11-apps xterm kitty imagemagick libasound2-dev libusb-1.0-0 libudev-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
