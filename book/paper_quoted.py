"""The seed paper's numbers, quoted: every page that shows one beside ours reads it here.

Han et al., *A General-Purpose Transferable Predictor for Neural Architecture Search*, SDM 2023.
These are the paper's published values, typed from its tables (``../shared/notes/paper.md``
says where each comes from); they are never computed and always shown in a column labelled as
quoted. cg-nas's own numbers are read from the results its code wrote.
"""

from __future__ import annotations

# Table 1: SRCC on the held-out family, <= 50 target labels (40 on NB-201), the paper's test
# sets (5k NB-101, 4,096 NB-201, 1k NB-301 cells); 5 fine-tuning runs, mean ± std.
TABLE1_TARGETS = ("nb101", "nb201", "nb301")
TABLE1_LABELS = {"nb101": 50, "nb201": 40, "nb301": 50}
TABLE1_TEST_CELLS = {"nb101": "5k", "nb201": "4,096", "nb301": "1k"}
TABLE1_LEARNED = {  # method -> (NB-101, NB-201 CIFAR-10, NB-301), as printed
    "GNN-fine-tune": ("0.542 ± 0.14", "0.884 ± 0.03", "0.872 ± 0.01"),
    "CL-fine-tune": ("0.553 ± 0.09", "0.917 ± 0.01", "0.892 ± 0.01"),
}
TABLE1_PROXIES = {  # proxy (cg-predict's name) -> (NB-101, NB-201 CIFAR-10, NB-301)
    "synflow": (0.361, 0.823, -0.210),
    "jacov": (0.358, 0.859, -0.190),
    "fisher": (-0.277, 0.687, -0.305),
    "grad_norm": (-0.256, 0.714, -0.339),
    "grasp": (0.245, 0.637, -0.055),
    "snip": (-0.165, 0.718, -0.336),
}

# Table 2: one EA, three estimators; 5 runs per space. space -> (#queries, {method: (acc, rank)})
TABLE2 = {
    "NB-101 CIFAR-10": (
        700,
        {
            "Random": ("94.11 ± 0.10", "26.0"),
            "Synflow": ("94.18 ± 0.05", "5.8"),
            "CL-fine-tune": ("94.23 ± 0.01", "2.2"),
        },
    ),
    "NB-201 CIFAR-10": (
        90,
        {
            "Random": ("93.91 ± 0.2", "104"),
            "Synflow": ("94.37 ± 0.0", "1.0"),
            "CL-fine-tune": ("94.37 ± 0.0", "1.0"),
        },
    ),
    "NB-301 CIFAR-10": (
        800,
        {
            "Random": ("94.75 ± 0.08", "–"),
            "Synflow": ("94.60 ± 0.11", "–"),
            "CL-fine-tune": ("94.83 ± 0.06", "–"),
        },
    ),
}

# Table 3 (NB-101, the whole space): (algorithm, #queries, best accuracy %, rank)
TABLE3 = (
    ("Random Search", 2000, "93.66", "–"),
    ("SemiNAS", 2000, "94.02", "–"),
    ("SemiNAS (RE)", 2000, "94.03", "–"),
    ("SemiNAS (RE)", 1000, "93.97", "–"),
    ("BANANAS", 800, "94.23", "2"),
    ("GA-NAS", 378, "94.23", "2"),
    ("Neural-Predictor-NAS", 256, "94.17", "7"),
    ("NPENAS", 150, "94.14", "8"),
    ("BRP-NAS", 140, "94.22", "3"),
    ("EA + CL-fine-tune (the paper)", 700, "94.23", "2"),
)

# Table 4: the OFA-MobileNetV3 subnet its search found, ImageNet top-1 % from the supernet
# (no FLOPs, latency or resolution reported)
TABLE4_OFA_TOP1 = 79.2
