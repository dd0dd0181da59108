/**
 * Typed REST clients, one per service, all through the console's origin (/api/<service>/...).
 * Paths, bodies and answers are typed by the OpenAPI-generated declarations in ./generated.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths as BillingPaths } from "./generated/billing";
import type { paths as ClinicalPaths } from "./generated/clinical";
import type { paths as IdentityPaths } from "./generated/identity";
import type { paths as LabPaths } from "./generated/lab";
import type { paths as NotifierPaths } from "./generated/notifier";
import type { paths as PharmacyPaths } from "./generated/pharmacy";
import type { paths as RegistrationPaths } from "./generated/registration";
import type { paths as TriagePaths } from "./generated/triage";
import { ApiError, type Problem } from "./problem";

let currentToken: () => string | null = () => null;

/** The auth provider tells the clients where the bearer token comes from. */
export function setTokenSource(source: () => string | null): void {
  currentToken = source;
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = currentToken();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
};

function client<P extends {}>(service: string) {
  const c = createClient<P>({ baseUrl: `${typeof location === "undefined" ? "" : location.origin}/api/${service}` });
  c.use(auth);
  return c;
}

export const api = {
  registration: client<RegistrationPaths>("registration"),
  triage: client<TriagePaths>("triage"),
  clinical: client<ClinicalPaths>("clinical"),
  lab: client<LabPaths>("lab"),
  pharmacy: client<PharmacyPaths>("pharmacy"),
  billing: client<BillingPaths>("billing"),
  notifier: client<NotifierPaths>("notifier"),
  identity: client<IdentityPaths>("identity"),
};

export type Department = "triage" | "clinical" | "lab" | "pharmacy" | "billing";

/** openapi-fetch answers {data, error, response}; this returns data or throws ApiError. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) {
    const problem: Problem =
      error && typeof error === "object"
        ? (error as Problem)
        : { title: response.statusText, detail: String(error ?? response.statusText) };
    throw new ApiError(response.status, problem);
  }
  return data as T;
}

/** A fresh Idempotency-Key for a POST, so a retried request creates nothing twice. */
export function idempotencyKey(): string {
  return typeof crypto !== "undefined" && "randomUUID" in crypto
    ? crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
