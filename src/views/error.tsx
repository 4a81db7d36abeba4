import type { Viewer } from "../http/env";
import { Layout } from "./layout";

const TITLES: Record<number, string> = {
  400: "That request doesn't make sense",
  403: "Not allowed",
  404: "Nothing here",
  413: "Too large",
  426: "Upgrade required",
  429: "Not now",
  500: "Something broke on our side",
};

export function ErrorPage({ status, message, viewer }: { status: number; message: string; viewer: Viewer | null }) {
  const title = TITLES[status] ?? "Something went wrong";
  return (
    <Layout title={title} viewer={viewer}>
      <section class="card narrow error-page">
        <p class="status-code">{status}</p>
        <h1>{title}</h1>
        <p id="error_message">{message}</p>
        <p>
          <a href="/">Back to the rooms</a>
        </p>
      </section>
    </Layout>
  );
}
