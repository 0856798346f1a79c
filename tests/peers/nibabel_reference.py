"""What nibabel reads of every NIfTI file of its own test data (tests/it/peer_files.rs compares).

Prints one JSON object: file name -> {shape, dtype, spacing, axcodes, sum} (the voxel sum of the
scaled data, NaN counted as 0), or {cifti: intent code} for a CIFTI-2 file. The folder is nibabel's
`tests/data` in the installed wheel.
"""
import json
import os

import nibabel as nib
import numpy as np

folder = os.path.join(os.path.dirname(nib.__file__), "tests", "data")
out = {"folder": folder, "files": {}}
for name in sorted(os.listdir(folder)):
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        continue
    img = nib.load(os.path.join(folder, name))
    if isinstance(img, nib.Cifti2Image):
        out["files"][name] = {"cifti": int(img.nifti_header["intent_code"])}
        continue
    data = np.asarray(img.dataobj, dtype=np.float64)
    affine = img.affine
    out["files"][name] = {
        "shape": list(img.shape),
        "dtype": np.dtype(img.get_data_dtype()).name,
        "spacing": np.sqrt((affine[:3, :3] ** 2).sum(0)).tolist(),
        "axcodes": "".join(nib.aff2axcodes(affine)),
        "sum": float(np.nansum(np.where(np.isfinite(data), data, 0))),
    }
print(json.dumps(out))
