#!/usr/bin/env bash
# Installs the Debian packages avatar_app needs, when they are missing and we are root.
# Quick when everything is present (one dpkg-query); never fails the build when not root:
# it prints what to install instead.
set -euo pipefail
# Mesa EGL/GL for headless rasterization (moderngl); Qt's runtime libraries (libxcb-* for its xcb
# platform on a real display); Debian's Chromium,
# which the browser-source tests drive headless (the way OBS's Browser Source shows the page);
# PortAudio for the microphone (sounddevice loads it; the tests fake the sound card below it, in ALSA);
# espeak-ng, the speech synthesiser tools/evaluate_mic.py measures the vowels on.
PACKAGES=(libegl1 libgl1 libgles2 libegl-mesa0 libgl1-mesa-dri libdbus-1-3 libxkbcommon0 libfontconfig1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 chromium libportaudio2 espeak-ng)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "avatar_app: missing system packages: ${missing[*]}" >&2
  echo "  install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "avatar_app: installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
