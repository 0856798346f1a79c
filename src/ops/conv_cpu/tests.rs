//! The kernels against direct summation of the convolution's definition.

use super::*;

/// Direct summation, the definition of the convolution.
fn reference_forward(s: &ConvShape, x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f32> {
    let [d, h, wd] = s.input;
    let [od, oh, ow] = s.output();
    let [kd, kh, kw] = s.kernel;
    let mut out = vec![0.0f32; s.batch * s.c_out * od * oh * ow];
    for b in 0..s.batch {
        for co in 0..s.c_out {
            for z in 0..od {
                for y in 0..oh {
                    for xx in 0..ow {
                        let mut acc = bias[co] as f64;
                        for ci in 0..s.c_in {
                            for kz in 0..kd {
                                for ky in 0..kh {
                                    for kx in 0..kw {
                                        let iz =
                                            (z * s.stride[0] + kz) as isize - s.pad[0] as isize;
                                        let iy =
                                            (y * s.stride[1] + ky) as isize - s.pad[1] as isize;
                                        let ix =
                                            (xx * s.stride[2] + kx) as isize - s.pad[2] as isize;
                                        if iz < 0
                                            || iy < 0
                                            || ix < 0
                                            || iz >= d as isize
                                            || iy >= h as isize
                                            || ix >= wd as isize
                                        {
                                            continue;
                                        }
                                        let xi = (((b * s.c_in + ci) * d + iz as usize) * h
                                            + iy as usize)
                                            * wd
                                            + ix as usize;
                                        let wi =
                                            (((co * s.c_in + ci) * kd + kz) * kh + ky) * kw + kx;
                                        acc += x[xi] as f64 * w[wi] as f64;
                                    }
                                }
                            }
                        }
                        out[(((b * s.c_out + co) * od + z) * oh + y) * ow + xx] = acc as f32;
                    }
                }
            }
        }
    }
    out
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    // A fixed, non-symmetric pattern in [-1, 1].
    (0..n)
        .map(|i| {
            (((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) % 2001) as f32
                / 1000.0
                - 1.0
        })
        .collect()
}

fn shapes() -> Vec<ConvShape> {
    let s = |batch, c_in, c_out, input, k, stride| {
        ConvShape::cubic(batch, [c_in, c_out], input, k, stride)
    };
    vec![
        s(1, 3, 5, [6, 7, 9], 3, 1),
        s(2, 4, 3, [5, 6, 7], 3, 2),
        s(2, 4, 6, [4, 6, 8], 3, 2),
        s(1, 5, 2, [3, 4, 5], 1, 1),
        s(2, 1, 4, [9, 5, 4], 3, 1),
        // Tiles of more than one row, and more than one tile per batch element.
        s(1, 2, 3, [40, 30, 20], 3, 1),
        s(1, 2, 3, [41, 31, 21], 3, 2),
        // Many tiles per batch element.
        s(1, 16, 4, [3, 40, 30], 3, 1),
        // More output channels than one block of the weight gradient's dot products holds.
        s(1, 2, 260, [3, 4, 5], 1, 1),
        // A shifted weight gradient of more than one block of dot products (17 · 20 > 256).
        s(1, 20, 17, [4, 5, 6], 3, 1),
        // Large and deep enough for `forward` to take the shifted path itself (where the direct
        // kernel does not: without AVX2).
        s(1, 16, 4, [16, 16, 16], 3, 1),
        // A kernel flat along one axis.
        ConvShape {
            kernel: [1, 3, 3],
            pad: [0, 1, 1],
            ..s(2, 3, 2, [4, 6, 5], 3, 1)
        },
    ]
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-4 * scale, "{what}[{i}]: {x} vs {y}");
    }
}

#[test]
fn forward_matches_direct_summation() {
    for s in shapes() {
        let x = values(s.batch * s.c_in * s.in_voxels(), 1);
        let w = values(s.c_out * s.k_len(), 2);
        let bias = values(s.c_out, 3);
        let want = reference_forward(&s, &x, &w, &bias);
        let mut out = vec![f32::NAN; s.batch * s.c_out * s.out_voxels()];
        forward(&s, &x, &w, Some(&bias), &mut out);
        close(&out, &want, &format!("{s:?}"));
        // Both paths, whichever the shape takes.
        out.fill(f32::NAN);
        im2col_forward(&s, &x, &w, Some(&bias), &mut out);
        close(&out, &want, &format!("im2col {s:?}"));
        if shifted::applies(&s) {
            out.fill(f32::NAN);
            shifted::forward(&s, &x, &w, Some(&bias), &mut out);
            close(&out, &want, &format!("shifted {s:?}"));
            // Without a bias, as the input gradient runs it.
            let no_bias = vec![0.0f32; s.c_out];
            out.fill(f32::NAN);
            shifted::forward(&s, &x, &w, None, &mut out);
            let want = reference_forward(&s, &x, &w, &no_bias);
            close(&out, &want, &format!("shifted, no bias {s:?}"));
        }
    }
}

/// Shapes for the direct kernels beyond [`shapes`]: rows of 2, 3 and 5 vectors (the AVX-512 block is
/// 2), 17 lanes and a lone lane; channel counts that are not whole blocks; rows that are whole
/// vectors (the weight gradient then reads the output gradient in place) with and without whole
/// blocks of channels; kernels 5³, flat along x and along y.
fn direct_shapes() -> Vec<ConvShape> {
    let s = |c_in, c_out, input| ConvShape::cubic(2, [c_in, c_out], input, 3, 1);
    vec![
        s(8, 8, [5, 4, 32]),
        s(3, 9, [4, 3, 47]),
        s(9, 5, [3, 5, 80]),
        s(2, 17, [3, 2, 17]),
        s(4, 3, [2, 3, 1]),
        s(3, 3, [3, 2, 16]),
        ConvShape::cubic(1, [2, 4], [6, 5, 16], 5, 1),
        ConvShape {
            kernel: [3, 3, 1],
            pad: [1, 1, 0],
            ..s(3, 4, [3, 4, 16])
        },
        ConvShape {
            kernel: [3, 1, 3],
            pad: [1, 0, 1],
            ..s(2, 5, [2, 3, 20])
        },
    ]
}

/// The direct weight gradient, whole, against the column matrix's (itself checked against direct
/// summation below), on every instruction set this CPU runs.
#[test]
fn direct_weight_grad_matches_the_column_matrix() {
    let mut shapes: Vec<ConvShape> = shapes().into_iter().filter(direct::applies).collect();
    shapes.extend(direct_shapes());
    for s in shapes {
        let x = values(s.batch * s.c_in * s.in_voxels(), 10);
        let g = values(s.batch * s.c_out * s.out_voxels(), 11);
        let mut want = vec![0.0f32; s.c_out * s.k_len()];
        im2col_weight_grad(&s, &x, &g, &mut want);
        for isa in direct::Isa::available() {
            let mut dw = vec![f32::NAN; want.len()];
            direct_grad::weight_grad_with(isa, &s, &x, &g, &mut dw);
            close(&dw, &want, &format!("dw direct {isa:?} {s:?}"));
        }
    }
}

/// The direct kernel, on every instruction set this CPU runs, with and without a bias, including
/// rows that are not a whole number of vectors and channel counts that are not whole register blocks.
#[test]
fn direct_forward_matches_direct_summation() {
    let mut shapes: Vec<ConvShape> = shapes().into_iter().filter(direct::applies).collect();
    shapes.extend(direct_shapes());
    assert!(shapes.len() > 12);
    for s in shapes {
        let x = values(s.batch * s.c_in * s.in_voxels(), 7);
        let w = values(s.c_out * s.k_len(), 8);
        let bias = values(s.c_out, 9);
        let zero = vec![0.0f32; s.c_out];
        for isa in direct::Isa::available() {
            for bias in [Some(&bias[..]), None] {
                let want = reference_forward(&s, &x, &w, bias.unwrap_or(&zero));
                let mut out = vec![f32::NAN; s.batch * s.c_out * s.out_voxels()];
                direct::forward_with(isa, &s, &x, &w, bias, &mut out);
                close(
                    &out,
                    &want,
                    &format!("direct {isa:?} {s:?}, bias {}", bias.is_some()),
                );
            }
        }
    }
}

#[test]
fn the_shifted_path_takes_stride_one_same_convolutions_only() {
    let shapes = shapes();
    let taken: Vec<bool> = shapes.iter().map(shifted::applies).collect();
    assert_eq!(
        taken,
        [
            true, false, false, false, true, true, false, true, false, true, true, true
        ],
        "{shapes:?}"
    );
    // Of those, the shapes where it is the faster one: deep enough GEMMs per tap.
    let wide = |c_in, c_out, side| ConvShape::cubic(1, [c_in, c_out], [side; 3], 3, 1);
    assert!(shifted::faster_forward(&wide(16, 8, 64)));
    assert!(!shifted::faster_forward(&wide(8, 16, 64)));
    assert!(!shifted::faster_forward(&wide(64, 64, 8)));
    assert!(shifted::faster_weight_grad(&wide(8, 16, 64)));
    assert!(!shifted::faster_weight_grad(&wide(1, 8, 64)));
}

#[test]
fn the_direct_kernel_takes_the_shapes_measured_faster() {
    if std::env::var_os("CLOE_CONV").is_some() {
        return; // the variable limits the paths on purpose
    }
    let same = |c_in, c_out, side| ConvShape::cubic(2, [c_in, c_out], [side; 3], 3, 1);
    let vector_isa = direct::Isa::detected() != direct::Isa::Plain;
    let or = |other| if vector_isa { ConvPath::Direct } else { other };
    // Forward: every stride-1 same convolution with rows of a vector or more.
    assert_eq!(forward_path(&same(8, 8, 64)), or(ConvPath::Im2col));
    assert_eq!(forward_path(&same(16, 8, 64)), or(ConvPath::Shifted));
    assert_eq!(forward_path(&same(1, 8, 64)), or(ConvPath::Im2col));
    assert_ne!(forward_path(&same(64, 64, 8)), ConvPath::Direct);
    // Weight gradient: up to 64³.
    assert_eq!(weight_grad_path(&same(8, 8, 64)), or(ConvPath::Shifted));
    assert_eq!(weight_grad_path(&same(16, 8, 64)), or(ConvPath::Shifted));
    assert_eq!(weight_grad_path(&same(32, 16, 32)), or(ConvPath::Shifted));
    assert_eq!(weight_grad_path(&same(16, 8, 65)), ConvPath::Shifted);
    assert_eq!(weight_grad_path(&same(1, 8, 65)), ConvPath::Im2col);
    // Never a strided convolution.
    let strided = ConvShape {
        stride: [2; 3],
        ..same(8, 16, 64)
    };
    assert_eq!(forward_path(&strided), ConvPath::Im2col);
    assert!(!ConvPath::Direct.takes(&strided));
}

/// The gradients against the adjoint identity: for the linear map y = conv(x, w),
/// ⟨g, conv(x, w)⟩ = ⟨dx, x⟩ = ⟨dw, w⟩, checked per coordinate with unit vectors.
#[test]
fn gradients_match_direct_summation() {
    for s in shapes() {
        let nx = s.batch * s.c_in * s.in_voxels();
        let nw = s.c_out * s.k_len();
        let x = values(nx, 4);
        let w = values(nw, 5);
        let g = values(s.batch * s.c_out * s.out_voxels(), 6);
        let zero = vec![0.0f32; s.c_out];
        let dot = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| *x as f64 * *y as f64)
                .sum::<f64>()
        };
        let (mut dx, mut dw, mut db) = (vec![0.0; nx], vec![0.0; nw], vec![0.0; s.c_out]);
        data_grad(&s, &w, &g, &mut dx);
        weight_grad(&s, &x, &g, &mut dw, Some(&mut db));
        // Where the shifted path does not apply, its slot repeats the dispatched result.
        let (mut dw_im2col, mut dw_shifted) = (vec![0.0; nw], dw.clone());
        if shifted::applies(&s) {
            dw_shifted.fill(f32::NAN);
        }
        im2col_weight_grad(&s, &x, &g, &mut dw_im2col);
        if shifted::applies(&s) {
            shifted::weight_grad(&s, &x, &g, &mut dw_shifted);
        }
        // d⟨g, conv(x, w)⟩ / dw[i] = ⟨g, conv(x, e_i)⟩, for 60 weights spread over all of them.
        let w_picks: Vec<usize> = (0..nw).step_by((nw / 60).max(1)).collect();
        let want_dw: Vec<f32> = w_picks
            .iter()
            .map(|&i| {
                let mut e = vec![0.0f32; nw];
                e[i] = 1.0;
                dot(&g, &reference_forward(&s, &x, &e, &zero)) as f32
            })
            .collect();
        let mut paths = vec![
            (dw, "dw".to_string()),
            (dw_im2col, "dw im2col".to_string()),
            (dw_shifted, "dw shifted".to_string()),
        ];
        for isa in direct::Isa::available()
            .into_iter()
            .filter(|_| direct::applies(&s))
        {
            let mut dw = vec![f32::NAN; nw];
            direct_grad::weight_grad_with(isa, &s, &x, &g, &mut dw);
            paths.push((dw, format!("dw direct {isa:?}")));
        }
        for (got, path) in &paths {
            let got: Vec<f32> = w_picks.iter().map(|&i| got[i]).collect();
            close(&got, &want_dw, &format!("{path} {s:?}"));
        }
        let step = (nx / 40).max(1);
        let picks: Vec<usize> = (0..nx).step_by(step).collect();
        let want_dx: Vec<f32> = picks
            .iter()
            .map(|&i| {
                let mut e = vec![0.0f32; nx];
                e[i] = 1.0;
                dot(&g, &reference_forward(&s, &e, &w, &zero)) as f32
            })
            .collect();
        let got_dx: Vec<f32> = picks.iter().map(|&i| dx[i]).collect();
        close(&got_dx, &want_dx, &format!("dx {s:?}"));
        let want_db: Vec<f32> = (0..s.c_out)
            .map(|c| {
                (0..s.batch)
                    .map(|b| {
                        g[(b * s.c_out + c) * s.out_voxels()..][..s.out_voxels()]
                            .iter()
                            .sum::<f32>()
                    })
                    .sum()
            })
            .collect();
        close(&db, &want_db, "db");
    }
}
