"""The page OBS's Browser Source loads, and the wire format it reads.

Kept in Python (not a package-data .html file) so it ships with the code in every
install mode. The page is self-contained: no external scripts, fonts or styles.

Wire format, one binary WebSocket message per frame (little-endian):

    0   4 bytes  magic b"AVF1"
    4   uint32   width
    8   uint32   height
    12  uint32   frame index (counts every frame the app rendered, so skips show)
    16  width*height*4 bytes  RGBA8, straight (non-premultiplied) alpha, rows top-down

Why raw pixels: on the loopback interface bandwidth is free (1 MiB per 512x512
frame), while PNG encoding costs 25-50 ms and WebP 60-90 ms per 512x512 frame on a
2-core CPU, more than the whole frame budget; raw bytes go straight into
``ImageData`` with no decode step in the browser either.

Why straight alpha on the wire: ``ImageData`` is defined as non-premultiplied, so the
un-premultiplying happens once, in float32 on the server, from the renderer's
premultiplied output (doing it in the browser from 8-bit premultiplied values would
lose colour precision in soft edges).

Flow control: the page acknowledges each frame after drawing it and the server sends
only while fewer than ``WINDOW`` frames are unacknowledged, always the newest one, so a
slow browser skips frames instead of queueing them anywhere.

``?selftest=1`` makes the page report what it drew (a canvas read-back) back over the
same socket; the app's doctor check and the tests use it.
"""

from __future__ import annotations

import struct

MAGIC = b"AVF1"
HEADER = struct.Struct("<4sIII")  # magic, width, height, frame index
WINDOW = 2  # frames in flight per client: one drawing, one arriving
WS_PATH = "/ws"

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>avatar_app browser source</title>
<style>
  html, body { margin: 0; padding: 0; width: 100%; height: 100%; overflow: hidden; background: transparent; }
  canvas { display: block; width: 100%; height: 100%; object-fit: contain; background: transparent; }
</style>
</head>
<body>
<canvas id="avatar" width="1" height="1"></canvas>
<script>
"use strict";
(function () {
  const MAGIC = 0x31465641;  // "AVF1" read as a little-endian uint32
  const HEADER_BYTES = 16;
  const selftest = new URLSearchParams(location.search).get("selftest") === "1";
  const canvas = document.getElementById("avatar");
  const ctx = canvas.getContext("2d", { alpha: true });
  let framesDrawn = 0;

  function toBase64(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(text);
  }

  function report(ws, index, width, height) {
    // getImageData returns straight alpha, like putImageData takes it.
    const pixels = ctx.getImageData(0, 0, width, height).data;
    ws.send(JSON.stringify({
      type: "selftest", frame: index, frames_drawn: framesDrawn, width: width, height: height,
      body_background: getComputedStyle(document.body).backgroundColor,
      canvas_background: getComputedStyle(canvas).backgroundColor,
      rgba_base64: toBase64(pixels),
    }));
  }

  function draw(ws, buffer) {
    if (buffer.byteLength < HEADER_BYTES) return;
    const head = new DataView(buffer, 0, HEADER_BYTES);
    if (head.getUint32(0, true) !== MAGIC) return;
    const width = head.getUint32(4, true), height = head.getUint32(8, true), index = head.getUint32(12, true);
    if (buffer.byteLength !== HEADER_BYTES + width * height * 4) return;
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    // putImageData replaces pixels (no blending), so transparent pixels stay transparent.
    const pixels = new Uint8ClampedArray(buffer, HEADER_BYTES, width * height * 4);
    ctx.putImageData(new ImageData(pixels, width, height), 0, 0);
    framesDrawn += 1;
    if (selftest) report(ws, index, width, height);
    ws.send(JSON.stringify({ type: "ack", frame: index }));
  }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "__WS_PATH__");
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => { if (typeof event.data !== "string") draw(ws, event.data); };
    ws.onclose = () => setTimeout(connect, 1000);  // the app restarted: keep OBS's source alive
  }
  connect();
})();
</script>
</body>
</html>
""".replace("__WS_PATH__", WS_PATH)
