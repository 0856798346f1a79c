//! The 3-D view's renderer: the regions' meshes in GPU buffers, drawn by `shaders/surface.wgsl` with a
//! depth buffer into a texture of the view's size (which egui then shows as an image), the crosshair
//! drawn over them. The orbit camera (yaw, pitch, zoom around the meshes' centre, orthographic, the
//! patient's right on the left as seen from the front) is a 4×4 matrix. `render_offscreen` reads the
//! pixels back for the tests.

use crate::surface::Mesh;
use eframe::egui_wgpu::wgpu;
use wgpu::util::DeviceExt;

/// The colour format of the rendered image (what egui's own textures use).
pub const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
const DEPTH: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// Position, normal, colour (RGBA, linear).
const FLOATS_PER_VERTEX: usize = 10;
const BACKGROUND: wgpu::Color = wgpu::Color {
    r: 0.02,
    g: 0.02,
    b: 0.025,
    a: 1.0,
};

/// A region's mesh and one linear RGBA colour per vertex.
#[derive(Debug, Clone)]
pub struct ColouredMesh {
    /// The legend item it shows (its visibility follows the item's).
    pub item: usize,
    pub mesh: Mesh,
    pub colours: Vec<[f32; 4]>,
}

/// An orbit around `centre`: yaw about the patient's long axis, pitch towards the head, `zoom` 1 fits
/// a sphere of `radius` mm in the view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub centre: [f32; 3],
    pub radius: f32,
    pub yaw: f32,
    pub pitch: f32,
    pub zoom: f32,
}

impl Camera {
    /// The direction from the centre to the eye, and the screen's right and up, in world (RAS) axes.
    /// Yaw 0, pitch 0: the eye in front of the patient (+A), the patient's right on the left.
    pub fn axes(&self) -> [[f32; 3]; 3] {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        let eye = [sy * cp, cy * cp, sp];
        let right = [-cy, sy, 0.0];
        // up = eye × right
        let up = [
            eye[1] * right[2] - eye[2] * right[1],
            eye[2] * right[0] - eye[0] * right[2],
            eye[0] * right[1] - eye[1] * right[0],
        ];
        [eye, right, up]
    }

    /// The world-to-clip matrix (column-major, as WGSL reads it) for an image `aspect` = width/height.
    pub fn matrix(&self, aspect: f32) -> [f32; 16] {
        let [eye, right, up] = self.axes();
        let s = self.zoom / self.radius.max(1e-3);
        let (sx, sy) = if aspect >= 1.0 {
            (s / aspect, s)
        } else {
            (s, s * aspect)
        };
        let depth = -1.0 / (2.02 * self.radius.max(1e-3));
        let dot = |a: [f32; 3], b: [f32; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let c = self.centre;
        let rows = [
            [
                sx * right[0],
                sx * right[1],
                sx * right[2],
                -sx * dot(c, right),
            ],
            [sy * up[0], sy * up[1], sy * up[2], -sy * dot(c, up)],
            [
                depth * eye[0],
                depth * eye[1],
                depth * eye[2],
                0.5 - depth * dot(c, eye),
            ],
            [0.0, 0.0, 0.0, 1.0],
        ];
        std::array::from_fn(|i| rows[i % 4][i / 4])
    }
}

/// What one image shows: the camera, the visible legend items (`visible[item]`) and the crosshair at
/// `cursor` (world mm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scene<'a> {
    pub camera: Camera,
    pub visible: &'a [bool],
    pub cursor: Option<[f32; 3]>,
}

struct GpuMesh {
    item: usize,
    vertices: wgpu::Buffer,
    indices: wgpu::Buffer,
    count: u32,
}

/// The pipelines, the uniform and the uploaded meshes.
pub struct SurfaceRenderer {
    surfaces: wgpu::RenderPipeline,
    lines: wgpu::RenderPipeline,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    meshes: Vec<GpuMesh>,
}

impl SurfaceRenderer {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("cloe-surface"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/surface.wgsl").into()),
        });
        let (layout, uniform, bind_group) = uniform_binding(device);
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("cloe-surface"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = |topology, depth_compare, label| {
            render_pipeline(
                device,
                &module,
                &pipeline_layout,
                topology,
                depth_compare,
                label,
            )
        };
        Self {
            surfaces: pipeline(
                wgpu::PrimitiveTopology::TriangleList,
                wgpu::CompareFunction::Less,
                "cloe-surface",
            ),
            lines: pipeline(
                wgpu::PrimitiveTopology::LineList,
                wgpu::CompareFunction::Always,
                "cloe-crosshair",
            ),
            uniform,
            bind_group,
            meshes: Vec::new(),
        }
    }

    /// Uploads `meshes` (replacing the ones before).
    pub fn set_meshes(&mut self, device: &wgpu::Device, meshes: &[ColouredMesh]) {
        self.meshes = meshes
            .iter()
            .filter(|m| !m.mesh.is_empty())
            .map(|m| GpuMesh {
                item: m.item,
                vertices: vertex_buffer(device, &m.mesh.positions, &m.mesh.normals, &m.colours),
                indices: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("cloe-surface-indices"),
                    contents: &m
                        .mesh
                        .indices
                        .iter()
                        .flat_map(|i| i.to_le_bytes())
                        .collect::<Vec<u8>>(),
                    usage: wgpu::BufferUsages::INDEX,
                }),
                count: m.mesh.indices.len() as u32,
            })
            .collect();
    }

    /// Draws `scene` into `target` (of `size` pixels, format [`FORMAT`]).
    pub fn render(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        target: &wgpu::TextureView,
        size: [u32; 2],
        scene: &Scene,
    ) {
        let Scene {
            camera,
            visible,
            cursor,
        } = *scene;
        let mut uniform: Vec<u8> = camera
            .matrix(size[0] as f32 / size[1].max(1) as f32)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let eye = camera.axes()[0];
        uniform.extend(
            [eye[0], eye[1], eye[2], 0.0]
                .iter()
                .flat_map(|v| v.to_le_bytes()),
        );
        queue.write_buffer(&self.uniform, 0, &uniform);
        let depth = texture_2d(device, size, DEPTH, wgpu::TextureUsages::RENDER_ATTACHMENT);
        let depth_view = depth.create_view(&Default::default());
        let cross = cursor.map(|c| crosshair(device, c, camera.radius));
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("cloe-surface"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: target,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(BACKGROUND),
                        store: wgpu::StoreOp::Store,
                    },
                    depth_slice: None,
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &depth_view,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                ..Default::default()
            });
            pass.set_bind_group(0, &self.bind_group, &[]);
            pass.set_pipeline(&self.surfaces);
            for m in &self.meshes {
                if visible.get(m.item).copied().unwrap_or(false) {
                    pass.set_vertex_buffer(0, m.vertices.slice(..));
                    pass.set_index_buffer(m.indices.slice(..), wgpu::IndexFormat::Uint32);
                    pass.draw_indexed(0..m.count, 0, 0..1);
                }
            }
            if let Some(cross) = &cross {
                pass.set_pipeline(&self.lines);
                pass.set_vertex_buffer(0, cross.slice(..));
                pass.draw(0..6, 0..1);
            }
        }
        queue.submit([encoder.finish()]);
    }

    /// Renders into a new texture of `size` and reads it back (RGBA, sRGB, rows from the top): what
    /// the tests look at.
    pub fn render_offscreen(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        size: [u32; 2],
        scene: &Scene,
    ) -> Vec<u8> {
        let target = target_texture(device, size, wgpu::TextureUsages::COPY_SRC);
        let view = target.create_view(&Default::default());
        self.render(device, queue, &view, size, scene);
        super::gpu_slices::read_rgba(device, queue, &target)
    }
}

/// A colour target of `size` that egui can sample, with `extra` usages.
pub fn target_texture(
    device: &wgpu::Device,
    size: [u32; 2],
    extra: wgpu::TextureUsages,
) -> wgpu::Texture {
    let usage =
        wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING | extra;
    texture_2d(device, size, FORMAT, usage)
}

/// A 2-D texture of `size` (at least 1×1).
fn texture_2d(
    device: &wgpu::Device,
    size: [u32; 2],
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some("cloe-surface"),
        size: wgpu::Extent3d {
            width: size[0].max(1),
            height: size[1].max(1),
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

/// The uniform buffer (80 bytes: the matrix and the eye), its bind group and the group's layout.
fn uniform_binding(
    device: &wgpu::Device,
) -> (wgpu::BindGroupLayout, wgpu::Buffer, wgpu::BindGroup) {
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("cloe-surface"),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: wgpu::BufferSize::new(80),
            },
            count: None,
        }],
    });
    let uniform = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("cloe-surface"),
        size: 80,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("cloe-surface"),
        layout: &layout,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }],
    });
    (layout, uniform, bind_group)
}

/// A pipeline that draws the vertices as `topology` with a depth test of `depth_compare`.
fn render_pipeline(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    layout: &wgpu::PipelineLayout,
    topology: wgpu::PrimitiveTopology,
    depth_compare: wgpu::CompareFunction,
    label: &str,
) -> wgpu::RenderPipeline {
    let attributes = wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3, 2 => Float32x4];
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(label),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some("vs_main"),
            buffers: &[Some(wgpu::VertexBufferLayout {
                array_stride: (FLOATS_PER_VERTEX * 4) as u64,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &attributes,
            })],
            compilation_options: Default::default(),
        },
        primitive: wgpu::PrimitiveState {
            topology,
            ..Default::default()
        },
        depth_stencil: Some(wgpu::DepthStencilState {
            format: DEPTH,
            depth_write_enabled: Some(true),
            depth_compare: Some(depth_compare),
            stencil: Default::default(),
            bias: Default::default(),
        }),
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module,
            entry_point: Some("fs_main"),
            targets: &[Some(wgpu::ColorTargetState {
                format: FORMAT,
                blend: None,
                write_mask: wgpu::ColorWrites::ALL,
            })],
            compilation_options: Default::default(),
        }),
        multiview_mask: None,
        cache: None,
    })
}

fn vertex_buffer(
    device: &wgpu::Device,
    positions: &[[f32; 3]],
    normals: &[[f32; 3]],
    colours: &[[f32; 4]],
) -> wgpu::Buffer {
    let mut floats = Vec::with_capacity(positions.len() * FLOATS_PER_VERTEX);
    for (i, p) in positions.iter().enumerate() {
        floats.extend(p);
        floats.extend(normals.get(i).copied().unwrap_or([0.0; 3]));
        floats.extend(colours.get(i).copied().unwrap_or([1.0; 4]));
    }
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("cloe-surface-vertices"),
        contents: &floats
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
        usage: wgpu::BufferUsages::VERTEX,
    })
}

/// Three yellow lines through `at` along the world axes, `half` mm each way.
fn crosshair(device: &wgpu::Device, at: [f32; 3], half: f32) -> wgpu::Buffer {
    let mut ends = Vec::new();
    for a in 0..3 {
        for s in [-1.0, 1.0] {
            let mut p = at;
            p[a] += s * half;
            ends.push(p);
        }
    }
    let yellow = [1.0, 0.85, 0.0, 1.0];
    vertex_buffer(device, &ends, &[[0.0; 3]; 6], &[yellow; 6])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(m: &[f32; 16], p: [f32; 3]) -> [f32; 3] {
        std::array::from_fn(|r| m[r] * p[0] + m[4 + r] * p[1] + m[8 + r] * p[2] + m[12 + r])
    }

    #[test]
    fn the_camera_puts_the_centre_in_the_middle_and_the_patients_right_on_the_left() {
        let camera = Camera {
            centre: [10.0, -20.0, 30.0],
            radius: 50.0,
            yaw: 0.0,
            pitch: 0.0,
            zoom: 1.0,
        };
        let m = camera.matrix(1.0);
        let c = apply(&m, camera.centre);
        assert!(c[0].abs() < 1e-6 && c[1].abs() < 1e-6 && (c[2] - 0.5).abs() < 1e-6);
        // 50 mm to the patient's right (+x) is the left edge; 50 mm up (+z) the top edge.
        let right = apply(&m, [60.0, -20.0, 30.0]);
        assert!((right[0] + 1.0).abs() < 1e-5, "{right:?}");
        let head = apply(&m, [10.0, -20.0, 80.0]);
        assert!((head[1] - 1.0).abs() < 1e-5, "{head:?}");
        // In front (+y, towards the eye) is nearer: a smaller depth, inside [0, 1].
        let front = apply(&m, [10.0, 30.0, 30.0]);
        let back = apply(&m, [10.0, -70.0, 30.0]);
        assert!(0.0 < front[2] && front[2] < 0.5 && 0.5 < back[2] && back[2] < 1.0);
        // A quarter turn of yaw puts the eye at the patient's right (+x).
        let side = Camera {
            yaw: std::f32::consts::FRAC_PI_2,
            ..camera
        };
        let eye = side.axes()[0];
        assert!((eye[0] - 1.0).abs() < 1e-6, "{eye:?}");
        // A wide image squeezes x so that the sphere still fits.
        let wide = camera.matrix(2.0);
        assert!((apply(&wide, [60.0, -20.0, 30.0])[0] + 0.5).abs() < 1e-5);
    }
}
