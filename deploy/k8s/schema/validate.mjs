// Validates rendered Kubernetes manifests (multi-document YAML, as `kubectl kustomize`
// prints them) in two passes per object:
//   1. kubernetes-models: the object's own class (by apiVersion and kind) validates it against
//      the OpenAPI schema Kubernetes publishes (types, enums, required fields, formats);
//   2. strict: the same model's TypeScript interface converted to a JSON Schema with every
//      object closed, so an unknown or misspelt field (which the API server would drop, or
//      refuse under --validate=strict) is an error.
//
//   node validate.mjs [--json OUT] RENDERED.yaml...
//
// --json writes the parsed objects of every file as {file: [object...]} (for checks that
// read the manifests, tests/deploy/k8s_test.py). Exit status 0 when every object of every
// file validates, 1 otherwise (errors printed per object), 2 on bad usage.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import Ajv from "ajv";
import { createGenerator } from "ts-json-schema-generator";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);

const args = process.argv.slice(2);
let jsonOut = null;
if (args[0] === "--json") {
  jsonOut = args[1];
  args.splice(0, 2);
}
if (args.length === 0) {
  console.error("usage: node validate.mjs [--json OUT] RENDERED.yaml...");
  process.exit(2);
}

// apiVersion -> the package directory that models it.
function modelDir(apiVersion) {
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return join(dirname(require.resolve("@kubernetes-models/prometheus-operator/package.json")), apiVersion);
  }
  const root = dirname(require.resolve("kubernetes-models/package.json"));
  return join(root, apiVersion);  // "v1" -> v1/, "apps/v1" -> apps/v1/
}

const ajv = new Ajv({ allErrors: true, strict: false });
const strictValidators = new Map();
function strictValidator(dir, kind) {
  const key = `${dir}/${kind}`;
  if (!strictValidators.has(key)) {
    const schema = createGenerator({
      path: join(dir, `${kind}.d.ts`),
      type: `I${kind}`,
      skipTypeCheck: true,
      additionalProperties: false,
      expose: "none",
      topRef: false,
    }).createSchema(`I${kind}`);
    strictValidators.set(key, ajv.compile(schema));
  }
  return strictValidators.get(key);
}

const parsed = {};
let failed = 0;
let checked = 0;
for (const file of args) {
  const objects = [];
  parsed[file] = objects;
  let docs;
  try {
    docs = parseAllDocuments(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    failed++;
    continue;
  }
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      console.error(`${file}: YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
      failed++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    objects.push(obj);
    const name = `${file}: ${obj.kind ?? "?"}/${obj.metadata?.name ?? "?"}`;
    const errors = [];
    if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
      errors.push("no apiVersion or kind");
    } else {
      const dir = modelDir(obj.apiVersion);
      let Model;
      for (const entry of ["index.mjs", "index.js"]) {
        try {
          const m = await import(join(dir, entry));
          Model = m[obj.kind] ?? m.default?.[obj.kind];
          break;
        } catch (e) {
          Model = undefined;
        }
      }
      if (Model === undefined) {
        errors.push(`no model for ${obj.apiVersion} ${obj.kind}`);
      } else {
        try {
          new Model(obj).validate();
        } catch (e) {
          errors.push(`kubernetes-models: ${e.message}`);
        }
        const strict = strictValidator(dir, obj.kind);
        if (!strict(obj)) {
          for (const e of strict.errors) {
            const extra = e.keyword === "additionalProperties" ? ` "${e.params.additionalProperty}"` : "";
            errors.push(`strict: ${e.instancePath || "/"} ${e.message}${extra}`);
          }
        }
      }
    }
    checked++;
    if (errors.length > 0) {
      failed++;
      for (const e of errors) console.error(`${name}: ${e}`);
    } else {
      console.log(`${name}: valid`);
    }
  }
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(parsed, null, 1) + "\n");
console.log(`${checked} objects, ${failed} invalid`);
process.exit(failed ? 1 : 0);
