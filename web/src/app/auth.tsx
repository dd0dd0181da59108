/**
 * Sign-in against identity's OAuth2 password grant (POST /api/identity/auth/token), silent
 * refresh before the access token expires (grant_type=refresh_token), sign-out. The session
 * lives in sessionStorage: one tab, one signed-in person; closing the tab signs out.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";
import { setTokenSource } from "../api/client";
import { ApiError, type Problem } from "../api/problem";

export interface Session {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: number; // ms since epoch
  user: User;
}

export interface User {
  id: string;
  name: string;
  roles: string[];
}

interface TokenAnswer {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
}

const STORAGE_KEY = "kliniki-session";
const TOKEN_URL = "/api/identity/auth/token";

export function decodeClaims(token: string): User {
  const part = token.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  const claims = JSON.parse(decodeURIComponent(escape(json))) as { sub: string; name?: string; roles?: string[] };
  return { id: claims.sub, name: claims.name ?? claims.sub, roles: claims.roles ?? [] };
}

/** When to refresh: a minute before expiry, or at 80% of a short lifetime. */
export function refreshDelay(expiresAt: number, now: number): number {
  const left = expiresAt - now;
  return Math.max(0, left >= 300_000 ? left - 60_000 : left * 0.8);
}

async function tokenRequest(form: Record<string, string>): Promise<Session> {
  const response = await fetch(TOKEN_URL, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await response.json().catch(() => ({}))) as TokenAnswer & Problem & {
    error?: string;
    error_description?: string;
  };
  if (!response.ok) {
    throw new ApiError(response.status, {
      ...body,
      detail: body.detail ?? body.error_description ?? body.error ?? response.statusText,
    });
  }
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token ?? null,
    expiresAt: Date.now() + body.expires_in * 1000,
    user: decodeClaims(body.access_token),
  };
}

function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    const session = raw ? (JSON.parse(raw) as Session) : null;
    return session && session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

interface AuthValue {
  session: Session | null;
  user: User | null;
  signIn(username: string, password: string): Promise<User>;
  signOut(): Promise<void>;
  refresh(): Promise<string | null>;
  token(): string | null;
}

const AuthContext = createContext<AuthValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(loadSession);
  const ref = useRef(session);
  ref.current = session;

  const store = useCallback((next: Session | null) => {
    ref.current = next;
    if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else sessionStorage.removeItem(STORAGE_KEY);
    setSession(next);
  }, []);

  const refresh = useCallback(async () => {
    const current = ref.current;
    if (!current?.refreshToken) return current?.accessToken ?? null;
    try {
      const next = await tokenRequest({ grant_type: "refresh_token", refresh_token: current.refreshToken });
      store(next);
      return next.accessToken;
    } catch (error) {
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) store(null);
      return null;
    }
  }, [store]);

  // During render, not in an effect: children's effects (their first queries) run before ours.
  setTokenSource(() => ref.current?.accessToken ?? null);

  useEffect(() => {
    if (!session) return;
    const timer = setTimeout(() => void refresh(), refreshDelay(session.expiresAt, Date.now()));
    return () => clearTimeout(timer);
  }, [session, refresh]);

  const value = useMemo<AuthValue>(
    () => ({
      session,
      user: session?.user ?? null,
      token: () => ref.current?.accessToken ?? null,
      refresh,
      async signIn(username, password) {
        const next = await tokenRequest({ grant_type: "password", username, password });
        store(next);
        return next.user;
      },
      async signOut() {
        const current = ref.current;
        store(null);
        if (current) {
          await fetch("/api/identity/auth/logout", {
            method: "POST",
            headers: {
              Authorization: `Bearer ${current.accessToken}`,
              "Content-Type": "application/x-www-form-urlencoded",
            },
            body: new URLSearchParams({ refresh_token: current.refreshToken ?? "" }).toString(),
          }).catch(() => undefined);
        }
      },
    }),
    [session, refresh, store],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}

export function useUser(): User {
  const { user } = useAuth();
  if (!user) throw new Error("not signed in");
  return user;
}
