// tsc does not copy .d.ts sources: dist/client.d.ts imports ./schema.js, so the generated
// declarations go beside it.
import { copyFileSync } from "node:fs";

copyFileSync(new URL("../src/schema.d.ts", import.meta.url), new URL("../dist/schema.d.ts", import.meta.url));
