//! Surfaces of label regions for the 3-D view: the boundary of a region's voxels as a triangle mesh in
//! world millimetres (Naive Surface Nets from the `fast-surface-nets` crate on the region's voxels,
//! cropped to their bounding box), and values of a voxel map (the experts' disagreement) read at the
//! mesh's vertices.

use crate::volume::Grid;
use fast_surface_nets::ndshape::{RuntimeShape, Shape};
use fast_surface_nets::{SurfaceNetsBuffer, surface_nets};

/// A triangle mesh in world millimetres (the grid's affine applied), with unit normals pointing out of
/// the region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    pub indices: Vec<u32>,
}

impl Mesh {
    /// The number of triangles.
    pub fn triangles(&self) -> usize {
        self.indices.len() / 3
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The smallest box holding every vertex (min, max), None for an empty mesh.
    pub fn bounds(&self) -> Option<([f32; 3], [f32; 3])> {
        let first = *self.positions.first()?;
        Some(self.positions.iter().fold((first, first), |(lo, hi), p| {
            (
                std::array::from_fn(|a| lo[a].min(p[a])),
                std::array::from_fn(|a| hi[a].max(p[a])),
            )
        }))
    }
}

/// The voxels of `classes` that belong to legend item `item`: bit `item` of `members[class]` (the
/// regions or classes of `render::LabelStyle`).
pub fn item_mask(classes: &[u8], members: &[u32], item: usize) -> Vec<bool> {
    classes
        .iter()
        .map(|&c| members.get(c as usize).is_some_and(|m| m >> item & 1 == 1))
        .collect()
}

/// The boundary of the voxels where `inside` holds, half-way between inside and outside voxel
/// centres (outside the grid counts as outside, so the surface is closed). Empty when no voxel is
/// inside.
pub fn surface(grid: &Grid, inside: &[bool]) -> Mesh {
    assert_eq!(inside.len(), grid.len(), "one flag per voxel");
    let Some((lo, hi)) = bounding_box(grid, inside) else {
        return Mesh::default();
    };
    // The crop keeps one outside voxel beyond the region on every side, plus one more on the far
    // sides: Surface Nets makes no faces on the upper boundary of its array.
    let origin: [i64; 3] = std::array::from_fn(|a| lo[a] as i64 - 1);
    let local: [u32; 3] = std::array::from_fn(|a| (hi[a] - lo[a] + 4) as u32);
    let shape = RuntimeShape::<u32, 3>::new(local);
    let mut field = vec![0.5f32; shape.usize()];
    let [nx, ny, _] = grid.dims;
    for z in lo[2]..=hi[2] {
        for y in lo[1]..=hi[1] {
            for x in lo[0]..=hi[0] {
                if inside[x + nx * (y + ny * z)] {
                    let at = [x, y, z].map(|v| v as u32);
                    let l: [u32; 3] = std::array::from_fn(|a| (at[a] as i64 - origin[a]) as u32);
                    field[shape.linearize(l) as usize] = -0.5;
                }
            }
        }
    }
    let mut out = SurfaceNetsBuffer::default();
    surface_nets(&field, &shape, [0; 3], local.map(|n| n - 1), &mut out);
    let affine = grid.affine.0;
    let normal_matrix = cofactor(&affine);
    let positions = out
        .positions
        .iter()
        .map(|p| {
            let voxel: [f64; 3] = std::array::from_fn(|a| p[a] as f64 + origin[a] as f64);
            grid.affine.apply(voxel).map(|v| v as f32)
        })
        .collect();
    let normals = out
        .normals
        .iter()
        .map(|n| {
            // The field falls going inside, so its gradient points out.
            let w: [f64; 3] =
                std::array::from_fn(|r| (0..3).map(|c| normal_matrix[r][c] * n[c] as f64).sum());
            let len = w.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            w.map(|v| (v / len) as f32)
        })
        .collect();
    Mesh {
        positions,
        normals,
        indices: out.indices,
    }
}

/// `values` (one per voxel of `grid`) at each vertex of `mesh`: the nearest voxel's value.
pub fn sample_at_vertices(mesh: &Mesh, grid: &Grid, values: &[f32]) -> Vec<f32> {
    let Some(to_voxel) = grid.affine.inverse() else {
        return vec![0.0; mesh.positions.len()];
    };
    mesh.positions
        .iter()
        .map(|p| {
            let v = to_voxel.apply(p.map(|c| c as f64));
            let i: [usize; 3] = std::array::from_fn(|a| {
                v[a].round().clamp(0.0, (grid.dims[a] - 1) as f64) as usize
            });
            values
                .get(grid.index(i[0], i[1], i[2]))
                .copied()
                .unwrap_or(0.0)
        })
        .collect()
}

/// The smallest voxel box (inclusive) holding every voxel inside.
fn bounding_box(grid: &Grid, inside: &[bool]) -> Option<([usize; 3], [usize; 3])> {
    let [nx, ny, _] = grid.dims;
    let mut bounds: Option<([usize; 3], [usize; 3])> = None;
    for (i, _) in inside.iter().enumerate().filter(|(_, f)| **f) {
        let v = [i % nx, i / nx % ny, i / (nx * ny)];
        bounds = Some(match bounds {
            None => (v, v),
            Some((lo, hi)) => (
                std::array::from_fn(|a| lo[a].min(v[a])),
                std::array::from_fn(|a| hi[a].max(v[a])),
            ),
        });
    }
    bounds
}

/// The cofactor matrix of the affine's 3×3 part: it carries normals (the inverse transpose up to a
/// positive factor for a proper affine; a reflection flips it, which the sign of the determinant
/// undoes).
fn cofactor(m: &[[f64; 4]; 4]) -> [[f64; 3]; 3] {
    let c = |r: usize, k: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (k1, k2) = ((k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det: f64 = (0..3).map(|k| m[0][k] * c(0, k)).sum();
    let sign = if det < 0.0 { -1.0 } else { 1.0 };
    std::array::from_fn(|r| std::array::from_fn(|k| sign * c(r, k)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Affine;

    fn grid(dims: [usize; 3], affine: Affine) -> Grid {
        Grid::new(dims, affine)
    }

    /// Voxels within `r` of `centre` (voxel units).
    fn ball(g: &Grid, centre: [f64; 3], r: f64) -> Vec<bool> {
        let [nx, ny, nz] = g.dims;
        let mut m = Vec::with_capacity(g.len());
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let d = [x as f64, y as f64, z as f64];
                    m.push((0..3).map(|a| (d[a] - centre[a]).powi(2)).sum::<f64>() <= r * r);
                }
            }
        }
        m
    }

    #[test]
    fn one_voxel_is_a_closed_octahedron_of_twelve_triangles() {
        let g = grid([5, 5, 5], Affine::IDENTITY);
        let mut m = vec![false; g.len()];
        m[g.index(2, 2, 2)] = true;
        let mesh = surface(&g, &m);
        // Six faces, each a quad of two triangles, around the eight cubes that touch the voxel.
        assert_eq!(mesh.triangles(), 12);
        assert_eq!(mesh.positions.len(), 8);
        let (lo, hi) = mesh.bounds().unwrap();
        for a in 0..3 {
            assert!(lo[a] > 1.5 && hi[a] < 2.5, "{lo:?} {hi:?}");
        }
    }

    #[test]
    fn nothing_inside_is_an_empty_mesh() {
        let g = grid([4, 4, 4], Affine::IDENTITY);
        assert!(surface(&g, &vec![false; g.len()]).is_empty());
    }

    /// A ball on an oblique, anisotropic grid: every vertex within a voxel of the sphere in world
    /// millimetres, normals pointing outwards, every edge shared by two triangles (closed), even where
    /// the ball touches the grid's edge.
    #[test]
    fn a_ball_is_a_closed_sphere_in_world_millimetres() {
        let affine = Affine([
            [-1.5, 0.1, 0.0, 40.0],
            [0.1, 1.5, 0.0, -20.0],
            [0.0, 0.0, 2.0, 5.0],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        let g = grid([24, 24, 12], affine);
        let centre = [12.0, 12.0, 6.0];
        // 6 mm in world: 4 voxels in-plane, 3 through-plane (an ellipsoid of voxels).
        let mut m = vec![false; g.len()];
        for (i, flag) in m.iter_mut().enumerate() {
            let v = [i % 24, i / 24 % 24, i / (24 * 24)].map(|c| c as f64);
            let w = affine.apply(v);
            let c = affine.apply(centre);
            *flag = (0..3).map(|a| (w[a] - c[a]).powi(2)).sum::<f64>() <= 36.0;
        }
        let mesh = surface(&g, &m);
        assert!(mesh.triangles() > 100, "{}", mesh.triangles());
        let c = affine.apply(centre).map(|v| v as f32);
        for (p, n) in mesh.positions.iter().zip(&mesh.normals) {
            let d: [f32; 3] = std::array::from_fn(|a| p[a] - c[a]);
            let r = d.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((4.5..=8.0).contains(&r), "vertex {r:.2} mm from the centre");
            let out = (0..3).map(|a| d[a] * n[a]).sum::<f32>() / r;
            assert!(out > 0.3, "normal {n:?} at {d:?} points inwards");
        }
        let mut edges = std::collections::HashMap::new();
        for t in mesh.indices.chunks(3) {
            for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                *edges.entry((a.min(b), a.max(b))).or_insert(0) += 1;
            }
        }
        assert!(edges.values().all(|&n| n == 2), "the surface is closed");

        // Touching the grid's edge: still closed.
        let g = grid([10, 10, 10], Affine::IDENTITY);
        let mesh = surface(&g, &ball(&g, [0.0, 5.0, 5.0], 3.0));
        let mut edges = std::collections::HashMap::new();
        for t in mesh.indices.chunks(3) {
            for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                *edges.entry((a.min(b), a.max(b))).or_insert(0) += 1;
            }
        }
        assert!(edges.values().all(|&n| n == 2), "closed at the grid's edge");
    }

    #[test]
    fn values_are_read_at_the_nearest_voxel_and_items_follow_the_members() {
        let g = grid([6, 6, 6], Affine::IDENTITY);
        let mut m = vec![false; g.len()];
        m[g.index(3, 3, 3)] = true;
        let mesh = surface(&g, &m);
        let values: Vec<f32> = (0..g.len()).map(|i| i as f32).collect();
        let at = sample_at_vertices(&mesh, &g, &values);
        // Vertices sit half a voxel off the voxel's centre: their nearest voxels are its neighbours.
        assert_eq!(at.len(), 8);
        for (p, v) in mesh.positions.iter().zip(&at) {
            let i = p.map(|c| c.round().clamp(0.0, 5.0) as usize);
            assert_eq!(*v, g.index(i[0], i[1], i[2]) as f32);
        }
        // Items as in `render::LabelStyle::regions` of BraTS: WT = 1,2,3; TC = 1,3; ET = 3.
        let members = [0, 0b0110, 0b0010, 0b1110];
        let classes = [0u8, 1, 2, 3];
        assert_eq!(item_mask(&classes, &members, 1), [false, true, true, true]);
        assert_eq!(
            item_mask(&classes, &members, 3),
            [false, false, false, true]
        );
    }
}
