"""Chaos engineering: the failure-mode catalog, local drills on real processes (`ops
chaos drill`, Chaos Toolkit), and the steady-state guard Chaos Mesh's workflows check
(`ops chaos guard`)."""
