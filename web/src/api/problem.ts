/** RFC 9457 problem+json as the services send it, and how the console shows it. */

export interface FieldError {
  field: string;
  message: string;
  type?: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
  current?: Record<string, unknown>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = "ApiError";
  }

  get isConflict(): boolean {
    return this.status === 409;
  }
}

/** The last segment of a field path: "body.vitalSigns.pulse" and "vitalSigns.pulse" -> "pulse". */
export function fieldKey(field: string): string {
  const parts = field.split(".").filter((p) => p && p !== "body");
  return parts[parts.length - 1] ?? field;
}

/**
 * Server errors by form field: each message under the key of the field it names. `aliases`
 * maps a server field to a form field when they differ ("bloodPressure" -> "bloodPressure").
 * Errors that name no known field are returned under "" (shown above the form).
 */
export function fieldErrors(
  error: unknown,
  known: readonly string[],
  aliases: Record<string, string> = {},
): Record<string, string> {
  if (!(error instanceof ApiError)) {
    return error ? { "": error instanceof Error ? error.message : String(error) } : {};
  }
  const out: Record<string, string> = {};
  const errors = error.problem.errors ?? [];
  for (const e of errors) {
    const message = e.message.replace(/^Value error, /, "");
    const key = aliases[e.field] ?? aliases[fieldKey(e.field)] ?? fieldKey(e.field);
    const target = known.includes(key) ? key : "";
    out[target] = out[target] ? `${out[target]}; ${message}` : message;
  }
  if (errors.length === 0) out[""] = error.message;
  return out;
}

/** What the other person changed: fields whose value differs between two versions. */
export function changedFields(
  mine: Record<string, unknown>,
  current: Record<string, unknown>,
  ignore: readonly string[] = ["version", "updatedAt", "createdAt"],
): { field: string; before: unknown; after: unknown }[] {
  const keys = new Set([...Object.keys(mine), ...Object.keys(current)]);
  const out: { field: string; before: unknown; after: unknown }[] = [];
  for (const key of keys) {
    if (ignore.includes(key)) continue;
    if (JSON.stringify(mine[key]) !== JSON.stringify(current[key])) {
      out.push({ field: key, before: mine[key], after: current[key] });
    }
  }
  return out;
}
