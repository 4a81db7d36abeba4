/**
 * The search page: the search box with its two filters (a room, a person), and the results, best match
 * first, each linking to the post in its room. An empty search shows the box alone; a refused one shows
 * why beside it.
 */
import type { SearchResult } from "../db/search";
import { SEARCH_MAX_LENGTH } from "../db/search";
import type { Viewer } from "../http/env";
import { FormAlert } from "./form";
import { FoundPostItem } from "./found-posts";
import { Layout } from "./layout";

export interface SearchForm {
  q: string;
  room: string;
  from: string;
}

export interface SearchPageProps {
  viewer: Viewer;
  form: SearchForm;
  /** Null before anything was searched (or when the search was refused). */
  results: SearchResult[] | null;
  error?: string | undefined;
}

export function SearchPage({ viewer, form, results, error }: SearchPageProps) {
  return (
    <Layout title={form.q ? `Search: ${form.q}` : "Search"} viewer={viewer}>
      <section class="card">
        <h1>Search</h1>
        <search>
          <form method="get" action="/search" class="search-form" novalidate>
            <label for="search_q">Words</label>
            <input
              type="search"
              id="search_q"
              name="q"
              value={form.q}
              maxlength={SEARCH_MAX_LENGTH}
              autocomplete="off"
              aria-invalid={error ? "true" : undefined}
            />
            <label for="search_room">In room</label>
            <input id="search_room" name="room" value={form.room} placeholder="any room" autocomplete="off" />
            <label for="search_from">From</label>
            <input id="search_from" name="from" value={form.from} placeholder="anyone" autocomplete="off" />
            <button type="submit" class="button primary">
              Search
            </button>
          </form>
        </search>
        <FormAlert id="search_error" message={error} />
      </section>
      {results && (
        <section class="card" aria-labelledby="search_results_heading">
          <h2 id="search_results_heading">
            {results.length === 0 ? "Nothing found" : results.length === 1 ? "1 post" : `${results.length} posts`}
          </h2>
          {results.length === 0 ? (
            <p class="empty">No post in the rooms you can read has all of these words.</p>
          ) : (
            <ol class="found-posts" id="search_results">
              {results.map((result) => (
                <FoundPostItem found={result} snippet={result.snippet} />
              ))}
            </ol>
          )}
        </section>
      )}
    </Layout>
  );
}
