// Copies the browser builds of the npm dependencies into yitu's static directory, where yitu
// serves them under /static/vendor/. No bundler: the app itself is plain ES modules
// (yitu/web/static/app/*.js) and the two libraries are their own UMD builds (globals
// `maplibregl` and `echarts`). Run by `npm run build` after `npm ci` (the Makefile does both).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "yitu", "web", "static", "vendor");
mkdirSync(out, { recursive: true });

const files = [
  ["maplibre-gl/dist/maplibre-gl.js", "maplibre-gl.js"],
  ["maplibre-gl/dist/maplibre-gl.css", "maplibre-gl.css"],
  ["maplibre-gl/dist/LICENSE.txt", "maplibre-gl.LICENSE.txt"],
  ["echarts/dist/echarts.min.js", "echarts.min.js"],
  ["echarts/LICENSE", "echarts.LICENSE.txt"],
];
const versions = {};
for (const [src, dst] of files) {
  copyFileSync(join(root, "node_modules", src), join(out, dst));
}
for (const name of ["maplibre-gl", "echarts"]) {
  versions[name] = JSON.parse(
    readFileSync(join(root, "node_modules", name, "package.json"), "utf8"),
  ).version;
}
// yitu checks this manifest at start-up and names a missing build step instead of serving 404s.
writeFileSync(join(out, "manifest.json"), JSON.stringify({ files: files.map((f) => f[1]), versions }, null, 2) + "\n");
console.log(`vendor assets copied to ${out}:`, versions);
