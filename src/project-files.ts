/** Where the project's data files are, from src/ or dist/. */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project's `index-templates/` folder, found from this module whether it runs from src/ (tsx) or dist/. */
export function indexTemplatesDir(): string {
  const override = process.env.RATESTORE_TEMPLATES_DIR;
  if (override) return override;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "index-templates");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("index-templates/ not found above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
}
