// A WebSocket live stream (/ws/traces, /ws/alerts) while `enabled`: reconnects with backoff,
// and tells an older server that lacks the endpoint ("unavailable": the handshake failed and a
// plain GET of the path answers 404) from a connection that dropped ("reconnecting").

import { useEffect, useRef, useState } from "react";
import type { LiveFrame } from "@/api/types";
import { liveUrl } from "@/api/client";

export type LiveStatus = "off" | "connecting" | "live" | "reconnecting" | "unavailable" | "refused";

export function useLive(
  path: "/ws/traces" | "/ws/alerts",
  params: Record<string, string>,
  enabled: boolean,
  onFrame: (frame: LiveFrame) => void,
): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>("off");
  const handler = useRef(onFrame);
  handler.current = onFrame;
  const key = JSON.stringify(params);

  useEffect(() => {
    if (!enabled) {
      setStatus("off");
      return;
    }
    let socket: WebSocket | null = null;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const connect = () => {
      if (stopped) return;
      setStatus(attempt === 0 ? "connecting" : "reconnecting");
      let opened = false;
      socket = new WebSocket(liveUrl(path, JSON.parse(key)));
      socket.onopen = () => {
        opened = true;
        attempt = 0;
        setStatus("live");
      };
      socket.onmessage = (event) => {
        try {
          const frame = JSON.parse(String(event.data)) as LiveFrame;
          if (frame && typeof frame === "object" && "type" in frame) handler.current(frame);
        } catch {
          // A frame that is not JSON is not ours: ignore it.
        }
      };
      socket.onclose = async () => {
        if (stopped) return;
        if (!opened) {
          try {
            const probe = await fetch(path, { headers: { accept: "application/json" } });
            if (probe.status === 404) {
              setStatus("unavailable");
              return;
            }
            // A refusal that names a cause (no or a wrong API key, a bad filter): retrying the
            // same request cannot help.
            if (probe.status === 401 || probe.status === 403 || (probe.status === 400 && (await probe.clone().json().catch(() => null))?.error?.parameter)) {
              setStatus("refused");
              return;
            }
          } catch {
            // Server down: keep retrying.
          }
        }
        attempt += 1;
        setStatus("reconnecting");
        timer = setTimeout(connect, Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)));
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [path, key, enabled]);

  return status;
}
