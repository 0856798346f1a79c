//! A NIfTI case written as a DICOM study, for the tests of DICOM SEG on a BraTS-like case: one MR
//! series per modality, one file per slice (dicom-rs's object model and writer), the geometry of the
//! NIfTI affine (RAS to LPS), shared patient, study and frame of reference, descriptions the series
//! rules map to the modalities.

use cloe::io::{ReadOptions, read_volume};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use std::path::{Path, PathBuf};

/// (file of the NIfTI case, series description, contrast agent) per modality, the files found as
/// the app finds them (any of the BraTS naming schemes).
pub fn brats_series(case: &Path) -> Vec<(PathBuf, &'static str, &'static str)> {
    let source = cloe::case::find_case(case, None).expect("a BraTS case");
    let names = source.profile.modalities();
    let describe = |name: &str| match name {
        "flair" => ("AX FLAIR", ""),
        "t1c" => ("AX T1 POST GD", "GADOLINIUM"),
        "t1" => ("AX T1", ""),
        "t2" => ("AX T2", ""),
        other => panic!("not a BraTS modality: {other}"),
    };
    source
        .modalities
        .iter()
        .zip(names)
        .map(|(m, name)| {
            let (description, agent) = describe(name);
            let m = m.as_ref().expect("all four modalities");
            (m.path.clone(), description, agent)
        })
        .collect()
}

fn text(tag: dicom_core::Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

fn ds(tag: dicom_core::Tag, values: &[f64]) -> DataElement<InMemDicomObject> {
    let s: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
    DataElement::new(tag, VR::DS, PrimitiveValue::Strs(s.into()))
}

/// Writes `series` (NIfTI files with their descriptions) as one DICOM study under `out`; returns the
/// study folder.
pub fn write_study(series: &[(PathBuf, &str, &str)], out: &Path) -> PathBuf {
    let (study, frame) = (
        "1.2.826.0.1.3680043.10.1111.1",
        "1.2.826.0.1.3680043.10.1111.2",
    );
    for (n, (file, description, agent)) in series.iter().enumerate() {
        let v = read_volume(file, ReadOptions::default()).expect("the NIfTI case");
        let folder = out.join(format!("series{}", n + 1));
        std::fs::create_dir_all(&folder).unwrap();
        let a = v.grid.affine.0;
        let [nx, ny, nz] = v.grid.dims;
        let col = |c: usize| [-a[0][c], -a[1][c], a[2][c]];
        let norm = |d: [f64; 3]| d.iter().map(|x| x * x).sum::<f64>().sqrt();
        let (di, dj) = (col(0), col(1));
        let (si, sj) = (norm(di), norm(dj));
        let orientation = [
            di[0] / si,
            di[1] / si,
            di[2] / si,
            dj[0] / sj,
            dj[1] / sj,
            dj[2] / sj,
        ];
        for k in 0..nz {
            let position: [f64; 3] = std::array::from_fn(|r| col(3)[r] + k as f64 * col(2)[r]);
            let mut pixels = Vec::with_capacity(nx * ny);
            for j in 0..ny {
                for i in 0..nx {
                    pixels.push(v.data[i + nx * (j + ny * k)] as i16);
                }
            }
            let series_uid = format!("{study}.{}", n + 10);
            let obj = InMemDicomObject::from_element_iter([
                text(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
                text(
                    tags::SOP_INSTANCE_UID,
                    VR::UI,
                    &format!("{series_uid}.{}", k + 1),
                ),
                text(tags::PATIENT_NAME, VR::PN, "Test^Brats"),
                text(tags::PATIENT_ID, VR::LO, "BRATS-DICOM-1"),
                text(tags::STUDY_INSTANCE_UID, VR::UI, study),
                text(tags::STUDY_DATE, VR::DA, "20200101"),
                text(tags::SERIES_INSTANCE_UID, VR::UI, &series_uid),
                text(tags::SERIES_NUMBER, VR::IS, &(n + 1).to_string()),
                text(tags::SERIES_DESCRIPTION, VR::LO, description),
                text(tags::CONTRAST_BOLUS_AGENT, VR::LO, agent),
                text(tags::MODALITY, VR::CS, "MR"),
                text(tags::FRAME_OF_REFERENCE_UID, VR::UI, frame),
                text(tags::INSTANCE_NUMBER, VR::IS, &(k + 1).to_string()),
                ds(tags::IMAGE_POSITION_PATIENT, &position),
                ds(tags::IMAGE_ORIENTATION_PATIENT, &orientation),
                ds(tags::PIXEL_SPACING, &[sj, si]),
                ds(tags::SLICE_THICKNESS, &[norm(col(2))]),
                DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(ny as u16)),
                DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(nx as u16)),
                DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
                text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
                DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
                DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16)),
                DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16)),
                DataElement::new(
                    tags::PIXEL_REPRESENTATION,
                    VR::US,
                    PrimitiveValue::from(1u16),
                ),
                DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::I16(pixels.into())),
            ]);
            let file = obj
                .with_meta(
                    FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN),
                )
                .unwrap();
            file.write_to_file(folder.join(format!("{:04}.dcm", k + 1)))
                .unwrap();
        }
    }
    out.to_path_buf()
}
