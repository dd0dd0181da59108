// Parse an AsyncAPI document with the official parser; print every diagnostic and exit 1 on
// any error. Usage: node validate.mjs <file>
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const file = process.argv[2];
const parser = new Parser();
const { diagnostics } = await parser.parse(await readFile(file, "utf8"), { source: file });
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics) {
  console.log(`${["error", "warning", "info", "hint"][d.severity]} ${d.code} at ${d.path.join(".")}: ${d.message}`);
}
console.log(`${errors.length} error(s), ${diagnostics.length - errors.length} other diagnostic(s)`);
process.exit(errors.length ? 1 : 0);
