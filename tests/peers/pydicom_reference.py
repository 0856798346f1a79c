"""pydicom's pixels of its own one-slice MR test files (tests/it/peer_files.rs compares): prints one
JSON object, file name -> {rows, cols, pixels (row by row, after the modality LUT)}, with the folder
of pydicom's `data/test_files` in the installed wheel."""
import json
import os

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut

folder = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
out = {"folder": folder, "files": {}}
for name in sorted(os.listdir(folder)):
    if not (name.startswith("MR_small") and name.endswith(".dcm")):
        continue
    ds = pydicom.dcmread(os.path.join(folder, name))
    pixels = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    out["files"][name] = {
        "rows": int(ds.Rows),
        "cols": int(ds.Columns),
        "pixels": pixels.ravel().tolist(),
    }
print(json.dumps(out))
