/** Sign up, log in, log out. */
import { Hono } from "hono";
import { LOCKOUT, logIn, register } from "../../auth/accounts";
import { revokeTokens } from "../../auth/revocation";
import { LoginPage, RegisterPage } from "../../views/accounts";
import { render } from "../../views/render";
import type { AppEnv } from "../env";
import { endSession, startSession } from "../middleware/session";
import { safeNextPath } from "../redirect";

export const accountRoutes = new Hono<AppEnv>();

accountRoutes.get("/register", (c) => {
  const next = safeNextPath(c.req.query("next"));
  if (c.var.viewer) return c.redirect(next ?? "/", 303);
  return render(c, <RegisterPage next={next} />);
});

accountRoutes.post("/register", async (c) => {
  const next = safeNextPath(c.req.query("next"));
  const form = await c.req.parseBody();
  const result = await register(c.var.db, form);
  if (!result.ok) {
    const values = { username: field(form.username), email: field(form.email) };
    return render(c, <RegisterPage values={values} errors={result.errors} next={next} />, 422);
  }
  await startSession(c, result.user);
  return c.redirect(next ?? "/", 303);
});

accountRoutes.get("/login", (c) => {
  const next = safeNextPath(c.req.query("next"));
  if (c.var.viewer) return c.redirect(next ?? "/", 303);
  return render(c, <LoginPage next={next} />);
});

accountRoutes.post("/login", async (c) => {
  const next = safeNextPath(c.req.query("next"));
  const form = await c.req.parseBody();
  const email = field(form.email);
  const result = await logIn(c.var.db, form);
  if (result.ok) {
    await startSession(c, result.user);
    return c.redirect(next ?? "/", 303);
  }
  switch (result.reason) {
    case "blank":
      return render(c, <LoginPage email={email} errors={result.errors} next={next} />, 422);
    case "invalid":
      return render(c, <LoginPage email={email} alert="Wrong email or password." next={next} />, 401);
    case "locked": {
      const minutes = Math.ceil((result.until.getTime() - Date.now()) / 60_000);
      const alert =
        `Too many failed attempts: this account is locked for ${Math.max(minutes, 1)} more ` +
        `minute${minutes === 1 ? "" : "s"} (${LOCKOUT.maxFailures} wrong passwords in a row lock it for ` +
        `${LOCKOUT.durationMs / 60_000} minutes).`;
      return render(c, <LoginPage email={email} alert={alert} next={next} />, 429);
    }
  }
});

accountRoutes.post("/logout", async (c) => {
  const viewer = c.var.viewer;
  // Bumping the generation revokes this session, the user's other sessions and every socket token issued.
  if (viewer) await revokeTokens(c.env, c.var.db, viewer.user.id);
  endSession(c);
  return c.redirect("/", 303);
});

function field(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
