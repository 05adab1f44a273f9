// Validates Grafana dashboard JSON files against Grafana's own dashboard model: the
// TypeScript `Dashboard` type that @grafana/schema generates from Grafana's CUE schema,
// converted to JSON Schema (every object closed: an unknown or misspelt field is an error).
//
//   node validate.mjs [--write-schema FILE] DASHBOARD.json...
//
// Exit status 0 when every file validates, 1 otherwise (the errors are printed per file).
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import Ajv from "ajv";
import { createGenerator } from "ts-json-schema-generator";

const require = createRequire(import.meta.url);
const pkg = dirname(require.resolve("@grafana/schema/package.json"));
const types = join(pkg, "dist/types/raw/dashboard/x/types.gen.d.ts");

const args = process.argv.slice(2);
let schemaOut = null;
if (args[0] === "--write-schema") {
  schemaOut = args[1];
  args.splice(0, 2);
}
if (args.length === 0) {
  console.error("usage: node validate.mjs [--write-schema FILE] DASHBOARD.json...");
  process.exit(2);
}

const schema = createGenerator({ path: types, type: "Dashboard", skipTypeCheck: true, additionalProperties: false })
  .createSchema("Dashboard");
if (schemaOut) writeFileSync(schemaOut, JSON.stringify(schema, null, 2) + "\n");
const version = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).version;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

let failed = 0;
for (const file of args) {
  let dashboard;
  try {
    dashboard = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    failed++;
    continue;
  }
  if (validate(dashboard)) {
    console.log(`${file}: valid (@grafana/schema ${version} Dashboard)`);
  } else {
    failed++;
    for (const e of validate.errors) {
      console.error(`${file}: ${e.instancePath || "/"} ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`);
    }
  }
}
process.exit(failed ? 1 : 0);
