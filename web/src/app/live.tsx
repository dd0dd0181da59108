/**
 * The live connection for the signed-in person: one KlinikiLive client through /ws, its state
 * (live / reconnecting), presence and typing, notifications (toasts; URGENT ones stay), and the
 * TanStack queries each notification makes stale.
 */
import { notifications as toasts } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";
import { connect, type Client, type Frame } from "../live/kliniki-live";
import {
  applyPresenceDiff,
  applyPresenceState,
  applyTyping,
  isUrgent,
  notificationText,
  SIGNALS,
  staleQueries,
  type PresenceRooms,
  type TypingData,
  type TypingMap,
} from "../live/store";
import { t } from "../i18n";
import { useAuth } from "./auth";

export type LiveState = "live" | "reconnecting";

interface LiveValue {
  client: Client | null;
  state: LiveState;
  rooms: PresenceRooms;
  typing: TypingMap;
  /** Notifications received live since sign-in (the list also reads GET /notifications). */
  received: number;
}

const LiveContext = createContext<LiveValue>({
  client: null,
  state: "reconnecting",
  rooms: {},
  typing: {},
  received: 0,
});

const NOT_NOTIFICATIONS = new Set(["presence_state", "presence_diff", "typing", "pong", "resumed", "marked_read", "error"]);

function wsUrl(): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

export function LiveProvider({ children }: { children: ReactNode }) {
  const auth = useAuth();
  const userId = auth.user?.id ?? null;
  const queryClient = useQueryClient();
  const [client, setClient] = useState<Client | null>(null);
  const [state, setState] = useState<LiveState>("reconnecting");
  const [rooms, setRooms] = useState<PresenceRooms>({});
  const [typing, setTyping] = useState<TypingMap>({});
  const [received, setReceived] = useState(0);
  const authRef = useRef(auth);
  authRef.current = auth;

  useEffect(() => {
    if (!userId) return;
    const live = connect({
      url: wsUrl(),
      token: async () => authRef.current.token() ?? (await authRef.current.refresh()) ?? "",
    });
    let opened = false;
    live.on("open", () => {
      setState("live");
      // Back after a drop: whatever changed meanwhile may not come as frames; ask again.
      if (opened) void queryClient.invalidateQueries();
      opened = true;
    });
    live.on("close", () => {
      setState("reconnecting");
      setRooms({});
      setTyping({});
    });
    live.on("unauthorized", () => void authRef.current.refresh());
    live.on("resumed", () => void queryClient.invalidateQueries());
    live.on("presence_state", (data) => setRooms((r) => applyPresenceState(r, data)));
    live.on("presence_diff", (data) => setRooms((r) => applyPresenceDiff(r, data)));
    live.on("typing", (data: TypingData) => setTyping((m) => applyTyping(m, data)));
    live.on("*", (data: Record<string, unknown>, frame: Frame) => {
      if (NOT_NOTIFICATIONS.has(frame.event) || ["open", "close", "unauthorized"].includes(frame.event)) return;
      const stale = staleQueries(frame.event, data ?? {});
      const refresh = () => stale.forEach((key) => void queryClient.invalidateQueries({ queryKey: key }));
      refresh();
      if (stale.length) setTimeout(refresh, 1500); // the department's own copy may land just after
      if (typeof frame.id !== "number" || SIGNALS.has(frame.event)) return;
      void queryClient.invalidateQueries({ queryKey: ["notifier", "notifications"] });
      setReceived((n) => n + 1);
      const urgent = isUrgent(data ?? {});
      toasts.show({
        id: `n${frame.id}`,
        title: urgent ? "URGENT" : (typeof data.title === "string" ? data.title : undefined),
        message: notificationText(frame.event, data ?? {}),
        color: urgent ? "red" : "blue",
        autoClose: urgent ? false : 6000,
        withCloseButton: true,
        closeButtonProps: { "aria-label": t("notifications.dismiss") },
      });
    });
    setClient(live);
    return () => {
      live.close();
      setClient(null);
      setState("reconnecting");
    };
  }, [userId, queryClient]);

  const value = useMemo(() => ({ client, state, rooms, typing, received }), [client, state, rooms, typing, received]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveValue {
  return useContext(LiveContext);
}
