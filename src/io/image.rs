//! What every volume format reads into: an [`Image`] (one grid, one or more channels), the
//! [`ReadOptions`] that say how strict reading is, and the [`VolumeFormat`] trait a format implements.

use crate::error::Result;
use crate::volume::{Grid, Volume, VolumeInfo};
use std::path::Path;

/// How strict reading is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Refuse files with NaN or infinite voxels; by default they are read as 0 (background) and
    /// counted in [`VolumeInfo`], and a case's notes say so.
    pub reject_nonfinite: bool,
}

/// An image as read: one grid and one or more channels (a 4th dimension).
#[derive(Debug, Clone)]
pub struct Image {
    pub grid: Grid,
    /// One buffer per channel, x fastest.
    pub channels: Vec<Vec<f32>>,
    pub info: VolumeInfo,
}

impl Image {
    /// The image's channels as separate volumes.
    pub fn into_volumes(self) -> Vec<Volume> {
        let (grid, info) = (self.grid, self.info);
        (self.channels.into_iter())
            .map(|c| Volume::new(grid, c, info.clone()))
            .collect()
    }
}

/// A file format of volumes.
pub trait VolumeFormat: Sync {
    /// Its name, as messages give it.
    fn name(&self) -> &'static str;
    /// The endings of its file names, lower case, longest first (".nii.gz" before ".nii").
    fn endings(&self) -> &'static [&'static str];
    /// Whether a file whose (decompressed) first bytes are `head` is of this format, when formats share
    /// an ending (NIfTI-1 and NIfTI-2 are both `.nii`); the last format of an ending takes the rest.
    fn recognises(&self, head: &[u8]) -> bool {
        let _ = head;
        true
    }
    /// Reads the file's channels, checking what it claims before allocating.
    fn read(&self, path: &Path, opts: ReadOptions) -> Result<Image>;
}
