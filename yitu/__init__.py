"""yitu (一图): one map for county-level grassroots governance.

Domain packages live side by side under ``yitu/``; ``yitu.grid`` (the BeiDou grid location code,
GB/T 39409-2020) depends on nothing else in the project.
"""

__version__ = "0.1.0"
