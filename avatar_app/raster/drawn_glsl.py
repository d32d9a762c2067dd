"""GLSL of the drawn look (see :mod:`avatar_app.raster.drawn_look` for what it draws and why).

Two programs: ``DRAWN`` shades each fragment from its rest-pose position into a G-buffer
(colour, rest position + contour group, depth); ``EDGES`` is a full-screen pass that draws
contour lines where the background, a nearer surface or a jump in rest position is within
the line's radius, on the far side of a contour (inside the silhouette, so alpha stays the
UDP mask). Widths on the body are in metres (they scale with the drawing); seams use
``fwidth`` so they stay about a line wide on screen.
"""

from __future__ import annotations

DRAWN_VERTEX = """
#version 330
uniform mat4 view_projection;
in vec3 in_position;
in vec3 in_rest;
in vec4 in_field0;
in vec4 in_field1;
in vec3 in_normal;
in float in_group;
out vec3 v_rest;
out vec4 v_field0;
out vec4 v_field1;
out vec3 v_normal;
out vec3 v_world;
flat out float v_group;
void main() {
    gl_Position = view_projection * vec4(in_position, 1.0);
    v_rest = in_rest;
    v_field0 = in_field0;
    v_field1 = in_field1;
    v_normal = in_normal;
    v_world = in_position;
    v_group = in_group;
}
"""

DRAWN_FRAGMENT = """
#version 330
uniform vec3 colors[8];
uniform vec4 pattern_params[3];
uniform vec3 pattern_colors[3];
uniform vec3 trim_color;
uniform int trims;
uniform vec4 skirt_span;
uniform vec3 shadow_tint;
uniform float shadow_cut;
uniform int shadow_steps;
uniform vec3 light_dir;
uniform vec3 view_dir;
uniform float line_px;
uniform vec3 eye_centre;
uniform vec2 eye_unit;
uniform vec4 eye_shape;
uniform vec3 iris_color;
uniform vec3 iris_dark;
uniform vec4 eye_details;
uniform vec4 face_span;
uniform int mouth_kind;
uniform vec3 head_centre;
uniform vec4 hair_details;
uniform vec4 collar;
in vec3 v_rest;
in vec4 v_field0;
in vec4 v_field1;
in vec3 v_normal;
in vec3 v_world;
flat in float v_group;
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_geom;
layout(location = 2) out vec4 out_depth;

const float PI = 3.14159265;
uniform vec3 line_color;
#define LINE line_color

float hash(float n) { return fract(sin(n * 12.9898) * 43758.5453); }

// 1 inside an ellipse (centre c, radii r), crisp
float ellipse(vec2 p, vec2 c, vec2 r) { vec2 d = (p - c) / r; return step(dot(d, d), 1.0); }

bool band(float v, float pattern_period, float phase) {
    return mod(floor(v / (0.5 * pattern_period) + 2.0 * phase), 2.0) > 0.5;
}

// a pattern's second colour (pattern_params: kind, period, phase); across is signed
float pattern_mask(vec4 p, float across, float along) {
    int kind = int(p.x + 0.5);
    float period = p.y, phase = p.z;
    bool a = band(abs(across), period, phase), b = band(along, period, phase);
    if (kind == 1) return float(b);
    if (kind == 2) return float(a);
    if (kind == 3) return float(a != b);
    if (kind == 4) return float(across > 0.0);
    if (kind == 5) {
        vec2 cell = vec2(abs(across), along) / (0.5 * period) + phase;
        vec2 f = fract(cell) - 0.5;
        return step(length(f), 0.24);
    }
    if (kind == 6) {
        vec2 g = fract(vec2(abs(across), along) / period + phase);
        float wide = float(g.x < 0.22 || g.y < 0.22);
        float thin = float(abs(g.x - 0.6) < 0.03 || abs(g.y - 0.6) < 0.03);
        return max(wide * 0.6, thin);
    }
    return 0.0;
}

// the face: returns colour over base; only called on face skin and the eye discs
vec3 face(vec3 base, vec3 p, inout float shade_lock) {
    float s = face_span.z;
    float side = p.x >= 0.0 ? 1.0 : -1.0;
    vec2 q = vec2((p.x - side * eye_centre.x) / eye_unit.x, (p.y - eye_centre.y) / eye_unit.y);
    float out_u = q.x * side;  // > 0 towards the temple
    float top = eye_shape.x * (1.0 - 0.45 * q.x * q.x) + eye_shape.z * out_u;
    float bottom = -eye_shape.y * (1.0 - 0.55 * q.x * q.x) + 0.4 * eye_shape.z * out_u;
    vec3 c = base;
    float lash = 0.11 * eye_details.y;
    // brows
    float brow_y = eye_shape.x + 0.75 + 0.22 * (1.0 - q.x * q.x) - 0.12 * out_u;
    float brow_w = eye_details.z == 1.0 ? 0.14 : 0.07;
    if (eye_details.z == 2.0) brow_y = eye_shape.x + 0.85 - 0.05 * out_u;
    if (abs(q.y - brow_y) < brow_w * (1.0 - 0.5 * out_u) && out_u > -0.95 && out_u < 1.0) c = mix(LINE, base, 0.25);
    bool inside = abs(q.x) < 1.0 && q.y < top && q.y > bottom;
    if (inside) {
        shade_lock = 1.0;
        c = colors[7];
        vec2 ir = vec2(0.6, 0.82) * eye_shape.w;
        vec2 ic = vec2(0.0, -0.06);
        vec2 d = (q - ic) / ir;
        if (dot(d, d) < 1.0) {
            float t = clamp((q.y - ic.y) / ir.y, -1.0, 1.0);
            c = mix(iris_color, iris_dark, smoothstep(-0.1, 0.55, t) > 0.5 ? 1.0 : 0.0);
            if (t < -0.45 && dot(d, d) > 0.35) c = mix(iris_color, vec3(1.0), 0.35);
            if (dot(d, d) > 0.8) c = iris_dark * 0.8;
            vec2 pd = (q - ic - vec2(0.0, 0.05)) / (ir * vec2(0.42, 0.46));
            if (dot(pd, pd) < 1.0) c = iris_dark * 0.45;
            if (ellipse(q, ic + vec2(-0.24, 0.3) * ir, vec2(0.2, 0.22) * ir.x) > 0.5) c = vec3(1.0);
            if (eye_details.x > 1.5 && ellipse(q, ic + vec2(0.28, -0.45) * ir, vec2(0.09) * ir.x) > 0.5) c = vec3(1.0);
        }
        if (q.y > top - 0.16) c = mix(c, c * 0.7, 1.0);  // the lid's shadow on the eye
    }
    // upper lashes: a heavy line over the top lid, thicker to the outer corner, with a flick
    float w_up = lash * (1.0 + 0.9 * clamp(out_u, 0.0, 1.0));
    if (abs(q.x) < 1.06 && q.y > top - w_up * 0.6 && q.y < top + w_up) { c = LINE; shade_lock = 1.0; }
    if (out_u > 0.8 && out_u < 1.35 && abs(q.y - (top + 0.35 * (out_u - 0.8))) < lash * 0.7 * (1.35 - out_u) / 0.55) {
        c = LINE; shade_lock = 1.0;
    }
    // lower lash: the outer half of the lower lid
    if (out_u > 0.05 && out_u < 1.0 && abs(q.y - bottom) < 0.05 * eye_details.y) { c = mix(LINE, c, 0.2); }
    // nose and mouth, on the centre line
    float mid = face_span.x + 0.62 * (eye_centre.y - face_span.x);
    float mouth_y = face_span.x + 0.3 * (eye_centre.y - face_span.x);
    vec2 n = vec2(p.x / (0.0025 * s), (p.y - mid) / (0.004 * s));
    if (dot(n, n) < 1.0 && p.x > -0.0005 * s) c = mix(LINE, base, 0.45);
    vec2 m = vec2(p.x / (0.011 * s), (p.y - mouth_y) / (0.006 * s));
    float lw = 0.16;
    if (mouth_kind == 0 && abs(m.x) < 1.0 && abs(m.y - (0.45 * m.x * m.x - 0.2)) < lw) c = LINE;
    if (mouth_kind == 4 && abs(m.x) < 0.8 && abs(m.y + (0.45 * m.x * m.x - 0.2)) < lw) c = LINE;
    if (mouth_kind == 3 && abs(m.x) < 0.5 && abs(m.y) < lw) c = LINE;
    if (mouth_kind == 2) {
        float a = abs(abs(m.x) - 0.45);
        if (abs(m.x) < 0.9 && abs(m.y - (1.0 * a * a - 0.15)) < lw) c = LINE;
    }
    if (mouth_kind == 1 && abs(m.x) < 1.0) {
        float low = -1.1 * (1.0 - m.x * m.x);
        if (m.y < 0.15 && m.y > low) {
            c = m.y < 0.6 * low ? vec3(0.92, 0.45, 0.5) : vec3(0.5, 0.1, 0.15);
            if (m.y > 0.15 - lw || m.y < low + lw) c = LINE;
            shade_lock = 1.0;
        }
    }
    // blush under the eyes, with three hatch strokes
    if (face_span.w > 0.5) {
        vec2 b = vec2((p.x - side * (eye_centre.x + 0.25 * eye_unit.x)) / (1.2 * eye_unit.x),
                      (p.y - (eye_centre.y - 1.45 * eye_unit.y)) / (0.42 * eye_unit.y));
        if (dot(b, b) < 1.0 && c == base) {
            c = mix(base, vec3(1.0, 0.45, 0.5), 0.32);
            float h = fract((b.x * side + 0.6 * b.y) * 2.2 + 0.5);
            if (abs(h - 0.5) < 0.09 && abs(b.y) < 0.55) c = mix(base, vec3(0.85, 0.3, 0.35), 0.7);
        }
    }
    return c;
}

void main() {
    float f[8] = float[8](v_field0.x, v_field0.y, v_field0.z, v_field0.w,
                          v_field1.x, v_field1.y, v_field1.z, v_field1.w);
    int mat = 0, other = 0;
    float best = f[0], second = 1e9;
    for (int k = 1; k < 8; k++) {
        if (f[k] < best) { second = best; other = mat; best = f[k]; mat = k; }
        else if (f[k] < second) { second = f[k]; other = k; }
    }
    float gap = second - best;  // about twice the distance to the nearest material border (m)
    vec3 p = v_rest;
    vec3 base = colors[mat];
    float shade_lock = 0.0;  // 1: drawn features that cel shading leaves alone
    float s = face_span.z;
    bool in_face = (mat == 0 || mat == 7) && p.y > face_span.x - 0.004 * s && p.z > eye_centre.z - 0.045 * s
        && p.y < eye_centre.y + 0.06 * s;
    if (mat == 2) base = mix(base, pattern_colors[0], pattern_mask(pattern_params[0], p.x, p.y));
    if (mat == 3) {
        float around = atan(p.x, p.z - skirt_span.z) * 0.16;
        base = mix(base, pattern_colors[1], pattern_mask(pattern_params[1], around, p.y));
        if (trims == 1 && (p.y < skirt_span.x + 0.018 || p.y > skirt_span.y - 0.012)) base = trim_color;
        if (skirt_span.w > 0.5 && p.y < skirt_span.y - 0.03) {
            float t = atan(p.x, p.z - skirt_span.z) / (2.0 * PI) * skirt_span.w;
            float d = abs(fract(t) - 0.5) / max(fwidth(t), 1e-6);
            if (d < 0.5 * line_px && fwidth(t) < 0.3) base = mix(base, LINE, 0.55);
        }
    }
    if (mat == 5) base = mix(base, pattern_colors[2], pattern_mask(pattern_params[2], p.x, p.y));
    if (mat == 6 && p.y < 0.012) base *= 0.55;
    bool edge_band = trims == 1 && gap > 0.0 && gap < 0.024;
    if (edge_band && ((mat == 2 && (other == 0 || other == 3 || other == 4)) || (mat == 5 && other == 0)
                      || (mat == 4 && (other == 0 || other == 5))))
        base = mat == 2 ? trim_color : mix(base, trim_color, 0.85);
    if (mat == 2 && p.z > head_centre.z) {
        float below = face_span.y - p.y;  // metres under the neck joint
        int kind = int(collar.x + 0.5);
        if (kind == 1 && below > 0.0 && abs(p.x) < 0.7 * (0.11 - below) && below < 0.11) base = colors[0];
        if (kind == 2 && below > -0.02 && below < 0.13 && abs(p.x) > 0.55 * (0.13 - below) - 0.03) base = trim_color;
        if (kind == 3 && below > 0.03 && below < 0.07 && abs(p.x) < 0.045 * (1.0 - abs(below - 0.05) * 10.0))
            base = vec3(0.85, 0.12, 0.2);
        if (collar.y > 0.5 && abs(p.x) < 0.02 && below > 0.1) {
            float k = fract(below / 0.06);
            if (length(vec2(p.x, (k - 0.5) * 0.06)) < 0.007) base = mix(base, trim_color, 0.8) * 0.9;
        }
    }
    if (mat == 1) {  // hair: strands from the crown down, and a shine band
        float az = atan(p.x, p.z - head_centre.z);
        float t = az / (2.0 * PI) * hair_details.x;
        float k = floor(t);
        float start = head_centre.y + (0.08 - 0.07 * hash(k + 3.0)) * s;
        float d = abs(fract(t) - 0.5) / max(fwidth(t), 1e-6);
        if (hair_details.x > 0.5 && d < 0.35 * line_px && p.y < start && fwidth(t) < 0.25) base = mix(base, LINE, 0.45);
        float zig = 0.006 * s * abs(fract(az * 6.0 / PI) - 0.5);
        float shine = head_centre.y + 0.05 * s + zig;
        if (hair_details.y > 0.5 && p.y > shine && p.y < shine + 0.011 * s && p.z > head_centre.z - 0.02 * s)
            { base = mix(base, vec3(1.0), 0.45); shade_lock = 1.0; }
    }
    if (in_face) base = face(base, p, shade_lock);

    // cel shading: hard steps of a light fixed to the camera
    vec3 normal = normalize(v_normal);
    if (dot(normal, view_dir) > 0.0) normal = -normal;  // two-sided: face the viewer
    float light = dot(normal, light_dir);
    // the head's skin is drawn almost unshaded, as anime faces are: one small step at most
    bool head_skin = (mat == 0 || mat == 7) && p.y > face_span.x - 0.004 * s && distance(p, head_centre) < 0.15 * s;
    float cut = head_skin ? shadow_cut - 0.75 : shadow_cut;
    vec3 color = base;
    if (shade_lock < 0.5 && shadow_steps >= 1 && light < cut) color = base * shadow_tint;
    if (shade_lock < 0.5 && !head_skin && shadow_steps >= 2 && light < cut - 0.5)
        color = base * shadow_tint * shadow_tint;
    // seams between materials, about a line wide on screen
    float seam = gap / max(fwidth(gap), 1e-6);
    if (gap < 0.03 && seam < 0.5 * line_px && other != 7 && mat != 7) color = mix(color, LINE, 0.8);
    out_color = vec4(color, 1.0);
    out_geom = vec4(v_rest, v_group);
    out_depth = vec4(gl_FragCoord.z, 0.0, 0.0, 1.0);
}
"""

EDGES_VERTEX = """
#version 330
in vec2 in_corner;
void main() { gl_Position = vec4(in_corner, 0.0, 1.0); }
"""

EDGES_FRAGMENT = """
#version 330
uniform sampler2D color_tex;
uniform sampler2D geom_tex;
uniform sampler2D depth_tex;
uniform float line_px;
uniform float rest_jump;
uniform vec3 line_color;
uniform float line_tint;
out vec4 out_color;
const int TAPS = 12;
void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    ivec2 last = textureSize(color_tex, 0) - 1;
    vec4 c = texelFetch(color_tex, p, 0);
    if (c.a == 0.0 || line_px < 0.5) { out_color = c; return; }
    vec4 g = texelFetch(geom_tex, p, 0);
    float depth = texelFetch(depth_tex, p, 0).x;
    bool line = false;
    for (int ring = 0; ring < 2 && !line; ring++) {
        float radius = ring == 0 ? line_px : 0.5 * line_px;
        for (int k = 0; k < TAPS; k++) {
            float a = 6.2831853 * (float(k) + 0.5 * float(ring)) / float(TAPS);
            ivec2 q = clamp(p + ivec2(round(radius * vec2(cos(a), sin(a)))), ivec2(0), last);
            if (texelFetch(color_tex, q, 0).a == 0.0) { line = true; break; }
            vec4 gq = texelFetch(geom_tex, q, 0);
            float dq = texelFetch(depth_tex, q, 0).x;
            if (dq < depth - 1e-5 && (gq.w != g.w || distance(gq.xyz, g.xyz) > rest_jump)) { line = true; break; }
        }
    }
    if (line) c = vec4(mix(line_color, c.rgb * 0.35, line_tint), 1.0);
    out_color = c;
}
"""
