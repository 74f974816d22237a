"""The web UI (一张图): vector tiles and map endpoints (``api``), the pages and static assets
(``pages``). The front-end is plain ES modules under ``static/app``; MapLibre GL JS and ECharts
come from npm into ``static/vendor`` (``make web``)."""
