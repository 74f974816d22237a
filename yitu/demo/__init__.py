"""The demo county generator (`yitu demo generate`): a plausible 老河口市 on its real divisions.

Geography (outline, town/village/grid boundaries), roads, buildings and rooms, people and
households, organisations and their relations, generated with numpy from one seed and bulk
loaded in one transaction. Every located row carries its BeiDou grid codes.
"""
