//! The viewer's GPU slice renderer: the shown modality, the label map and the heat map live on the GPU as
//! 3-D textures, and `shaders/slice.wgsl` slices them, applies window/level, the colour table (filled or
//! outline) or the heat ramp and blends, inside an egui-wgpu paint callback. Scrolling, window/level
//! and overlay options then change a 256-byte uniform, not a texture. It draws the same pixels as the
//! CPU path of `render` (used on the glow renderer and for PNG export); `render_offscreen` lets the
//! tests compare the two.

use crate::render::SliceMap;
use eframe::egui;
use eframe::egui_wgpu::{self, wgpu};
use wgpu::util::DeviceExt;

/// Everything one plane's shader pass needs besides the textures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceParams {
    pub dims: [usize; 3],
    pub map: SliceMap,
    /// Slice index along the normal's voxel axis.
    pub k: usize,
    /// 0 no overlay, 1 labels, 2 heat map.
    pub mode: u32,
    pub outline: bool,
    /// Bit `i` set when legend item `i` is visible.
    pub visible: u32,
    /// Window: lowest value and 255 / width (as `render::window_level`).
    pub lo: f32,
    pub scale: f32,
    pub opacity: f32,
    pub heat_max: f32,
    /// Legend item colours (index = item, 0 unused), up to 8.
    pub colours: [[u8; 3]; 8],
    /// Bit `i` of `members[l]`: label value `l` belongs to item `i` (`render::LabelStyle`).
    pub members: [u32; 8],
}

impl SliceParams {
    /// The uniform block of `shaders/slice.wgsl` for an image at `rect` (framebuffer pixels).
    fn bytes(&self, rect: [f32; 4], srgb: bool) -> Vec<u8> {
        let mut b = Vec::with_capacity(UNIFORM_SIZE as usize);
        let mut u = |v: u32| b.extend(v.to_le_bytes());
        let [a, r, n] = self.map.axes.map(|a| a as u32);
        for v in [self.dims[0], self.dims[1], self.dims[2]] {
            u(v as u32);
        }
        u(self.mode);
        for v in [a, r, n, self.k as u32] {
            u(v);
        }
        u(self.map.flip[0] as u32);
        u(self.map.flip[1] as u32);
        u(self.outline as u32);
        u(self.visible);
        let mut f = |v: f32| b.extend(v.to_le_bytes());
        rect.into_iter().for_each(&mut f);
        [self.lo, self.scale, self.opacity, self.heat_max]
            .into_iter()
            .for_each(&mut f);
        for v in [srgb as u32, 0, 0, 0] {
            b.extend(v.to_le_bytes());
        }
        for c in self.colours {
            for v in [c[0] as f32, c[1] as f32, c[2] as f32, 255.0] {
                b.extend(v.to_le_bytes());
            }
        }
        for m in self.members {
            b.extend(m.to_le_bytes());
        }
        b
    }
}

/// The pipeline, the three volumes as textures and one uniform buffer and bind group per plane
/// (kept in egui-wgpu's callback resources).
pub struct GpuSlices {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    uniforms: Vec<wgpu::Buffer>,
    volume: wgpu::Texture,
    labels: wgpu::Texture,
    heat: wgpu::Texture,
    bind_groups: Vec<wgpu::BindGroup>,
    srgb: bool,
    /// What the textures hold: (case serial, modality) and (case serial, overlay version).
    pub volume_key: Option<(u64, usize)>,
    pub overlay_key: Option<(u64, u64)>,
}

const UNIFORM_SIZE: u64 = 256;
const PLANES: usize = 3;

fn texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    dims: [usize; 3],
    format: wgpu::TextureFormat,
    bytes: &[u8],
) -> wgpu::Texture {
    device.create_texture_with_data(
        queue,
        &wgpu::TextureDescriptor {
            label: Some("cloe-slice-volume"),
            size: wgpu::Extent3d {
                width: dims[0] as u32,
                height: dims[1] as u32,
                depth_or_array_layers: dims[2] as u32,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D3,
            format,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        },
        wgpu::util::TextureDataOrder::LayerMajor,
        bytes,
    )
}

fn f32_bytes(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn layout_entry(binding: u32, ty: wgpu::BindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty,
        count: None,
    }
}

fn texture_entry(binding: u32, sample_type: wgpu::TextureSampleType) -> wgpu::BindGroupLayoutEntry {
    layout_entry(
        binding,
        wgpu::BindingType::Texture {
            sample_type,
            view_dimension: wgpu::TextureViewDimension::D3,
            multisampled: false,
        },
    )
}

impl GpuSlices {
    /// The pipeline for a framebuffer of `format`, with 1-voxel placeholder textures.
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("cloe-slice"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/slice.wgsl").into()),
        });
        let float = wgpu::TextureSampleType::Float { filterable: false };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("cloe-slice"),
            entries: &[
                layout_entry(
                    0,
                    wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(UNIFORM_SIZE),
                    },
                ),
                texture_entry(1, float),
                texture_entry(2, wgpu::TextureSampleType::Uint),
                texture_entry(3, float),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("cloe-slice"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("cloe-slice"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                buffers: &[],
                compilation_options: Default::default(),
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
                compilation_options: Default::default(),
            }),
            multiview_mask: None,
            cache: None,
        });
        let uniforms = (0..PLANES)
            .map(|_| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("cloe-slice-uniform"),
                    size: UNIFORM_SIZE,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let one = [1, 1, 1];
        let mut slices = Self {
            volume: texture(device, queue, one, wgpu::TextureFormat::R32Float, &[0; 4]),
            labels: texture(device, queue, one, wgpu::TextureFormat::R8Uint, &[0]),
            heat: texture(device, queue, one, wgpu::TextureFormat::R32Float, &[0; 4]),
            pipeline,
            layout,
            uniforms,
            bind_groups: Vec::new(),
            srgb: format.is_srgb(),
            volume_key: None,
            overlay_key: None,
        };
        slices.rebind(device);
        slices
    }

    fn rebind(&mut self, device: &wgpu::Device) {
        let views = [&self.volume, &self.labels, &self.heat]
            .map(|t| t.create_view(&wgpu::TextureViewDescriptor::default()));
        self.bind_groups = self
            .uniforms
            .iter()
            .map(|u| {
                let mut entries = vec![wgpu::BindGroupEntry {
                    binding: 0,
                    resource: u.as_entire_binding(),
                }];
                entries.extend(views.iter().enumerate().map(|(i, v)| wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: wgpu::BindingResource::TextureView(v),
                }));
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("cloe-slice"),
                    layout: &self.layout,
                    entries: &entries,
                })
            })
            .collect();
    }

    /// Puts the shown modality on the GPU.
    pub fn set_volume(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        dims: [usize; 3],
        data: &[f32],
    ) {
        self.volume = texture(
            device,
            queue,
            dims,
            wgpu::TextureFormat::R32Float,
            &f32_bytes(data),
        );
        self.rebind(device);
    }

    /// Puts the label map and the heat map on the GPU (a placeholder for what is absent).
    pub fn set_overlay(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        dims: [usize; 3],
        labels: Option<&[u8]>,
        heat: Option<&[f32]>,
    ) {
        let one = [1, 1, 1];
        self.labels = match labels {
            Some(l) => texture(device, queue, dims, wgpu::TextureFormat::R8Uint, l),
            None => texture(device, queue, one, wgpu::TextureFormat::R8Uint, &[0]),
        };
        self.heat = match heat {
            Some(h) => texture(
                device,
                queue,
                dims,
                wgpu::TextureFormat::R32Float,
                &f32_bytes(h),
            ),
            None => texture(device, queue, one, wgpu::TextureFormat::R32Float, &[0; 4]),
        };
        self.rebind(device);
    }

    fn draw(&self, pass: &mut wgpu::RenderPass<'_>, plane: usize) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_groups[plane], &[]);
        pass.draw(0..3, 0..1);
    }

    /// Renders one slice at one pixel per voxel into an RGBA image (row by row from the top), without
    /// a window: what the tests compare with the CPU path.
    pub fn render_offscreen(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        params: &SliceParams,
    ) -> Vec<u8> {
        let (w, h) = params.map.size(params.dims);
        let target = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("cloe-slice-offscreen"),
            size: wgpu::Extent3d {
                width: w as u32,
                height: h as u32,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let rect = [0.0, 0.0, w as f32, h as f32];
        queue.write_buffer(&self.uniforms[0], 0, &params.bytes(rect, self.srgb));
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let view = target.create_view(&Default::default());
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("cloe-slice-offscreen"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                    depth_slice: None,
                })],
                ..Default::default()
            });
            self.draw(&mut pass, 0);
        }
        queue.submit([encoder.finish()]);
        read_rgba(device, queue, &target)
    }
}

/// One plane's paint callback: writes its uniforms, then draws into egui's render pass.
pub struct SliceCallback {
    pub plane: usize,
    pub params: SliceParams,
    /// The image rectangle in points.
    pub image: egui::Rect,
}

impl egui_wgpu::CallbackTrait for SliceCallback {
    fn prepare(
        &self,
        _device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(g) = resources.get::<GpuSlices>() {
            let p = screen.pixels_per_point;
            let r = self.image;
            let rect = [r.min.x * p, r.min.y * p, r.width() * p, r.height() * p];
            queue.write_buffer(&g.uniforms[self.plane], 0, &self.params.bytes(rect, g.srgb));
        }
        Vec::new()
    }

    fn paint(
        &self,
        info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(g) = resources.get::<GpuSlices>() else {
            return;
        };
        let [sw, sh] = info.screen_size_px;
        pass.set_viewport(0.0, 0.0, sw as f32, sh as f32, 0.0, 1.0);
        let clip = info.clip_rect_in_pixels();
        if clip.width_px <= 0 || clip.height_px <= 0 {
            return;
        }
        pass.set_scissor_rect(
            clip.left_px as u32,
            clip.top_px as u32,
            clip.width_px as u32,
            clip.height_px as u32,
        );
        g.draw(pass, self.plane);
    }
}

/// The pixels of an RGBA8 `texture` (made with `COPY_SRC`), row by row from the top: the tests' view
/// of what a shader drew.
pub fn read_rgba(device: &wgpu::Device, queue: &wgpu::Queue, texture: &wgpu::Texture) -> Vec<u8> {
    let (w, h) = (texture.width() as usize, texture.height() as usize);
    let row = (w * 4).div_ceil(256) * 256;
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("cloe-readback"),
        size: (row * h) as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    encoder.copy_texture_to_buffer(
        texture.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(row as u32),
                rows_per_image: None,
            },
        },
        texture.size(),
    );
    queue.submit([encoder.finish()]);
    let (tx, rx) = std::sync::mpsc::channel();
    buffer
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |r| drop(tx.send(r)));
    let _ = device.poll(wgpu::PollType::wait_indefinitely());
    let mut out = Vec::with_capacity(w * h * 4);
    if let Ok(Ok(())) = rx.recv()
        && let Ok(data) = buffer.slice(..).get_mapped_range()
    {
        for r in 0..h {
            out.extend_from_slice(&data[r * row..r * row + w * 4]);
        }
    }
    out
}
