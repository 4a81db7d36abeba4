/**
 * Full-text search over posts (the FTS5 index `posts_fts`: migration `search`; a new post goes in right
 * after its copy to D1, search-index.ts), in the rooms the searcher can read, best match first (bm25, then
 * newest). What a person types is never FTS5 syntax: every word becomes an FTS5 string literal, so quotes,
 * `*`, `-`, `:`, parentheses, `AND`, `OR`, `NOT` and `NEAR` are only text, and the query is bound as a
 * parameter like any other value.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Database } from "./client";
import { FOUND_JOINS, type FoundPost, type FoundRow, foundColumns, toFoundPost } from "./found-posts";
import { readableBy } from "./readable";

/**
 * The longest search, in characters: a person looks for a few words, and every word is one more lookup in
 * the index (and all of them must match), so a longer query is not a search but a paste, and costs more.
 */
export const SEARCH_MAX_LENGTH = 200;
export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 50;

/**
 * Characters FTS5 puts around each match in a snippet. Control characters, which no stored message can
 * hold (src/shared/post.ts checkMessage refuses them), so a match's edges are never confused with text.
 */
const MATCH_START = "\u0001";
const MATCH_END = "\u0002";

/**
 * A word FTS5 indexes has a letter, a digit or a private-use character (unicode61's token characters);
 * anything else (punctuation, symbols, emoji) only separates words, so a "word" without one finds nothing.
 */
const SEARCHABLE = /[\p{L}\p{N}\p{Co}]/u;

/**
 * The words of `text` as an FTS5 query that finds the posts holding all of them: each word a string
 * literal (`"` doubled inside it), so FTS5 reads none of it as an operator. A word of several tokens
 * (`e-mail`, `it's`) is a phrase: its tokens next to each other. Null when no word can be found.
 */
export function ftsQuery(text: string): string | null {
  const words = text.split(/[\s\p{Cc}]+/u).filter((word) => SEARCHABLE.test(word));
  if (words.length === 0) return null;
  return words.map((word) => `"${word.replaceAll('"', '""')}"`).join(" ");
}

export interface SearchQuery {
  /** An FTS5 query made by {@link ftsQuery}: never a person's text as it was typed. */
  match: string;
  /** Only this room. */
  room?: string | undefined;
  /** Only posts by the person with this username (any case). */
  from?: string | undefined;
  limit: number;
}

/** A part of a snippet: text, and whether it is a matching word. */
export interface SnippetPart {
  text: string;
  match: boolean;
}

export interface SearchResult extends FoundPost {
  /** The post's text around its matches (all of it when it is short), matches marked. */
  snippet: SnippetPart[];
}

/** Words of context a snippet keeps around the matches: FTS5's most, the whole of most posts. */
const SNIPPET_TOKENS = 64;

export async function searchPosts(db: Database, viewerId: number, query: SearchQuery): Promise<SearchResult[]> {
  const filters: SQL[] = [];
  if (query.room !== undefined) filters.push(sql`AND p.room = ${query.room}`);
  if (query.from !== undefined) {
    filters.push(sql`AND p.user_id = (SELECT id FROM users WHERE lower(username) = lower(${query.from}))`);
  }
  // Ranked first, then the snippets of the few kept: SQLite would otherwise make a snippet for every
  // match before sorting (half the time of a word most posts hold). CROSS JOIN keeps that order: each
  // kept post is looked up by its rowid in the index, not the whole match scanned again.
  const rows = await db.all<FoundRow & { snippet: string }>(sql`
    WITH ranked AS (
      SELECT posts_fts.rowid AS id, bm25(posts_fts) AS score
      FROM posts_fts JOIN posts AS p ON p.id = posts_fts.rowid
      WHERE posts_fts MATCH ${query.match} AND ${readableBy(viewerId, sql`p.room`)} ${sql.join(filters, sql` `)}
      ORDER BY score, p.id DESC
      LIMIT ${query.limit}
    )
    SELECT ${foundColumns(viewerId)},
      snippet(posts_fts, 0, ${MATCH_START}, ${MATCH_END}, '…', ${SNIPPET_TOKENS}) AS snippet
    FROM ranked CROSS JOIN posts_fts CROSS JOIN posts AS p
    ${FOUND_JOINS}
    WHERE posts_fts MATCH ${query.match} AND posts_fts.rowid = ranked.id AND p.id = ranked.id
    ORDER BY ranked.score, p.id DESC`);
  return rows.map((row) => ({ ...toFoundPost(row), snippet: snippetParts(row.snippet) }));
}

/** FTS5's snippet, its markers turned into parts. */
export function snippetParts(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let match = false;
  let text = "";
  const flush = () => {
    if (text !== "") parts.push({ text, match });
    text = "";
  };
  for (const character of snippet) {
    if (character === MATCH_START || character === MATCH_END) {
      flush();
      match = character === MATCH_START;
    } else {
      text += character;
    }
  }
  flush();
  return parts;
}
