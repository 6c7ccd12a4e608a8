// Writes each dashboard to <dir>/<uid>.json; <dir> is the first argument,
// default the repository's dashboards/ (run from tools/dashboards/).

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Dashboard } from "@grafana/schema";
import coaching from "./coaching-scorecards.js";
import quality from "./conversation-quality.js";
import health from "./exporter-health.js";
import activity from "./team-activity.js";

const dashboards: Dashboard[] = [activity, quality, coaching, health];
const dir = process.argv[2] ?? "../../dashboards";
for (const d of dashboards) {
  writeFileSync(join(dir, `${d.uid}.json`), JSON.stringify(d, null, 2) + "\n");
  console.log(`wrote ${d.uid}.json (${d.panels?.length ?? 0} panels)`);
}
