#!/usr/bin/env python3
"""Reference numbers for the DICOM reader, made by an independent converter (dcm2niix).

Committed with the project but NOT run in CI; the Rust test `tests/it/dicom_real.rs` reads the JSON
it wrote (`dicom_reference.json`). Regenerate with:

    apt-get install dcm2niix && pip install nibabel numpy
    python3 tests/reference/make_dicom_reference.py [DATA_ROOT]

For every series folder under DATA_ROOT/prostatex-t2-adc/original_dicom the script runs dcm2niix
(no compression, no BIDS sidecar) and records from its NIfTI: the shape, the voxel spacing, the sform
affine (RAS+, mm), the sum of all voxels, and 32 sample voxels as (world point of the voxel centre,
value). dcm2niix stores rows bottom-up, so its voxel order differs from DICOM's; a reader is checked by
mapping each world point through its own affine, which must land on a voxel centre within 1e-3 mm
and hold the same value.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    dicom_root = root / "prostatex-t2-adc" / "original_dicom"
    version = subprocess.run(["dcm2niix", "--version"], capture_output=True, text=True)
    out = {
        "_about": "made by tests/reference/make_dicom_reference.py with "
        + (version.stdout.strip().splitlines() or ["dcm2niix"])[-1],
        "series": {},
    }
    rng = np.random.default_rng(20261128)
    for folder in sorted(p for p in dicom_root.glob("*/*/*") if p.is_dir()):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                ["dcm2niix", "-z", "n", "-b", "n", "-f", "out", "-o", tmp, str(folder)],
                check=True,
                capture_output=True,
            )
            image = nib.load(str(Path(tmp) / "out.nii"))
            data = np.asarray(image.get_fdata(), dtype=np.float64)
            affine = image.affine
            samples = []
            for _ in range(32):
                ijk = [int(rng.integers(0, n)) for n in data.shape]
                world = (affine @ np.array(ijk + [1.0]))[:3]
                samples.append({"world": [float(x) for x in world], "value": float(data[tuple(ijk)])})
            out["series"][str(folder.relative_to(root))] = {
                "shape": [int(n) for n in data.shape],
                "spacing": [float(x) for x in image.header.get_zooms()[:3]],
                "affine": [[float(x) for x in row] for row in affine],
                "sum": float(data.sum()),
                "samples": samples,
            }
    path = Path(__file__).with_name("dicom_reference.json")
    path.write_text(json.dumps(out, indent=1, allow_nan=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
