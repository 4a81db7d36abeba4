import type { FieldErrors, LoginField, RegistrationField } from "../auth/accounts";
import { Field, FormAlert } from "./form";
import { Layout } from "./layout";

export interface RegisterPageProps {
  values?: { username?: string; email?: string };
  errors?: FieldErrors<RegistrationField>;
  /** A message about the whole attempt, e.g. too many sign-ups from one network. */
  alert?: string | undefined;
  next?: string | undefined;
}

export function RegisterPage({ values = {}, errors = {}, alert, next }: RegisterPageProps) {
  return (
    <Layout title="Sign up" viewer={null}>
      <section class="card narrow">
        <h1>Create your account</h1>
        <FormAlert id="register_alert" message={alert} />
        <form method="post" action={withNext("/register", next)} class="stack" novalidate>
          <Field
            name="username"
            label="Username"
            value={values.username}
            error={errors.username}
            autocomplete="username"
            hint="3 to 24 letters, digits or underscores. People @mention you by it."
            autofocus
          />
          <Field
            name="email"
            label="Email"
            type="email"
            value={values.email}
            error={errors.email}
            autocomplete="email"
          />
          <Field
            name="password"
            label="Password"
            type="password"
            error={errors.password}
            autocomplete="new-password"
            hint="At least 8 characters."
          />
          <button type="submit" class="button primary">
            Sign up
          </button>
        </form>
        <p class="aside">
          Already have an account? <a href={withNext("/login", next)}>Log in</a>
        </p>
      </section>
    </Layout>
  );
}

export interface LoginPageProps {
  email?: string;
  errors?: FieldErrors<LoginField>;
  /** A message about the whole attempt: wrong credentials, a locked email, too many attempts. */
  alert?: string | undefined;
  next?: string | undefined;
}

export function LoginPage({ email, errors = {}, alert, next }: LoginPageProps) {
  return (
    <Layout title="Log in" viewer={null}>
      <section class="card narrow">
        <h1>Welcome back</h1>
        <FormAlert id="login_alert" message={alert} />
        <form method="post" action={withNext("/login", next)} class="stack" novalidate>
          <Field
            name="email"
            label="Email"
            type="email"
            value={email}
            error={errors.email}
            autocomplete="email"
            autofocus
          />
          <Field
            name="password"
            label="Password"
            type="password"
            error={errors.password}
            autocomplete="current-password"
          />
          <button type="submit" class="button primary">
            Log in
          </button>
        </form>
        <p class="aside">
          New here? <a href={withNext("/register", next)}>Create an account</a>
        </p>
      </section>
    </Layout>
  );
}

function withNext(path: string, next: string | undefined): string {
  return next ? `${path}?next=${encodeURIComponent(next)}` : path;
}
