#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from the shared scans (never copied whole).

    python3 tests/fuzz/make_corpus.py [SHARED_DATA]   # default ../shared/data

Writes tests/fuzz/corpus/{nifti_file,nifti_header,case_folder,dicom_folder,dicom_seg}/ (git-ignored):
real headers with their voxels cut down to a few, gzipped and plain, MSD 4-D and label maps,
truncated and bit-flipped copies, whole small cases in the file-joining format of
`cloe::fuzz_entry` (files cut at FILE_SEPARATOR, a first byte choosing the naming), and DICOM
slices from the ProstateX studies shrunk to 8x8 pixels with every other element kept, in the
explicit VR, deflate and RLE transfer syntaxes. Needs nibabel, numpy and pydicom.
"""

import glob
import gzip
import hashlib
import io
import os
import random
import sys

import nibabel as nib
import numpy as np
import pydicom
from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless

SEP = b"--cloe-fuzz-file--"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
rng = random.Random(20261128)


def put(target, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def nifti_bytes(img, gz=False):
    raw = img.to_bytes()
    return gzip.compress(raw, mtime=0) if gz else raw


def small(path, size=(6, 5, 4), dtype=None):
    """The file's header with its voxels cut to a small block around the middle."""
    img = nib.load(path)
    shape = img.shape
    start = [max(0, s // 2 - c // 2) for s, c in zip(shape[:3], size)]
    block = tuple(slice(a, a + c) for a, c in zip(start, size))
    data = np.asanyarray(img.dataobj[block + (slice(None),) * (len(shape) - 3)])
    if dtype is not None:
        data = data.astype(dtype)
    header = img.header.copy()
    header.set_data_dtype(data.dtype)
    affine = img.affine.copy()
    affine[:3, 3] = img.affine[:3, :3] @ np.array(start) + img.affine[:3, 3]
    return nib.Nifti1Image(data, affine, header)


def mutants(data, count):
    """Truncated and bit-flipped copies."""
    out = []
    for _ in range(count):
        cut = rng.randrange(1, len(data))
        out.append(data[:cut])
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(flipped))
            flipped[i] ^= 1 << rng.randrange(8)
        out.append(bytes(flipped))
    return out


def nifti_seeds(shared):
    files = sorted(
        glob.glob(f"{shared}/brats2018/*/*.nii.gz")[:6]
        + glob.glob(f"{shared}/brats2023-naming/*/*.nii.gz")[:2]
        + glob.glob(f"{shared}/brainles-naming/*/*.nii.gz")[:2]
        + glob.glob(f"{shared}/prostatex-t2-adc/*/*.nii.gz")[:3]
        + glob.glob(f"{shared}/msd-prostate-label/*.nii*")
    )
    seeds = []
    for i, f in enumerate(files):
        img = small(f)
        raw = nifti_bytes(img)
        seeds += [raw, nifti_bytes(img, gz=True)]
        put("nifti_header", raw[:348])
        with gzip.open(f) if f.endswith(".gz") else open(f, "rb") as orig:
            put("nifti_header", orig.read(348))
        if i % 3 == 0:
            seeds.append(nifti_bytes(small(f, dtype=np.float64)))
            seeds.append(nifti_bytes(small(f, dtype=np.uint8)))
    # An MSD-style 4-D image of two channels, and one with a header extension.
    a = small(files[0]).get_fdata(dtype=np.float32)
    four = nib.Nifti1Image(np.stack([a, a * 2], axis=-1), small(files[0]).affine)
    seeds.append(nifti_bytes(four))
    ext = small(files[1])
    ext.header.extensions.append(nib.nifti1.Nifti1Extension(6, b"cloe fuzz seed comment\0"))
    seeds.append(nifti_bytes(ext))
    for s in seeds:
        put("nifti_file", s)
    for s in mutants(seeds[0], 6) + mutants(seeds[1], 4):
        put("nifti_file", s)
    return files


def case_seeds(shared):
    brats = sorted(glob.glob(f"{shared}/brats2018/*"))[0]
    name = os.path.basename(brats)
    order = ["t1", "t1ce", "t2", "flair", "seg"]
    parts = [nifti_bytes(small(f"{brats}/{name}_{m}.nii.gz")) for m in order]
    put("case_folder", bytes([0]) + SEP.join(parts))
    put("case_folder", bytes([0]) + SEP.join(parts[:2] + parts[4:]))
    gz = [gzip.compress(p, mtime=0) for p in parts]
    put("case_folder", bytes([0x80]) + SEP.join(gz))
    # BraTS 2023 names (-t1n -t1c -t2w -t2f -seg) and BraTS-Toolkit names (_fla _t1 _t1c _t2).
    put("case_folder", bytes([2]) + SEP.join(parts))
    put("case_folder", bytes([3]) + SEP.join([parts[3], parts[0], parts[1], parts[2], parts[4]]))
    # Prostate: T2 and ADC on different grids, and the MSD label.
    pros = sorted(glob.glob(f"{shared}/prostatex-t2-adc/ProstateX-0000"))[0]
    t2 = nifti_bytes(small(glob.glob(f"{pros}/*_t2w*.nii.gz")[0], size=(8, 8, 3)))
    adc = nifti_bytes(small(glob.glob(f"{pros}/*_adc*.nii.gz")[0], size=(4, 4, 3)))
    put("case_folder", bytes([1]) + SEP.join([t2, adc]))
    label = glob.glob(f"{shared}/msd-prostate-label/*.nii*")
    if label:
        put("case_folder", bytes([1]) + SEP.join([t2, adc, nifti_bytes(small(label[0]))]))
    for s in mutants(bytes([0]) + SEP.join(parts), 4):
        put("case_folder", s)


def shrink(path, transfer=None):
    """A DICOM slice with its pixels cut to 8x8 and every other element kept."""
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    r0, c0 = arr.shape[0] // 2 - 4, arr.shape[1] // 2 - 4
    block = np.ascontiguousarray(arr[r0 : r0 + 8, c0 : c0 + 8])
    ds.Rows, ds.Columns = 8, 8
    ds.PixelData = block.tobytes()
    if transfer == "rle":
        ds.compress(RLELossless, block)
    elif transfer == "deflate":
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def dicom_seeds(shared):
    series = sorted(glob.glob(f"{shared}/prostatex-t2-adc/original_dicom/*/*/*"))
    for d in series[:4]:
        files = sorted(glob.glob(f"{d}/*.dcm"))[:3]
        for transfer in (None, "deflate", "rle"):
            slices = [shrink(f, transfer) for f in files]
            put("dicom_folder", SEP.join(slices))
        plain = SEP.join(shrink(f) for f in files)
        for s in mutants(plain, 2):
            put("dicom_folder", s)
    # A study of two series (T2 and ADC), as a case.
    t2 = sorted(glob.glob(f"{series[0]}/*.dcm"))[:2]
    adc = sorted(glob.glob(f"{series[1]}/*.dcm"))[:2]
    put("dicom_folder", SEP.join(shrink(f) for f in t2 + adc))


def seg_of(slices, kind, segments):
    """A SEG highdicom writes over the shrunk slices: `segments` PZ/TZ masks, BINARY or FRACTIONAL."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    ds = [pydicom.dcmread(io.BytesIO(s)) for s in slices]
    ds.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    rng = np.random.default_rng(len(slices) * 10 + segments)
    labels = rng.integers(0, segments + 1, size=(len(ds), 8, 8)).astype(np.uint8)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=i + 1, segment_label=["PZ", "TZ"][i],
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
        for i in range(segments)
    ]
    if kind == "FRACTIONAL":
        pixels = np.stack([(labels == i + 1).astype(np.float32) for i in range(segments)], -1)
    else:
        pixels = labels
    seg = hd.seg.Segmentation(
        source_images=ds, pixel_array=pixels,
        segmentation_type=getattr(hd.seg.SegmentationTypeValues, kind),
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=99,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="corpus",
        manufacturer_model_name="corpus", software_versions=hd.__version__, device_serial_number="1")
    buf = io.BytesIO()
    seg.save_as(buf)
    return buf.getvalue()


def seg_seeds(shared):
    """A shrunk T2 series with a SEG of it (the SEG last), BINARY and FRACTIONAL, one and two segments."""
    try:
        import highdicom  # noqa: F401
    except ImportError:
        print("no highdicom: the dicom_seg seeds are left out")
        return
    series = sorted(glob.glob(f"{shared}/prostatex-t2-adc/original_dicom/*/*/*"))
    files = sorted(glob.glob(f"{series[0]}/*.dcm"))[:3]
    slices = [shrink(f) for f in files]
    for kind in ("BINARY", "FRACTIONAL"):
        for segments in (1, 2):
            whole = SEP.join(slices + [seg_of(slices, kind, segments)])
            put("dicom_seg", whole)
            for s in mutants(whole, 2):
                put("dicom_seg", s)
    put("dicom_seg", seg_of(slices, "BINARY", 2))


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "../../../shared/data")
    nifti_seeds(shared)
    case_seeds(shared)
    dicom_seeds(shared)
    seg_seeds(shared)
    for target in sorted(os.listdir(OUT)):
        names = os.listdir(os.path.join(OUT, target))
        size = sum(os.path.getsize(os.path.join(OUT, target, n)) for n in names)
        print(f"{target}: {len(names)} seeds, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
