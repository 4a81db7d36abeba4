/**
 * The forms that change rooms, for people with a browser: a new private room and "Message @someone" on the
 * home page, joining and leaving from a room's page, and the room settings page (members, roles, hand-over,
 * title, invite links, moderation). Each action is decided by the room (the same RPCs as the JSON API,
 * rooms-api.ts and moderation-api.ts);
 * this layer reads the form, finds users by name, and shows the room's answer: a redirect when it went
 * through, the page again with the room's reason when it was refused.
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { USERNAME_PATTERN } from "../../auth/accounts";
import type { Identity } from "../../realtime/access/identity";
import {
  knownRoom,
  type MemberView,
  mintPrivateRoomId,
  NO_SUCH_ROOM,
  type Outcome,
  type Refusal,
  type Role,
  type RoomStub,
  type RoomView,
  roomStub,
} from "../../realtime/room/client";
import { SLOW_MODE_MAX_SECONDS } from "../../shared/room-contract";
import { isRoomId } from "../../shared/rooms";
import { MUTE_DURATION_CHOICES } from "../../views/moderation-settings";
import { render } from "../../views/render";
import { INVITE_EXPIRY_CHOICES, RoomSettingsPage, type RoomSettingsProps } from "../../views/room-settings";
import { headingOf, roomPath } from "../../views/rooms";
import type { AppEnv, Viewer } from "../env";
import { redirectToLogin } from "../middleware/session";
import { personNamed as findPerson, INVITE_LIMITS, openDirectMessage } from "../rooms";
import { ROOM_NAME_RULE, renderHome, renderRoom } from "./pages";

export const roomPageRoutes = new Hono<AppEnv>();

// Home page forms.

roomPageRoutes.post("/rooms/new-private", async (c) => {
  const viewer = c.var.viewer;
  if (!viewer) return redirectToLogin(c, "/");
  const typed = fieldOf(await c.req.parseBody(), "title");
  // The room checks the title (and the daily allowance) before anything is stored.
  const id = await mintPrivateRoomId(c.env);
  const created = await roomStub(c.env, id).create({
    kind: "private",
    title: typed,
    dmPair: null,
    creator: identityOf(viewer),
  });
  if (!created.ok) return renderHome(c, { privateTitle: typed, privateError: sentence(created.error) }, created.status);
  return c.redirect(roomPath(created.value.id), 303);
});

roomPageRoutes.post("/dm", async (c) => {
  const viewer = c.var.viewer;
  if (!viewer) return redirectToLogin(c, "/");
  const typed = fieldOf(await c.req.parseBody(), "username");
  const partner = await personNamed(c, typed);
  if (!partner.ok) return renderHome(c, { dmUsername: typed, dmError: partner.error }, partner.status);
  const opened = await directMessage(c, viewer, partner.value);
  if (!opened.ok) return renderHome(c, { dmUsername: typed, dmError: sentence(opened.error) }, opened.status);
  return c.redirect(roomPath(opened.value.id), 303);
});

// A room's page: joining a public room's members, and leaving any room.

roomPageRoutes.post("/rooms/:room/join", async (c) => {
  const found = await visibleRoom(c);
  if (found instanceof Response) return found;
  const joined = await found.stub.joinPublic(found.identity);
  if (!joined.ok) return refusedOnRoomPage(c, found, joined);
  return c.redirect(roomPath(found.view.id), 303);
});

/** Leaving: a public room stays open to you (it just leaves your rooms); any other room is gone for you. */
roomPageRoutes.post("/rooms/:room/leave", async (c) => {
  const found = await visibleRoom(c);
  if (found instanceof Response) return found;
  const left = await found.stub.removeMember(found.identity, found.identity.id);
  if (!left.ok) return refusedOnRoomPage(c, found, left);
  return c.redirect(found.view.kind === "public" ? roomPath(found.view.id) : "/", 303);
});

// The settings page.

roomPageRoutes.get("/rooms/:room/settings", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  return renderSettings(c, managed, { notice: noticeOf(c.req.query("done"), c.req.query("who")) });
});

roomPageRoutes.post("/rooms/:room/settings/members", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const form = await c.req.parseBody();
  const typed = fieldOf(form, "username");
  const role = fieldOf(form, "role") || "member";
  if (role !== "member" && role !== "moderator") {
    return renderSettings(c, managed, { alert: "Choose member or moderator.", addUsername: typed }, 422);
  }
  const target = await personNamed(c, typed);
  if (!target.ok) return renderSettings(c, managed, { alert: target.error, addUsername: typed }, target.status);
  const added = await managed.stub.addMember(managed.identity, target.value, role);
  if (!added.ok) return settingsRefusal(c, added, { addUsername: typed });
  return done(c, managed, "added", added.value.username);
});

roomPageRoutes.post("/rooms/:room/settings/members/remove", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const target = await personNamed(c, fieldOf(await c.req.parseBody(), "username"));
  if (!target.ok) return renderSettings(c, managed, { alert: target.error }, target.status);
  const removed = await managed.stub.removeMember(managed.identity, target.value.id);
  if (!removed.ok) return settingsRefusal(c, removed);
  // Removing yourself is leaving: the settings are no longer yours to see.
  if (target.value.id === managed.identity.id) return c.redirect("/", 303);
  return done(c, managed, "removed", target.value.username);
});

roomPageRoutes.post("/rooms/:room/settings/members/role", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const form = await c.req.parseBody();
  const role = fieldOf(form, "role");
  if (role !== "member" && role !== "moderator") {
    return renderSettings(c, managed, { alert: "Choose member or moderator (or hand the room over)." }, 422);
  }
  const target = await personNamed(c, fieldOf(form, "username"));
  if (!target.ok) return renderSettings(c, managed, { alert: target.error }, target.status);
  const changed = await managed.stub.setRole(managed.identity, target.value.id, role satisfies Role);
  if (!changed.ok) return settingsRefusal(c, changed);
  return done(c, managed, role === "moderator" ? "promoted" : "demoted", changed.value.username);
});

/** Handing the room over: first a page asking to confirm, then (with `confirm=yes`) the hand-over itself. */
roomPageRoutes.post("/rooms/:room/settings/owner", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const form = await c.req.parseBody();
  const typed = fieldOf(form, "username");
  if (fieldOf(form, "confirm") !== "yes") {
    const member = managed.members.find(
      (m) => m.username.toLowerCase() === typed.trim().replace(/^@/, "").toLowerCase(),
    );
    if (!member) return renderSettings(c, managed, { alert: "That person is not a member of this room." }, 404);
    return renderSettings(c, managed, { handOverTo: member });
  }
  const target = await personNamed(c, typed);
  if (!target.ok) return renderSettings(c, managed, { alert: target.error }, target.status);
  const handed = await managed.stub.setRole(managed.identity, target.value.id, "owner");
  if (!handed.ok) return settingsRefusal(c, handed);
  return done(c, managed, "handed", handed.value.username);
});

roomPageRoutes.post("/rooms/:room/settings/title", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const typed = fieldOf(await c.req.parseBody(), "title");
  // A public room's title may be cleared; the room checks the rest.
  const cleared = managed.view.kind === "public" && typed.trim() === "";
  const renamed = await managed.stub.rename(managed.identity, cleared ? null : typed);
  if (!renamed.ok) return settingsRefusal(c, renamed, { titleValue: typed });
  return done(c, managed, "renamed");
});

roomPageRoutes.post("/rooms/:room/settings/invites", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const form = await c.req.parseBody();
  const seconds = Number(fieldOf(form, "expires_in"));
  const uses = Number(fieldOf(form, "max_uses"));
  if (!INVITE_EXPIRY_CHOICES.some((choice) => choice.seconds === seconds)) {
    return renderSettings(c, managed, { alert: "Choose how long the link lasts: 1 hour, 1 day or 7 days." }, 422);
  }
  if (!Number.isInteger(uses) || uses < 1 || uses > INVITE_LIMITS.maxUses) {
    const alert = `The number of uses must be a whole number from 1 to ${INVITE_LIMITS.maxUses}.`;
    return renderSettings(c, managed, { alert }, 422);
  }
  const created = await managed.stub.createInvite(managed.identity, seconds, uses);
  if (!created.ok) return settingsRefusal(c, created);
  const url = new URL(`/invites/${managed.view.id}.${created.value.secret}`, c.req.url).toString();
  // Shown on this answer only: the token is in no redirect, no later page and nothing stored here.
  return renderSettings(c, managed, { newInviteUrl: url }, 201);
});

roomPageRoutes.post("/rooms/:room/settings/invites/revoke", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const revoked = await managed.stub.revokeInvite(managed.identity, fieldOf(await c.req.parseBody(), "invite"));
  if (!revoked.ok) return settingsRefusal(c, revoked);
  return done(c, managed, "revoked");
});

roomPageRoutes.post("/rooms/:room/settings/moderation", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const form = await c.req.parseBody();
  const seconds = Number(fieldOf(form, "slow_mode_seconds"));
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > SLOW_MODE_MAX_SECONDS) {
    return renderSettings(c, managed, { alert: "Choose a slow mode from the list." }, 422);
  }
  const set = await managed.stub.setModes(managed.identity, {
    slowModeSeconds: seconds,
    readOnly: fieldOf(form, "read_only") === "on",
  });
  if (!set.ok) return settingsRefusal(c, set);
  return done(c, managed, "moderated");
});

roomPageRoutes.post("/rooms/:room/settings/mutes", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const form = await c.req.parseBody();
  const typed = fieldOf(form, "username");
  const seconds = Number(fieldOf(form, "seconds"));
  if (!MUTE_DURATION_CHOICES.includes(seconds)) {
    return renderSettings(
      c,
      managed,
      { alert: "Choose how long the mute lasts from the list.", muteUsername: typed },
      422,
    );
  }
  const target = await personNamed(c, typed);
  if (!target.ok) return renderSettings(c, managed, { alert: target.error, muteUsername: typed }, target.status);
  const muted = await managed.stub.mute(managed.identity, target.value, seconds);
  if (!muted.ok) return settingsRefusal(c, muted, { muteUsername: typed });
  return done(c, managed, "muted", target.value.username);
});

roomPageRoutes.post("/rooms/:room/settings/mutes/remove", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const target = await personNamed(c, fieldOf(await c.req.parseBody(), "username"));
  if (!target.ok) return renderSettings(c, managed, { alert: target.error }, target.status);
  const unmuted = await managed.stub.unmute(managed.identity, target.value);
  if (!unmuted.ok) return settingsRefusal(c, unmuted);
  return done(c, managed, "unmuted", target.value.username);
});

roomPageRoutes.post("/rooms/:room/settings/bans", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const form = await c.req.parseBody();
  const typed = fieldOf(form, "username");
  const target = await personNamed(c, typed);
  if (!target.ok) return renderSettings(c, managed, { alert: target.error, banUsername: typed }, target.status);
  const banned = await managed.stub.ban(managed.identity, target.value, fieldOf(form, "delete_recent_posts") === "on");
  if (!banned.ok) return settingsRefusal(c, banned, { banUsername: typed });
  return done(c, managed, "banned", target.value.username);
});

roomPageRoutes.post("/rooms/:room/settings/bans/remove", async (c) => {
  const managed = await managedRoom(c);
  if (managed instanceof Response) return managed;
  const target = await personNamed(c, fieldOf(await c.req.parseBody(), "username"));
  if (!target.ok) return renderSettings(c, managed, { alert: target.error }, target.status);
  const unbanned = await managed.stub.unban(managed.identity, target.value);
  if (!unbanned.ok) return settingsRefusal(c, unbanned);
  return done(c, managed, "unbanned", target.value.username);
});

interface VisibleRoom {
  viewer: Viewer;
  identity: Identity;
  stub: RoomStub;
  /** The room as the room answered it to the viewer. */
  view: RoomView;
  members: MemberView[];
}

/**
 * The room of `:room` if the viewer may see it, as the room answers; otherwise the 404 page of a room that
 * does not exist (a private room they are not in gets exactly that), or the way to log in.
 */
async function visibleRoom(c: Context<AppEnv>): Promise<VisibleRoom | Response> {
  const id = c.req.param("room") ?? "";
  if (!isRoomId(id)) throw new HTTPException(404, { message: `There is no room "${id}". ${ROOM_NAME_RULE}` });
  const viewer = c.var.viewer;
  // A form cannot be repeated by a redirect: after logging in, back to the room's page.
  if (!viewer) return redirectToLogin(c, c.req.method === "GET" ? undefined : roomPath(id));
  const stub = await knownRoom(c.env, id);
  if (!stub) throw new HTTPException(404, { message: NO_SUCH_ROOM });
  const identity = identityOf(viewer);
  const details = await stub.details(identity);
  // Banned: told so (403); anyone else who may not see it: a room that does not exist.
  if (!details.ok) throw new HTTPException(details.status === 403 ? 403 : 404, { message: details.error });
  return { viewer, identity, stub, view: details.value.room, members: details.value.members };
}

/**
 * A room whose settings the viewer may see: its owner and moderators. Anyone else gets what the room page
 * would tell them: a public room is there for everyone (403), any other room is not there for them (404,
 * exactly as a room that does not exist).
 */
async function managedRoom(c: Context<AppEnv>): Promise<VisibleRoom | Response> {
  const found = await visibleRoom(c);
  if (found instanceof Response) return found;
  if (found.view.kind !== "dm" && (found.view.role === "owner" || found.view.role === "moderator")) return found;
  if (found.view.kind === "public") {
    throw new HTTPException(403, { message: `Only the owner and moderators of #${found.view.id} see its settings.` });
  }
  throw new HTTPException(404, { message: NO_SUCH_ROOM });
}

type SettingsExtras = Omit<
  RoomSettingsProps,
  "viewer" | "room" | "heading" | "members" | "invites" | "moderation" | "log"
>;

/**
 * The settings page as the room answers it now: its members, a private room's live invites, its
 * moderation and the newest entries of its log.
 */
async function renderSettings(
  c: Context<AppEnv>,
  managed: VisibleRoom,
  extras: SettingsExtras = {},
  status: ContentfulStatusCode = 200,
) {
  const fresh = await managed.stub.details(managed.identity);
  // Gone for the viewer since (removed a moment ago, say): what any page of the room would say now.
  if (!fresh.ok) throw new HTTPException(404, { message: NO_SUCH_ROOM });
  const view = fresh.value.room;
  let invites: RoomSettingsProps["invites"];
  if (view.kind === "private") {
    const live = await managed.stub.invites(managed.identity);
    invites = live.ok ? live.value : [];
  }
  const log = await managed.stub.moderationLog(managed.identity, { limit: SETTINGS_LOG_ENTRIES });
  const page = (
    <RoomSettingsPage
      viewer={managed.viewer}
      room={view}
      heading={headingOf(view)}
      members={fresh.value.members}
      invites={invites}
      moderation={fresh.value.moderation}
      log={log.ok ? log.value : []}
      {...extras}
    />
  );
  return render(c, page, status);
}

/**
 * A refusal from the room on the settings page, with its reason. If the viewer can no longer manage the
 * room at all (removed or demoted meanwhile), the page they now get instead.
 */
async function settingsRefusal(c: Context<AppEnv>, refusal: Refusal, extras: SettingsExtras = {}) {
  if (refusal.status === 404 && refusal.error === NO_SUCH_ROOM) throw new HTTPException(404, { message: NO_SUCH_ROOM });
  const again = await managedRoom(c);
  if (again instanceof Response) return again;
  return renderSettings(c, again, { ...extras, alert: sentence(refusal.error) }, refusal.status);
}

async function refusedOnRoomPage(c: Context<AppEnv>, found: VisibleRoom, refusal: Refusal) {
  if (refusal.status === 404 && refusal.error === NO_SUCH_ROOM) throw new HTTPException(404, { message: NO_SUCH_ROOM });
  return renderRoom(c, found.viewer, found.view, { message: sentence(refusal.error), status: refusal.status });
}

/** What went through, after the redirect back to the settings page: `done` and whom it was about. */
const NOTICES: Record<string, (who: string) => string> = {
  added: (who) => `@${who} was added.`,
  removed: (who) => `@${who} was removed.`,
  promoted: (who) => `@${who} is now a moderator.`,
  demoted: (who) => `@${who} is now a member.`,
  handed: (who) => `@${who} owns the room now; you are a moderator.`,
  renamed: () => "The room was renamed.",
  revoked: () => "The invite link was revoked: it no longer lets anyone in.",
  moderated: () => "Slow mode and read-only are saved.",
  muted: (who) => `@${who} is muted.`,
  unmuted: (who) => `@${who} is no longer muted.`,
  banned: (who) => `@${who} is banned.`,
  unbanned: (who) => `@${who} is no longer banned.`,
};

/** How many of the moderation log's newest entries the settings page shows (the API pages through all). */
const SETTINGS_LOG_ENTRIES = 50;

function done(c: Context<AppEnv>, managed: VisibleRoom, what: keyof typeof NOTICES, who?: string) {
  const query = new URLSearchParams({ done: what, ...(who ? { who } : {}) });
  return c.redirect(`${roomPath(managed.view.id)}/settings?${query}`, 303);
}

function noticeOf(what: string | undefined, who: string | undefined): string | undefined {
  const notice = what === undefined ? undefined : NOTICES[what];
  if (!notice) return undefined;
  // Only a username is ever put back on the page from the address.
  return notice(who !== undefined && USERNAME_PATTERN.test(who) ? who : "someone");
}

/** Someone by username, or the 422 the API answers too (worded for a form). */
async function personNamed(c: Context<AppEnv>, typed: string): Promise<Outcome<Identity>> {
  if (typed.trim().replace(/^@/, "") === "") return { ok: false, status: 422, error: "Type the username of a person." };
  return findPerson(c.var.db, typed);
}

/** The pair's direct message (the same room every time, from either side). */
function directMessage(c: Context<AppEnv>, viewer: Viewer, partner: Identity): Promise<Outcome<RoomView>> {
  return openDirectMessage(c.env, c.var.db, identityOf(viewer), partner);
}

function identityOf(viewer: Viewer): Identity {
  return { id: viewer.user.id, username: viewer.user.username };
}

function fieldOf(form: Record<string, unknown>, name: string): string {
  const value = form[name];
  return typeof value === "string" ? value : "";
}

/** A refusal as a sentence on a page: the room's reasons are written for the API ("title must not be empty"). */
function sentence(reason: string): string {
  const text = reason.charAt(0).toUpperCase() + reason.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
