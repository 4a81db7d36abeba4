import type { FieldErrors, PasswordChangeField } from "../auth/accounts";
import type { Viewer } from "../http/env";
import { Field, FormAlert } from "./form";
import { Layout } from "./layout";

export interface AccountPageProps {
  viewer: Viewer;
  errors?: FieldErrors<PasswordChangeField>;
  /** A message about the whole attempt: a locked email, too many attempts from one network. */
  alert?: string | undefined;
  /** Shown after a change went through. */
  changed?: boolean;
}

/** The account page: who you are, and the form to change your password. */
export function AccountPage({ viewer, errors = {}, alert, changed = false }: AccountPageProps) {
  return (
    <Layout title="Your account" viewer={viewer}>
      <section class="card narrow">
        <h1>Your account</h1>
        <p class="aside">
          Signed in as <strong>{viewer.user.username}</strong> ({viewer.user.email}).
        </p>
        {changed && (
          <p class="notice" role="status" id="account_notice">
            Your password has been changed. Every other session and app was logged out; this browser stays logged in.
          </p>
        )}
        <FormAlert id="account_alert" message={alert} />
        <h2>Change your password</h2>
        <form method="post" action="/account" class="stack" novalidate>
          <Field
            name="current_password"
            label="Current password"
            type="password"
            error={errors.current_password}
            autocomplete="current-password"
          />
          <Field
            name="new_password"
            label="New password"
            type="password"
            error={errors.new_password}
            autocomplete="new-password"
            hint="At least 8 characters. Changing it logs you out everywhere else."
          />
          <button type="submit" class="button primary">
            Change password
          </button>
        </form>
      </section>
    </Layout>
  );
}
