// validate.mjs: validate Kubernetes YAML files against the Kubernetes OpenAPI schemas
// (npm kubernetes-models), strictly: a field the schema does not know (a typo such as
// backofLimit) is an error too, which kubernetes-models alone lets through.
//
// Usage: node validate.mjs MODULES_DIR FILE... (MODULES_DIR: the node_modules of
// tools/lib/install-k8s-tools.sh). Prints one line per object; exit 1 when any object fails.
//
// The strict check: the schemas are compiled validators that read every property they know
// (`data.backoffLimit`) and iterate the keys of maps. Validating a Proxy of the object records
// what was read; an own key that was never read is not in the schema.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modules, ...files] = process.argv.slice(2);
if (!modules || files.length === 0) {
  console.error("usage: node validate.mjs NODE_MODULES_DIR FILE...");
  process.exit(2);
}
const load = (rel) => import(pathToFileURL(path.join(modules, rel)).href);
const { parseAllDocuments } = await load("yaml/dist/index.js");

// apiVersion + kind -> the model's file, e.g. batch/v1 Job -> kubernetes-models/batch/v1/Job.js
function modelFile(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  return path.join(modules, "kubernetes-models", ...(group ? [group, version] : [version]), `${kind}.js`);
}

async function validators(apiVersion, kind) {
  const file = modelFile(apiVersion, kind);
  if (!fs.existsSync(file)) return null;
  const model = (await import(pathToFileURL(file).href))[kind];
  const m = /from"(\.\.\/[^"]*_schemas\/[^"]+\.js)"/.exec(fs.readFileSync(file, "utf8"));
  const schema = m ? (await import(pathToFileURL(path.resolve(path.dirname(file), m[1])).href)).validate : null;
  return { model, schema };
}

function tracked(value, where, seen) {
  if (value === null || typeof value !== "object") return value;
  const reads = new Set();
  seen.push({ where, value, reads });
  const kids = Array.isArray(value) ? value.map((v, i) => tracked(v, `${where}[${i}]`, seen))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tracked(v, `${where}.${k}`, seen)]));
  return new Proxy(kids, {
    get(t, k, r) { if (typeof k === "string") reads.add(k); return Reflect.get(t, k, r); },
  });
}

function unknownFields(schema, obj) {
  const seen = [];
  schema(tracked(obj, "", seen));
  const out = [];
  for (const { where, value, reads } of seen) {
    if (Array.isArray(value)) continue;
    for (const k of Object.keys(value)) if (!reads.has(k)) out.push(`${where}.${k}`.replace(/^\./, ""));
  }
  return out;
}

let failed = 0;
for (const file of files) {
  const text = fs.readFileSync(file, "utf8");
  for (const doc of parseAllDocuments(text)) {
    // file:LINE of the object's first line
    const where = `${file}:${text.slice(0, doc.contents?.range?.[0] ?? 0).split("\n").length}`;
    if (doc.errors.length) { console.log(`FAIL ${where}: YAML: ${doc.errors[0].message}`); failed++; continue; }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    const id = `${obj.kind ?? "?"}/${obj.metadata?.name ?? "?"}`;
    if (!obj.apiVersion || !obj.kind) { console.log(`FAIL ${where} ${id}: no apiVersion or kind`); failed++; continue; }
    const v = await validators(obj.apiVersion, obj.kind);
    if (!v || !v.schema) { console.log(`FAIL ${where} ${id}: no schema for ${obj.apiVersion} ${obj.kind}`); failed++; continue; }
    const problems = [];
    try { new v.model(obj).validate(); } catch (e) { problems.push(String(e.message ?? e).split("\n")[0]); }
    for (const f of unknownFields(v.schema, obj)) problems.push(`unknown field ${f}`);
    if (problems.length) { console.log(`FAIL ${where} ${id}: ${problems.join("; ")}`); failed++; }
    else console.log(`ok ${where} ${id}`);
  }
}
process.exit(failed ? 1 : 0);
