//! The training cases on the training device, uploaded once: each modality and the classes as one
//! `[1, 1, D, H, W]` tensor, zero-padded up to the patch size along short axes. A step's patches are cut
//! there from their [`PatchSpec`]s (slices, flips, the intensity jitter on non-zero voxels, the one-hot
//! target), so no voxel crosses from the host to the device inside the training loop. The result is
//! exactly the host cut ([`super::sampler::cut`]; tested).

use super::sampler::{Intensity, PatchSpec, SamplerCase};
use burn::prelude::*;

/// One case on the device.
#[derive(Debug, Clone)]
struct DeviceCase {
    /// Per modality (None where missing), `[1, 1, D, H, W]`.
    channels: Vec<Option<Tensor<5>>>,
    /// Classes as floats, `[1, 1, D, H, W]` (background where the case has no label map).
    classes: Tensor<5>,
    /// Zeros added before the data along each axis `[x, y, z]`.
    pad_before: [usize; 3],
}

/// Every training case, on one device.
#[derive(Debug, Clone)]
pub struct DeviceCases {
    cases: Vec<DeviceCase>,
    patch: usize,
    classes: usize,
}

/// `data` (`dims`, x fastest) as a `[1, 1, z, y, x]` tensor padded with zeros to at least `p` per
/// axis, the data centred as the sampler centres short axes.
fn padded_tensor(
    data: &[f32],
    dims: [usize; 3],
    p: usize,
    device: &Device,
) -> (Tensor<5>, [usize; 3]) {
    let before: [usize; 3] = std::array::from_fn(|a| p.saturating_sub(dims[a]) / 2);
    let full: [usize; 3] = std::array::from_fn(|a| dims[a].max(p));
    let padded = if full == dims {
        data.to_vec()
    } else {
        let mut out = vec![0.0f32; full.iter().product()];
        for z in 0..dims[2] {
            for y in 0..dims[1] {
                let to = ((z + before[2]) * full[1] + y + before[1]) * full[0] + before[0];
                out[to..to + dims[0]]
                    .copy_from_slice(&data[(z * dims[1] + y) * dims[0]..][..dims[0]]);
            }
        }
        out
    };
    let t = Tensor::from_data(
        TensorData::new(padded, [1, 1, full[2], full[1], full[0]]),
        device,
    );
    (t, before)
}

impl DeviceCases {
    /// Uploads `cases` for patches of side `p` and `classes` classes.
    pub fn upload(cases: &[SamplerCase], p: usize, classes: usize, device: &Device) -> Self {
        let cases = cases
            .iter()
            .map(|c| {
                let channels = c
                    .channels
                    .iter()
                    .map(|ch| ch.as_ref().map(|d| padded_tensor(d, c.dims, p, device).0))
                    .collect();
                let n: usize = c.dims.iter().product();
                let labels: Vec<f32> = match &c.label {
                    Some(l) => l.iter().map(|&v| v as f32).collect(),
                    None => vec![0.0; n],
                };
                let (classes, pad_before) = padded_tensor(&labels, c.dims, p, device);
                DeviceCase {
                    channels,
                    classes,
                    pad_before,
                }
            })
            .collect();
        Self {
            cases,
            patch: p,
            classes,
        }
    }

    /// The p³ window of `t` for `spec`, flipped as the spec says.
    fn window(&self, t: &Tensor<5>, case: &DeviceCase, spec: &PatchSpec) -> Tensor<5> {
        let p = self.patch;
        let mut w = t.clone();
        for a in 0..3 {
            let start = (spec.origin[a] + case.pad_before[a] as isize) as usize;
            w = w.narrow(4 - a, start, p);
        }
        for a in (0..3).filter(|&a| spec.flips[a]) {
            w = w.flip([4 - a]);
        }
        w
    }

    /// The network inputs of a batch (per modality, the patches stacked along the batch axis; `None`
    /// where the step's subset leaves the modality out) and its one-hot target `[B, K, p, p, p]`. Plain
    /// windows are cut on the device; a patch with a spatial transform is resampled from `host` (the
    /// same cases) and uploaded.
    pub fn batch(
        &self,
        host: &[SamplerCase],
        specs: &[PatchSpec],
    ) -> (Vec<Option<Tensor<5>>>, Tensor<5>) {
        let parts: Vec<(Vec<Option<Tensor<5>>>, Tensor<5>)> =
            specs.iter().map(|s| self.patch(host, s)).collect();
        let modalities = specs[0].jitter.len();
        let inputs = (0..modalities)
            .map(|m| {
                let xs: Option<Vec<Tensor<5>>> = parts.iter().map(|(x, _)| x[m].clone()).collect();
                xs.map(|xs| Tensor::cat(xs, 0))
            })
            .collect();
        let classes = Tensor::cat(parts.into_iter().map(|(_, c)| c).collect(), 0);
        let target = Tensor::cat(
            (0..self.classes)
                .map(|k| classes.clone().equal_elem(k as f64).float())
                .collect(),
            1,
        );
        (inputs, target)
    }

    /// One patch's channels and classes (as floats), each `[1, 1, p, p, p]`.
    fn patch(&self, host: &[SamplerCase], spec: &PatchSpec) -> (Vec<Option<Tensor<5>>>, Tensor<5>) {
        let case = &self.cases[spec.case];
        let device = case.classes.device();
        if spec.spatial.is_some() {
            let p = self.patch;
            let cut = super::sampler::cut(host, spec, p);
            let upload =
                |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [1, 1, p, p, p]), &device);
            let channels = cut.channels.into_iter().map(|c| c.map(upload)).collect();
            let classes = upload(cut.classes.into_iter().map(f32::from).collect());
            return (channels, classes);
        }
        let channels = (0..spec.jitter.len())
            .map(|m| {
                let x = self.window(case.channels[m].as_ref()?, case, spec);
                Some(self.augment(x, &spec.jitter[m]?))
            })
            .collect();
        (channels, self.window(&case.classes, case, spec))
    }

    /// [`Intensity::apply`] on the device: gamma on the non-zero range, scale and shift, noise (its
    /// values drawn on the host from the spec's seed and uploaded), background kept at 0.
    fn augment(&self, x: Tensor<5>, a: &Intensity) -> Tensor<5> {
        let background = x.clone().equal_elem(0.0);
        let mut y = x.clone();
        if let Some(g) = a.gamma {
            let lo = x.clone().mask_fill(background.clone(), f32::INFINITY).min();
            let hi = x.mask_fill(background.clone(), f32::NEG_INFINITY).max();
            let range = (hi - lo.clone()).add_scalar(1e-7).reshape([1, 1, 1, 1, 1]);
            let lo: Tensor<5> = lo.reshape([1, 1, 1, 1, 1]);
            let unit = (y - lo.clone()) / range.clone();
            // Background voxels would give NaN (x − inf); they are reset below.
            y = unit
                .mask_fill(background.clone(), 0.0)
                .powf_scalar(g as f64)
                * range
                + lo;
        }
        y = y.mul_scalar(a.scale as f64).add_scalar(a.shift as f64);
        let p = self.patch;
        if let Some(noise) = a.noise_values(p * p * p) {
            let n = Tensor::<5>::from_data(TensorData::new(noise, [1, 1, p, p, p]), &y.device());
            y = y + n;
        }
        y.mask_fill(background, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::sampler::{cut, draw_batch, step_rng};
    use super::*;
    use crate::case::Profile;
    use crate::loss::one_hot;
    use crate::model::to_vec;

    /// Two small cases, one shorter than the patch along x and missing a modality.
    fn cases() -> Vec<SamplerCase> {
        let ramp = |n: usize, k: f32| {
            (0..n)
                .map(|i| ((i * 7 % 13) as f32 - 4.0) * k)
                .collect::<Vec<f32>>()
        };
        let a = [10usize, 9, 8];
        let b = [5usize, 12, 11];
        let na: usize = a.iter().product();
        let nb: usize = b.iter().product();
        vec![
            SamplerCase::new(
                Profile::Prostate,
                a,
                vec![Some(ramp(na, 1.0)), Some(ramp(na, 0.5))],
                Some((0..na).map(|i| (i % 5 == 0) as u8 * 2).collect()),
            ),
            SamplerCase::new(
                Profile::Prostate,
                b,
                vec![Some(ramp(nb, -1.0)), None],
                Some((0..nb).map(|i| (i % 3) as u8).collect()),
            ),
        ]
    }

    #[test]
    fn the_device_cut_is_the_host_cut() {
        let cases = cases();
        let p = 8;
        let device = Device::flex();
        let on_device = DeviceCases::upload(&cases, p, 3, &device);
        let (mut gammas, mut noises, mut plain) = (0, 0, 0);
        for step in 0..40 {
            let specs = draw_batch(&cases, p, 0.5, 2, &mut step_rng(3, step));
            plain += specs.iter().filter(|s| s.spatial.is_none()).count();
            for j in specs.iter().flat_map(|s| s.jitter.iter().flatten()) {
                gammas += j.gamma.is_some() as usize;
                noises += j.noise.is_some() as usize;
            }
            let host: Vec<_> = specs.iter().map(|s| cut(&cases, s, p)).collect();
            let (inputs, target) = on_device.batch(&cases, &specs);
            for (m, x) in inputs.iter().enumerate() {
                let want: Option<Vec<f32>> = host
                    .iter()
                    .map(|h| h.channels[m].clone())
                    .collect::<Option<Vec<_>>>()
                    .map(|v| v.concat());
                let got = x.clone().map(to_vec);
                assert_eq!(got.is_some(), want.is_some(), "step {step} modality {m}");
                // Equal up to the last bits of pow (gamma) and of the operation order.
                for (a, b) in got.iter().flatten().zip(want.iter().flatten()) {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "step {step}: {a} vs {b}"
                    );
                }
            }
            let classes: Vec<u8> = host.iter().flat_map(|h| h.classes.clone()).collect();
            let want = to_vec(one_hot(&classes, 2, [p; 3], 3, &device));
            assert_eq!(to_vec(target), want, "step {step} target");
        }
        assert!(
            gammas > 0 && noises > 0 && plain > 40,
            "gamma {gammas}, noise {noises}, device-cut {plain} patches"
        );
    }
}
