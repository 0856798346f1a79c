#!/usr/bin/env python3
"""Independent reference numbers for the Rust tests, computed with nibabel/numpy/scipy.

This script documents where the numbers in ``reference.json`` come from. It is
committed with the project but is NOT run in CI; the Rust tests only read the
JSON it produced. Regenerate with:

    pip install nibabel numpy scipy
    python3 tests/reference/make_reference.py [DATA_ROOT]

DATA_ROOT defaults to ``../shared/data`` relative to the project root (the
read-only real MRI data set; nothing from it is copied into the repository).

Conventions used throughout the JSON
------------------------------------
* Voxel indices are nibabel's (x, y, z) = (i, j, k) order, i.e. the NIfTI
  on-disk order with i fastest varying; 0-based.
* Image values are the *scaled* values ``img.get_fdata()`` as float64
  (scl_slope is NaN/0 in every file here, so that equals the raw values).
* Percentiles use numpy's default ``method="linear"``.
* JSON cannot hold NaN: a header float that is NaN (e.g. ``scl_slope``) is
  written as ``null``. The output is strict JSON (``allow_nan=False``).
* Label dictionaries are keyed by the label value as a decimal string.
"""

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import scipy
from nibabel.orientations import aff2axcodes
from scipy.ndimage import map_coordinates

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
DATA_ROOT = (
    Path(sys.argv[1]).resolve()
    if len(sys.argv) > 1
    else (PROJECT_ROOT / ".." / "shared" / "data").resolve()
)
OUT_PATH = HERE / "reference.json"

# Folders under DATA_ROOT that are not NIfTI inputs.
SKIP_DIRS = {"original_dicom"}

# Which files are label maps (label_counts / label_volume_ml are recorded).
LABEL_SUFFIXES = ("_seg.nii.gz", "-seg.nii.gz")
LABEL_NAMES = {"prostate_00_label.nii", "fusion_simple_model_ensemble.nii.gz"}

PERCENTILES = (0.5, 50.0, 99.5)


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
def fnum(x):
    """float -> JSON number, NaN/inf -> None (strict JSON)."""
    x = float(x)
    return x if np.isfinite(x) else None


def fmat(m):
    return [[float(v) for v in row] for row in np.asarray(m, dtype=np.float64)]


def is_label_map(path):
    return path.name.endswith(LABEL_SUFFIXES) or path.name in LABEL_NAMES


def rel(path):
    return path.relative_to(DATA_ROOT).as_posix()


def load(relpath):
    img = nib.load(str(DATA_ROOT / relpath))
    return img, img.get_fdata(dtype=np.float64)


def nifti_files():
    out = []
    for p in sorted(DATA_ROOT.rglob("*")):
        if not p.is_file() or SKIP_DIRS.intersection(p.relative_to(DATA_ROOT).parts):
            continue
        if p.name.endswith((".nii", ".nii.gz")):
            out.append(p)
    return out


def world_bbox(affine, shape):
    """Min/max world corner (mm) over the 8 extreme voxel *centres*."""
    n = [s - 1 for s in shape[:3]]
    corners = np.array(
        [[i, j, k, 1.0] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])]
    )
    w = (affine @ corners.T)[:3]
    return {"min": [float(v) for v in w.min(axis=1)], "max": [float(v) for v in w.max(axis=1)]}


# --------------------------------------------------------------------------
# 1. per-file header + intensity statistics
# --------------------------------------------------------------------------
def describe_file(path):
    img = nib.load(str(path))
    hdr = img.header
    ndim = int(hdr["dim"][0])
    sform_code = int(hdr["sform_code"])
    qform_code = int(hdr["qform_code"])
    # nibabel's img.affine == hdr.get_best_affine(): sform if sform_code > 0,
    # else qform if qform_code > 0, else hdr.get_base_affine() (an
    # Analyze-style default with a flipped x axis and the origin at the volume
    # centre -- NOT the NIfTI "method 1" diag(pixdim)). No file here uses it.
    if sform_code > 0:
        source = "sform"
    elif qform_code > 0:
        source = "qform"
    else:
        source = "pixdim"
    affine = img.affine
    assert np.array_equal(affine, hdr.get_best_affine())

    disk_dtype = img.get_data_dtype()
    data = img.get_fdata(dtype=np.float64)
    finite = np.isfinite(data)
    nz = data[(data != 0) & finite]

    rec = {
        "shape": [int(d) for d in hdr["dim"][1 : ndim + 1]],
        "datatype": disk_dtype.name,
        "pixdim": [float(z) for z in hdr.get_zooms()],
        "sform_code": sform_code,
        "qform_code": qform_code,
        "affine_source": source,
        "affine": fmat(affine),
        "axcodes": "".join(aff2axcodes(affine)),
        "scl_slope": fnum(hdr["scl_slope"]),
        "scl_inter": fnum(hdr["scl_inter"]),
        "min": float(data.min()),
        "max": float(data.max()),
        "mean": float(data.mean()),
        "sum": float(data.sum()),
        "nonzero": int(np.count_nonzero(data)),
        "nonfinite": int((~finite).sum()),
        "percentiles_nonzero": (
            {str(q): float(v) for q, v in zip(PERCENTILES, np.percentile(nz, PERCENTILES))}
            if nz.size
            else None
        ),
    }
    # Extra diagnostics: the qform nibabel derives from the quaternion, and how
    # far it is from the sform when both are set.
    if qform_code > 0:
        rec["qform_affine"] = fmat(hdr.get_qform())
        if sform_code > 0:
            rec["sform_qform_max_abs_diff"] = float(
                np.abs(hdr.get_sform() - hdr.get_qform()).max()
            )
    # Saturation check for integer on-disk types (e.g. int16 at 32767).
    if np.issubdtype(disk_dtype, np.integer):
        info = np.iinfo(disk_dtype)
        raw = np.asanyarray(img.dataobj)
        rec["count_at_dtype_max"] = int((raw == info.max).sum())
        rec["count_at_dtype_min"] = int((raw == info.min).sum())

    if is_label_map(path):
        values, counts = np.unique(data, return_counts=True)
        voxel_ml = float(np.prod(np.array(hdr.get_zooms()[:3], dtype=np.float64))) / 1000.0
        key = lambda v: str(int(v)) if float(v).is_integer() else repr(float(v))
        rec["label_counts"] = {key(v): int(c) for v, c in zip(values, counts)}
        rec["label_volume_ml"] = {key(v): int(c) * voxel_ml for v, c in zip(values, counts)}
    return rec


# --------------------------------------------------------------------------
# 2. robust z-score (brain mask = non-zero voxels, percentile clipping)
# --------------------------------------------------------------------------
def robust_zscore(relpath, voxel=(120, 120, 77)):
    _, data = load(relpath)
    mask = data != 0
    lo, hi = np.percentile(data[mask], [0.5, 99.5])
    c = np.clip(data[mask], lo, hi)
    mean = c.mean()
    std = c.std()  # population std, ddof=0
    raw = data[voxel]
    return {
        "mask_count": int(mask.sum()),
        "lo": float(lo),
        "hi": float(hi),
        "mean": float(mean),
        "std": float(std),
        "voxel": list(voxel),
        "voxel_in_mask": bool(mask[voxel]),
        "raw_value": float(raw),
        "z_value": float((np.clip(raw, lo, hi) - mean) / std),
    }


# --------------------------------------------------------------------------
# 3. foreground bounding box (union of non-zero voxels over modalities)
# --------------------------------------------------------------------------
def foreground_bbox(case_dir, case, modalities=("flair", "t1", "t1ce", "t2")):
    fg = None
    for m in modalities:
        _, d = load(f"{case_dir}/{case}_{m}.nii.gz")
        fg = (d != 0) if fg is None else (fg | (d != 0))
    idx = np.nonzero(fg)
    return {
        "modalities": list(modalities),
        "min": [int(a.min()) for a in idx],  # inclusive
        "max": [int(a.max()) for a in idx],  # inclusive
        "foreground_count": int(fg.sum()),
    }


# --------------------------------------------------------------------------
# 4. ADC resampled onto the T2 grid through the affines (trilinear)
# --------------------------------------------------------------------------
def resample_adc_to_t2(case_dir, case):
    t2_img, _ = load(f"{case_dir}/{case}_t2w.nii.gz")
    adc_img, adc = load(f"{case_dir}/{case}_adc.nii.gz")
    a_t2, a_adc = t2_img.affine, adc_img.affine
    shape = t2_img.shape[:3]

    # world = A_t2 @ [i,j,k,1]; adc index = inv(A_adc) @ world (two steps, as specified)
    ijk = np.indices(shape, dtype=np.float64).reshape(3, -1)
    ijk1 = np.vstack([ijk, np.ones((1, ijk.shape[1]))])
    world = a_t2 @ ijk1
    idx = (np.linalg.inv(a_adc) @ world)[:3]

    # scipy's mode='constant' (order=1): any point outside [0, n-1] on any
    # axis -> cval, no blending (verified with scipy 1.17). 'grid-constant'
    # instead blends the edge voxel with the 0 padding.
    constant = map_coordinates(adc, idx, order=1, mode="constant", cval=0.0)
    grid_constant = map_coordinates(adc, idx, order=1, mode="grid-constant", cval=0.0)

    # Unambiguous variant: 0 outside [0, n-1] on any axis, else trilinear.
    n = np.array(adc.shape, dtype=np.float64)[:, None]
    inside = np.all((idx >= 0) & (idx <= n - 1), axis=0)
    trilinear = map_coordinates(adc, idx, order=1, mode="nearest")
    inside_only = np.where(inside, trilinear, 0.0)
    # How many T2 voxels map within 1e-6 of the ADC boundary (where float
    # rounding could flip inside/outside between implementations).
    near = np.any((np.abs(idx) < 1e-6) | (np.abs(idx - (n - 1)) < 1e-6), axis=0)
    # For this pair the T2->ADC index map is i/4 - 5.9999993, j/4 + 15.9999999,
    # k + 4.6e-7: the float32 srows put the last T2 slice (k=18) and column
    # i=356 a hair (~5e-7 voxel) *outside* the ADC grid, so the strict
    # variants drop them. Tolerant variant: inside if within TOL of
    # [0, n-1], value = trilinear with the index clamped onto the grid.
    tol = 1e-3
    inside_tol = np.all((idx >= -tol) & (idx <= n - 1 + tol), axis=0)
    inside_tol_values = np.where(inside_tol, trilinear, 0.0)
    # The rule CLoE Studio implements (ITK's): a point is inside when it lies
    # within the voxels' extent, [-0.5, n-0.5] on every axis; there the index
    # is clamped onto [0, n-1] and interpolated trilinearly; elsewhere 0.
    inside_half = np.all((idx >= -0.5) & (idx <= n - 0.5), axis=0)
    half_voxel_values = np.where(inside_half, trilinear, 0.0)

    probes = [(192, 192, 9), (100, 250, 5), (300, 120, 15)]

    def summary(values):
        v = values.reshape(shape)
        return {
            "sum": float(v.sum()),
            "mean": float(v.mean()),
            "nonzero": int(np.count_nonzero(v)),
            "values_at": {",".join(map(str, p)): float(v[p]) for p in probes},
        }

    return {
        "t2": f"{case_dir}/{case}_t2w.nii.gz",
        "adc": f"{case_dir}/{case}_adc.nii.gz",
        "shape": [int(s) for s in shape],
        "t2_affine": fmat(a_t2),
        "adc_affine": fmat(a_adc),
        "t2_index_to_adc_index": fmat(np.linalg.inv(a_adc) @ a_t2),
        "t2_world_bbox": world_bbox(a_t2, t2_img.shape),
        "adc_world_bbox": world_bbox(a_adc, adc_img.shape),
        "inside_count": int(inside.sum()),
        "near_boundary_count": int(near.sum()),
        "inside_tol_count": int(inside_tol.sum()),
        "constant_equals_inside_only": bool(np.array_equal(constant, inside_only)),
        "constant": summary(constant),
        "inside_only": summary(inside_only),
        "inside_tol_1e-3": summary(inside_tol_values),
        "grid_constant": summary(grid_constant),
        "half_voxel_count": int(inside_half.sum()),
        "half_voxel": summary(half_voxel_values),
    }


# --------------------------------------------------------------------------
# 5. trilinear resampling to an isotropic 2 mm grid (voxel-centre aligned)
# --------------------------------------------------------------------------
def resample_to_spacing(relpath, new_spacing=2.0):
    img, data = load(relpath)
    old_shape = np.array(data.shape, dtype=np.float64)
    old_spacing = np.array(img.header.get_zooms()[:3], dtype=np.float64)
    # np.round is round-half-to-even; 155 * 1 / 2 = 77.5 -> 78 (same as
    # round-half-away-from-zero here).
    new_shape = tuple(int(s) for s in np.round(old_shape * old_spacing / new_spacing))
    scale = new_spacing / old_spacing
    axes = [(np.arange(n, dtype=np.float64) + 0.5) * scale[a] - 0.5 for a, n in enumerate(new_shape)]
    coords = np.stack(np.meshgrid(*axes, indexing="ij")).reshape(3, -1)
    out = map_coordinates(data, coords, order=1, mode="nearest").reshape(new_shape)
    probes = [(60, 60, 39), (30, 70, 20), (100, 50, 60)]
    return {
        "input": relpath,
        "new_spacing": new_spacing,
        "new_shape": list(new_shape),
        "sum": float(out.sum()),
        "mean": float(out.mean()),
        "values_at": {",".join(map(str, p)): float(out[p]) for p in probes},
    }


# --------------------------------------------------------------------------
# 6. Dice and HD95 (BraTS conventions) between two real masks
# --------------------------------------------------------------------------
def surface_metrics_reference(data_root):
    """Dice and HD95 of the tumour core (TC = labels {1, 4}) against the whole tumour (WT = {1, 2, 4})
    of Brats18_2013_11_1, and of TC of that case against TC of Brats18_2013_3_1 (a real disagreement).
    HD95 as medpy/BraTS: surface voxels (mask minus its 6-connected erosion), distances from each
    surface to the other with scipy's distance_transform_edt(sampling=spacing), the 95th percentile of
    each direction, the larger of the two."""
    from scipy.ndimage import binary_erosion, distance_transform_edt, generate_binary_structure

    def load_seg(case):
        img = nib.load(str(Path(data_root) / f"brats2018/{case}/{case}_seg.nii.gz"))
        return np.asarray(img.dataobj), img.header.get_zooms()[:3]

    def surface(mask):
        return mask & ~binary_erosion(mask, generate_binary_structure(3, 1))

    def hd95(a, b, spacing):
        sa, sb = surface(a), surface(b)
        da = distance_transform_edt(~sb, sampling=spacing)[sa]
        db = distance_transform_edt(~sa, sampling=spacing)[sb]
        return float(max(np.percentile(da, 95), np.percentile(db, 95)))

    def dice(a, b):
        return float(2 * (a & b).sum() / (a.sum() + b.sum()))

    s1, sp = load_seg("Brats18_2013_11_1")
    s2, _ = load_seg("Brats18_2013_3_1")
    tc1, wt1, tc2 = np.isin(s1, [1, 4]), s1 > 0, np.isin(s2, [1, 4])
    msd = nib.load(str(Path(data_root) / "msd-prostate-label/prostate_00_label.nii"))
    lab, msp = np.asarray(msd.dataobj), msd.header.get_zooms()[:3]
    pz, tz = lab == 1, lab == 2
    return {
        "pz_vs_tz_msd_prostate": {"spacing": [float(x) for x in msp], "dice": dice(pz, tz), "hd95": hd95(pz, tz, msp)},
        "spacing": [float(x) for x in sp],
        "tc_vs_wt_same_case": {"dice": dice(tc1, wt1), "hd95": hd95(tc1, wt1, sp)},
        "tc_vs_tc_other_case": {"dice": dice(tc1, tc2), "hd95": hd95(tc1, tc2, sp)},
    }


# --------------------------------------------------------------------------
def main():
    files = nifti_files()
    ref = {
        "_about": {
            "generator": "tests/reference/make_reference.py",
            "data_root": "../shared/data (relative to the project root)",
            "nibabel": nib.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "notes": [
                "voxel indices are (x,y,z) = nibabel order, 0-based",
                "intensities are img.get_fdata() as float64",
                "percentiles: numpy linear method, over non-zero voxels",
                "NaN header values are written as null",
                "affine = nibabel img.affine (sform if sform_code>0, else qform, else nibabel base affine)",
                "label_volume_ml = count * prod(float64(float32 zooms)) / 1000",
            ],
        },
        "files": {rel(p): describe_file(p) for p in files},
        "robust_zscore": {
            r: robust_zscore(r)
            for r in (
                "brats2018/Brats18_TCIA10_637_1/Brats18_TCIA10_637_1_flair.nii.gz",
                "brats2018/Brats18_2013_11_1/Brats18_2013_11_1_t1ce.nii.gz",
            )
        },
        "foreground_bbox": {
            "Brats18_2013_11_1": foreground_bbox("brats2018/Brats18_2013_11_1", "Brats18_2013_11_1")
        },
        "resample_adc_to_t2": {
            "ProstateX-0000": resample_adc_to_t2("prostatex-t2-adc/ProstateX-0000", "ProstateX-0000")
        },
        "resample_2mm": {
            "Brats18_2013_11_1_flair": resample_to_spacing(
                "brats2018/Brats18_2013_11_1/Brats18_2013_11_1_flair.nii.gz"
            )
        },
    }
    ref["surface_metrics"] = surface_metrics_reference(DATA_ROOT)
    OUT_PATH.write_text(json.dumps(ref, indent=1, allow_nan=False) + "\n")

    # ---- short summary ---------------------------------------------------
    recs = ref["files"]
    print(f"wrote {OUT_PATH} ({len(recs)} NIfTI files)")
    dtypes = sorted({r["datatype"] for r in recs.values()})
    print("datatypes:", ", ".join(dtypes))
    print("non-3D:", [k for k, r in recs.items() if len(r["shape"]) != 3] or "none")
    print("nonfinite voxels:", sum(r["nonfinite"] for r in recs.values()))
    print("qform-only:", [k for k, r in recs.items() if r["affine_source"] != "sform"] or "none")
    for k, r in recs.items():
        d = r.get("sform_qform_max_abs_diff", 0.0)
        if d > 1e-6:
            print(f"sform/qform differ by {d:.3g}: {k}")
        if r.get("count_at_dtype_max", 0):
            print(f"{r['count_at_dtype_max']} voxels at {r['datatype']} max: {k}")
        if "label_counts" in r:
            print(f"labels {sorted(r['label_counts'], key=float)}: {k}")
    for k, z in ref["robust_zscore"].items():
        print(f"zscore {k}: lo={z['lo']} hi={z['hi']} mean={z['mean']:.6f} std={z['std']:.6f} z={z['z_value']:.6f}")
    print("bbox Brats18_2013_11_1:", ref["foreground_bbox"]["Brats18_2013_11_1"])
    rs = ref["resample_adc_to_t2"]["ProstateX-0000"]
    print("adc->t2:", rs["shape"], "inside", rs["inside_count"], "constant==inside_only", rs["constant_equals_inside_only"], rs["inside_only"])
    print("adc->t2 tolerant: inside", rs["inside_tol_count"], rs["inside_tol_1e-3"])
    print("2mm:", ref["resample_2mm"]["Brats18_2013_11_1_flair"])
    print("surface metrics:", ref["surface_metrics"])


if __name__ == "__main__":
    main()
