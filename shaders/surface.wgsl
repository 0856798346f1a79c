// The 3-D view: the regions' surfaces, lit by a light at the eye (both faces lit, so a surface seen from
// inside still shows), and the crosshair as three unlit lines (normal 0). One uniform: the
// world-to-clip matrix of an orthographic camera orbiting the regions, and the direction to the eye.

struct Uniforms {
    clip_from_world: mat4x4<f32>,
    to_eye: vec4<f32>,
};

@group(0) @binding(0) var<uniform> u: Uniforms;

struct VertexIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) colour: vec4<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) normal: vec3<f32>,
    @location(1) colour: vec4<f32>,
};

@vertex
fn vs_main(v: VertexIn) -> VertexOut {
    var out: VertexOut;
    out.clip = u.clip_from_world * vec4<f32>(v.position, 1.0);
    if (dot(v.normal, v.normal) == 0.0) {
        // The crosshair: never clipped by depth (the cursor may lie far from the surfaces).
        out.clip.z = clamp(out.clip.z, 0.0, 1.0);
    }
    out.normal = v.normal;
    out.colour = v.colour;
    return out;
}

@fragment
fn fs_main(v: VertexOut) -> @location(0) vec4<f32> {
    var light = 1.0;
    if (dot(v.normal, v.normal) > 0.0) {
        light = 0.3 + 0.7 * abs(dot(normalize(v.normal), u.to_eye.xyz));
    }
    return vec4<f32>(v.colour.rgb * light, 1.0);
}
