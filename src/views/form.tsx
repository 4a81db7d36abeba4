/** A labelled form field with its error message, shared by the account forms. */
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
