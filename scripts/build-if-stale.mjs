// Builds dist/ before `npm start` only when a source is newer than the build: `npm install` has just
// built it (prepare), and running tsc again when nothing changed only delays the start.
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const sources = Math.max(newest("src"), newest("package.json"), newest("tsconfig.json"), newest("tsconfig.build.json"));
const built = newest("dist/main.js");
if (built === 0 || sources > built) execFileSync("npm", ["run", "build"], { stdio: "inherit" });
else process.stderr.write("[build] dist/ is current\n");
