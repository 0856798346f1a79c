//! The volume file formats, as one table that discovery and loading consult: which files are images
//! (`is_volume_path`, by their name's ending), what a file's name is without its ending
//! (`volume_stem`), and how to read one into an `Image` of one or more channels (`read_image`).
//! A new format is one module with a type implementing `VolumeFormat` (`io::image`), and its line in
//! [`FORMATS`].
//! (DICOM is read by series, from a folder of files: `io::dicom`.)

use super::image::{Image, ReadOptions, VolumeFormat};
use super::nifti_read::Nifti1;
use super::nifti2::Nifti2;
use crate::error::{CloeError, Result};
use crate::volume::Volume;
use std::path::Path;

/// Every format the readers know (of formats that share an ending, the one that recognises a file's
/// first bytes reads it).
pub static FORMATS: &[&dyn VolumeFormat] = &[&Nifti2, &Nifti1];

/// The file name of `path`, lower case.
fn lower_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase());
    name.unwrap_or_default()
}

/// The format whose ending `path` has, and that ending.
fn format_of(path: &Path) -> Option<(&'static dyn VolumeFormat, &'static str)> {
    let name = lower_name(path);
    FORMATS.iter().find_map(|f| {
        let ending = f.endings().iter().find(|e| name.ends_with(**e))?;
        Some((*f, *ending))
    })
}

/// True when the path names an image file of a known format by its ending.
pub fn is_volume_path(path: &Path) -> bool {
    format_of(path).is_some()
}

/// The file name without its format's ending (`case_t1.nii.gz` → `case_t1`).
pub fn volume_stem(path: &Path) -> String {
    let name = (path.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match format_of(path) {
        Some((_, ending)) => name[..name.len() - ending.len()].to_string(),
        None => name,
    }
}

/// Reads an image of any known format: of the formats of the file's ending (all of them for a name
/// that says none), the first that recognises its first bytes; NIfTI-1 words what is wrong with a
/// file no format recognises.
pub fn read_image(path: &Path, opts: ReadOptions) -> Result<Image> {
    let ending = format_of(path).map(|(_, e)| e);
    let head = super::nifti_read::first_bytes(path, 8);
    let format = (FORMATS.iter())
        .filter(|f| ending.is_none_or(|e| f.endings().contains(&e)))
        .find(|f| f.recognises(&head))
        .copied()
        .unwrap_or(&Nifti1);
    format.read(path, opts)
}

/// Reads a 3-D image (a 4-D file with one channel is accepted).
pub fn read_volume(path: &Path, opts: ReadOptions) -> Result<Volume> {
    let image = read_image(path, opts)?;
    if image.channels.len() != 1 {
        return Err(CloeError::bad_header(
            path,
            format!(
                "expected one 3-D volume but the file holds {} channels (a 4-D image); open it \
                 as part of an MSD dataset or split it first",
                image.channels.len()
            ),
        ));
    }
    Ok(image.into_volumes().remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_stems_by_the_formats_endings() {
        assert!(is_volume_path(Path::new("/d/Case_T1.NII.GZ")));
        assert!(is_volume_path(Path::new("x.nii")));
        assert!(!is_volume_path(Path::new("x.nii.bak")));
        assert!(!is_volume_path(Path::new("IM0001")));
        assert_eq!(volume_stem(Path::new("/d/Case_T1.Nii.Gz")), "Case_T1");
        assert_eq!(volume_stem(Path::new("a.b.nii")), "a.b");
        assert_eq!(volume_stem(Path::new("notes.txt")), "notes.txt");
    }
}
