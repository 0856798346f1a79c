"""highdicom as the oracle of CLoE Studio's DICOM SEG, for tests/it/dicom_seg.rs.

  check SEG NIFTI SERIES_DIR PROFILE SEGMENTS
      highdicom reads SEG; each segment's mask, frame by frame over the source series (sorted along
      the slice normal), must equal the label values of NIFTI (the same labels exported as NIfTI on
      the series' grid) that the segment stands for. Prints "equal" or what differs; exit 1 on a
      difference.
  write NIFTI SERIES_DIR PROFILE OUT
      highdicom writes a BINARY SEG of the label map NIFTI (one segment per label value, labelled
      with the profile's class names) on the series in SERIES_DIR.
"""
import glob
import sys

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

# On-disk label values of each segment, by profile and kind (BraTS 2018 convention: 1 NCR/NET,
# 2 edema, 4 ET; prostate 1 PZ, 2 TZ).
SEGMENT_VALUES = {
    ("brats", "regions"): {"WT": [1, 2, 4], "TC": [1, 4], "ET": [4]},
    ("brats", "classes"): {"NCR/NET": [1], "edema": [2], "ET": [4]},
    ("prostate", "regions"): {"PZ": [1], "TZ": [2]},
    ("prostate", "classes"): {"PZ": [1], "TZ": [2]},
}
CLASS_NAMES = {"brats": {1: "NCR/NET", 2: "edema", 4: "ET"}, "prostate": {1: "PZ", 2: "TZ"}}


def sorted_series(folder):
    files = [f for f in glob.glob(folder + "/**/*", recursive=True) if not f.endswith("/")]
    ds = []
    for f in files:
        try:
            d = pydicom.dcmread(f)
        except Exception:
            continue
        if hasattr(d, "ImagePositionPatient"):
            ds.append(d)
    o = np.array(ds[0].ImageOrientationPatient, float)
    normal = np.cross(o[:3], o[3:])
    ds.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
    return ds


def labels_by_frame(nifti):
    # NIfTI x is the DICOM column, y the row: frame k is the transposed slice k.
    lab = np.asarray(nib.load(nifti).dataobj).astype(np.int32)
    return np.stack([lab[:, :, k].T for k in range(lab.shape[2])])


def check(seg_path, nifti, series_dir, profile, kind):
    seg = hd.seg.segread(seg_path)
    uids = [d.SOPInstanceUID for d in sorted_series(series_dir)]
    want = labels_by_frame(nifti)
    bad = []
    for s in seg.SegmentSequence:
        values = SEGMENT_VALUES[(profile, kind)][s.SegmentLabel]
        got = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=uids, segment_numbers=[s.SegmentNumber],
            combine_segments=False, skip_overlap_checks=True)[..., 0]
        expected = np.isin(want, values)
        if got.shape != expected.shape or not np.array_equal(got.astype(bool), expected):
            bad.append(f"{s.SegmentLabel}: {int(got.sum())} voxels, expected {int(expected.sum())}")
    print("equal" if not bad else "; ".join(bad))
    return 0 if not bad else 1


def write(nifti, series_dir, profile, out):
    ds = sorted_series(series_dir)
    want = labels_by_frame(nifti)
    values = [v for v in sorted(np.unique(want)) if v != 0]
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=i + 1, segment_label=CLASS_NAMES[profile][int(v)],
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
        for i, v in enumerate(values)
    ]
    pixels = np.zeros(want.shape, np.uint8)
    for i, v in enumerate(values):
        pixels[want == v] = i + 1
    seg = hd.seg.Segmentation(
        source_images=ds, pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=99,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="highdicom test",
        manufacturer_model_name="test", software_versions=hd.__version__, device_serial_number="1")
    seg.save_as(out)
    print("written")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "check":
        sys.exit(check(*sys.argv[2:7]))
    if sys.argv[1] == "write":
        sys.exit(write(*sys.argv[2:6]))
    sys.exit(f"unknown command {sys.argv[1]}")
