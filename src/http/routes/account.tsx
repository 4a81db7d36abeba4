/** The account page: changing the password (which ends every other session). */
import { Hono } from "hono";
import { changePassword } from "../../auth/accounts";
import { revokeEverySession } from "../../auth/end-sessions";
import { AccountPage } from "../../views/account";
import { render } from "../../views/render";
import { countAttempt } from "../attempt-limit";
import type { AppEnv } from "../env";
import { lockedMessage } from "../lockout-message";
import { redirectToLogin, startSession } from "../middleware/session";

export const accountPageRoutes = new Hono<AppEnv>();

accountPageRoutes.get("/account", (c) => {
  const viewer = c.var.viewer;
  if (!viewer) return redirectToLogin(c);
  return render(c, <AccountPage viewer={viewer} changed={c.req.query("changed") === "1"} />);
});

accountPageRoutes.post("/account", async (c) => {
  const viewer = c.var.viewer;
  if (!viewer) return redirectToLogin(c, "/account");
  // Confirming the current password is a password check like a login: the same per-address cap applies.
  const allowed = await countAttempt(c, "login");
  if (!allowed.ok) {
    return render(c, <AccountPage viewer={viewer} alert={allowed.message} />, 429);
  }
  const result = await changePassword(c.var.db, viewer.user, await c.req.parseBody());
  if (!result.ok) {
    switch (result.reason) {
      case "blank or weak":
        return render(c, <AccountPage viewer={viewer} errors={result.errors} />, 422);
      case "wrong":
        return render(c, <AccountPage viewer={viewer} errors={result.errors} />, 401);
      case "locked":
        return render(c, <AccountPage viewer={viewer} alert={lockedMessage(result.until)} />, 429);
    }
  }
  // The new hash is stored first, then every session is revoked: whatever logged in with the old
  // password, before or during the change, ends here. This browser gets a fresh session.
  const current = await revokeEverySession(c.env, c.var.db, viewer.user);
  if (current) await startSession(c, current);
  return c.redirect("/account?changed=1", 303);
});
