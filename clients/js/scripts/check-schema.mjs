// Fails when src/schema.d.ts is not what openapi-typescript makes of ../../openapi.json today.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const committed = join(root, "src", "schema.d.ts");
const dir = mkdtempSync(join(tmpdir(), "switchboard-schema-"));
const fresh = join(dir, "schema.d.ts");
try {
  execFileSync(
    process.execPath,
    [join(root, "node_modules", "openapi-typescript", "bin", "cli.js"), join(root, "..", "..", "openapi.json"), "-o", fresh],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
  );
  let current = "";
  try {
    current = readFileSync(committed, "utf8");
  } catch {
    current = "";
  }
  if (readFileSync(fresh, "utf8") !== current) {
    console.error(
      "clients/js/src/schema.d.ts is out of date with openapi.json: run `npm run generate` in clients/js and commit the result.",
    );
    process.exit(1);
  }
  console.log("src/schema.d.ts matches openapi.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
