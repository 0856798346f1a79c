//! Slices for display, computed on the CPU (the viewer's fallback path and its tests): the three
//! orthogonal planes in the patient's orientation, read from the affine, with radiological convention
//! (patient right on the screen's left; anterior up in axial, superior up in coronal and sagittal), window
//! and level to grey, and label overlays blended with per-label colours.

use crate::volume::Grid;

/// The three planes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plane {
    Axial,
    Coronal,
    Sagittal,
}

impl Plane {
    pub const ALL: [Plane; 3] = [Plane::Axial, Plane::Coronal, Plane::Sagittal];

    pub fn name(self) -> &'static str {
        match self {
            Plane::Axial => "Axial",
            Plane::Coronal => "Coronal",
            Plane::Sagittal => "Sagittal",
        }
    }

    /// Orientation letters at the (left, right, top, bottom) edges.
    pub fn edge_letters(self) -> [char; 4] {
        match self {
            Plane::Axial => ['R', 'L', 'A', 'P'],
            Plane::Coronal => ['R', 'L', 'S', 'I'],
            Plane::Sagittal => ['A', 'P', 'S', 'I'],
        }
    }

    /// World axes (0 = x R/L, 1 = y A/P, 2 = z S/I) of (screen columns, screen rows, slice normal), and
    /// whether columns and rows run against the world axis (towards −x, −y or −z).
    fn world_axes(self) -> ([usize; 3], [bool; 2]) {
        match self {
            // Radiological convention: the patient's right is on the screen's left, so moving right on
            // screen goes towards the patient's left (−x, NIfTI's +x being right); moving down goes
            // posterior (−y) or inferior (−z); sagittal columns go from anterior to posterior (−y).
            Plane::Axial => ([0, 1, 2], [true, true]),
            Plane::Coronal => ([0, 2, 1], [true, true]),
            Plane::Sagittal => ([1, 2, 0], [true, true]),
        }
    }
}

/// How one plane maps onto the voxel axes of a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceMap {
    /// Voxel axes of (screen columns, screen rows, slice normal).
    pub axes: [usize; 3],
    /// True when screen columns / rows run towards lower voxel indices.
    pub flip: [bool; 2],
}

impl SliceMap {
    /// The mapping of `plane` for `grid`, from the voxel axis nearest each world axis.
    pub fn new(grid: &Grid, plane: Plane) -> Self {
        let m = &grid.affine.0;
        // For each world axis: the voxel axis that runs along it most, and the sign.
        let along = |world: usize| -> (usize, f64) {
            (0..3)
                .map(|v| (v, m[world][v]))
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .expect("three axes")
        };
        let (w, toward_negative) = plane.world_axes();
        let (c_axis, c_sign) = along(w[0]);
        let (r_axis, r_sign) = along(w[1]);
        let (n_axis, _) = along(w[2]);
        // Screen goes towards −world when `toward_negative`; the voxel index rises towards +world when sign > 0.
        let flip = [
            toward_negative[0] == (c_sign > 0.0),
            toward_negative[1] == (r_sign > 0.0),
        ];
        Self {
            axes: [c_axis, r_axis, n_axis],
            flip,
        }
    }

    /// (width, height) of the slice in pixels.
    pub fn size(&self, dims: [usize; 3]) -> (usize, usize) {
        (dims[self.axes[0]], dims[self.axes[1]])
    }

    /// Voxel index of screen pixel (col, row) on slice `k`.
    pub fn voxel(&self, dims: [usize; 3], col: usize, row: usize, k: usize) -> [usize; 3] {
        let (w, h) = self.size(dims);
        let mut v = [0usize; 3];
        v[self.axes[0]] = if self.flip[0] { w - 1 - col } else { col };
        v[self.axes[1]] = if self.flip[1] { h - 1 - row } else { row };
        v[self.axes[2]] = k;
        v
    }

    /// Screen pixel (col, row) and slice of a voxel.
    pub fn pixel(&self, dims: [usize; 3], v: [usize; 3]) -> (usize, usize, usize) {
        let (w, h) = self.size(dims);
        let c = if self.flip[0] {
            w - 1 - v[self.axes[0]]
        } else {
            v[self.axes[0]]
        };
        let r = if self.flip[1] {
            h - 1 - v[self.axes[1]]
        } else {
            v[self.axes[1]]
        };
        (c, r, v[self.axes[2]])
    }
}

/// Values of slice `k` of `data` (x fastest on `dims`), row by row from the top.
pub fn slice_values<T: Copy>(data: &[T], dims: [usize; 3], map: &SliceMap, k: usize) -> Vec<T> {
    let (w, h) = map.size(dims);
    let mut out = Vec::with_capacity(w * h);
    for row in 0..h {
        for col in 0..w {
            let v = map.voxel(dims, col, row, k);
            out.push(data[v[0] + dims[0] * (v[1] + dims[1] * v[2])]);
        }
    }
    out
}

/// Window (width) and level (centre) to grey 0–255.
pub fn window_level(values: &[f32], level: f32, width: f32) -> Vec<u8> {
    let lo = level - width / 2.0;
    let scale = 255.0 / width.max(1e-6);
    values
        .iter()
        .map(|&v| ((v - lo) * scale).clamp(0.0, 255.0) as u8)
        .collect()
}

/// How a label map is drawn: the display items (training classes, or nested regions such as WT ⊃ TC ⊃ ET)
/// each label value belongs to, their colours, which are visible, filled or outline. Items are numbered
/// from 1 (0 is "none"); where a voxel belongs to several visible items, the highest (innermost) is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelStyle {
    /// Bit `i` of `members[l]`: label value `l` belongs to item `i`.
    pub members: Vec<u32>,
    /// Colour of item `i` (index 0 unused).
    pub colours: Vec<[u8; 3]>,
    pub visible: Vec<bool>,
    pub outline: bool,
}

impl LabelStyle {
    /// Items are the training classes 1..n themselves.
    pub fn classes(colours: &[[u8; 3]], visible: &[bool], outline: bool) -> Self {
        Self {
            members: (0..colours.len()).map(|l| 1u32 << l & !1).collect(),
            colours: colours.to_vec(),
            visible: visible.to_vec(),
            outline,
        }
    }

    /// Items are the profile's regions (item `i + 1` = region `i`), made of training classes.
    pub fn regions(
        regions: &[crate::case::Region],
        classes: usize,
        visible: &[bool],
        outline: bool,
    ) -> Self {
        let members = (0..classes)
            .map(|l| {
                regions
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.classes.contains(&(l as u8)))
                    .fold(0u32, |m, (i, _)| m | 1 << (i + 1))
            })
            .collect();
        let mut colours = vec![[0, 0, 0]];
        colours.extend(regions.iter().map(|r| r.colour));
        Self {
            members,
            colours,
            visible: visible.to_vec(),
            outline,
        }
    }

    fn member(&self, label: Option<u8>, item: usize) -> bool {
        label
            .and_then(|l| self.members.get(l as usize))
            .is_some_and(|m| m >> item & 1 == 1)
    }
}

/// The item drawn at each pixel of a label slice (`w` × `h`, row by row; 0 = none). In outline mode an
/// item is drawn only on its border: where a 4-neighbour lies outside it or outside the slice.
pub fn item_map(labels: &[u8], w: usize, h: usize, style: &LabelStyle) -> Vec<u8> {
    let at = |c: isize, r: isize| -> Option<u8> {
        (c >= 0 && r >= 0 && (c as usize) < w && (r as usize) < h)
            .then(|| labels[r as usize * w + c as usize])
    };
    (0..w * h)
        .map(|i| {
            let (c, r) = ((i % w) as isize, (i / w) as isize);
            (1..style.colours.len())
                .rev()
                .find(|&item| {
                    style.visible.get(item) == Some(&true)
                        && style.member(Some(labels[i]), item)
                        && (!style.outline
                            || [(c - 1, r), (c + 1, r), (c, r - 1), (c, r + 1)]
                                .iter()
                                .any(|&(x, y)| !style.member(at(x, y), item)))
                })
                .unwrap_or(0) as u8
        })
        .collect()
}

/// RGBA pixels: grey with the label slice `labels` (`w` × `h`) drawn in `style` at `opacity`.
pub fn blend(
    grey: &[u8],
    labels: Option<&[u8]>,
    (w, h): (usize, usize),
    style: &LabelStyle,
    opacity: f32,
) -> Vec<u8> {
    let items = labels.map(|l| item_map(l, w, h, style));
    let mut out = Vec::with_capacity(grey.len() * 4);
    for (i, &g) in grey.iter().enumerate() {
        let mut px = [g as f32, g as f32, g as f32];
        if let Some(item) = items.as_ref().map(|m| m[i] as usize).filter(|&m| m > 0) {
            for (p, colour) in px.iter_mut().zip(style.colours[item]) {
                *p = *p * (1.0 - opacity) + colour as f32 * opacity;
            }
        }
        out.extend([px[0] as u8, px[1] as u8, px[2] as u8, 255]);
    }
    out
}

/// RGBA pixels: grey with a heat map (0 → transparent, `max` → full) in a black-red-yellow ramp.
pub fn blend_heat(grey: &[u8], heat: &[f32], max: f32, opacity: f32) -> Vec<u8> {
    let mut out = Vec::with_capacity(grey.len() * 4);
    for (&g, &h) in grey.iter().zip(heat) {
        let t = (h / max.max(1e-12)).clamp(0.0, 1.0);
        let colour = [
            255.0 * (2.0 * t).min(1.0),
            255.0 * (2.0 * t - 1.0).max(0.0),
            0.0,
        ];
        let a = opacity * t;
        let px: [f32; 3] = std::array::from_fn(|c| g as f32 * (1.0 - a) + colour[c] * a);
        out.extend([px[0] as u8, px[1] as u8, px[2] as u8, 255]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Affine;

    #[test]
    fn brats_lps_axial_puts_patient_right_left_and_anterior_up() {
        // BraTS: diag(-1, -1, 1): voxel x grows to the patient's left, y to posterior.
        let grid = Grid::new([4, 3, 2], Affine::from_spacing([-1.0, -1.0, 1.0], [0.0; 3]));
        let m = SliceMap::new(&grid, Plane::Axial);
        assert_eq!(m.axes, [0, 1, 2]);
        // Screen left = patient right = low voxel x (x grows to the left): no flip; top = anterior = low y.
        assert_eq!(m.flip, [false, false]);
        assert_eq!(m.voxel(grid.dims, 0, 0, 1), [0, 0, 1]);
        // RAS identity: voxel x grows to the right, so screen left (patient right) is the highest x.
        let ras = Grid::new([4, 3, 2], Affine::IDENTITY);
        let r = SliceMap::new(&ras, Plane::Axial);
        assert_eq!(r.flip, [true, true]);
        assert_eq!(r.voxel(ras.dims, 0, 0, 0), [3, 2, 0]);
    }

    #[test]
    fn coronal_and_sagittal_have_superior_up() {
        let grid = Grid::new([4, 3, 2], Affine::from_spacing([-1.0, -1.0, 1.0], [0.0; 3]));
        let c = SliceMap::new(&grid, Plane::Coronal);
        assert_eq!((c.axes, c.size(grid.dims)), ([0, 2, 1], (4, 2)));
        // Top row is the highest z (superior).
        assert_eq!(c.voxel(grid.dims, 0, 0, 0)[2], 1);
        let s = SliceMap::new(&grid, Plane::Sagittal);
        assert_eq!(s.axes, [1, 2, 0]);
        // Screen left = anterior = low y for LPS.
        assert_eq!(s.voxel(grid.dims, 0, 1, 0), [0, 0, 0]);
        for plane in Plane::ALL {
            let m = SliceMap::new(&grid, plane);
            let v = [3, 1, 1];
            let (col, row, k) = m.pixel(grid.dims, v);
            assert_eq!(m.voxel(grid.dims, col, row, k), v);
        }
    }

    #[test]
    fn slices_window_and_blend() {
        let dims = [2, 2, 1];
        let map = SliceMap {
            axes: [0, 1, 2],
            flip: [false, false],
        };
        assert_eq!(
            slice_values(&[1.0, 2.0, 3.0, 4.0], dims, &map, 0),
            vec![1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(
            window_level(&[0.0, 50.0, 100.0], 50.0, 100.0),
            vec![0, 127, 255]
        );
        let style = LabelStyle::classes(&[[0, 0, 0], [255, 0, 0]], &[false, true], false);
        let rgba = blend(&[100, 100], Some(&[0, 1]), (2, 1), &style, 0.5);
        assert_eq!(&rgba[..4], &[100, 100, 100, 255]);
        assert_eq!(&rgba[4..], &[177, 50, 50, 255]);
        // Heat 0 leaves grey; heat at max is full red-yellow at the given opacity.
        let h = blend_heat(&[100, 100], &[0.0, 1.0], 1.0, 1.0);
        assert_eq!(h, vec![100, 100, 100, 255, 255, 255, 0, 255]);
    }

    /// A 4x4 block of class 1 inside a 6x5 slice with one pixel of class 3 in it.
    fn block() -> (Vec<u8>, usize, usize) {
        let (w, h) = (6, 5);
        let mut l = vec![0u8; w * h];
        for r in 0..4 {
            for c in 1..5 {
                l[r * w + c] = 1;
            }
        }
        l[w + 2] = 3;
        (l, w, h)
    }

    #[test]
    fn outline_keeps_the_border_of_each_class() {
        let (l, w, h) = block();
        let style = LabelStyle::classes(&[[0; 3]; 4], &[false, true, true, true], true);
        let o = item_map(&l, w, h, &style);
        let rows: Vec<&[u8]> = o.chunks(w).collect();
        assert_eq!(
            rows[0],
            [0, 1, 1, 1, 1, 0],
            "top row touches the slice edge"
        );
        assert_eq!(
            rows[1],
            [0, 1, 3, 1, 1, 0],
            "neighbours of class 3 are edges"
        );
        assert_eq!(rows[2], [0, 1, 1, 0, 1, 0], "an inside pixel is cleared");
        assert_eq!(rows[3], [0, 1, 1, 1, 1, 0]);
        assert_eq!(rows[4], [0; 6]);
    }

    #[test]
    fn nested_regions_draw_the_innermost_visible_one() {
        let (l, w, h) = block();
        let regions = crate::case::Profile::Brats.regions();
        // WT = {1, 2, 3}, TC = {1, 3}, ET = {3}: items 1, 2, 3.
        let style = LabelStyle::regions(regions, 4, &[false, true, true, true], false);
        assert_eq!(style.members, vec![0, 0b0110, 0b0010, 0b1110]);
        let filled = item_map(&l, w, h, &style);
        assert_eq!(
            &filled[w..2 * w],
            [0, 2, 3, 2, 2, 0],
            "class 1 is TC, class 3 is ET"
        );
        // ET hidden: its voxel shows the tumour core around it.
        let no_et = LabelStyle::regions(regions, 4, &[false, true, true, false], false);
        assert_eq!(item_map(&l, w, h, &no_et)[w + 2], 2);
        // Outline of the nested regions: the ET pixel is ET's border; its neighbours are inside TC.
        let outline = LabelStyle::regions(regions, 4, &[false, true, true, true], true);
        let o = item_map(&l, w, h, &outline);
        assert_eq!(&o[w..2 * w], [0, 2, 3, 0, 2, 0]);
    }
}
