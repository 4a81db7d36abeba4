/**
 * The Room Durable Object: one per chat room, holding its members' hibernatable WebSockets. A thin shell
 * (shell/socket-object.ts): it admits sockets and hands decoded frames to the router (router.ts); what the
 * room holds while awake is the LiveRoom (live-room.ts).
 */
import { configOf } from "../../config";
import type { ChangesQuery } from "../../db/posts";
import type { Post, PostsQuery } from "../../shared/post";
import type { Change } from "../../shared/room-contract";
import { SESSION_ENDED_CLOSE_CODE } from "../../shared/room-contract";
import { isRoomName } from "../../shared/rooms";
import { readAdmission } from "../access/admission";
import type { Identity } from "../access/identity";
import { rememberRevocation } from "../access/remembered-revocations";
import { readFrame } from "../phoenix/serializer";
import { answerHeartbeat } from "../phoenix/socket-replies";
import { CloseCode, closeQuietly } from "../phoenix/transport";
import { wakeBy } from "../shell/alarms";
import { SocketObject } from "../shell/socket-object";
import { type ReadStatePush, roomSlotHolder, SlotBatches, type SocketHolder, withSlot } from "../user-sockets/client";
import { Connection } from "./connection";
import {
  acceptInvite,
  addMember,
  canSee,
  createInvite,
  type InviteView,
  joinPublic,
  listInvites,
  type MemberView,
  memberView,
  notFound,
  type Outcome,
  openDirect,
  type RoomView,
  removeMember,
  rename,
  revokeInvite,
  setRole,
  viewOf,
  YOU_ARE_BANNED,
} from "./governance";
import { LiveRoom, type RoomCreation } from "./live-room";
import type { Role } from "./membership";
import type { RoomModes } from "./moderation";
import {
  type BanView,
  ban,
  type LogEntryView,
  type ModerationView,
  type MuteView,
  moderationLog,
  moderationView,
  mute,
  setModes,
  unban,
  unmute,
} from "./moderation-actions";
import { handleMalformed, handleMessage } from "./router";
import { RoomUserTopics, userSocketTag } from "./user-topic";

/**
 * A role decides whether read-only and slow mode apply to someone (the owner and moderators are exempt):
 * after a change that went through, each person it changed is told on their open channels (`exempt` says
 * whether they now moderate), as docs/protocol.md promises, even in a room where no mode is on.
 */
function rolesChanged<T>(room: LiveRoom, outcome: Outcome<T>, userIds: number[]): Outcome<T> {
  if (!outcome.ok) return outcome;
  for (const userId of userIds) room.pushModeration(userId);
  return outcome;
}

export class Room extends SocketObject implements SocketHolder {
  protected readonly kind = { label: "Room", noun: "room" };
  #live: LiveRoom | undefined;
  /** Its sockets' joins of their user's `user:ID` topic. */
  readonly #userTopics = new RoomUserTopics(this.env, (where, problem) => this.log(where, problem));
  #slots: SlotBatches | undefined;

  protected async onAdmission(request: Request): Promise<Response> {
    const admission = readAdmission(request);
    if (!admission) return new Response("Not an admission from the socket endpoint", { status: 400 });
    const admit = (slot: string | null) =>
      this.#liveRoom(admission.room).admit({ ...admission, slot }, (attach) =>
        // Tagged with its user, so a `read_state` finds the user's sockets without reading every attachment.
        this.acceptSocket(admission.phoenixSubprotocol, attach, [userSocketTag(admission.user.id)]),
      );
    if (!admission.takeSlot) return admit(admission.slot);
    // The worker's room-bound socket: its slot is taken here, before the room reads anything (a refused one
    // leaves nothing behind), with those of the sockets arriving at once: one call for a burst of connects.
    const { user, token } = admission;
    this.#slots ??= new SlotBatches(this.env);
    const opening = this.#slots.open({
      userId: user.id,
      generation: token.generation,
      holder: roomSlotHolder(admission.room),
    });
    const admitted = await withSlot(
      this.env,
      user.id,
      opening,
      `Room ${admission.room}`,
      admit,
      (r) => r.status === 101,
    );
    return admitted.ok ? admitted.result : new Response(admitted.refusal.message, { status: admitted.refusal.status });
  }

  protected async onMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    if (!this.#live && answeredAsleep(ws, raw)) return;
    const room = this.#awake();
    const connection = room?.get(ws);
    if (!room || !connection) {
      closeQuietly(ws, CloseCode.internalError, "unknown connection; reconnect");
      return;
    }
    const frame = readFrame(raw, connection.serializer);
    switch (frame.kind) {
      case "close":
        room.drop(connection, frame.code, frame.reason);
        return;
      case "invalid":
        handleMalformed(connection, frame);
        return;
      case "message":
        await handleMessage(connection, frame.message, room, this.#userTopics);
    }
  }

  protected async onSocketEnd(ws: WebSocket): Promise<void> {
    const room = this.#awake();
    const connection = room?.get(ws);
    if (room && connection) await room.forget(connection);
  }

  protected recordLastFrame(ws: WebSocket, at: number): void {
    // A room that has not woken its live state (see `answeredAsleep`) writes the one socket's attachment.
    (this.#live ? this.#live.get(ws) : Connection.restore(ws))?.update({ lastFrameAt: at });
  }

  /**
   * The room's one alarm, for every job that asked for it (shell/alarms.ts), after the shell's idle sweep:
   * closes the sockets whose token has expired, and retries copying posts to D1 after a failure that nothing
   * else has woken the room for.
   */
  protected async onAlarm(): Promise<void> {
    const room = this.#awake();
    if (!room) return;
    const nextExpiry = room.dropExpired();
    if (nextExpiry !== undefined) await wakeBy(this.ctx.storage, nextExpiry);
    room.resumeCopying();
    await room.mirror();
  }

  /**
   * RPC from the worker: a page of the room's posts, oldest first, for `viewerId` (undefined: no viewer
   * check, for the room page's own render after it checked). The room answers rather than D1 alone, because
   * only the room knows the posts it has stored and broadcast but not yet copied to D1. Undefined when the
   * viewer may not read the room (a private room they are not in: as if it did not exist); "banned" to
   * someone the room banned.
   */
  async posts(query: PostsQuery, viewerId: number): Promise<Post[] | undefined | "banned"> {
    const room = this.#named();
    if (!(await room.exists())) return isRoomName(room.name) ? [] : undefined;
    if (room.isBanned(viewerId)) return "banned";
    if (!room.mayPost(viewerId)) return undefined;
    return room.page(query);
  }

  /**
   * RPC from the worker: a page of the room's changes (new posts, edits, deletions, …), oldest first, for
   * `viewerId`, from D1 and the room's log together; undefined when the viewer may not read the room,
   * "banned" to someone the room banned (as {@link posts}).
   */
  async changes(
    query: ChangesQuery,
    viewerId: number,
  ): Promise<{ changes: Change[]; has_more: boolean } | undefined | "banned"> {
    const room = this.#named();
    if (!(await room.exists())) return isRoomName(room.name) ? { changes: [], has_more: false } : undefined;
    if (room.isBanned(viewerId)) return "banned";
    if (!room.mayPost(viewerId)) return undefined;
    return room.changes(query);
  }

  // RPCs from the worker's API (http/routes/rooms-api.ts): the room decides each one (governance.ts).

  /** Creates the room: a public one by name, a private one or a direct message under a minted id. */
  async create(creation: RoomCreation): Promise<Outcome<RoomView>> {
    return this.#named().establish(creation);
  }

  /** Opens the direct message `user` is one of the pair of: back in if they had left it. */
  async openDirect(user: Identity): Promise<Outcome<RoomView>> {
    return openDirect(this.#named(), user);
  }

  /**
   * Whether `viewerId` may see the room at all (anyone a public room, members the others), or is banned from
   * it (then told so, 403, by what they ask for).
   */
  async visibleTo(viewerId: number): Promise<boolean> {
    const room = this.#named();
    return (await room.exists()) && (canSee(room, viewerId) || room.isBanned(viewerId));
  }

  /**
   * The room and its members, for someone who may see it; and its moderation (its modes; to its owner and
   * moderators, the mutes and bans), except in a direct message, which has none. 403 to someone it banned.
   */
  async details(
    viewer: Identity,
  ): Promise<Outcome<{ room: RoomView; members: MemberView[]; moderation?: ModerationView }>> {
    const room = this.#named();
    if (!(await room.exists())) return notFound();
    if (room.isBanned(viewer.id)) return { ok: false, status: 403, error: YOU_ARE_BANNED };
    const view = viewOf(room, viewer.id);
    if (!view) return notFound();
    const members = room.membership.all().map(memberView);
    if (view.kind === "dm") return { ok: true, value: { room: view, members } };
    return { ok: true, value: { room: view, members, moderation: moderationView(room, viewer.id) } };
  }

  /** Joins a public room's members (it then shows among your rooms), or `canSee` for the others. */
  async joinPublic(user: Identity): Promise<Outcome<RoomView>> {
    return joinPublic(await this.#existing(), user);
  }

  async addMember(actor: Identity, target: Identity, role: Role): Promise<Outcome<MemberView>> {
    const room = await this.#existing();
    return rolesChanged(room, await addMember(room, actor, target, role), [target.id]);
  }

  async setRole(actor: Identity, targetId: number, role: Role): Promise<Outcome<MemberView>> {
    const room = await this.#existing();
    // Handing over makes the old owner a moderator: both are told.
    return rolesChanged(room, await setRole(room, actor, targetId, role), [targetId, actor.id]);
  }

  async removeMember(actor: Identity, targetId: number): Promise<Outcome<null>> {
    const room = await this.#existing();
    return rolesChanged(room, await removeMember(room, actor, targetId), [targetId]);
  }

  async rename(actor: Identity, title: unknown): Promise<Outcome<RoomView>> {
    return rename(await this.#existing(), actor, title);
  }

  async createInvite(actor: Identity, expiresInSeconds: number, maxUses: number) {
    return createInvite(await this.#existing(), actor, expiresInSeconds, maxUses);
  }

  async invites(actor: Identity): Promise<Outcome<InviteView[]>> {
    return listInvites(await this.#existing(), actor);
  }

  async revokeInvite(actor: Identity, id: string): Promise<Outcome<null>> {
    return revokeInvite(await this.#existing(), actor, id);
  }

  async acceptInvite(user: Identity, secret: string): Promise<Outcome<RoomView>> {
    return acceptInvite(await this.#existing(), user, secret);
  }

  // RPCs from the worker's API for moderation (moderation-actions.ts).

  async mute(actor: Identity, target: Identity, seconds: number): Promise<Outcome<MuteView>> {
    return mute(await this.#existing(), actor, target, seconds);
  }

  async unmute(actor: Identity, target: Identity): Promise<Outcome<null>> {
    return unmute(await this.#existing(), actor, target);
  }

  async ban(actor: Identity, target: Identity, deleteRecentPosts: boolean): Promise<Outcome<BanView>> {
    return ban(await this.#existing(), actor, target, deleteRecentPosts);
  }

  async unban(actor: Identity, target: Identity): Promise<Outcome<null>> {
    return unban(await this.#existing(), actor, target);
  }

  /** Slow mode and read-only; answers the room's moderation as the actor now sees it. */
  async setModes(actor: Identity, modes: Partial<RoomModes>): Promise<Outcome<ModerationView>> {
    return setModes(await this.#existing(), actor, modes);
  }

  async moderationLog(
    actor: Identity,
    query: { before?: number | undefined; limit: number },
  ): Promise<Outcome<LogEntryView[]>> {
    return moderationLog(await this.#existing(), actor, query);
  }

  /** RPC from UserSockets: the user's slots this room still holds. */
  async liveSlots(userId: number): Promise<string[]> {
    return this.#awake()?.liveSlots(userId) ?? [];
  }

  /**
   * RPC from UserSockets: `read_state`s for the users' sockets here that joined their `user:ID` topic;
   * answers the watches of those that took one. A hibernating room reads only those users' sockets' attachments.
   */
  async pushReadStates(pushes: ReadStatePush[]): Promise<string[]> {
    const connections: Connection[] = [];
    for (const userId of new Set(pushes.map((push) => push.userId))) {
      for (const ws of this.ctx.getWebSockets(userSocketTag(userId))) {
        const connection = this.#live ? this.#live.get(ws) : Connection.restore(ws);
        if (connection) connections.push(connection);
      }
    }
    return this.#userTopics.push(connections, pushes);
  }

  /** RPC from UserSockets: the user logged out or changed password; end their older sockets here. */
  async endUserSockets(userId: number, validFrom: number): Promise<void> {
    const room = this.#awake();
    if (room) room.endUserSockets(userId, validFrom, SESSION_ENDED_CLOSE_CODE);
    // No sockets here (yet): still remember, for an admission that is on its way.
    else rememberRevocation(this.ctx.storage, userId, validFrom);
  }

  /** The live room of this object, which is always addressed by its room's id (`idFromName`). */
  #named(): LiveRoom {
    const name = this.ctx.id.name;
    if (name === undefined) throw new Error("a room is addressed by its id's name");
    return this.#liveRoom(name);
  }

  /** The live room, adopted from D1 first if it predates owners; governance answers "no such room" if none. */
  async #existing(): Promise<LiveRoom> {
    const room = this.#named();
    await room.exists();
    return room;
  }

  /** The live room, built on first use after the room wakes. */
  #liveRoom(name: string): LiveRoom {
    this.#live ??= new LiveRoom(this.ctx, this.env, name, configOf(this.env).roomLimits, (where, problem) =>
      this.log(where, problem),
    );
    return this.#live;
  }

  /**
   * The live room of a room woken by a socket or a call. Its name is the id's name (rooms are addressed
   * with `idFromName`), or failing that the one its sockets' attachments carry.
   */
  #awake(): LiveRoom | undefined {
    if (this.#live) return this.#live;
    const name = this.ctx.id.name ?? LiveRoom.nameOf(this.ctx);
    return name === undefined ? undefined : this.#liveRoom(name);
  }
}

/**
 * A heartbeat with a ref of its own (phoenix.js's, every V1 client's), which the runtime cannot answer for
 * the room as it answers pyre's constant one, answered from the socket's own attachment while the room has
 * not built its live state since it woke: waking for a heartbeat then costs the room one socket's
 * attachment, not a rebuild from every member's. True if `raw` was a heartbeat, answered.
 */
function answeredAsleep(ws: WebSocket, raw: string | ArrayBuffer): boolean {
  const connection = Connection.restore(ws);
  if (!connection) return false;
  const frame = readFrame(raw, connection.serializer);
  return frame.kind === "message" && answerHeartbeat(connection, frame.message);
}
