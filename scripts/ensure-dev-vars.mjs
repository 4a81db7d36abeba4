// Runs before `npm run dev`: gives local development a TOKEN_SECRET without a manual step.
// It writes a random one into .dev.vars (git-ignored) once; an existing usable value is never replaced.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const FILE = ".dev.vars";
const MIN_LENGTH = 32; // src/auth/secret.ts: TOKEN_SECRET_MIN_LENGTH

const existing = existsSync(FILE) ? readFileSync(FILE, "utf8") : "";
const current = /^TOKEN_SECRET\s*=\s*"?([^"\n]*)"?\s*$/m.exec(existing)?.[1] ?? "";

if (current.length >= MIN_LENGTH) process.exit(0);

const secret = randomBytes(48).toString("base64url");
const withoutOld = existing.replace(/^TOKEN_SECRET\s*=.*\n?/m, "");
const separator = withoutOld === "" || withoutOld.endsWith("\n") ? "" : "\n";
writeFileSync(FILE, `${withoutOld}${separator}TOKEN_SECRET="${secret}"\n`, { mode: 0o600 });
console.log(`${FILE}: ${current ? "replaced a too-short" : "generated a"} local TOKEN_SECRET`);
