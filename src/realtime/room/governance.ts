/**
 * Who may do what to a room, decided by the room at the moment of the action from what it holds: adding
 * and removing people, roles, renaming, handing over, invites. Nobody acts on an equal or higher role.
 */
import type { Identity } from "../access/identity";
import type { Invite, Invites } from "./invites";
import { type Member, type Membership, RANK, type Role, type RoomRecord } from "./membership";

/** Why an action was refused; `status` is what the HTTP API answers with. */
export interface Refusal {
  ok: false;
  status: 403 | 404 | 409 | 422 | 429 | 503;
  error: string;
}

/** What an action answers. */
export type Outcome<T> = { ok: true; value: T } | Refusal;

/** A room as the API shows it to one person. */
export interface RoomView {
  id: string;
  kind: RoomRecord["kind"];
  /** A public room's name. */
  name?: string;
  /** A private room's title (a public room's too, when its owner gave it one). */
  title?: string | null;
  /** The viewer's role; null where they are not a member (a public room they have not joined). */
  role: Role | null;
  /** A direct message's other person. */
  partner?: { id: number; username: string } | null;
}

export interface MemberView {
  id: number;
  username: string;
  role: Role;
  added_at: string;
}

export interface InviteView {
  id: string;
  expires_at: string;
  max_uses: number;
  uses: number;
}

export const TITLE_MAX_LENGTH = 80;

/** What governance needs of the live room. */
export interface GovernedRoom {
  readonly membership: Membership;
  readonly invites: Invites;
  /** Ends `userId`'s channels on this room, on every socket (removed from a private room, or banned). */
  cutOff(userId: number, reason: string): void;
  /** Banned from this room (moderation.ts): not let back in by any way, invite or addition. */
  isBanned(userId: number): boolean;
  /** Tells D1 what changed; a failure is retried by the alarm, so the room's answer stands. */
  mirror(): Promise<void>;
}

/** The answer a non-member gets for a private room: the same as for a room that does not exist. */
export const NO_SUCH_ROOM = "There is no such room.";

export function notFound(): Refusal {
  return { ok: false, status: 404, error: NO_SUCH_ROOM };
}

/** What a banned person is told wherever they try to read or enter the room: they know it, and why. */
export const YOU_ARE_BANNED = "You are banned from this room.";

function banned(): Refusal {
  return { ok: false, status: 403, error: YOU_ARE_BANNED };
}

export function viewOf(room: GovernedRoom, viewerId: number): RoomView | undefined {
  const record = room.membership.record;
  if (!record) return undefined;
  const role = room.membership.roleOf(viewerId) ?? null;
  if (record.kind !== "public" && role === null) return undefined;
  if (record.kind === "public") return { id: record.id, kind: "public", name: record.id, title: record.title, role };
  if (record.kind === "private") return { id: record.id, kind: "private", title: record.title, role };
  const otherId = pairOf(record).find((id) => id !== viewerId);
  const present = room.membership.all().find((member) => member.userId === otherId);
  const username = present?.username ?? (otherId !== undefined ? record.pairNames?.[otherId] : undefined);
  return {
    id: record.id,
    kind: "dm",
    role,
    partner: otherId !== undefined && username !== undefined ? { id: otherId, username } : null,
  };
}

export function memberView(member: Member): MemberView {
  return {
    id: member.userId,
    username: member.username,
    role: member.role,
    added_at: new Date(member.addedAt).toISOString(),
  };
}

/** Who may see the room at all: anyone for a public room, members for the others. */
export function canSee(room: GovernedRoom, userId: number): boolean {
  const record = room.membership.record;
  return record !== undefined && (record.kind === "public" || room.membership.roleOf(userId) !== undefined);
}

export async function addMember(
  room: GovernedRoom,
  actor: Identity,
  target: Identity,
  role: Role,
): Promise<Outcome<MemberView>> {
  const refused = manage(room, actor.id);
  if (refused) return refused;
  const actorRole = room.membership.roleOf(actor.id) as Role;
  if (role === "owner") {
    return {
      ok: false,
      status: 422,
      error: "A room has one owner: hand ownership over instead (role owner on a member).",
    };
  }
  if (RANK[role] >= RANK[actorRole]) {
    return { ok: false, status: 403, error: `A ${actorRole} can add people only with a role below their own.` };
  }
  if (room.isBanned(target.id)) {
    return { ok: false, status: 409, error: `@${target.username} is banned from this room: unban them first.` };
  }
  const existing = room.membership.member(target.id);
  if (existing) {
    if (existing.role === role) return { ok: true, value: memberView(existing) };
    return { ok: false, status: 409, error: `@${target.username} is already a ${existing.role} here.` };
  }
  const member: Member = { userId: target.id, username: target.username, role, addedAt: Date.now() };
  room.membership.put(member);
  await room.mirror();
  return { ok: true, value: memberView(member) };
}

export async function setRole(
  room: GovernedRoom,
  actor: Identity,
  targetId: number,
  role: Role,
): Promise<Outcome<MemberView>> {
  const refused = manage(room, actor.id);
  if (refused) return refused;
  const { membership } = room;
  const actorRole = membership.roleOf(actor.id) as Role;
  const target = membership.member(targetId);
  if (!target) return { ok: false, status: 404, error: "That person is not a member of this room." };
  if (actorRole !== "owner") {
    return { ok: false, status: 403, error: "Only the owner changes roles and hands the room over." };
  }
  if (targetId === actor.id) {
    return { ok: false, status: 409, error: "You own this room: hand it over to a member to change your role." };
  }
  if (role === "owner") {
    // One step, one outcome: the new owner and the old owner's new role are written together.
    membership.put({ ...target, role: "owner" });
    const self = membership.member(actor.id);
    if (self) membership.put({ ...self, role: "moderator" });
    membership.updateRecord({ ownerId: targetId });
    await room.mirror();
    return { ok: true, value: memberView({ ...target, role: "owner" }) };
  }
  const updated = { ...target, role };
  membership.put(updated);
  await room.mirror();
  return { ok: true, value: memberView(updated) };
}

/** Removes `targetId` (yourself: leaving). Their channels on a private room end at once. */
export async function removeMember(room: GovernedRoom, actor: Identity, targetId: number): Promise<Outcome<null>> {
  const record = room.membership.record;
  if (!record || !canSee(room, actor.id)) return notFound();
  const { membership } = room;
  const target = membership.member(targetId);
  if (!target) return { ok: false, status: 404, error: "That person is not a member of this room." };
  if (targetId !== actor.id) {
    if (record.kind === "dm") return { ok: false, status: 403, error: "Nobody can be removed from a direct message." };
    const actorRole = membership.roleOf(actor.id);
    if (!actorRole || RANK[actorRole] < RANK.moderator) {
      return { ok: false, status: 403, error: "Only the owner and moderators remove people." };
    }
    if (RANK[target.role] >= RANK[actorRole]) {
      return {
        ok: false,
        status: 403,
        error: `${withArticle(actorRole, true)} cannot remove ${withArticle(target.role)}.`,
      };
    }
  } else if (target.role === "owner") {
    return { ok: false, status: 409, error: "You own this room: hand it over to a member before you leave." };
  }
  membership.remove(targetId);
  if (record.kind !== "public") room.cutOff(targetId, targetId === actor.id ? "left" : "removed");
  await room.mirror();
  return { ok: true, value: null };
}

export async function rename(room: GovernedRoom, actor: Identity, rawTitle: unknown): Promise<Outcome<RoomView>> {
  const record = room.membership.record;
  if (!record || !canSee(room, actor.id)) return notFound();
  if (record.kind === "dm") return { ok: false, status: 403, error: "A direct message has no title to change." };
  if (room.membership.roleOf(actor.id) !== "owner") {
    return { ok: false, status: 403, error: "Only the owner renames the room." };
  }
  const title = checkTitle(rawTitle, record.kind === "private");
  if (!title.ok) return { ok: false, status: 422, error: `title ${title.error}` };
  room.membership.updateRecord({ title: title.value });
  await room.mirror();
  return { ok: true, value: viewOf(room, actor.id) as RoomView };
}

export async function createInvite(
  room: GovernedRoom,
  actor: Identity,
  expiresInSeconds: number,
  maxUses: number,
): Promise<Outcome<{ invite: InviteView; secret: string }>> {
  const refused = manage(room, actor.id);
  if (refused) return refused;
  const { invite, secret } = await room.invites.create(actor.id, Date.now() + expiresInSeconds * 1000, maxUses);
  return { ok: true, value: { invite: inviteView(invite), secret } };
}

export function listInvites(room: GovernedRoom, actor: Identity): Outcome<InviteView[]> {
  const refused = manage(room, actor.id);
  if (refused) return refused;
  return { ok: true, value: room.invites.live().map(inviteView) };
}

export function revokeInvite(room: GovernedRoom, actor: Identity, id: string): Outcome<null> {
  const refused = manage(room, actor.id);
  if (refused) return refused;
  if (!room.invites.revoke(id)) return { ok: false, status: 404, error: "There is no live invite with that id." };
  return { ok: true, value: null };
}

/** Opening an invite: a member already just goes in; anyone else takes one use, atomically, and joins. */
export async function acceptInvite(room: GovernedRoom, user: Identity, secret: string): Promise<Outcome<RoomView>> {
  const record = room.membership.record;
  if (!record || record.kind === "dm") return invalidInvite();
  if (room.membership.member(user.id)) return { ok: true, value: viewOf(room, user.id) as RoomView };
  // Checked before a use is taken: a banned person's link is neither used nor lets them in.
  if (room.isBanned(user.id)) return banned();
  if (!(await room.invites.use(secret))) return invalidInvite();
  // The use was taken in the same step as the check; the member is added right after, with no await between.
  return enter(room, user);
}

/** Opening a direct message: one of its pair only; back in if they had left it. */
export function openDirect(room: GovernedRoom, user: Identity): Promise<Outcome<RoomView>> | Refusal {
  const record = room.membership.record;
  if (record?.kind !== "dm" || !pairOf(record).includes(user.id)) return notFound();
  return enter(room, user);
}

/** Joining a public room's members; for another room, what `viewOf` says (a member stays one). */
export function joinPublic(room: GovernedRoom, user: Identity): Promise<Outcome<RoomView>> | Outcome<RoomView> {
  const record = room.membership.record;
  if (record?.kind === "public") return room.isBanned(user.id) ? banned() : enter(room, user);
  const view = viewOf(room, user.id);
  return view ? { ok: true, value: view } : notFound();
}

/** Makes `user` a member (as a member) unless they are one, and answers the room as they now see it. */
async function enter(room: GovernedRoom, user: Identity): Promise<Outcome<RoomView>> {
  if (!room.membership.member(user.id)) {
    room.membership.put({ userId: user.id, username: user.username, role: "member", addedAt: Date.now() });
  }
  await room.mirror();
  return { ok: true, value: viewOf(room, user.id) as RoomView };
}

/** A direct message's two user ids. */
function pairOf(record: RoomRecord): number[] {
  return record.dmPair?.split(":").map(Number) ?? [];
}

export const INVALID_INVITE =
  "This invite link is not valid: it may have expired, been used up or revoked. Ask for a new one.";

function invalidInvite(): Refusal {
  return { ok: false, status: 404, error: INVALID_INVITE };
}

/** Adding people and invites: owners and moderators, never in a direct message. */
function manage(room: GovernedRoom, actorId: number): Refusal | undefined {
  const record = room.membership.record;
  if (!record || !canSee(room, actorId)) return notFound();
  if (record.kind === "dm") {
    return { ok: false, status: 403, error: "A direct message is between two people: start a room to talk with more." };
  }
  const role = room.membership.roleOf(actorId);
  if (!role || RANK[role] < RANK.moderator) {
    return { ok: false, status: 403, error: "Only the owner and moderators manage this room's people and invites." };
  }
  return undefined;
}

/** "a member", "an owner" (capitalised at the start of a sentence). */
export function withArticle(role: Role, capital = false): string {
  const article = role === "owner" ? "an" : "a";
  return `${capital ? article[0]?.toUpperCase() + article.slice(1) : article} ${role}`;
}

function inviteView(invite: Invite): InviteView {
  return {
    id: invite.id,
    expires_at: new Date(invite.expiresAt).toISOString(),
    max_uses: invite.maxUses,
    uses: invite.uses,
  };
}

/** 1–80 characters after trimming, no control characters; a public room's title may be cleared (null). */
export function checkTitle(
  raw: unknown,
  required: boolean,
): { ok: true; value: string | null } | { ok: false; error: string } {
  if ((raw === null || raw === undefined || raw === "") && !required) return { ok: true, value: null };
  if (typeof raw !== "string") return { ok: false, error: "must be text" };
  const title = raw.trim();
  if (title === "") return { ok: false, error: "must not be empty" };
  if ([...title].length > TITLE_MAX_LENGTH)
    return { ok: false, error: `must be at most ${TITLE_MAX_LENGTH} characters` };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f-\u009f]/.test(title)) return { ok: false, error: "must not contain control characters" };
  return { ok: true, value: title };
}
