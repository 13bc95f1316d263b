"""Write simulated_controls.csv: made-up healthy controls for the docs example.

The numbers are SIMULATED (fixed seed), not measurements; norms built from
them are for demonstrating ``ienfd norms build`` and ``ienfd classify`` only.
Run: python make_simulated_controls.py
"""

import numpy as np
import pandas as pd

rng = np.random.default_rng(2024)
rows = []
# (site, sex): intercept, slope per year, SD, all in fibres/mm (made up)
model = {
    ("distal_leg", "female"): (14.0, -0.08, 2.5),
    ("distal_leg", "male"): (12.0, -0.07, 2.5),
    ("proximal_thigh", "female"): (20.0, -0.08, 3.0),
    ("proximal_thigh", "male"): (18.0, -0.07, 3.0),
}
for sex in ("female", "male"):
    for k in range(100):
        pid = f"C{sex[0].upper()}{k + 1:03d}"
        age = int(rng.integers(20, 81))
        for site in ("distal_leg", "proximal_thigh"):
            a, b, sd = model[(site, sex)]
            density = max(0.0, a + b * age + rng.normal(0.0, sd))
            rows.append((pid, age, sex, site, "brightfield", round(density, 2), 3))
pd.DataFrame(
    rows, columns=["patient_id", "age", "sex", "site", "modality", "density_per_mm", "n_sections"]
).to_csv("simulated_controls.csv", index=False)
