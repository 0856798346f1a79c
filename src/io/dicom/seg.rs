//! What DICOM Segmentation objects (SEG) are made of, shared by the writer and the reader: coded
//! concepts, the algorithm that made a segment, new UIDs, and the sorted slices of a series (the frame
//! order of a SEG and the z order of the volume `read_series` makes).

use super::SliceHeader;
use super::scan::DicomSeries;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::InMemDicomObject;

/// Segmentation Storage.
pub const SEGMENTATION_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.4";

/// A coded concept: code value, coding scheme (SCT for SNOMED CT, DCM for DICOM's own) and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub value: &'static str,
    pub scheme: &'static str,
    pub meaning: &'static str,
}

impl Code {
    /// `Code { value, scheme, meaning }`.
    pub const fn new(value: &'static str, scheme: &'static str, meaning: &'static str) -> Self {
        Self {
            value,
            scheme,
            meaning,
        }
    }

    /// The code as one item of a code sequence.
    pub fn item(&self) -> InMemDicomObject {
        InMemDicomObject::from_element_iter([
            text(tags::CODE_VALUE, VR::SH, self.value),
            text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, self.scheme),
            text(tags::CODE_MEANING, VR::LO, self.meaning),
        ])
    }
}

/// The tags this module and its users name (from `dicom-dictionary-std`).
pub(super) use dicom_dictionary_std::tags;

/// Who made a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Algorithm {
    /// A model's output, as it came: its name and version.
    Automatic { name: String, version: String },
    /// A model's output edited by a person.
    SemiAutomatic { name: String, version: String },
    /// Drawn by a person.
    Manual,
}

impl Algorithm {
    /// SegmentAlgorithmType.
    pub fn kind(&self) -> &'static str {
        match self {
            Algorithm::Automatic { .. } => "AUTOMATIC",
            Algorithm::SemiAutomatic { .. } => "SEMIAUTOMATIC",
            Algorithm::Manual => "MANUAL",
        }
    }

    /// The algorithm's name and version (None for manual work).
    pub fn name_version(&self) -> Option<(&str, &str)> {
        match self {
            Algorithm::Automatic { name, version } | Algorithm::SemiAutomatic { name, version } => {
                Some((name, version))
            }
            Algorithm::Manual => None,
        }
    }
}

/// A new UID under the 2.25 root (a random 122-bit UUID as a decimal integer, ISO/IEC 9834-8).
pub fn new_uid() -> String {
    let mut n: u128 = rand::random();
    // Version 4, variant 1 bits, as a UUID.
    n = (n & !(0xf << 76)) | (0x4 << 76);
    n = (n & !(0x3 << 62)) | (0x2 << 62);
    format!("2.25.{n}")
}

/// The slices of `series` in the order along the slice normal (the volume's z and a SEG's frame
/// order), with the position of each along the normal; None when a slice lacks its geometry.
pub fn sorted_slices(series: &DicomSeries) -> Option<Vec<(&SliceHeader, f64)>> {
    let first = series.slices.first()?;
    let o = first.orientation?;
    let normal = [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ];
    let mut slices: Vec<(&SliceHeader, f64)> = (series.slices.iter())
        .map(|s| {
            let p = s.position?;
            Some((s, (0..3).map(|a| p[a] * normal[a]).sum()))
        })
        .collect::<Option<_>>()?;
    slices.sort_by(|a, b| a.1.total_cmp(&b.1));
    Some(slices)
}

/// A text element.
pub fn text(tag: Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

/// A decimal-string element of several values.
pub fn decimals(tag: Tag, values: &[f64]) -> DataElement<InMemDicomObject> {
    let strs: Vec<String> = values.iter().map(|v| decimal(*v)).collect();
    DataElement::new(tag, VR::DS, PrimitiveValue::Strs(strs.into()))
}

/// `v` as a DICOM decimal string (at most 16 characters).
pub fn decimal(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if s.len() > 16 {
        s = format!("{v:.9e}");
        s.truncate(16);
    }
    if s == "-0" { "0".into() } else { s }
}

/// A sequence element of `items`.
pub fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

/// An unsigned short element.
pub fn short(tag: Tag, value: u16) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::US, PrimitiveValue::from(value))
}

/// CIELab (DICOM's scaling: L 0–100 and a, b −128–127 onto 0–65535) of an sRGB colour, for
/// RecommendedDisplayCIELabValue.
pub fn cielab(rgb: [u8; 3]) -> [u16; 3] {
    let lin = |c: u8| {
        let s = c as f64 / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    let [r, g, b] = rgb.map(lin);
    // sRGB to XYZ (D65), then to Lab against the D65 white.
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.950_47;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.088_83;
    let f = |t: f64| {
        if t > 216.0 / 24389.0 {
            t.cbrt()
        } else {
            (24389.0 / 27.0 * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    let (l, a, bb) = (116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz));
    let scale = |v: f64, lo: f64, hi: f64| {
        ((v - lo) / (hi - lo) * 65535.0).round().clamp(0.0, 65535.0) as u16
    };
    [
        scale(l, 0.0, 100.0),
        scale(a, -128.0, 127.0),
        scale(bb, -128.0, 127.0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_2_25_uuids_within_64_characters() {
        let (a, b) = (new_uid(), new_uid());
        assert_ne!(a, b);
        assert!(a.starts_with("2.25.") && a.len() <= 64, "{a}");
        assert!(a[5..].chars().all(|c| c.is_ascii_digit()));
        assert!(!a[5..].starts_with('0'));
    }

    #[test]
    fn decimal_strings_fit_sixteen_characters() {
        assert_eq!(decimal(0.5), "0.5");
        assert_eq!(decimal(3.0), "3");
        assert_eq!(decimal(-0.0000001), "0");
        assert_eq!(decimal(-123.456789), "-123.456789");
        assert!(decimal(1.0e30).len() <= 16);
    }

    #[test]
    fn cielab_of_white_black_and_red() {
        // White and black are grey (a, b at 0, scaled 32896) within the rounding of the sRGB matrix.
        let near = |got: [u16; 3], want: [u16; 3]| (0..3).all(|i| got[i].abs_diff(want[i]) <= 8);
        assert!(near(cielab([255, 255, 255]), [65535, 32896, 32896]));
        assert!(near(cielab([0, 0, 0]), [0, 32896, 32896]));
        // sRGB red: L 53.24, a 80.09, b 67.20.
        let [l, a, b] = cielab([255, 0, 0]);
        assert!((l as f64 / 65535.0 * 100.0 - 53.24).abs() < 0.1);
        assert!((a as f64 / 65535.0 * 255.0 - 128.0 - 80.09).abs() < 0.2);
        assert!((b as f64 / 65535.0 * 255.0 - 128.0 - 67.20).abs() < 0.2);
    }
}
