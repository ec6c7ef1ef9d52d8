#!/usr/bin/env bash
# Installs the Debian / Raspberry Pi OS packages rptui uses: ffmpeg/ffplay (video), tmux (the
# autostart session, terminal tests), ALSA headers and a compiler (the optional `speaker` module
# is built at install time), libusb/libudev (optional gamepad modules); and for the tests Xvfb,
# x11-apps, imagemagick (windows and screenshots), xterm and kitty (the terminal picture in sixel
# and kitty graphics, under Xvfb). `--runtime`: only what playing needs (a Pi). Safe to run again.
set -euo pipefail
pkgs=(ffmpeg tmux libasound2-dev g++ make python3 libusb-1.0-0 libudev-dev)
[ "${1:-}" = "--runtime" ] || pkgs+=(xvfb x11-apps imagemagick xterm kitty)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
