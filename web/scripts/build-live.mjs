// Bundle src/live/kliniki-live.ts to the notifier's static copy: one classic script that sets
// the global KlinikiLive in a browser and module.exports under require() (Node, the tests).
import { build } from "esbuild";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// `--out <file>` writes elsewhere (the test that checks the committed copy is current uses it).
const at = process.argv.indexOf("--out");
const out =
  at > 0
    ? resolve(process.argv[at + 1])
    : resolve(here, "..", "..", "services", "notifier", "notifier", "static", "kliniki-live.js");
await build({
  entryPoints: [resolve(here, "..", "src", "live", "kliniki-live.ts")],
  outfile: out,
  bundle: true,
  format: "iife",
  globalName: "KlinikiLive",
  target: "es2019",
  legalComments: "none",
  banner: {
    js:
      "/* kliniki-live.js: the Kliniki notifier's browser client (KlinikiLive.connect).\n" +
      " * Built from web/src/live/kliniki-live.ts by `npm run build:live`: edit that file. */",
  },
  footer: { js: 'if (typeof module === "object" && module.exports) module.exports = KlinikiLive;' },
});
console.log(`wrote ${out}`);
