// One plane of the viewer: slices the 3-D textures of the shown modality, the label map and the heat map,
// applies window/level, the label colour table (filled or outline) or the heat ramp, and blends them.
// It draws the same pixels as the CPU path in src/render.rs (the glow fallback and the PNG export):
// grey = trunc(clamp((v - lo) * 255 / width, 0, 255)), then out = trunc(grey * (1 - a) + colour * a).

struct Slice {
    // Volume size in voxels (x, y, z) and the overlay mode: 0 none, 1 labels, 2 heat map.
    dims: vec4<u32>,
    // Voxel axes of the screen columns, the screen rows and the slice normal; the slice index.
    axes: vec4<u32>,
    // Columns / rows run towards lower voxel indices; outline instead of filled labels; the bit mask
    // of visible labels.
    flags: vec4<u32>,
    // The image rectangle in framebuffer pixels: left, top, width, height.
    rect: vec4<f32>,
    // Window: lowest value, 255 / width; overlay opacity; the heat map's maximum.
    window: vec4<f32>,
    // 1 when the framebuffer is sRGB (the hardware then encodes, so the shader decodes first).
    framebuffer: vec4<u32>,
    // Legend item colours 0..255 (index = item; items are training classes or nested regions).
    colours: array<vec4<f32>, 8>,
    // Bit i of members[l / 4][l % 4]: label value l belongs to item i.
    members: array<vec4<u32>, 2>,
};

@group(0) @binding(0) var<uniform> s: Slice;
@group(0) @binding(1) var volume: texture_3d<f32>;
@group(0) @binding(2) var labels: texture_3d<u32>;
@group(0) @binding(3) var heat: texture_3d<f32>;

// A triangle that covers the whole viewport; the fragment stage keeps the image rectangle.
@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let p = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    return vec4<f32>(p * 2.0 - 1.0, 0.0, 1.0);
}

fn size() -> vec2<i32> {
    return vec2<i32>(i32(s.dims[s.axes.x]), i32(s.dims[s.axes.y]));
}

// The voxel shown at screen pixel (col, row) of the slice.
fn voxel(col: i32, row: i32) -> vec3<i32> {
    let wh = size();
    var v = vec3<i32>(0, 0, 0);
    v[s.axes.x] = select(col, wh.x - 1 - col, s.flags.x == 1u);
    v[s.axes.y] = select(row, wh.y - 1 - row, s.flags.y == 1u);
    v[s.axes.z] = i32(s.axes.w);
    return v;
}

// Whether the label at (col, row) belongs to item i (never outside the slice).
fn member_at(col: i32, row: i32, i: u32) -> bool {
    let wh = size();
    if col < 0 || row < 0 || col >= wh.x || row >= wh.y {
        return false;
    }
    return member(textureLoad(labels, voxel(col, row), 0).r, i);
}

fn member(l: u32, i: u32) -> bool {
    if l >= 8u {
        return false;
    }
    return ((s.members[l / 4u][l % 4u] >> i) & 1u) == 1u;
}

// The legend item drawn at (col, row): the highest visible item holding the label, in outline mode
// only where one of the four neighbours lies outside it; 0 for none.
fn item_at(col: i32, row: i32, l: u32) -> u32 {
    for (var i = 7u; i >= 1u; i--) {
        if ((s.flags.w >> i) & 1u) == 0u || !member(l, i) {
            continue;
        }
        if s.flags.z == 0u || !member_at(col - 1, row, i) || !member_at(col + 1, row, i)
            || !member_at(col, row - 1, i) || !member_at(col, row + 1, i) {
            return i;
        }
    }
    return 0u;
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let lo = c / 12.92;
    let hi = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(hi, lo, c <= vec3<f32>(0.04045));
}

@fragment
fn fs_main(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = (pos.xy - s.rect.xy) / s.rect.zw;
    if uv.x < 0.0 || uv.y < 0.0 || uv.x >= 1.0 || uv.y >= 1.0 {
        discard;
    }
    let wh = size();
    let col = min(i32(floor(uv.x * f32(wh.x))), wh.x - 1);
    let row = min(i32(floor(uv.y * f32(wh.y))), wh.y - 1);
    let v = voxel(col, row);
    let value = textureLoad(volume, v, 0).r;
    let grey = trunc(clamp((value - s.window.x) * s.window.y, 0.0, 255.0));
    var px = vec3<f32>(grey);
    let opacity = s.window.z;
    if s.dims.w == 1u {
        let item = item_at(col, row, textureLoad(labels, v, 0).r);
        if item > 0u {
            px = trunc(px * (1.0 - opacity) + s.colours[item].rgb * opacity);
        }
    } else if s.dims.w == 2u {
        let t = clamp(textureLoad(heat, v, 0).r / max(s.window.w, 1e-12), 0.0, 1.0);
        let colour = vec3<f32>(255.0 * min(2.0 * t, 1.0), 255.0 * max(2.0 * t - 1.0, 0.0), 0.0);
        let a = opacity * t;
        px = trunc(px * (1.0 - a) + colour * a);
    }
    var rgb = px / 255.0;
    if s.framebuffer.x == 1u {
        rgb = srgb_to_linear(rgb);
    }
    return vec4<f32>(rgb, 1.0);
}
