/**
 * Rotating the signing key, through the app: with the old secret in TOKEN_SECRET_PREVIOUS and a new
 * TOKEN_SECRET, people stay logged in and their pages get tokens signed with the new key; once the previous
 * secret is removed, what it signed stops working. A TOKEN_SECRET_PREVIOUS too short to be safe stops the
 * worker, like a bad TOKEN_SECRET.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TokenSecret } from "../../src/auth/secret";
import { keyId, SESSION_AUDIENCE, signUserToken, verifyUserToken } from "../../src/auth/token";
import { createApp } from "../../src/http/app";
import { db, makeUser } from "../helpers/users";
import { LOCAL_ORIGIN, userTokenOf } from "../helpers/visitor";

const OLD = env.TOKEN_SECRET as TokenSecret;
const NEW = "a-brand-new-token-secret-for-rotation-0123" as TokenSecret;

afterEach(() => {
  vi.restoreAllMocks();
});

function homeWith(vars: Record<string, string | undefined>, cookie: string) {
  return createApp().request(
    `${LOCAL_ORIGIN}/`,
    { headers: { Cookie: `pyre_session=${cookie}` } },
    { ...env, ...vars },
  );
}

describe("TOKEN_SECRET_PREVIOUS", () => {
  it("keeps sessions signed with the old secret alive, and hands out tokens signed with the new one", async () => {
    const user = await makeUser("rotating_user");
    const oldSession = await signUserToken(user, { current: OLD }, { audience: SESSION_AUDIENCE });

    const during = await homeWith({ TOKEN_SECRET: NEW, TOKEN_SECRET_PREVIOUS: OLD }, oldSession);
    expect(during.status).toBe(200);
    const html = await during.text();
    expect(html).toContain('id="whoami">rotating_user<');
    const socketToken = userTokenOf(html) ?? "";
    const [header = ""] = socketToken.split(".");
    expect(JSON.parse(atob(header.replace(/-/g, "+").replace(/_/g, "/"))).kid).toBe(await keyId(NEW));
    expect((await verifyUserToken(socketToken, { current: NEW }, db)).ok).toBe(true);

    // Two weeks later the previous secret is removed: what only it signed no longer logs anyone in.
    const after = await homeWith({ TOKEN_SECRET: NEW, TOKEN_SECRET_PREVIOUS: undefined }, oldSession);
    expect(after.status).toBe(200);
    expect(userTokenOf(await after.text())).toBeUndefined();
  });

  it("fails closed when it is set but too short: 500 everywhere, and the log says which secret", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const vars = { ...env, TOKEN_SECRET_PREVIOUS: "tiny-previous-value" };
    const home = await createApp().request(`${LOCAL_ORIGIN}/`, undefined, vars);
    const upgrade = await createApp().request(
      `${LOCAL_ORIGIN}/socket/websocket?room=lobby&token=x`,
      { headers: { Upgrade: "websocket" } },
      vars,
    );
    expect(home.status).toBe(500);
    expect(await home.text()).toContain("previous signing secret is unusable");
    expect(upgrade.status).toBe(500);
    const logged = errors.mock.calls.map((call) => call.join(" ")).join("\n");
    expect(logged).toContain("TOKEN_SECRET_PREVIOUS: is too short");
    expect(logged).not.toContain("tiny-previous-value"); // the value itself is never logged
  });

  it("is optional: unset or empty means no previous secret", async () => {
    const user = await makeUser("no_previous");
    const session = await signUserToken(user, { current: OLD }, { audience: SESSION_AUDIENCE });
    for (const previous of [undefined, ""]) {
      const page = await homeWith({ TOKEN_SECRET_PREVIOUS: previous }, session);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('id="whoami">no_previous<');
    }
  });
});
