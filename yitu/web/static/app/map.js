// The map: MapLibre GL JS (global `maplibregl`, served from /static/web/vendor) over yitu's own
// vector tiles. Without a configured basemap the generated county is the basemap.
import { session } from "./api.js";

const USE_COLOURS = [
  "match", ["get", "use"],
  "residential", "#8fb8de", "commercial", "#f2b66d", "office", "#b59ee0",
  "industrial", "#9aa5b1", "warehouse", "#a3a380", "mixed", "#e59a9a", "public", "#7fc8a9",
  "#c8ccd2",
];

// Toggleable groups: the layer ids each checkbox shows or hides.
export const LAYER_GROUPS = {
  water: ["water-fill"],
  towns: ["towns-line"],
  villages: ["villages-line"],
  grids: ["grids-fill", "grids-line"],
  cells: ["cells-line"],
  roads: ["roads-line"],
  buildings: ["buildings-3d"],
  cases: ["cases-clusters", "cases-points"],
  heat: ["cases-heat"],
};

export function buildStyle(config, { publicTiles = false } = {}) {
  const origin = window.location.origin;
  const sources = {
    county: {
      type: "vector",
      tiles: [origin + (publicTiles ? config.public_tiles : config.tiles)],
      minzoom: 0,
      maxzoom: config.tile_max_zoom,
    },
    cases: {
      type: "geojson",
      data: { type: "FeatureCollection", features: [] },
      cluster: true, clusterRadius: 40, clusterMaxZoom: 15,
    },
    "case-cells": { type: "geojson", data: { type: "FeatureCollection", features: [] } },
    selection: { type: "geojson", data: { type: "FeatureCollection", features: [] } },
  };
  const layers = [{ id: "bg", type: "background", paint: { "background-color": "#0e2236" } }];
  if (config.basemap_url) {
    sources.basemap = {
      type: "raster", tiles: [config.basemap_url], tileSize: 256,
      attribution: config.basemap_attribution || "",
    };
    layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  const v = (id, layer, type, paint, extra = {}) =>
    ({ id, type, source: "county", "source-layer": layer, paint, ...extra });
  layers.push(
    v("water-fill", "water", "fill", { "fill-color": "#1f5f99", "fill-opacity": 0.85 }),
    v("grids-fill", "grids", "fill", { "fill-color": "#2b4a66", "fill-opacity": 0.001 }),
    v("cells-line", "cells", "line", { "line-color": "#4fd1c5", "line-opacity": 0.25, "line-width": 0.6 }),
    v("grids-line", "grids", "line", { "line-color": "#7aa6c9", "line-width": 0.8, "line-dasharray": [2, 2] }),
    v("villages-line", "villages", "line", { "line-color": "#9fc3e0", "line-width": 1.2 }),
    v("towns-line", "towns", "line", { "line-color": "#f6d365", "line-width": 2 }),
    v("roads-line", "roads", "line", {
      "line-color": ["match", ["get", "kind"], "arterial", "#f0a35e", "secondary", "#e6c07b", "#b8c4cf"],
      "line-width": ["interpolate", ["linear"], ["zoom"], 9, 0.6, 16, ["match", ["get", "kind"], "arterial", 8, "secondary", 5, 3]],
    }),
    {
      id: "cases-heat", type: "fill", source: "case-cells",
      paint: {
        "fill-color": ["interpolate", ["linear"], ["get", "count"], 1, "#fde68a", 5, "#f97316", 20, "#b91c1c"],
        "fill-opacity": 0.55,
      },
      layout: { visibility: "none" },
    },
    v("buildings-3d", "buildings", "fill-extrusion", {
      "fill-extrusion-color": USE_COLOURS,
      "fill-extrusion-height": ["get", "height_m"],
      "fill-extrusion-base": 0,
      "fill-extrusion-opacity": 0.9,
    }),
    {
      id: "selection-line", type: "line", source: "selection",
      paint: { "line-color": "#ff4d4f", "line-width": 3 },
    },
    {
      id: "cases-clusters", type: "circle", source: "cases", filter: ["has", "point_count"],
      paint: {
        "circle-color": ["step", ["get", "point_count"], "#f59e0b", 10, "#f97316", 50, "#dc2626"],
        "circle-radius": ["step", ["get", "point_count"], 12, 10, 18, 50, 26],
        "circle-stroke-color": "#fff", "circle-stroke-width": 1.5,
      },
    },
    {
      id: "cases-points", type: "circle", source: "cases", filter: ["!", ["has", "point_count"]],
      paint: {
        "circle-color": ["match", ["get", "warning_level"], "red", "#dc2626", "yellow", "#facc15", "#22d3ee"],
        "circle-radius": 7, "circle-stroke-color": "#0e2236", "circle-stroke-width": 2,
      },
    },
  );
  return { version: 8, sources, layers };
}

export function createMap(container, config, { interactive = true, publicTiles = false } = {}) {
  const county = config.bounds;
  const map = new maplibregl.Map({
    container,
    style: buildStyle(config, { publicTiles }),
    bounds: county || undefined,
    center: county ? undefined : [111.67, 32.38],
    zoom: county ? undefined : 11,
    maxZoom: 20,
    pitch: publicTiles ? 0 : 45,
    interactive,
    attributionControl: false,
    // Tiles are jurisdiction-scoped: every request to yitu carries the session's token.
    transformRequest: (url) => {
      if (url.startsWith(window.location.origin + "/api/") && session.token) {
        return { url, headers: { Authorization: `Bearer ${session.token}` } };
      }
      return { url };
    },
  });
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), "bottom-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  return map;
}

export function setGroupVisible(map, group, visible) {
  for (const id of LAYER_GROUPS[group]) {
    if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
  }
}

export function highlight(map, geometry) {
  const data = geometry
    ? { type: "FeatureCollection", features: [{ type: "Feature", geometry, properties: {} }] }
    : { type: "FeatureCollection", features: [] };
  map.getSource("selection").setData(data);
}

export function boxPolygon([w, s, e, n]) {
  return { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] };
}
