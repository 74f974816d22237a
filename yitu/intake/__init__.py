"""Bring your own data (数据导入与清洗): clean, import, deduplicate and link records that a
county receives from its departments. ``clean`` holds the field rules, ``synth`` writes noisy
test sources with known truth from a demo county."""
