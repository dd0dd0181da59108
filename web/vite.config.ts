// One origin for the console: the built files, /api/<service>/... to that service, /ws to the
// notifier's WebSocket. Service addresses come from KLINIKI_<SERVICE>_URL (tests point them at
// their own free ports), else the contract ports on 127.0.0.1.
import react from "@vitejs/plugin-react";
import { defineConfig, type ProxyOptions } from "vite";

export const SERVICE_PORTS = {
  registration: 8001,
  triage: 8002,
  clinical: 8003,
  lab: 8004,
  pharmacy: 8005,
  billing: 8006,
  notifier: 8007,
  identity: 8008,
} as const;

function serviceUrl(service: keyof typeof SERVICE_PORTS): string {
  return (
    process.env[`KLINIKI_${service.toUpperCase()}_URL`] ??
    `http://127.0.0.1:${SERVICE_PORTS[service]}`
  );
}

function proxies(): Record<string, ProxyOptions> {
  const table: Record<string, ProxyOptions> = {};
  for (const service of Object.keys(SERVICE_PORTS) as (keyof typeof SERVICE_PORTS)[]) {
    const prefix = `/api/${service}`;
    table[prefix] = {
      target: serviceUrl(service),
      changeOrigin: true,
      rewrite: (path) => path.slice(prefix.length) || "/",
    };
  }
  table["/ws"] = { target: serviceUrl("notifier").replace(/^http/, "ws"), ws: true };
  return table;
}

export default defineConfig({
  plugins: [react()],
  server: { host: "127.0.0.1", port: 5173, proxy: proxies() },
  preview: { host: "127.0.0.1", port: 8080, strictPort: true, proxy: proxies() },
  build: {
    outDir: "dist",
    sourcemap: false,
    rolldownOptions: {
      output: {
        // Libraries in chunks of their own: they change less often than the screens, so a
        // browser keeps them cached across releases. Each department's screens are separate
        // chunks too (React.lazy in src/app/App.tsx), loaded on first visit.
        codeSplitting: {
          groups: [
            { name: "react", test: /node_modules[\\/](react|react-dom|scheduler)[\\/]/, priority: 3 },
            { name: "router", test: /node_modules[\\/]react-router[\\/]/, priority: 2 },
            { name: "query", test: /node_modules[\\/]@tanstack[\\/]/, priority: 2 },
          ],
        },
      },
    },
  },
});
