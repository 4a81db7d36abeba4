/** The account forms' shared parts: a labelled field with its error message, and the form-wide alert. */
export interface FieldProps {
  name: string;
  label: string;
  type?: "text" | "email" | "password";
  value?: string;
  error?: string | undefined;
  autocomplete?: string;
  hint?: string;
  autofocus?: boolean;
}

export function Field({ name, label, type = "text", value, error, autocomplete, hint, autofocus }: FieldProps) {
  const errorId = `${name}_error`;
  return (
    <div class={error ? "field has-error" : "field"}>
      <label for={name}>{label}</label>
      <input
        id={name}
        name={name}
        type={type}
        value={value}
        autocomplete={autocomplete}
        autofocus={autofocus}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? errorId : undefined}
        required
      />
      {hint && !error && <p class="hint">{hint}</p>}
      {error && (
        <p class="field-error" id={errorId}>
          {label} {error}
        </p>
      )}
    </div>
  );
}

/** What went wrong with the form as a whole (not one field), announced to screen readers; nothing if all is well. */
export function FormAlert({ id, message }: { id: string; message?: string | undefined }) {
  if (!message) return null;
  return (
    <p class="alert" role="alert" id={id}>
      {message}
    </p>
  );
}
