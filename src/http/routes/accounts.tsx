/** Sign up, log in, log out. (Changing the password is in account.tsx.) */
import { Hono } from "hono";
import { logIn, register } from "../../auth/accounts";
import { revokeEverySession } from "../../auth/end-sessions";
import { LoginPage, RegisterPage } from "../../views/accounts";
import { render } from "../../views/render";
import { countAttempt } from "../attempt-limit";
import type { AppEnv } from "../env";
import { lockedMessage } from "../lockout-message";
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
  const values = { username: field(form.username), email: field(form.email) };
  const allowed = await countAttempt(c, "register");
  if (!allowed.ok) {
    return render(c, <RegisterPage values={values} alert={allowed.message} next={next} />, 429);
  }
  const result = await register(c.var.db, form);
  if (!result.ok) return render(c, <RegisterPage values={values} errors={result.errors} next={next} />, 422);
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
  const allowed = await countAttempt(c, "login");
  if (!allowed.ok) {
    return render(c, <LoginPage email={email} alert={allowed.message} next={next} />, 429);
  }
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
    case "locked":
      return render(c, <LoginPage email={email} alert={lockedMessage(result.until)} next={next} />, 429);
  }
});

accountRoutes.post("/logout", async (c) => {
  const viewer = c.var.viewer;
  // Logging out ends this session, the user's other sessions and every socket token issued.
  if (viewer) await revokeEverySession(c.env, c.var.db, viewer.user);
  endSession(c);
  return c.redirect("/", 303);
});

function field(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
